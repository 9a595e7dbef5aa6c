// SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, server side [RFC 5802, RFC 7677, RFC 9266 tls-exporter].
// The state machine is pure (no I/O): the driver feeds client messages and supplies the stored
// credentials. Not thread-safe per instance; one instance per exchange.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace posthorn::auth {

struct ScramCredentials {
  uint32_t iterations = 0;
  std::string salt;        // raw bytes
  std::string stored_key;  // raw 32 bytes: H(HMAC(SaltedPassword, "Client Key"))
  std::string server_key;  // raw 32 bytes: HMAC(SaltedPassword, "Server Key")

  // "SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>" (Dovecot's layout).
  std::string serialize() const;
  static std::optional<ScramCredentials> parse(std::string_view text);
};

// Derives the credentials from a password (PBKDF2-HMAC-SHA-256). Slow: use the blocking pool.
ScramCredentials make_scram_credentials(std::string_view password, std::string_view salt,
                                        uint32_t iterations);

class ScramServer {
 public:
  struct Options {
    bool plus = false;                      // SCRAM-SHA-256-PLUS: channel binding required
    bool channel_binding_available = false; // the connection is TLS (so -PLUS could have been chosen)
    std::string tls_exporter;               // the 32-byte tls-exporter value when TLS is up
    std::string tls_unique;                 // the tls-unique value (TLS 1.2 only); empty = not offered
    std::function<std::string()> nonce;     // server nonce generator; default: 24 random bytes, base64
  };
  explicit ScramServer(Options options);

  // The channel-binding data for a type the client named ("" when it is not available).
  const std::string& channel_binding(std::string_view type) const {
    return type == "tls-unique" ? options_.tls_unique : options_.tls_exporter;
  }

  // Step 1: client-first-message. Returns the authentication identity (the username, SASLprep'd as
  // far as ASCII goes: "=2C" and "=3D" decoded). Errc::kInvalid on a malformed message or a
  // channel-binding flag that does not fit (RFC 5802 §6 downgrade protection).
  Result<std::string> client_first(std::string_view message);
  // Step 2: the server-first-message for the stored credentials.
  std::string server_first(const ScramCredentials& credentials);
  // Step 3: client-final-message. Returns the server-final-message ("v=...") when the proof and the
  // channel binding check out; Errc::kDenied on a wrong proof, Errc::kInvalid on a malformed message.
  Result<std::string> client_final(std::string_view message);

  const std::string& authzid() const { return authzid_; }

 private:
  Options options_;
  std::string gs2_header_;
  std::string authzid_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
  ScramCredentials credentials_;
  bool done_ = false;  // client_final was called (one attempt per exchange)
};

}  // namespace posthorn::auth
