// Implementation notes (POP3 session, pre-login half) [RFC 1939, RFC 2449, RFC 2595, RFC 5034]:
// - States: AUTHORIZATION, then TRANSACTION after USER/PASS or AUTH. The UPDATE state (QUIT commits
//   deletions) and the maildrop commands (STAT, LIST, RETR, DELE, TOP, UIDL, RSET) come with the
//   maildrop stage; until then they are answered "-ERR [SYS/PERM] Command not implemented" in
//   TRANSACTION and QUIT just says goodbye.
// - Every read is bounded (config limits) and timed (config timeouts.pop3). Only the read that waits
//   for a command is interruptible by a graceful shutdown; reads inside an AUTH exchange are not.
// - STLS: after "+OK Begin TLS negotiation" any plaintext the client pipelined is discarded (never
//   executed) by Connection::start_tls; then the session is back to a fresh AUTHORIZATION state.
// - All Errc -> reply text goes through proto::pop3::to_reply.
#include "server/pop3/pop3_session.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "auth/sasl.hpp"
#include "base/base64.hpp"
#include "proto/pop3/command.hpp"
#include "proto/pop3/reply.hpp"

namespace posthorn::server::pop3 {
namespace {

namespace asio = boost::asio;
namespace p = proto::pop3;

class Session {
 public:
  Session(net::Connection& conn, Pop3Context& ctx) : conn_(conn), ctx_(ctx) {}

  asio::awaitable<void> run(bool over_limit) {
    if (over_limit) {
      co_await goodbye(p::kTooManyConnections);
      co_return;
    }
    bool greeted = co_await conn_.write(p::kGreeting);
    if (!greeted) {
      co_await conn_.close();
      co_return;
    }
    for (;;) {
      net::ReadOptions options;
      options.max = ctx_.config->limits.max_line_length;
      options.timeout = ctx_.config->timeouts.pop3;
      options.interruptible = true;
      net::ReadResult line = co_await conn_.read_line(options);
      if (!line) {
        co_await goodbye(farewell(line.status));
        co_return;
      }
      if (state_ == State::kAuthorization &&
          ++commands_before_auth_ > ctx_.config->limits.max_commands_before_auth) {
        spdlog::debug("conn={} pop3 too many commands before authentication", id());
        co_await goodbye(p::kTooManyCommands);
        co_return;
      }
      Outcome outcome;
      auto command = p::parse_command(line.data);
      if (!command) {
        spdlog::debug("conn={} pop3 syntax error: {}", id(), command.error().message);
        outcome.reply = command.error().code == Errc::kNotFound ? std::string(p::kUnknownCommand)
                                                                 : p::err(command.error().message);
      } else {
        Outcome handled = co_await dispatch(*command);  // plain initializer: see DESIGN.md §3
        outcome = std::move(handled);
      }
      if (!outcome.reply.empty()) {
        bool written = co_await conn_.write(outcome.reply);
        if (!written) outcome.close = true;
      }
      if (outcome.close) {
        co_await conn_.close();
        co_return;
      }
      if (outcome.start_tls) {
        bool secured = co_await start_tls();
        if (!secured) {
          co_await conn_.close();
          co_return;
        }
      }
    }
  }

 private:
  enum class State { kAuthorization, kTransaction };

  // What a command leads to: a reply to write (may be empty when the handler already wrote
  // everything), then close, or a TLS handshake.
  struct Outcome {
    std::string reply;
    bool close = false;
    bool start_tls = false;
  };
  static Outcome say(std::string_view text) { return Outcome{std::string(text)}; }

  const std::string& id() const { return conn_.info().id; }

  auth::AuthContext auth_context() const { return auth::context_for(conn_); }

  bool stls_offered() const {
    return ctx_.listener.tls == config::TlsMode::kStartTls && !conn_.is_tls() && ctx_.tls != nullptr;
  }

  // Writes a last reply (if any) and closes.
  asio::awaitable<void> goodbye(std::string_view text) {
    if (!text.empty()) co_await conn_.write(text);
    co_await conn_.close();
  }

  // The last word when a read failed: kTooLong, kTimeout and kShutdown get one; EOF and network
  // errors end quietly (empty).
  std::string_view farewell(net::ReadStatus status) const {
    switch (status) {
      case net::ReadStatus::kTooLong:
        spdlog::debug("conn={} pop3 line too long", id());
        return p::kLineTooLong;
      case net::ReadStatus::kTimeout: return p::kAutologout;
      case net::ReadStatus::kShutdown: return p::kShuttingDown;
      default: return {};
    }
  }

  asio::awaitable<Outcome> dispatch(const p::Command& command) {
    if (const auto* c = std::get_if<p::User>(&command)) co_return on_user(*c);
    if (const auto* c = std::get_if<p::Pass>(&command)) {
      Outcome o = co_await on_pass(*c);
      co_return o;
    }
    if (const auto* c = std::get_if<p::Auth>(&command)) {
      Outcome o = co_await on_auth(*c);
      co_return o;
    }
    if (std::holds_alternative<p::Capa>(command)) co_return on_capa();
    if (std::holds_alternative<p::Stls>(command)) co_return on_stls();
    if (std::holds_alternative<p::Quit>(command)) {
      // In TRANSACTION the UPDATE state [RFC 1939 §6] comes with the maildrop stage: nothing to
      // commit yet.
      Outcome o = say(p::kBye);
      o.close = true;
      co_return o;
    }
    if (std::holds_alternative<p::Noop>(command)) {
      if (state_ != State::kTransaction) co_return say(p::kNotAuthenticated);
      co_return say(p::kNoop);
    }
    if (std::holds_alternative<p::Rset>(command)) {
      if (state_ != State::kTransaction) co_return say(p::kNotAuthenticated);
      co_return say(p::kNotImplemented);
    }
    const auto& later = std::get<p::NotInThisStage>(command);
    if (later.keyword == "APOP") {
      if (state_ != State::kAuthorization) co_return say(p::kAlreadyAuthenticated);
      co_return say(p::kApopNotSupported);  // no timestamp in the greeting [RFC 1939 §7]
    }
    if (state_ != State::kTransaction) co_return say(p::kNotAuthenticated);
    co_return say(p::kNotImplemented);
  }

  // USER name [RFC 1939 §7]
  Outcome on_user(const p::User& c) {
    if (state_ != State::kAuthorization) return say(p::kAlreadyAuthenticated);
    user_.reset();
    if (!ctx_.auth->plaintext_allowed(auth_context())) return say(p::kEncryptionRequired);
    user_ = c.name;
    return say(p::kUserAccepted);
  }

  // PASS string [RFC 1939 §7]
  asio::awaitable<Outcome> on_pass(const p::Pass& c) {
    if (state_ != State::kAuthorization) co_return say(p::kAlreadyAuthenticated);
    if (!user_) co_return say(p::kPassWithoutUser);
    std::string user = std::move(*user_);
    user_.reset();  // a failed PASS needs a new USER [RFC 1939 §7]
    const auth::AuthContext actx = auth_context();
    if (!ctx_.auth->plaintext_allowed(actx)) co_return say(p::kEncryptionRequired);
    auto who = co_await ctx_.auth->verify_plain(actx, std::string(), std::move(user), c.password);
    if (!who) co_return Outcome{p::to_reply(who.error())};
    logged_in(*who);
    co_return say(p::kLoggedIn);
  }

  // AUTH [mechanism [initial-response]] [RFC 5034 §4]
  asio::awaitable<Outcome> on_auth(const p::Auth& c) {
    if (state_ != State::kAuthorization) co_return say(p::kAlreadyAuthenticated);
    const auth::AuthContext actx = auth_context();
    if (!c.mechanism) co_return Outcome{p::multiline("", auth::sasl_mechanisms(*ctx_.auth, actx))};
    auth::SaslExchange exchange(*ctx_.auth, actx);
    auth::SaslStep step = co_await exchange.start(*c.mechanism, c.initial_response);
    while (step.kind == auth::SaslStep::Kind::kChallenge) {
      SaslResponse response = co_await sasl_round(step.challenge);
      if (!response.text) co_return response.ended;
      auth::SaslStep next = co_await exchange.respond(std::move(*response.text));
      step = std::move(next);
    }
    if (step.kind == auth::SaslStep::Kind::kFailure) {
      spdlog::debug("conn={} pop3 AUTH {} failed: {}", id(), *c.mechanism, step.error.message);
      co_return Outcome{p::to_reply(step.error)};
    }
    if (!step.challenge.empty()) {
      // Additional data with success (SCRAM's server-final-message) goes out as one more
      // continuation; the client answers with an empty line [RFC 5034 §4].
      SaslResponse response = co_await sasl_round(step.challenge);
      if (!response.text) co_return response.ended;
      if (!response.text->empty()) co_return say(p::kAuthFailed);
    }
    logged_in(step.principal);
    co_return say(p::kAuthenticated);
  }

  struct SaslResponse {
    std::optional<std::string> text;  // the decoded response; nullopt when the exchange ended
    Outcome ended;                    // how the session goes on when it ended
  };

  // Sends one challenge and reads the client's answer: "*" cancels, bad base64 ends the exchange.
  asio::awaitable<SaslResponse> sasl_round(const std::string& challenge) {
    SaslResponse out;
    const std::string prompt = p::continuation(base64::encode(challenge));  // named: owned by this frame
    bool written = co_await conn_.write(prompt);
    if (!written) {
      out.ended.close = true;
      co_return out;
    }
    net::ReadOptions options;
    options.max = ctx_.config->limits.max_auth_line_length;
    options.timeout = ctx_.config->timeouts.pop3;
    options.interruptible = false;
    net::ReadResult line = co_await conn_.read_line(options);
    if (!line) {
      out.ended.reply = farewell(line.status);
      out.ended.close = true;
      co_return out;
    }
    if (line.data == "*") {
      out.ended = say(p::kAuthCancelled);
      co_return out;
    }
    auto decoded = base64::decode(line.data);
    if (!decoded) {
      spdlog::debug("conn={} pop3 AUTH response is not base64", id());
      out.ended = say(p::kInvalidBase64);
      co_return out;
    }
    out.text = std::move(*decoded);
    co_return out;
  }

  // CAPA [RFC 2449 §5]. After login only the session-wide capabilities remain.
  Outcome on_capa() const {
    std::vector<std::string> caps;
    if (state_ == State::kAuthorization) {
      const auth::AuthContext actx = auth_context();
      if (ctx_.auth->plaintext_allowed(actx)) caps.emplace_back("USER");
      std::vector<std::string> mechs = auth::sasl_mechanisms(*ctx_.auth, actx);
      if (!mechs.empty()) {
        std::string sasl = "SASL";
        for (const std::string& m : mechs) sasl += " " + m;
        caps.push_back(std::move(sasl));
      }
    }
    caps.emplace_back("RESP-CODES");
    caps.emplace_back("AUTH-RESP-CODE");  // [RFC 3206 §6]
    caps.emplace_back("PIPELINING");
    if (state_ == State::kAuthorization && stls_offered()) caps.emplace_back("STLS");
    caps.emplace_back("IMPLEMENTATION Posthorn");
    return Outcome{p::multiline("Capability list follows", caps)};
  }

  // STLS [RFC 2595 §4]: the reply, then the handshake in start_tls().
  Outcome on_stls() const {
    if (state_ != State::kAuthorization) return say(p::kAlreadyAuthenticated);
    if (!stls_offered()) return say(p::kTlsNotAvailable);
    Outcome o = say(p::kBeginTls);
    o.start_tls = true;
    return o;
  }

  // After "+OK Begin TLS negotiation": plaintext pipelined behind STLS is dropped, never executed.
  asio::awaitable<bool> start_tls() {
    if (size_t pending = conn_.buffered(); pending > 0) {
      spdlog::warn("conn={} discarded {} bytes pipelined after STARTTLS", id(), pending);
    }
    bool ok = co_await conn_.start_tls(*ctx_.tls, ctx_.config->timeouts.tls_handshake);
    if (!ok) {
      spdlog::debug("conn={} pop3 STLS handshake failed", id());
      co_return false;
    }
    // Connection::start_tls logs "conn=<id> tls <description>".
    // Back to a fresh AUTHORIZATION state: nothing learnt in plaintext survives [RFC 2595 §4].
    user_.reset();
    state_ = State::kAuthorization;
    co_return true;
  }

  void logged_in(const auth::Principal& who) {
    principal_ = who;
    state_ = State::kTransaction;
    user_.reset();
  }

  net::Connection& conn_;
  Pop3Context& ctx_;
  State state_ = State::kAuthorization;
  std::optional<std::string> user_;  // from USER, waiting for PASS
  std::optional<auth::Principal> principal_;
  uint32_t commands_before_auth_ = 0;
};

}  // namespace

asio::awaitable<void> run_session(net::Accepted accepted, Pop3Context ctx) {
  Session session(accepted.connection, ctx);
  co_await session.run(accepted.over_limit);
}

}  // namespace posthorn::server::pop3
