// Authenticator: checks credentials for every protocol. It owns the throttle and the verified-
// credentials cache, does the Directory lookups and the hashing on the blocking pool, applies the
// failure delay asynchronously, logs each outcome and counts it in Metrics. Thread-safe.
//
// Timing: an unknown user is checked against a dummy Argon2id hash, so it takes as long to reject as
// a wrong password; both get the same reply.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <concepts>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/directory.hpp"
#include "auth/scram.hpp"
#include "auth/throttle.hpp"
#include "base/blocking_pool.hpp"
#include "base/clock.hpp"
#include "base/metrics.hpp"
#include "base/result.hpp"
#include "config/config.hpp"

namespace posthorn::auth {

// Who is asking, as the session knows it.
struct AuthContext {
  Proto protocol = Proto::kImap;
  std::string connection_id;
  std::string remote_ip;
  bool tls = false;
  bool loopback = false;
  std::string tls_exporter;  // 32 bytes of tls-exporter channel binding when tls (RFC 9266)
  std::string tls_unique;    // tls-unique channel binding (TLS 1.2 with EMS only, RFC 5929)
  std::vector<std::string> mechanisms;  // the listener's sasl_mechanisms (empty: every mechanism)
};

// What auth reads of a session's connection: net::Connection satisfies it. auth/ sits beside net/,
// not above it (docs/architecture.md), so it names the facts it needs instead of the type.
template <class C>
concept ConnectionFacts = requires(const C& c) {
  { c.info().protocol } -> std::convertible_to<Proto>;
  { c.info().id } -> std::convertible_to<std::string>;
  { c.info().remote_ip } -> std::convertible_to<std::string>;
  { c.info().loopback } -> std::convertible_to<bool>;
  { c.is_tls() } -> std::convertible_to<bool>;
  { c.tls_exporter() } -> std::convertible_to<std::string>;
  { c.tls_unique() } -> std::convertible_to<std::string>;
};

// The AuthContext of a session's connection (TLS state and channel binding read now) on `listener`.
template <ConnectionFacts C>
AuthContext context_for(const C& conn, const config::Listener& listener) {
  AuthContext ctx;
  ctx.protocol = conn.info().protocol;
  ctx.connection_id = conn.info().id;
  ctx.remote_ip = conn.info().remote_ip;
  ctx.tls = conn.is_tls();
  ctx.loopback = conn.info().loopback;
  if (ctx.tls) ctx.tls_exporter = conn.tls_exporter();
  if (ctx.tls) ctx.tls_unique = conn.tls_unique();
  ctx.mechanisms = listener.sasl_mechanisms;
  return ctx;
}

// An authenticated identity.
struct Principal {
  AccountId account = 0;
  std::string address;
  uint64_t quota_bytes = 0;  // the account's storage quota (0 = unlimited), for store::Limits
};

class Authenticator {
 public:
  Authenticator(Directory& directory, BlockingPool& pool, const config::Auth& settings,
                Clock& clock = Clock::system());

  // True when plaintext mechanisms (PLAIN, LOGIN, IMAP LOGIN, POP3 USER/PASS) may be used here:
  // over TLS, or from loopback when allow_plaintext_on_loopback is set.
  bool plaintext_allowed(const AuthContext& ctx) const;

  // Checks a username and password. authzid, when non-empty, must equal the username (no proxy auth).
  // Errors: kDenied (wrong credentials or unknown user: same reply, same time), kUnavailable
  // (temporarily blocked by throttling), kInternal (directory failure).
  boost::asio::awaitable<Result<Principal>> verify_plain(const AuthContext& ctx, std::string authzid,
                                                         std::string username, std::string password);

  // SCRAM: the stored credentials for `username`. For an unknown user (or one without SCRAM
  // secrets) returns made-up credentials derived from the name, so the exchange fails at the proof
  // like a wrong password. kUnavailable when throttled.
  struct ScramLookup {
    ScramCredentials credentials;
    bool real = false;
    Principal principal;
  };
  boost::asio::awaitable<Result<ScramLookup>> scram_lookup(const AuthContext& ctx, std::string username);
  // Records the outcome of a SCRAM proof (throttle, log, metrics); applies the failure delay.
  boost::asio::awaitable<void> scram_finished(const AuthContext& ctx, const std::string& username, bool ok);

  Directory& directory() { return directory_; }
  const config::Auth& settings() const { return settings_; }

 private:
  boost::asio::awaitable<void> fail(const AuthContext& ctx, const std::string& username, std::string_view why);
  void succeed(const AuthContext& ctx, const Principal& who, std::string_view how);

  Directory& directory_;
  BlockingPool& pool_;
  config::Auth settings_;
  Clock& clock_;
  Throttle throttle_;
  CredentialCache cache_;
  std::string fake_salt_key_;
};

}  // namespace posthorn::auth
