#include "auth/password.hpp"

#include <argon2.h>
#include <crypt.h>
#include <sys/mman.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "base/random.hpp"

// Implementation notes:
// - Stored hashes come from our own hash_password or from a Dovecot import. Before any expensive call
//   the string is checked for shape (is_supported_hash), so a malformed or foreign hash never reaches
//   libargon2 or crypt_r and never matches.
// - crypt_r uses a caller-owned struct crypt_data (about 32 KiB): heap-allocated, zeroed, per call, so
//   concurrent verifications on the blocking pool share nothing.

namespace posthorn::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

enum class Scheme { kUnknown, kArgon2id, kArgon2i, kSha512Crypt, kSha256Crypt, kBlfCrypt };

struct Split {
  Scheme scheme = Scheme::kUnknown;
  std::string_view body;  // the hash without the {SCHEME} prefix
};

Split split_scheme(std::string_view stored) {
  if (stored.starts_with("$argon2id$")) return {Scheme::kArgon2id, stored};
  if (stored.starts_with("$argon2i$")) return {Scheme::kArgon2i, stored};
  if (stored.empty() || stored.front() != '{') return {};
  const size_t close = stored.find('}');
  if (close == std::string_view::npos) return {};
  const std::string name = ascii::upper(stored.substr(1, close - 1));
  const std::string_view body = stored.substr(close + 1);
  if (name == "ARGON2ID") return {Scheme::kArgon2id, body};
  if (name == "ARGON2I") return {Scheme::kArgon2i, body};
  if (name == "SHA512-CRYPT") return {Scheme::kSha512Crypt, body};
  if (name == "SHA256-CRYPT") return {Scheme::kSha256Crypt, body};
  if (name == "BLF-CRYPT") return {Scheme::kBlfCrypt, body};
  return {};
}

bool is_crypt_char(char c) {  // the crypt(3) alphabet [./0-9A-Za-z]
  return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool is_b64_char(char c) {  // standard base64 without padding, as libargon2 writes it
  return c == '+' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

std::optional<uint32_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return uint32_t(v);
}

// A stored Argon2 hash, decoded.
struct Argon2Hash {
  uint32_t version = ARGON2_VERSION_10;
  uint32_t memory_kib = 0;
  uint32_t iterations = 0;
  uint32_t parallelism = 0;
  std::string salt;
  std::string hash;
};

// libargon2 writes standard base64 without padding.
std::optional<std::string> decode_unpadded(std::string_view text) {
  std::string padded(text);
  padded.append((4 - padded.size() % 4) % 4, '=');
  return base64::decode(padded);
}

// "$argon2id$v=19$m=<kib>,t=<it>,p=<par>$<salt>$<hash>" (v= may be absent: version 0x10).
std::optional<Argon2Hash> parse_argon2(std::string_view body, Scheme scheme) {
  const std::string_view prefix = scheme == Scheme::kArgon2id ? "$argon2id$" : "$argon2i$";
  if (!body.starts_with(prefix)) return std::nullopt;
  Argon2Hash out;
  auto fields = ascii::split(body.substr(prefix.size()), '$');
  if (!fields.empty() && fields.front().starts_with("v=")) {
    auto version = parse_decimal(fields.front().substr(2));
    if (!version || (*version != ARGON2_VERSION_10 && *version != ARGON2_VERSION_13)) return std::nullopt;
    out.version = *version;
    fields.erase(fields.begin());
  }
  if (fields.size() != 3) return std::nullopt;
  const auto params = ascii::split(fields[0], ',');
  if (params.size() != 3 || !params[0].starts_with("m=") || !params[1].starts_with("t=") ||
      !params[2].starts_with("p=")) {
    return std::nullopt;
  }
  const auto m = parse_decimal(params[0].substr(2));
  const auto t = parse_decimal(params[1].substr(2));
  const auto p = parse_decimal(params[2].substr(2));
  if (!m || !t || !p) return std::nullopt;
  if (*p < ARGON2_MIN_LANES || *p > ARGON2_MAX_LANES || *t < ARGON2_MIN_TIME || *m < 8 * *p) return std::nullopt;
  // 4 GiB is far above any sane server setting; refuse rather than try to allocate it.
  if (*m > 4u * 1024 * 1024) return std::nullopt;
  if (!all_of(fields[1], is_b64_char) || !all_of(fields[2], is_b64_char)) return std::nullopt;
  auto salt = decode_unpadded(fields[1]);
  auto hash = decode_unpadded(fields[2]);
  if (!salt || !hash || salt->size() < ARGON2_MIN_SALT_LENGTH || hash->size() < ARGON2_MIN_OUTLEN) {
    return std::nullopt;
  }
  out.memory_kib = *m;
  out.iterations = *t;
  out.parallelism = *p;
  out.salt = std::move(*salt);
  out.hash = std::move(*hash);
  return out;
}

// "$6$[rounds=N$]<salt 1..16>$<86 chars>" and "$5$...$<43 chars>".
bool sha_crypt_well_formed(std::string_view body, std::string_view id, size_t hash_len) {
  if (!body.starts_with(id)) return false;
  std::string_view rest = body.substr(id.size());
  if (rest.starts_with("rounds=")) {
    const size_t dollar = rest.find('$');
    if (dollar == std::string_view::npos) return false;
    const auto rounds = parse_decimal(rest.substr(7, dollar - 7));
    if (!rounds || *rounds < 1000 || *rounds > 999999999) return false;
    rest = rest.substr(dollar + 1);
  }
  const size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos || dollar == 0 || dollar > 16) return false;
  const std::string_view salt = rest.substr(0, dollar);
  const std::string_view hash = rest.substr(dollar + 1);
  return all_of(salt, is_crypt_char) && hash.size() == hash_len && all_of(hash, is_crypt_char);
}

// "$2y$<cost 04..31>$<22 chars salt><31 chars hash>" (also $2a$ and $2b$).
bool bcrypt_well_formed(std::string_view body) {
  if (!(body.starts_with("$2y$") || body.starts_with("$2b$") || body.starts_with("$2a$"))) return false;
  if (body.size() != 7 + 53 || body[6] != '$') return false;
  const std::string_view cost = body.substr(4, 2);
  if (cost[0] < '0' || cost[0] > '3' || cost[1] < '0' || cost[1] > '9') return false;
  const int c = (cost[0] - '0') * 10 + (cost[1] - '0');
  return c >= 4 && c <= 31 && all_of(body.substr(7), is_crypt_char);
}

bool well_formed(const Split& s) {
  switch (s.scheme) {
    case Scheme::kArgon2id:
    case Scheme::kArgon2i:
      return parse_argon2(s.body, s.scheme).has_value();
    case Scheme::kSha512Crypt:
      return sha_crypt_well_formed(s.body, "$6$", 86);
    case Scheme::kSha256Crypt:
      return sha_crypt_well_formed(s.body, "$5$", 43);
    case Scheme::kBlfCrypt:
      return bcrypt_well_formed(s.body);
    case Scheme::kUnknown:
      break;
  }
  return false;
}

bool verify_crypt(std::string_view body, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) return false;  // crypt(3) takes C strings
  const std::string setting(body);
  const std::string phrase(password);
  auto data = std::make_unique<crypt_data>();  // value-initialised: zeroed, as crypt_r requires
  const char* out = crypt_r(phrase.c_str(), setting.c_str(), data.get());
  bool ok = false;
  if (out != nullptr && out[0] != '*') {
    const size_t len = std::strlen(out);
    ok = len == setting.size() && CRYPTO_memcmp(out, setting.data(), len) == 0;
  }
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

// libargon2 takes a verification's working memory (m KiB: 19 MiB by default) through these. Like
// malloc under serve's 1 MiB mmap threshold, each verification gets a fresh mapping and returns it,
// so nothing stays resident between logins; unlike malloc's, the mapping is aligned to 2 MiB and
// marked MADV_HUGEPAGE, so the kernel faults it in as about ten huge pages instead of some 4,900
// small ones (measured here: 15 ms -> 6 ms of a 19 MiB verification). Where transparent huge pages
// are off, madvise fails and it is small pages as before.
constexpr size_t kHugePage = size_t{2} << 20;

size_t page_rounded(size_t bytes) {
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

int map_working_memory(uint8_t** memory, size_t bytes) {
  *memory = nullptr;
  const size_t size = page_rounded(bytes);
  const size_t len = size + kHugePage;
  void* raw = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return ARGON2_MEMORY_ALLOCATION_ERROR;
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  if (start + len > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), start + len - (aligned + size));
  ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  *memory = reinterpret_cast<uint8_t*>(aligned);
  return ARGON2_OK;
}

void unmap_working_memory(uint8_t* memory, size_t bytes) { ::munmap(memory, page_rounded(bytes)); }

bool verify_argon2(std::string_view body, Scheme scheme, std::string_view password) {
  auto stored = parse_argon2(body, scheme);
  if (!stored) return false;
  std::string computed(stored->hash.size(), '\0');
  argon2_context ctx{};
  ctx.out = reinterpret_cast<uint8_t*>(computed.data());
  ctx.outlen = uint32_t(computed.size());
  // libargon2 only reads the password (ARGON2_FLAG_CLEAR_PASSWORD is not set).
  ctx.pwd = reinterpret_cast<uint8_t*>(const_cast<char*>(password.data()));
  ctx.pwdlen = uint32_t(password.size());
  ctx.salt = reinterpret_cast<uint8_t*>(stored->salt.data());
  ctx.saltlen = uint32_t(stored->salt.size());
  ctx.t_cost = stored->iterations;
  ctx.m_cost = stored->memory_kib;
  ctx.lanes = stored->parallelism;
  ctx.threads = stored->parallelism;
  ctx.version = stored->version;
  ctx.allocate_cbk = map_working_memory;
  ctx.free_cbk = unmap_working_memory;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  const argon2_type type = scheme == Scheme::kArgon2id ? Argon2_id : Argon2_i;
  const bool ok = argon2_verify_ctx(&ctx, stored->hash.data(), type) == ARGON2_OK;
  OPENSSL_cleanse(computed.data(), computed.size());
  return ok;
}

}  // namespace

Result<std::string> hash_password(std::string_view password, const config::Argon2& params) {
  const std::string salt = random_bytes(kSaltBytes);
  const size_t len = argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                       uint32_t(salt.size()), uint32_t(kHashBytes), Argon2_id);
  std::string encoded(len, '\0');
  const int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                       password.data(), password.size(), salt.data(), salt.size(),
                                       kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    const Errc code = rc == ARGON2_MEMORY_ALLOCATION_ERROR ? Errc::kInternal : Errc::kInvalid;
    return make_error(code, std::string("argon2: ") + argon2_error_message(rc));
  }
  encoded.resize(std::strlen(encoded.c_str()));
  return "{ARGON2ID}" + encoded;
}

bool verify_password(std::string_view stored, std::string_view password) {
  const Split s = split_scheme(stored);
  switch (s.scheme) {
    case Scheme::kArgon2id:
    case Scheme::kArgon2i:
      return verify_argon2(s.body, s.scheme, password);  // parses once; a malformed hash never matches
    case Scheme::kSha512Crypt:
    case Scheme::kSha256Crypt:
    case Scheme::kBlfCrypt:
      return well_formed(s) && verify_crypt(s.body, password);
    case Scheme::kUnknown:
      break;
  }
  return false;
}

bool is_supported_hash(std::string_view stored) { return well_formed(split_scheme(stored)); }

const std::string& dummy_hash(const config::Argon2& params) {
  // One hash per parameter set (normally exactly one), computed on first use. std::map nodes are
  // stable, so the returned reference stays valid for the life of the process.
  static std::mutex mutex;
  static std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::string> hashes;
  const auto key = std::make_tuple(params.memory_kib, params.iterations, params.parallelism);
  std::lock_guard lock(mutex);
  auto it = hashes.find(key);
  if (it == hashes.end()) {
    auto hashed = hash_password(random_token(24), params);
    if (!hashed) {
      // Parameters the config validator should have refused: a bug, not a client-visible condition.
      throw std::logic_error("dummy_hash: " + hashed.error().message);
    }
    it = hashes.emplace(key, std::move(*hashed)).first;
  }
  return it->second;
}

}  // namespace posthorn::auth
