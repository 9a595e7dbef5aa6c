// DKIM signing and verification (see dkim.hpp).
#include "msgauth/dkim.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <optional>
#include <system_error>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "dns/resolver.hpp"
#include "mime/header.hpp"
#include "msgauth/canon.hpp"
#include "msgauth/dkim_internal.hpp"

namespace posthorn::msgauth {
namespace dkim_detail {

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

constexpr std::size_t kMaxTagValue = 4096;      // bytes of one tag value (b= of 8192 bits is 1366)
constexpr std::size_t kMaxTags = 64;            // tags in one tag list
constexpr std::size_t kMaxKeyRecord = 8192;     // bytes of a key TXT record

constexpr bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_fws(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

std::string strip_fws(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (!is_fws(c)) out += c;
  return out;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
         c == '=';
}

// ---- tag lists [RFC 6376 §3.2] ------------------------------------------------------------------

// Parses "name=value; name=value[;]". Names are case-sensitive (§3.2); a duplicate name, a
// malformed name, an oversized value or too many tags is an error with `why` set.
std::optional<TagList> parse_tags(std::string_view text, std::string& why) {
  TagList list;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto semi = text.find(';', pos);
    auto spec = text.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    pos = semi == std::string_view::npos ? text.size() + 1 : semi + 1;
    if (trim_fws(spec).empty()) {
      if (semi == std::string_view::npos) break;  // a trailing ';' is allowed
      why = "empty tag in tag list";
      return std::nullopt;
    }
    auto eq = spec.find('=');
    if (eq == std::string_view::npos) {
      why = "tag without '='";
      return std::nullopt;
    }
    auto name = trim_fws(spec.substr(0, eq));
    bool name_ok = !name.empty() && std::isalpha(static_cast<unsigned char>(name[0]));
    for (char c : name) name_ok = name_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!name_ok || name.size() > 32) {
      why = "malformed tag name";
      return std::nullopt;
    }
    auto value = trim_fws(spec.substr(eq + 1));
    if (value.size() > kMaxTagValue) {
      why = "tag " + std::string(name) + "= is too long";
      return std::nullopt;
    }
    if (list.find(name)) {
      why = "duplicate tag " + std::string(name) + "=";
      return std::nullopt;
    }
    if (list.tags.size() == kMaxTags) {
      why = "too many tags";
      return std::nullopt;
    }
    list.tags.push_back(Tag{name, value});
  }
  return list;
}

// Colon-separated list with FWS around the items ("from : to"); empty items are kept as "".
std::vector<std::string_view> colon_list(std::string_view s) {
  std::vector<std::string_view> out;
  for (auto item : ascii::split(s, ':')) out.push_back(trim_fws(item));
  return out;
}

bool contains(const std::vector<std::string_view>& list, std::string_view item) {
  return std::any_of(list.begin(), list.end(), [&](std::string_view x) { return ascii::iequals(x, item); });
}

// Non-negative decimal of at most `max_digits` digits.
std::optional<uint64_t> parse_number(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

// A domain name (d=, the domain of i=) or a selector (s=): dot-separated labels of letters, digits,
// '-' and '_' (selectors and some real d= use '_'), each 1..63 bytes, 253 in all.
bool valid_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (auto label : ascii::split(s, '.')) {
    if (label.empty() || label.size() > 63) return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// ---- hashing and signatures ---------------------------------------------------------------------

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

BodyHash body_hash(std::string_view body, Canon c, std::optional<uint64_t> limit) {
  MdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  BodyCanonicalizer bc(c, limit, [&](std::string_view piece) { EVP_DigestUpdate(ctx.get(), piece.data(), piece.size()); });
  bc.update(body);
  bc.finish();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return BodyHash{std::string(reinterpret_cast<char*>(md), len), bc.canonical_length()};
}

// What a key signs [RFC 6376 §3.3, RFC 8463 §3]: RSA signs `data` with SHA-256 inside the
// signature operation (PKCS#1 v1.5); Ed25519 signs the SHA-256 of `data` (PureEdDSA over the hash).
// Sets `input` to the bytes to pass to OpenSSL (`ed_hash` holds the hash) and returns the digest
// to name to EVP_DigestSignInit / EVP_DigestVerifyInit (none for Ed25519).
const EVP_MD* signature_input(DkimAlgorithm alg, std::string_view data, std::string& ed_hash, std::string_view& input) {
  if (alg == DkimAlgorithm::kRsaSha256) {
    input = data;
    return EVP_sha256();
  }
  ed_hash = sha256(data);
  input = ed_hash;
  return nullptr;
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// nullopt on an OpenSSL failure.
std::optional<std::string> sign_data(EVP_PKEY* key, DkimAlgorithm alg, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::string ed_hash;
  std::string_view input;
  const EVP_MD* md = signature_input(alg, data, ed_hash, input);
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) != 1)
    return std::nullopt;
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes(input), input.size()) != 1)
    return std::nullopt;
  sig.resize(len);
  return sig;
}

bool verify_data(EVP_PKEY* key, DkimAlgorithm alg, std::string_view data, std::string_view sig) {
  MdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::string ed_hash;
  std::string_view input;
  const EVP_MD* md = signature_input(alg, data, ed_hash, input);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), bytes(sig), sig.size(), bytes(input), input.size()) == 1;
}

PkeyPtr read_private_pem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())), &BIO_free);
  if (!bio) return null_pkey();
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
}

// The algorithm a private key signs with, or an error for other key types and small RSA keys.
Result<DkimAlgorithm> key_algorithm(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519")) return DkimAlgorithm::kEd25519Sha256;
  if (EVP_PKEY_is_a(key, "RSA")) {
    int bits = EVP_PKEY_get_bits(key);
    if (bits < kMinRsaBits || bits > kMaxRsaBits)
      return make_error(Errc::kInvalid, "RSA key of " + std::to_string(bits) + " bits (1024 to 8192 are accepted; 2048 is usual)");
    return DkimAlgorithm::kRsaSha256;
  }
  return make_error(Errc::kInvalid, "DKIM keys are RSA or Ed25519");
}

// ---- header selection ---------------------------------------------------------------------------

// The header hash input for the names in `h` [RFC 6376 §5.4.2]: for each name, the last field of
// that name not yet used (bottom-up), canonicalised; a name without an unused field adds nothing.
std::string signed_headers_data(const std::vector<RawField>& fields, const std::vector<std::string_view>& h, Canon c) {
  std::vector<bool> used(fields.size(), false);
  std::string data;
  for (auto name : h) {
    for (std::size_t i = fields.size(); i-- > 0;) {
      if (used[i] || !ascii::iequals(fields[i].name, name)) continue;
      used[i] = true;
      data += canon_header(fields[i].raw, c);
      break;
    }
  }
  return data;
}

// The DKIM-Signature field with the value of b= removed (§3.7), and its canonical form without the
// final CRLF appended to `data`. The value is removed as the FWS and base64 characters after "b=".
void append_signature_field(std::string& data, std::string_view raw, Canon c) {
  std::string field(raw);
  auto colon = field.find(':');
  std::size_t pos = colon == std::string::npos ? field.size() : colon + 1;
  while (pos < field.size()) {
    auto semi = field.find(';', pos);
    auto end = semi == std::string::npos ? field.size() : semi;
    auto eq = field.find('=', pos);
    if (eq != std::string::npos && eq < end && trim_fws(std::string_view(field).substr(pos, eq - pos)) == "b") {
      std::size_t v = eq + 1;
      for (;;) {
        std::size_t p = v;
        while (p < end && is_fws(field[p])) ++p;
        if (p < end && is_base64_char(field[p])) {
          v = p + 1;
          continue;
        }
        break;
      }
      field.erase(eq + 1, v - (eq + 1));
      break;
    }
    pos = end + 1;
  }
  auto canon = canon_header(field, c);
  canon.resize(canon.size() - 2);  // without its CRLF (§3.7)
  data += canon;
}

// ---- folding ------------------------------------------------------------------------------------

bool parse_canon(std::string_view value, Canon& header, Canon& body) {
  auto parts = ascii::split(value, '/');
  if (parts.size() > 2) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    Canon& target = i == 0 ? header : body;
    if (parts[i] == "simple") {
      target = Canon::kSimple;
    } else if (parts[i] == "relaxed") {
      target = Canon::kRelaxed;
    } else {
      return false;
    }
  }
  return true;
}

std::vector<std::string> default_signed_names(const std::vector<RawField>& fields) {
  // h=: every present default header as often as it appears, From once more (oversigned, so a
  // From added later breaks the signature), then the List-* fields.
  std::vector<std::string> names;
  auto count = [&](std::string_view name) {
    return std::count_if(fields.begin(), fields.end(), [&](const RawField& f) { return ascii::iequals(f.name, name); });
  };
  for (auto name : DkimSigner::default_headers()) {
    auto n = count(name) + (name == "from" ? 1 : 0);
    for (long i = 0; i < n; ++i) names.emplace_back(name);
  }
  for (const auto& f : fields) {
    auto lower = ascii::lower(f.name);
    if (ascii::istarts_with(lower, "list-") && std::find(names.begin(), names.end(), lower) == names.end()) {
      auto n = count(lower);
      for (long i = 0; i < n; ++i) names.push_back(lower);
    }
  }
  return names;
}

void add_h_tag(Folder& f, const std::vector<std::string_view>& h) {
  for (std::size_t i = 0; i < h.size(); ++i)
    f.add((i == 0 ? "h=" : "") + std::string(h[i]) + (i + 1 < h.size() ? ":" : ";"), i == 0);
}

std::optional<std::string> complete_signature(Folder f, std::string_view headers_data, const SignFn& sign) {
  f.add("b=", true);
  std::string data(headers_data);
  append_signature_field(data, f.text(), Canon::kRelaxed);
  auto sig = sign(data);
  if (!sig) return std::nullopt;
  auto b = base64::encode(*sig);
  for (std::size_t i = 0; i < b.size(); i += 64) f.add(std::string_view(b).substr(i, 64), false);
  return f.text() + "\r\n";
}

}  // namespace dkim_detail

using namespace dkim_detail;

std::string_view algorithm_name(DkimAlgorithm a) {
  return a == DkimAlgorithm::kRsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}

std::string_view status_word(DkimStatus s) {
  switch (s) {
    case DkimStatus::kNone: return "none";
    case DkimStatus::kPass: return "pass";
    case DkimStatus::kFail: return "fail";
    case DkimStatus::kNeutral: return "neutral";
    case DkimStatus::kPolicy: return "policy";
    case DkimStatus::kTempError: return "temperror";
    case DkimStatus::kPermError: return "permerror";
  }
  return "permerror";
}

// =================================================================================================
// Signing

struct DkimSigner::Key {
  std::string domain;
  std::string selector;
  DkimAlgorithm algorithm = DkimAlgorithm::kRsaSha256;
  PkeyPtr pkey = null_pkey();
};

DkimSigner::DkimSigner() = default;
DkimSigner::~DkimSigner() = default;
DkimSigner::DkimSigner(DkimSigner&&) noexcept = default;
DkimSigner& DkimSigner::operator=(DkimSigner&&) noexcept = default;

const std::vector<std::string_view>& DkimSigner::default_headers() {
  static const std::vector<std::string_view> kHeaders = {
      "from",     "to",          "cc",         "subject",      "date",         "message-id",
      "reply-to", "in-reply-to", "references", "mime-version", "content-type", "content-transfer-encoding"};
  return kHeaders;
}

Result<void> DkimSigner::add_key(std::string_view domain, std::string_view selector, std::string_view pem) {
  if (!valid_dns_name(domain) || !valid_dns_name(selector))
    return make_error(Errc::kInvalid, "invalid DKIM domain or selector name");
  auto pkey = read_private_pem(pem);
  if (!pkey) return make_error(Errc::kInvalid, "not a PEM private key");
  auto alg = key_algorithm(pkey.get());
  if (!alg) return alg.error();
  auto key = std::make_shared<Key>();
  key->domain = ascii::lower(domain);
  key->selector = std::string(selector);
  key->algorithm = *alg;
  key->pkey = std::move(pkey);
  keys_[key->domain].push_back(std::move(key));
  return {};
}

bool DkimSigner::has_domain(std::string_view domain) const { return keys_.count(ascii::lower(domain)) > 0; }

std::size_t DkimSigner::key_count() const {
  std::size_t n = 0;
  for (const auto& [domain, keys] : keys_) n += keys.size();
  return n;
}

const DkimSigner::Key* DkimSigner::rsa_key(std::string_view domain) const {
  auto it = keys_.find(ascii::lower(domain));
  if (it == keys_.end()) return nullptr;
  for (const auto& key : it->second)
    if (key->algorithm == DkimAlgorithm::kRsaSha256) return key.get();
  return nullptr;
}

std::string DkimSigner::rsa_selector(std::string_view domain) const {
  const Key* key = rsa_key(domain);
  return key ? key->selector : std::string();
}

std::optional<std::string> DkimSigner::rsa_sign(std::string_view domain, std::string_view data) const {
  const Key* key = rsa_key(domain);
  if (!key) return std::nullopt;
  return sign_data(key->pkey.get(), DkimAlgorithm::kRsaSha256, data);
}

std::string DkimSigner::sign(std::string_view message, std::string_view domain, int64_t now) const {
  auto it = keys_.find(ascii::lower(domain));
  if (it == keys_.end()) return "";
  auto fields = split_raw_fields(message);
  auto names = default_signed_names(fields);
  std::vector<std::string_view> h(names.begin(), names.end());
  auto headers_data = signed_headers_data(fields, h, Canon::kRelaxed);
  auto body = message.substr(mime::split_header(message).body_start);
  auto bh = base64::encode(body_hash(body, Canon::kRelaxed, std::nullopt).digest);

  std::string out;
  for (const auto& key : it->second) {
    Folder f("DKIM-Signature:");
    f.add("v=1;", true);
    f.add("a=" + std::string(algorithm_name(key->algorithm)) + ";", true);
    f.add("c=relaxed/relaxed;", true);
    f.add("d=" + key->domain + ";", true);
    f.add("s=" + key->selector + ";", true);
    f.add("t=" + std::to_string(now) + ";", true);
    add_h_tag(f, h);
    f.add("bh=" + bh + ";", true);
    auto field = complete_signature(std::move(f), headers_data, [&](std::string_view data) {
      return sign_data(key->pkey.get(), key->algorithm, data);
    });
    if (field) out += *field;  // nullopt: an OpenSSL failure, no signature rather than a broken one
  }
  return out;
}

Result<std::string> generate_dkim_key(DkimAlgorithm algorithm, int rsa_bits) {
  if (algorithm == DkimAlgorithm::kRsaSha256 && (rsa_bits < kMinRsaBits || rsa_bits > kMaxRsaBits))
    return make_error(Errc::kInvalid, "RSA keys have 1024 to 8192 bits");
  PkeyPtr key(algorithm == DkimAlgorithm::kRsaSha256 ? EVP_RSA_gen(unsigned(rsa_bits))
                                                     : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"),
              &EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!key || !bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return make_error(Errc::kInternal, "key generation failed");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, std::size_t(len));
}

Result<std::string> dkim_txt_record(std::string_view private_pem) {
  auto pkey = read_private_pem(private_pem);
  if (!pkey) return make_error(Errc::kInvalid, "not a PEM private key");
  auto alg = key_algorithm(pkey.get());
  if (!alg) return alg.error();
  std::string pub;
  if (*alg == DkimAlgorithm::kEd25519Sha256) {
    size_t len = 32;
    pub.resize(len);
    if (EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(pub.data()), &len) != 1)
      return make_error(Errc::kInternal, "cannot read the Ed25519 public key");
    pub.resize(len);
    return "v=DKIM1; k=ed25519; p=" + base64::encode(pub);
  }
  int len = i2d_PUBKEY(pkey.get(), nullptr);
  if (len <= 0) return make_error(Errc::kInternal, "cannot encode the RSA public key");
  pub.resize(std::size_t(len));
  auto* p = reinterpret_cast<unsigned char*>(pub.data());
  i2d_PUBKEY(pkey.get(), &p);
  return "v=DKIM1; k=rsa; p=" + base64::encode(pub);
}

// =================================================================================================
// Verification

namespace {

// A signature parsed and checked up to the key lookup.
struct Pending {
  DkimResult result;
  std::string field;  // the raw DKIM-Signature field
  DkimAlgorithm algorithm = DkimAlgorithm::kRsaSha256;
  Canon header_canon = Canon::kSimple;
  Canon body_canon = Canon::kSimple;
  std::optional<uint64_t> length;
  std::vector<std::string> h;
  std::string b;   // decoded signature
  std::string bh;  // decoded body hash
  std::string identity_domain;
  std::string key_name;  // selector._domainkey.domain
};

DkimResult perm(DkimResult r, std::string why) {
  r.status = DkimStatus::kPermError;
  r.reason = std::move(why);
  return r;
}

// Parses and checks one DKIM-Signature field [RFC 6376 §3.5, §6.1.1]. Returns false with
// p.result set to the final result when the signature cannot be verified.
bool prepare(std::string_view raw, int64_t now, Pending& p) {
  auto& r = p.result;
  if (raw.size() > kMaxSignatureField) {
    r = perm(r, "DKIM-Signature field is too long");
    return false;
  }
  p.field = std::string(raw);
  auto colon = raw.find(':');
  std::string why;
  auto tags = parse_tags(raw.substr(colon + 1), why);
  if (!tags) {
    r = perm(r, why);
    return false;
  }
  auto get = [&](std::string_view name) -> std::string_view {
    const Tag* t = tags->find(name);
    return t ? t->value : std::string_view();
  };
  // The result names d=, s=, a= and b= even when a later check fails.
  r.domain = std::string(get("d"));
  r.selector = std::string(get("s"));
  r.algorithm = std::string(get("a"));
  r.b_prefix = strip_fws(get("b")).substr(0, 12);
  for (auto req : {"v", "a", "b", "bh", "d", "h", "s"}) {
    if (!tags->find(req)) {
      r = perm(r, std::string("missing required tag ") + req + "=");
      return false;
    }
  }
  if (get("v") != "1") {
    r = perm(r, "unsupported version v=" + std::string(get("v")));
    return false;
  }
  auto a = get("a");
  if (a == "rsa-sha256") {
    p.algorithm = DkimAlgorithm::kRsaSha256;
  } else if (a == "ed25519-sha256") {
    p.algorithm = DkimAlgorithm::kEd25519Sha256;
  } else if (a == "rsa-sha1") {
    r = perm(r, "rsa-sha1 signatures are not accepted (RFC 8301)");
    return false;
  } else {
    r = perm(r, "unknown algorithm a=" + std::string(a));
    return false;
  }
  if (!valid_dns_name(r.domain) || !valid_dns_name(r.selector)) {
    r = perm(r, "malformed d= or s=");
    return false;
  }
  // c=: header[/body]; the body canonicalisation defaults to simple.
  if (const Tag* c = tags->find("c"); c && !parse_canon(c->value, p.header_canon, p.body_canon)) {
    r = perm(r, "unknown canonicalization c=" + std::string(c->value));
    return false;
  }
  if (const Tag* q = tags->find("q"); q && !contains(colon_list(q->value), "dns/txt")) {
    r = perm(r, "unsupported query method q=");
    return false;
  }
  auto h = colon_list(get("h"));
  if (h.size() > kMaxSignedHeaders) {
    r = perm(r, "h= lists more than " + std::to_string(kMaxSignedHeaders) + " headers");
    return false;
  }
  for (auto name : h) {
    if (name.empty()) {
      r = perm(r, "empty header name in h=");
      return false;
    }
    p.h.emplace_back(name);
  }
  if (!contains(h, "from")) {
    r = perm(r, "h= does not include From");
    return false;
  }
  // i=: defaults to "@d"; its domain must be d= or a subdomain of it.
  r.identity = tags->find("i") ? std::string(get("i")) : "@" + r.domain;
  auto at = r.identity.rfind('@');
  if (at == std::string::npos) {
    r = perm(r, "malformed i=");
    return false;
  }
  p.identity_domain = ascii::lower(r.identity.substr(at + 1));
  auto d = ascii::lower(r.domain);
  if (p.identity_domain != d &&
      !(p.identity_domain.size() > d.size() && p.identity_domain.ends_with("." + d))) {
    r = perm(r, "i= is not within d=");
    return false;
  }
  if (const Tag* l = tags->find("l")) {
    // RFC 6376 allows 76 digits; beyond 18 no body could be that long, so it is refused here.
    p.length = parse_number(l->value, 18);
    if (!p.length) {
      r = perm(r, "malformed or oversized l=");
      return false;
    }
  }
  std::optional<uint64_t> t, x;
  if (const Tag* tt = tags->find("t"); tt && !(t = parse_number(tt->value, 18))) {
    r = perm(r, "malformed t=");
    return false;
  }
  if (const Tag* xt = tags->find("x")) {
    x = parse_number(xt->value, 18);
    if (!x) {
      r = perm(r, "malformed x=");
      return false;
    }
    if (t && *t > *x) {
      r = perm(r, "x= is before t=");
      return false;
    }
    if (now > 0 && uint64_t(now) > *x) {
      r = perm(r, "signature expired");
      return false;
    }
  }
  auto b = base64::decode(strip_fws(get("b")));
  auto bh = base64::decode(strip_fws(get("bh")));
  if (!b || b->empty() || !bh) {
    r = perm(r, "malformed b= or bh=");
    return false;
  }
  p.b = std::move(*b);
  p.bh = std::move(*bh);
  p.key_name = r.selector + "._domainkey." + r.domain;
  return true;
}

}  // namespace

namespace dkim_detail {

// Parses one key record. Returns nullopt with `why` (a permerror) on any problem.
std::optional<PublicKey> parse_key_record(std::string_view record, DkimAlgorithm alg, std::string& why) {
  if (record.size() > kMaxKeyRecord) {
    why = "key record is too long";
    return std::nullopt;
  }
  auto tags = parse_tags(record, why);
  if (!tags) {
    why = "malformed key record: " + why;
    return std::nullopt;
  }
  if (const Tag* v = tags->find("v"); v && (v != &tags->tags.front() || v->value != "DKIM1")) {
    why = "key record v= is not DKIM1 first";
    return std::nullopt;
  }
  std::string_view k = tags->find("k") ? tags->find("k")->value : "rsa";
  bool want_rsa = alg == DkimAlgorithm::kRsaSha256;
  if (k != (want_rsa ? "rsa" : "ed25519")) {
    why = "key type k=" + std::string(k) + " does not match a=";
    return std::nullopt;
  }
  if (const Tag* h = tags->find("h"); h && !contains(colon_list(h->value), "sha256")) {
    why = "key record h= does not allow sha256";
    return std::nullopt;
  }
  if (const Tag* s = tags->find("s")) {
    auto services = colon_list(s->value);
    if (!contains(services, "*") && !contains(services, "email")) {
      why = "key record is not for email (s=)";
      return std::nullopt;
    }
  }
  PublicKey key;
  if (const Tag* t = tags->find("t")) {
    auto flags = colon_list(t->value);
    key.testing = contains(flags, "y");
    key.strict = contains(flags, "s");
  }
  const Tag* p = tags->find("p");
  if (!p) {
    why = "key record without p=";
    return std::nullopt;
  }
  auto b64 = strip_fws(p->value);
  if (b64.empty()) {
    why = "key revoked (empty p=)";
    return std::nullopt;
  }
  auto der = base64::decode(b64);
  if (!der) {
    why = "malformed p= in key record";
    return std::nullopt;
  }
  const unsigned char* der_bytes = bytes(*der);
  if (!want_rsa) {
    if (der->size() != 32) {
      why = "Ed25519 key is not 32 bytes";
      return std::nullopt;
    }
    key.pkey = PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, der_bytes, 32), &EVP_PKEY_free);
  } else {
    // SubjectPublicKeyInfo (what RFC 6376 §3.6.1 means), or a bare PKCS#1 RSAPublicKey as some
    // signers publish.
    const unsigned char* q = der_bytes;
    key.pkey = PkeyPtr(d2i_PUBKEY(nullptr, &q, long(der->size())), &EVP_PKEY_free);
    if (!key.pkey) {
      q = der_bytes;
      key.pkey = PkeyPtr(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &q, long(der->size())), &EVP_PKEY_free);
    }
    if (key.pkey && !EVP_PKEY_is_a(key.pkey.get(), "RSA")) key.pkey.reset();
  }
  if (!key.pkey) {
    why = "unreadable public key in p=";
    return std::nullopt;
  }
  if (want_rsa) {
    int bits = EVP_PKEY_get_bits(key.pkey.get());
    if (bits < kMinRsaBits) {
      why = "RSA key of " + std::to_string(bits) + " bits is below 1024 (RFC 8301)";
      return std::nullopt;
    }
    if (bits > kMaxRsaBits) {
      why = "RSA key of " + std::to_string(bits) + " bits is above 8192";
      return std::nullopt;
    }
  }
  return key;
}

// The key named `key_name` looked up and parsed: a temperror or a permerror with `why` when there
// is none to verify with.
boost::asio::awaitable<KeyFetch> fetch_public_key(dns::Resolver& resolver, std::string key_name, DkimAlgorithm alg) {
  KeyFetch out;
  dns::TxtAnswer answer;
  try {
    answer = co_await resolver.txt(key_name);
  } catch (const std::exception& e) {
    answer.status = dns::Status::kTempFail;
    answer.why = e.what();
  }
  out.status = DkimStatus::kPermError;
  switch (answer.status) {
    case dns::Status::kTempFail:
      out.status = DkimStatus::kTempError;
      out.why = "key lookup failed: " + (answer.why.empty() ? std::string("temporary DNS failure") : answer.why);
      co_return out;
    case dns::Status::kNxDomain:
    case dns::Status::kNoData:
      out.why = "no key record at " + key_name;
      co_return out;
    case dns::Status::kOk: break;
  }
  if (answer.records.empty()) {
    out.why = "no key record at " + key_name;
  } else if (answer.records.size() > 1) {
    out.why = "more than one key record at " + key_name;
  } else if ((out.key = parse_key_record(answer.records.front(), alg, out.why))) {
    out.status = DkimStatus::kPass;
  }
  co_return out;
}

}  // namespace dkim_detail

namespace {

// The checks after the key lookup: key record, body hash, header signature.
DkimResult finish(Pending& p, const KeyFetch& fetched, const std::vector<RawField>& fields,
                  std::string_view body, BodyHashCache& cache) {
  auto& r = p.result;
  if (!fetched.key) {
    r.status = fetched.status;
    r.reason = fetched.why;
    return r;
  }
  const auto& key = fetched.key;
  if (key->strict && p.identity_domain != ascii::lower(r.domain))
    return perm(r, "key has t=s but i= is a subdomain of d=");
  auto fail = [&](std::string reason) {
    // t=y: the domain is testing; a failure is reported as neutral [RFC 6376 §3.6.1].
    r.status = key->testing ? DkimStatus::kNeutral : DkimStatus::kFail;
    r.reason = std::move(reason) + (key->testing ? " (key in testing mode)" : "");
    return r;
  };
  const auto& bh = cache.get(body, p.body_canon, p.length);
  if (p.length && *p.length > bh.canonical_length) return perm(r, "l= is longer than the body");
  if (bh.digest != p.bh) return fail("body hash mismatch");
  std::vector<std::string_view> h(p.h.begin(), p.h.end());
  auto data = signed_headers_data(fields, h, p.header_canon);
  append_signature_field(data, p.field, p.header_canon);
  if (!verify_data(key->pkey.get(), p.algorithm, data, p.b)) return fail("signature did not verify");
  r.status = DkimStatus::kPass;
  r.reason = "";
  return r;
}

}  // namespace

boost::asio::awaitable<std::vector<DkimResult>> dkim_verify(std::string_view message, dns::Resolver& resolver,
                                                            int64_t now) {
  std::vector<DkimResult> results;
  auto fields = split_raw_fields(message);
  auto body = message.substr(mime::split_header(message).body_start);
  BodyHashCache cache;
  std::size_t seen = 0;
  for (const auto& field : fields) {
    if (!ascii::iequals(field.name, "DKIM-Signature")) continue;
    Pending p;
    if (++seen > kMaxVerifiedSignatures) {
      // Still name the signature, so the result is useful in logs.
      std::string why;
      auto colon = field.raw.find(':');
      if (auto tags = parse_tags(field.raw.substr(colon + 1), why)) {
        if (auto* d = tags->find("d")) p.result.domain = std::string(d->value);
        if (auto* s = tags->find("s")) p.result.selector = std::string(s->value);
      }
      p.result.status = DkimStatus::kPolicy;
      p.result.reason = "more than " + std::to_string(kMaxVerifiedSignatures) + " signatures; not verified";
      results.push_back(std::move(p.result));
      continue;
    }
    if (!prepare(field.raw, now, p)) {
      results.push_back(std::move(p.result));
      continue;
    }
    auto fetched = co_await fetch_public_key(resolver, p.key_name, p.algorithm);
    results.push_back(finish(p, fetched, fields, body, cache));
  }
  if (results.empty()) {
    DkimResult none;
    none.reason = "no signature";
    results.push_back(std::move(none));
  }
  co_return results;
}

}  // namespace posthorn::msgauth
