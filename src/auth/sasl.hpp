// SASL server exchanges shared by SMTP, IMAP and POP3: PLAIN [RFC 4616], LOGIN, SCRAM-SHA-256 and
// SCRAM-SHA-256-PLUS [RFC 7677, RFC 9266]. The session does the framing (IMAP "+ ", SMTP "334 ",
// POP3 "+ "), base64 and the "*" cancel; this class sees decoded bytes. One instance per exchange;
// not thread-safe (a session's strand owns it).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authenticator.hpp"

namespace posthorn::auth {

struct SaslStep {
  enum class Kind { kChallenge, kSuccess, kFailure };
  Kind kind = Kind::kFailure;
  std::string challenge;  // kChallenge: raw bytes to send (base64-encoded by the session)
  Principal principal;    // kSuccess
  Error error;            // kFailure: kDenied (bad credentials), kInvalid (malformed exchange),
                          // kUnavailable (throttled or directory down), kNotFound (unknown mechanism),
                          // kDenied with message "encryption required" when plaintext is not allowed
};

// Mechanism names to advertise on this connection, in preference order.
std::vector<std::string> sasl_mechanisms(const Authenticator& auth, const AuthContext& ctx);

class SaslExchange {
 public:
  SaslExchange(Authenticator& auth, AuthContext ctx);
  ~SaslExchange();

  // Starts `mechanism` (case-insensitive). `initial` is the decoded initial response when the client
  // sent one (SASL-IR; an empty one is "=" on the wire and arrives here as an empty string).
  boost::asio::awaitable<SaslStep> start(std::string mechanism, std::optional<std::string> initial);
  // Feeds the client's next decoded response.
  boost::asio::awaitable<SaslStep> respond(std::string response);

 private:
  enum class Mech { kNone, kPlain, kLogin, kScram };
  boost::asio::awaitable<SaslStep> plain(std::string message);

  Authenticator& auth_;
  AuthContext ctx_;
  Mech mech_ = Mech::kNone;
  int step_ = 0;
  std::string login_user_;
  std::unique_ptr<ScramServer> scram_;
  std::string scram_user_;
  Authenticator::ScramLookup scram_lookup_;
  bool scram_done_ = false;
};

}  // namespace posthorn::auth
