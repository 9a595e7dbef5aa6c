#include "auth/sasl.hpp"

#include <algorithm>

#include "base/ascii.hpp"

// Implementation notes:
// - step_ counts the responses consumed by the current mechanism; kDone marks a finished exchange
//   (success or failure), after which every call is Errc::kInvalid.
// - SCRAM: client-first -> server-first (challenge) -> client-final -> server-final "v=..."
//   (challenge) -> empty response -> success [RFC 5802 §5]. The proof outcome goes to
//   Authenticator::scram_finished, which throttles, logs and delays on failure.

namespace posthorn::auth {
namespace {

constexpr int kDone = -1;

SaslStep challenge(std::string bytes) {
  SaslStep s;
  s.kind = SaslStep::Kind::kChallenge;
  s.challenge = std::move(bytes);
  return s;
}

SaslStep failure(Errc code, std::string message) {
  SaslStep s;
  s.kind = SaslStep::Kind::kFailure;
  s.error = make_error(code, std::move(message));
  return s;
}

SaslStep failure(Error error) {
  SaslStep s;
  s.kind = SaslStep::Kind::kFailure;
  s.error = std::move(error);
  return s;
}

SaslStep success(Principal who) {
  SaslStep s;
  s.kind = SaslStep::Kind::kSuccess;
  s.principal = std::move(who);
  return s;
}

bool plus_available(const AuthContext& ctx) {
  return ctx.tls && (!ctx.tls_exporter.empty() || !ctx.tls_unique.empty());
}

// Whether `name` (upper case) can run on this connection at all.
bool usable(const Authenticator& auth, const AuthContext& ctx, std::string_view name) {
  if (name == "SCRAM-SHA-256-PLUS") return plus_available(ctx);
  if (name == "SCRAM-SHA-256") return true;
  if (name == "PLAIN" || name == "LOGIN") return auth.plaintext_allowed(ctx);
  return false;
}

bool listed(const AuthContext& ctx, std::string_view name) {
  return ctx.mechanisms.empty() || std::find(ctx.mechanisms.begin(), ctx.mechanisms.end(), name) != ctx.mechanisms.end();
}

}  // namespace

std::vector<std::string> sasl_mechanisms(const Authenticator& auth, const AuthContext& ctx) {
  static const std::vector<std::string> kDefault{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN", "LOGIN"};
  std::vector<std::string> out;
  for (const auto& name : ctx.mechanisms.empty() ? kDefault : ctx.mechanisms) {
    if (usable(auth, ctx, name)) out.push_back(name);
  }
  return out;
}

SaslExchange::SaslExchange(Authenticator& auth, AuthContext ctx) : auth_(auth), ctx_(std::move(ctx)) {}

SaslExchange::~SaslExchange() = default;

boost::asio::awaitable<SaslStep> SaslExchange::start(std::string mechanism, std::optional<std::string> initial) {
  if (mech_ != Mech::kNone || step_ == kDone) co_return failure(Errc::kInvalid, "exchange already started");
  const std::string name = ascii::upper(mechanism);
  const bool plaintext = name == "PLAIN" || name == "LOGIN";
  const bool scram = name == "SCRAM-SHA-256" || (name == "SCRAM-SHA-256-PLUS" && plus_available(ctx_));
  if ((!plaintext && !scram) || !listed(ctx_, name)) {
    step_ = kDone;
    co_return failure(Errc::kNotFound, "unsupported mechanism");
  }
  if (plaintext && !auth_.plaintext_allowed(ctx_)) {
    step_ = kDone;
    co_return failure(Errc::kDenied, "encryption required");
  }

  if (name == "PLAIN") {
    mech_ = Mech::kPlain;
    // An empty initial response carries no credentials: ask for them [RFC 4422 §5].
    if (!initial || initial->empty()) co_return challenge("");
    SaslStep step = co_await plain(std::move(*initial));
    co_return step;
  }
  if (name == "LOGIN") {
    mech_ = Mech::kLogin;
    if (!initial || initial->empty()) co_return challenge("Username:");
    SaslStep step = co_await respond(std::move(*initial));
    co_return step;
  }

  mech_ = Mech::kScram;
  ScramServer::Options options;
  options.plus = name == "SCRAM-SHA-256-PLUS";
  // "Available" means -PLUS was offered here: when the listener leaves it out, a client that could
  // bind sends "y" rightly, and that is no downgrade [RFC 5802 §6].
  options.channel_binding_available = plus_available(ctx_) && listed(ctx_, "SCRAM-SHA-256-PLUS");
  options.tls_exporter = ctx_.tls_exporter;
  options.tls_unique = ctx_.tls_unique;
  scram_ = std::make_unique<ScramServer>(std::move(options));
  if (!initial || initial->empty()) co_return challenge("");
  SaslStep step = co_await respond(std::move(*initial));
  co_return step;
}

boost::asio::awaitable<SaslStep> SaslExchange::respond(std::string response) {
  if (mech_ == Mech::kNone || step_ == kDone) co_return failure(Errc::kInvalid, "no exchange in progress");

  if (mech_ == Mech::kPlain) {
    SaslStep step = co_await plain(std::move(response));
    co_return step;
  }

  if (mech_ == Mech::kLogin) {
    if (step_ == 0) {
      if (response.empty()) {
        step_ = kDone;
        co_return failure(Errc::kInvalid, "empty username");
      }
      login_user_ = std::move(response);
      step_ = 1;
      co_return challenge("Password:");
    }
    step_ = kDone;
    auto who = co_await auth_.verify_plain(ctx_, std::string(), login_user_, std::move(response));
    if (!who) co_return failure(who.error());
    co_return success(std::move(*who));
  }

  // SCRAM
  if (step_ == 0) {
    auto user = scram_->client_first(response);
    if (!user) {
      step_ = kDone;
      co_return failure(user.error());
    }
    scram_user_ = std::move(*user);
    if (!scram_->authzid().empty() && scram_->authzid() != scram_user_) {
      step_ = kDone;
      co_await auth_.scram_finished(ctx_, scram_user_, false);
      co_return failure(Errc::kDenied, "authentication failed");
    }
    auto lookup = co_await auth_.scram_lookup(ctx_, scram_user_);
    if (!lookup) {
      step_ = kDone;
      co_return failure(lookup.error());
    }
    scram_lookup_ = std::move(*lookup);
    step_ = 1;
    co_return challenge(scram_->server_first(scram_lookup_.credentials));
  }
  if (step_ == 1) {
    auto final_message = scram_->client_final(response);
    if (!final_message && final_message.error().code == Errc::kInvalid) {
      step_ = kDone;
      co_return failure(final_message.error());
    }
    const bool ok = final_message.has_value() && scram_lookup_.real;
    co_await auth_.scram_finished(ctx_, scram_user_, ok);
    if (!ok) {
      step_ = kDone;
      co_return failure(Errc::kDenied, "authentication failed");
    }
    scram_done_ = true;
    step_ = 2;
    co_return challenge(std::move(*final_message));
  }
  // step_ == 2: the client acknowledges the server-final-message with an empty response.
  step_ = kDone;
  if (!scram_done_ || !response.empty()) co_return failure(Errc::kInvalid, "unexpected response");
  co_return success(scram_lookup_.principal);
}

// message = [authzid] UTF8NUL authcid UTF8NUL passwd [RFC 4616 §2]
boost::asio::awaitable<SaslStep> SaslExchange::plain(std::string message) {
  step_ = kDone;
  const size_t first = message.find('\0');
  const size_t second = first == std::string::npos ? std::string::npos : message.find('\0', first + 1);
  if (second == std::string::npos || message.find('\0', second + 1) != std::string::npos) {
    co_return failure(Errc::kInvalid, "malformed PLAIN message");
  }
  std::string authzid = message.substr(0, first);
  std::string authcid = message.substr(first + 1, second - first - 1);
  std::string password = message.substr(second + 1);
  if (authcid.empty() || password.empty()) co_return failure(Errc::kInvalid, "malformed PLAIN message");
  auto who = co_await auth_.verify_plain(ctx_, std::move(authzid), std::move(authcid), std::move(password));
  if (!who) co_return failure(who.error());
  co_return success(std::move(*who));
}

}  // namespace posthorn::auth
