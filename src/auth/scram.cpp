#include "auth/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <charconv>
#include <stdexcept>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "base/crypto.hpp"
#include "base/random.hpp"

// Implementation notes:
// - Messages are parsed strictly in the order RFC 5802 §7 fixes; anything else is Errc::kInvalid.
// - Usernames are not SASLprep'd beyond the "=2C"/"=3D" escapes: Posthorn addresses are ASCII, and a
//   non-ASCII name is compared byte for byte (it simply fails to match if the client normalised it).
// - Every check that depends on a secret (the proof) uses CRYPTO_memcmp.

namespace posthorn::auth {
namespace {

constexpr size_t kKeyBytes = SHA256_DIGEST_LENGTH;
constexpr std::string_view kPrefix = "SCRAM-SHA-256$";

std::string sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

std::optional<uint32_t> parse_u32(std::string_view s) {
  uint32_t v = 0;
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// saslname = 1*(value-safe-char / "=2C" / "=3D") [RFC 5802 §7]
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ',' || c == '\0') return std::nullopt;
    if (c != '=') {
      out += c;
      continue;
    }
    const std::string_view esc = s.substr(i + 1, 2);
    if (esc == "2C") {
      out += ',';
    } else if (esc == "3D") {
      out += '=';
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// printable = %x21-2B / %x2D-7E  (printable ASCII except ",")
bool is_nonce(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

// attr-val = ALPHA "=" value; `attr` is the expected letter.
std::optional<std::string_view> attribute(std::string_view field, char attr) {
  if (field.size() < 2 || field[0] != attr || field[1] != '=') return std::nullopt;
  return field.substr(2);
}

bool is_extension(std::string_view field) {
  return field.size() >= 2 && ((field[0] >= 'a' && field[0] <= 'z') || (field[0] >= 'A' && field[0] <= 'Z')) &&
         field[1] == '=';
}

Error invalid(std::string message) { return make_error(Errc::kInvalid, std::move(message)); }

}  // namespace

std::string ScramCredentials::serialize() const {
  return std::string(kPrefix) + std::to_string(iterations) + ":" + base64::encode(salt) + "$" +
         base64::encode(stored_key) + ":" + base64::encode(server_key);
}

std::optional<ScramCredentials> ScramCredentials::parse(std::string_view text) {
  if (!text.starts_with(kPrefix)) return std::nullopt;
  const auto halves = ascii::split(text.substr(kPrefix.size()), '$');
  if (halves.size() != 2) return std::nullopt;
  const auto left = ascii::split(halves[0], ':');
  const auto right = ascii::split(halves[1], ':');
  if (left.size() != 2 || right.size() != 2) return std::nullopt;
  auto iterations = parse_u32(left[0]);
  auto salt = base64::decode(left[1]);
  auto stored = base64::decode(right[0]);
  auto server = base64::decode(right[1]);
  if (!iterations || *iterations == 0 || !salt || salt->empty() || !stored || !server ||
      stored->size() != kKeyBytes || server->size() != kKeyBytes) {
    return std::nullopt;
  }
  ScramCredentials c;
  c.iterations = *iterations;
  c.salt = std::move(*salt);
  c.stored_key = std::move(*stored);
  c.server_key = std::move(*server);
  return c;
}

ScramCredentials make_scram_credentials(std::string_view password, std::string_view salt,
                                        uint32_t iterations) {
  unsigned char salted[kKeyBytes];
  if (PKCS5_PBKDF2_HMAC(password.data(), int(password.size()), reinterpret_cast<const unsigned char*>(salt.data()),
                        int(salt.size()), int(iterations), EVP_sha256(), sizeof(salted), salted) != 1) {
    throw std::runtime_error("PBKDF2-HMAC-SHA-256 failed");
  }
  const std::string_view salted_password(reinterpret_cast<const char*>(salted), sizeof(salted));
  ScramCredentials c;
  c.iterations = iterations;
  c.salt = std::string(salt);
  std::string client_key = hmac_sha256(salted_password, "Client Key");
  c.stored_key = sha256(client_key);
  c.server_key = hmac_sha256(salted_password, "Server Key");
  OPENSSL_cleanse(client_key.data(), client_key.size());
  OPENSSL_cleanse(salted, sizeof(salted));
  return c;
}

ScramServer::ScramServer(Options options) : options_(std::move(options)) {}

// client-first-message = gs2-header client-first-message-bare [RFC 5802 §7]
// gs2-header = gs2-cbind-flag "," [ authzid ] ","
Result<std::string> ScramServer::client_first(std::string_view message) {
  if (!gs2_header_.empty()) return invalid("unexpected client-first-message");
  const size_t first_comma = message.find(',');
  if (first_comma == std::string_view::npos) return invalid("malformed gs2 header");
  const size_t second_comma = message.find(',', first_comma + 1);
  if (second_comma == std::string_view::npos) return invalid("malformed gs2 header");

  const std::string_view flag = message.substr(0, first_comma);
  if (flag == "n") {
    // The client does not support channel binding; fine unless the server requires it.
    if (options_.plus) return invalid("channel binding required");
  } else if (flag == "y") {
    // The client supports binding but believes we do not: if we do, someone stripped -PLUS from the
    // mechanism list [RFC 5802 §6].
    if (options_.plus || options_.channel_binding_available) return invalid("channel binding downgrade");
  } else if (flag.starts_with("p=")) {
    if (!options_.plus) return invalid("channel binding not negotiated");
    // tls-exporter [RFC 9266], and tls-unique [RFC 5929], which RFC 5802 §6 made the type every
    // server must support and which GNU SASL clients send under TLS 1.2; under TLS 1.3 it is
    // undefined and refused.
    const std::string_view type = flag.substr(2);
    if (type != "tls-exporter" && type != "tls-unique") return invalid("channel binding type not supported");
    if (channel_binding(type).empty()) return invalid("channel binding type not available on this connection");
  } else {
    return invalid("malformed gs2 header");
  }

  const std::string_view authz = message.substr(first_comma + 1, second_comma - first_comma - 1);
  std::string authzid;
  if (!authz.empty()) {
    auto value = attribute(authz, 'a');
    if (!value) return invalid("malformed authzid");
    auto decoded = decode_saslname(*value);
    if (!decoded) return invalid("malformed authzid");
    authzid = std::move(*decoded);
  }

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  const std::string_view bare = message.substr(second_comma + 1);
  const auto fields = ascii::split(bare, ',');
  if (fields.size() < 2) return invalid("malformed client-first-message");
  if (fields[0].starts_with("m=")) return invalid("mandatory extension not supported");
  auto user_field = attribute(fields[0], 'n');
  if (!user_field) return invalid("malformed username");
  auto username = decode_saslname(*user_field);
  if (!username) return invalid("malformed username");
  auto cnonce = attribute(fields[1], 'r');
  if (!cnonce || !is_nonce(*cnonce)) return invalid("malformed nonce");
  for (size_t i = 2; i < fields.size(); ++i) {
    if (!is_extension(fields[i])) return invalid("malformed extension");
  }

  gs2_header_ = std::string(message.substr(0, second_comma + 1));
  authzid_ = std::move(authzid);
  client_first_bare_ = std::string(bare);
  nonce_ = std::string(*cnonce);
  return std::move(*username);
}

// server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
std::string ScramServer::server_first(const ScramCredentials& credentials) {
  if (gs2_header_.empty() || !server_first_.empty()) {
    throw std::logic_error("ScramServer::server_first called out of order");
  }
  const std::string snonce = options_.nonce ? options_.nonce() : base64::encode(random_bytes(24));
  nonce_ += snonce;
  credentials_ = credentials;
  server_first_ = "r=" + nonce_ + ",s=" + base64::encode(credentials_.salt) +
                  ",i=" + std::to_string(credentials_.iterations);
  return server_first_;
}

// client-final-message = client-final-message-without-proof "," proof
// client-final-message-without-proof = channel-binding "," nonce ["," extensions]
Result<std::string> ScramServer::client_final(std::string_view message) {
  if (server_first_.empty() || done_) return invalid("unexpected client-final-message");
  done_ = true;  // one attempt per exchange

  const size_t proof_at = message.rfind(",p=");
  if (proof_at == std::string_view::npos) return invalid("missing proof");
  const std::string_view without_proof = message.substr(0, proof_at);
  const auto fields = ascii::split(without_proof, ',');
  if (fields.size() < 2) return invalid("malformed client-final-message");
  auto cbind = attribute(fields[0], 'c');
  auto nonce = attribute(fields[1], 'r');
  if (!cbind || !nonce) return invalid("malformed client-final-message");
  for (size_t i = 2; i < fields.size(); ++i) {
    if (!is_extension(fields[i])) return invalid("malformed extension");
  }
  auto proof = base64::decode(message.substr(proof_at + 3));
  if (!proof || proof->size() != kKeyBytes) return invalid("malformed proof");
  if (*nonce != nonce_) return invalid("nonce mismatch");

  auto cbind_data = base64::decode(*cbind);
  if (!cbind_data) return invalid("malformed channel binding");
  std::string expected = gs2_header_;
  if (gs2_header_.starts_with("p=")) {
    expected += channel_binding(std::string_view(gs2_header_).substr(2, gs2_header_.find(',') - 2));
  }
  if (*cbind_data != expected) return make_error(Errc::kDenied, "channel binding mismatch");

  // [RFC 5802 §3]
  const std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  const std::string client_signature = hmac_sha256(credentials_.stored_key, auth_message);
  std::string client_key(kKeyBytes, '\0');
  for (size_t i = 0; i < kKeyBytes; ++i) client_key[i] = char((*proof)[i] ^ client_signature[i]);
  const std::string computed = sha256(client_key);
  OPENSSL_cleanse(client_key.data(), client_key.size());
  if (credentials_.stored_key.size() != kKeyBytes ||
      CRYPTO_memcmp(computed.data(), credentials_.stored_key.data(), kKeyBytes) != 0) {
    return make_error(Errc::kDenied, "authentication failed");
  }
  return "v=" + base64::encode(hmac_sha256(credentials_.server_key, auth_message));
}

}  // namespace posthorn::auth
