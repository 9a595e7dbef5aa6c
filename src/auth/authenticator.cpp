#include "auth/authenticator.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "auth/password.hpp"
#include "base/crypto.hpp"
#include "base/ascii.hpp"
#include "base/random.hpp"

// Implementation notes:
// - Directory calls are the Directory's awaitables; Argon2/crypt and PBKDF2 run on the blocking pool
//   (run_blocking); the coroutine only decides and waits. The lambdas handed to run_blocking capture
//   values and pointers to members of this object, which outlives every exchange it serves.
// - Unknown user and wrong password take the same path length (a full hash verification) and produce
//   the same Errc::kDenied; only the log line says which it was.
// - Names from clients are logged through printable(): control bytes cannot forge log lines.

namespace posthorn::auth {
namespace {

constexpr size_t kScramSaltBytes = 16;
constexpr size_t kMaxLoggedName = 128;

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(std::min(s.size(), kMaxLoggedName));
  for (char c : s.substr(0, kMaxLoggedName)) out += (c >= 0x21 && c <= 0x7e) ? c : '?';
  if (s.size() > kMaxLoggedName) out += "...";
  return out;
}

// What verify_plain found (the lookup, then the hashing on the pool).
struct PlainOutcome {
  enum class Kind { kOk, kUnknownUser, kWrongPassword, kDirectoryError };
  Kind kind = Kind::kWrongPassword;
  Account account;
  bool cache_hit = false;
  std::string new_scram;  // SCRAM secrets derived from the password, to store (serialized)
  std::string detail;  // log-only
};

}  // namespace

Authenticator::Authenticator(Directory& directory, BlockingPool& pool, const config::Auth& settings,
                             Clock& clock)
    : directory_(directory),
      pool_(pool),
      settings_(settings),
      clock_(clock),
      throttle_(settings_, clock_),
      cache_(settings_.cache_ttl, clock_),
      fake_salt_key_(random_bytes(32)) {}

bool Authenticator::plaintext_allowed(const AuthContext& ctx) const {
  return ctx.tls || (ctx.loopback && settings_.allow_plaintext_on_loopback);
}

boost::asio::awaitable<Result<Principal>> Authenticator::verify_plain(const AuthContext& ctx, std::string authzid,
                                                                      std::string username,
                                                                      std::string password) {
  if (throttle_.blocked(ctx.remote_ip, username)) {
    co_await fail(ctx, username, "blocked");
    co_return make_error(Errc::kUnavailable, "too many failed attempts, try again later");
  }
  if (username.empty() || (!authzid.empty() && authzid != username)) {
    const std::string_view why = username.empty() ? "empty username" : "authzid differs from username";
    co_await fail(ctx, username, why);
    co_return make_error(Errc::kDenied, "authentication failed");
  }

  // The lookup is the directory's awaitable; only the hash verification and the SCRAM derivation
  // (CPU-heavy) go to the pool.
  PlainOutcome outcome;
  auto find = directory_.find_account(username);
  auto found = co_await std::move(find);
  if (!found && found.error().code != Errc::kNotFound) {
    outcome.kind = PlainOutcome::Kind::kDirectoryError;
    outcome.detail = found.error().message;
  } else if (!found) {
    const config::Argon2 argon2 = settings_.argon2;
    auto dummy = run_blocking(pool_, [argon2, password] {
      verify_password(dummy_hash(argon2), password);  // same cost as a real check
      return true;
    });
    co_await std::move(dummy);
    outcome.kind = PlainOutcome::Kind::kUnknownUser;
  } else {
    outcome.account = std::move(*found);
    CredentialCache* cache = &cache_;
    const uint32_t scram_iterations = settings_.scram_iterations;
    auto check = [cache, scram_iterations, account = outcome.account, password]() -> PlainOutcome {
      PlainOutcome out;
      out.account = account;
      out.cache_hit = cache->contains(out.account.address, out.account.password_hash, password);
      if (!out.cache_hit && !verify_password(out.account.password_hash, password)) {
        out.kind = PlainOutcome::Kind::kWrongPassword;
        return out;
      }
      out.kind = PlainOutcome::Kind::kOk;
      if (!out.cache_hit) cache->insert(out.account.address, out.account.password_hash, password);
      // Imported hashes come without SCRAM secrets: derive them now that we know the password, so
      // SCRAM-SHA-256 works from the next login on (stored below).
      if (out.account.scram.empty() || !ScramCredentials::parse(out.account.scram)) {
        const auto creds = make_scram_credentials(password, random_bytes(kScramSaltBytes), scram_iterations);
        out.new_scram = creds.serialize();
      }
      return out;
    };
    auto verify = run_blocking(pool_, std::move(check));
    PlainOutcome verified = co_await std::move(verify);
    outcome = std::move(verified);
    if (!outcome.new_scram.empty()) {
      auto store = directory_.set_scram(outcome.account.id, outcome.new_scram);
      auto stored = co_await std::move(store);
      if (stored) {
        outcome.account.scram = std::move(outcome.new_scram);
      } else {
        outcome.detail = "storing SCRAM secrets failed: " + stored.error().message;
      }
    }
  }

  switch (outcome.kind) {
    case PlainOutcome::Kind::kOk: {
      Metrics::global().credential_cache(outcome.cache_hit);
      if (!outcome.detail.empty()) {
        spdlog::warn("conn={} user={} {}", ctx.connection_id, printable(outcome.account.address), outcome.detail);
      }
      Principal who{outcome.account.id, outcome.account.address, outcome.account.quota_bytes};
      succeed(ctx, who, "password");
      co_return who;
    }
    case PlainOutcome::Kind::kDirectoryError:
      spdlog::error("conn={} auth user={} ip={}: directory error: {}", ctx.connection_id, printable(username),
                    ctx.remote_ip, outcome.detail);
      co_return make_error(Errc::kInternal, "authentication temporarily unavailable");
    case PlainOutcome::Kind::kUnknownUser:
      co_await fail(ctx, username, "unknown user");
      co_return make_error(Errc::kDenied, "authentication failed");
    case PlainOutcome::Kind::kWrongPassword:
      Metrics::global().credential_cache(false);  // looked up, not found: a miss
      break;
  }
  co_await fail(ctx, username, "wrong password");
  co_return make_error(Errc::kDenied, "authentication failed");
}

boost::asio::awaitable<Result<Authenticator::ScramLookup>> Authenticator::scram_lookup(const AuthContext& ctx,
                                                                                       std::string username) {
  if (throttle_.blocked(ctx.remote_ip, username)) {
    co_await fail(ctx, username, "blocked");
    co_return make_error(Errc::kUnavailable, "too many failed attempts, try again later");
  }
  // Nothing here is CPU-heavy (the proof is checked by the SASL exchange): no pool.
  auto find = directory_.find_account(username);
  auto found = co_await std::move(find);
  if (!found && found.error().code != Errc::kNotFound) {
    spdlog::error("conn={} auth user={} ip={}: directory error: {}", ctx.connection_id, printable(username),
                  ctx.remote_ip, found.error().message);
    co_return make_error(Errc::kInternal, "authentication temporarily unavailable");
  }
  ScramLookup out;
  if (found) {
    if (auto creds = ScramCredentials::parse(found->scram)) {
      out.credentials = std::move(*creds);
      out.real = true;
      out.principal = Principal{found->id, found->address, found->quota_bytes};
      co_return out;
    }
  }
  // Unknown user, or no SCRAM secrets yet: a salt that is stable per name (so probing twice shows
  // nothing) and keys nobody knows, so the proof fails exactly like a wrong password.
  out.credentials.iterations = settings_.scram_iterations;
  out.credentials.salt = hmac_sha256(fake_salt_key_, ascii::lower(username)).substr(0, kScramSaltBytes);
  out.credentials.stored_key = random_bytes(32);
  out.credentials.server_key = random_bytes(32);
  co_return out;
}

boost::asio::awaitable<void> Authenticator::scram_finished(const AuthContext& ctx, const std::string& username,
                                                           bool ok) {
  if (ok) {
    succeed(ctx, Principal{0, username}, "SCRAM-SHA-256");
    co_return;
  }
  co_await fail(ctx, username, "wrong password or unknown user (SCRAM proof)");
}

boost::asio::awaitable<void> Authenticator::fail(const AuthContext& ctx, const std::string& username,
                                                 std::string_view why) {
  const auto delay = throttle_.record_failure(ctx.remote_ip, username);
  Metrics::global().auth_failed(ctx.protocol);
  spdlog::warn("conn={} auth failed user={} ip={} reason={} delay_ms={}", ctx.connection_id, printable(username),
               ctx.remote_ip, why, delay.count());
  if (delay.count() > 0) {
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer timer(executor, delay);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)ec;  // cancelled: the session is going away; the reply no longer matters
  }
}

void Authenticator::succeed(const AuthContext& ctx, const Principal& who, std::string_view how) {
  throttle_.record_success(ctx.remote_ip, who.address);
  Metrics::global().auth_succeeded(ctx.protocol);
  spdlog::info("conn={} auth ok user={} mech={} ip={}", ctx.connection_id, printable(who.address), how,
               ctx.remote_ip);
}

}  // namespace posthorn::auth
