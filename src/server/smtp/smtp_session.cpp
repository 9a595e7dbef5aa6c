// The pre-login half of the SMTP session: greeting, EHLO/HELO/LHLO, STARTTLS, AUTH, and the small
// commands. Mail transactions (MAIL/RCPT/DATA/BDAT) come with a later stage and are refused honestly.
//
// Implementation notes (invariants):
// - Every reply goes through reply(): it counts 4xx/5xx replies, and after kMaxErrors it says
//   421 and the session ends (Postfix smtpd_hard_error_limit).
// - Plaintext pipelined behind STARTTLS is never executed: Connection::start_tls discards it, and we
//   log how much there was. After the handshake every bit of protocol state is forgotten
//   [RFC 3207 §4.2]: the client must EHLO again, and any authentication is gone.
// - co_await appears only as a statement or a plain initializer (g++ 12, DESIGN.md §3).
#include "server/smtp/smtp_session.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <vector>

#include "auth/sasl.hpp"
#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "proto/smtp/command.hpp"
#include "proto/smtp/reply.hpp"

namespace posthorn::server::smtp {
namespace {

namespace asio = boost::asio;
namespace wire = posthorn::smtp;

// Errors (4xx/5xx replies) a client may cause before the session is closed.
constexpr uint32_t kMaxErrors = 10;

enum class Next { kContinue, kClose };

class Session {
 public:
  Session(net::Connection conn, SmtpContext ctx)
      : conn_(std::move(conn)), ctx_(std::move(ctx)), proto_(ctx_.listener.protocol) {}

  asio::awaitable<void> run(bool over_limit) {
    if (over_limit) {
      co_await send(wire::format(wire::kC421TooManyConnections));
      co_await conn_.close();
      co_return;
    }
    const std::string greeting = wire::format(
        wire::kC220ServiceReady,
        ctx_.config->hostname + (proto_ == Proto::kLmtp ? " LMTP Posthorn" : " ESMTP Posthorn"));
    bool ok = co_await send(greeting);
    while (ok) {
      net::ReadOptions options{ctx_.config->limits.max_line_length, ctx_.config->timeouts.smtp, true};
      net::ReadResult line = co_await conn_.read_line(options);
      if (!line) {
        co_await read_failed(line.status);
        break;
      }
      if (proto_ == Proto::kSubmission && !principal_ &&
          ++commands_before_auth_ > ctx_.config->limits.max_commands_before_auth) {
        spdlog::debug("conn={} smtp: too many commands before authentication", id());
        co_await send(wire::format(wire::kC421TooManyCommands));
        break;
      }
      wire::ParseResult parsed = wire::parse_command(line.data);
      if (!parsed) {
        spdlog::debug("conn={} smtp: syntax error: {}", id(), parsed.error().text);
        Next next = co_await reply(parsed.error().reply, parsed.error().text);
        ok = next == Next::kContinue;
        continue;
      }
      Next next = co_await dispatch(std::move(*parsed));
      ok = next == Next::kContinue;
    }
    co_await conn_.close();
  }

 private:
  const std::string& id() const { return conn_.info().id; }

  // Writes raw reply text; false when the connection is gone.
  asio::awaitable<bool> send(std::string text) {
    bool ok = co_await conn_.write(text);
    co_return ok;
  }

  // Sends one reply and applies the error limit.
  asio::awaitable<Next> reply(const wire::Reply& r, std::string_view text) {
    bool ok = co_await send(wire::format(r, text));
    if (!ok) co_return Next::kClose;
    if (wire::is_error(r) && r.code != 421 && ++errors_ >= kMaxErrors) {
      spdlog::debug("conn={} smtp: too many errors", id());
      co_await send(wire::format(wire::kC421TooManyErrors));
      co_return Next::kClose;
    }
    co_return Next::kContinue;
  }
  asio::awaitable<Next> reply(const wire::Reply& r) {
    Next next = co_await reply(r, r.text);
    co_return next;
  }

  // The goodbye for a read that did not deliver a line; the session ends after it.
  asio::awaitable<void> read_failed(net::ReadStatus status) {
    switch (status) {
      case net::ReadStatus::kTooLong:
        spdlog::debug("conn={} smtp: line too long", id());
        co_await send(wire::format(wire::kC500LineTooLong));
        break;
      case net::ReadStatus::kTimeout:
        spdlog::debug("conn={} smtp: timeout", id());
        co_await send(wire::format(wire::kC421Timeout));
        break;
      case net::ReadStatus::kShutdown:
        co_await send(wire::format(wire::kC421ShuttingDown));
        break;
      case net::ReadStatus::kOk:
      case net::ReadStatus::kEof:
      case net::ReadStatus::kError:
        break;
    }
  }

  asio::awaitable<Next> dispatch(wire::Command cmd) {
    switch (wire::verb_of(cmd)) {
      case wire::Verb::kEhlo:
      case wire::Verb::kHelo:
      case wire::Verb::kLhlo: {
        Next next = co_await on_hello(std::get<wire::Hello>(cmd));
        co_return next;
      }
      case wire::Verb::kStartTls: {
        Next next = co_await on_starttls();
        co_return next;
      }
      case wire::Verb::kAuth: {
        Next next = co_await on_auth(std::get<wire::Auth>(std::move(cmd)));
        co_return next;
      }
      case wire::Verb::kRset:
      case wire::Verb::kNoop: {
        Next next = co_await reply(wire::kC250Ok);
        co_return next;
      }
      case wire::Verb::kQuit:
        co_await send(wire::format(wire::kC221Bye));
        co_return Next::kClose;
      case wire::Verb::kHelp: {
        Next next = co_await reply(wire::kC214Help);
        co_return next;
      }
      case wire::Verb::kVrfy: {
        // Address verification is disabled: it would let anyone harvest addresses [RFC 5321 §7.3].
        Next next = co_await reply(wire::kC252CannotVerify);
        co_return next;
      }
      case wire::Verb::kExpn: {
        Next next = co_await reply(wire::kC502NotImplemented, "EXPN not available");
        co_return next;
      }
      case wire::Verb::kMail:
      case wire::Verb::kRcpt:
      case wire::Verb::kData:
      case wire::Verb::kBdat:
      case wire::Verb::kEtrn: {
        Next next = co_await on_deferred(std::get<wire::Deferred>(cmd));
        co_return next;
      }
    }
    Next next = co_await reply(wire::kC500SyntaxError);
    co_return next;
  }

  bool starttls_offered() const {
    return ctx_.listener.tls == config::TlsMode::kStartTls && !conn_.is_tls() && ctx_.tls != nullptr;
  }

  auth::AuthContext auth_context() const { return auth::context_for(conn_); }

  // EHLO/HELO [RFC 5321 §4.1.1.1], LHLO [RFC 2033 §4.1].
  asio::awaitable<Next> on_hello(const wire::Hello& hello) {
    if (proto_ == Proto::kLmtp && hello.verb != wire::Verb::kLhlo) {
      Next next = co_await reply(wire::Reply{500, "5.5.1", "Use LHLO in LMTP"});
      co_return next;
    }
    if (proto_ != Proto::kLmtp && hello.verb == wire::Verb::kLhlo) {
      Next next = co_await reply(wire::Reply{500, "5.5.1", "LHLO is for LMTP; use EHLO"});
      co_return next;
    }
    const std::string& host = ctx_.config->hostname;
    if (hello.verb == wire::Verb::kHelo) {
      extended_ = false;
      Next next = co_await reply(wire::Reply{250, "", ""}, host);
      co_return next;
    }
    extended_ = true;
    std::vector<std::string> lines{host, "PIPELINING", "ENHANCEDSTATUSCODES"};
    if (starttls_offered()) lines.emplace_back("STARTTLS");
    if (proto_ == Proto::kSubmission && ctx_.auth != nullptr) {
      auto mechs = auth::sasl_mechanisms(*ctx_.auth, auth_context());
      if (!mechs.empty()) {
        std::string line = "AUTH";
        for (const auto& m : mechs) line += " " + m;
        lines.push_back(std::move(line));
      }
    }
    bool ok = co_await send(wire::format_multiline(250, "", lines));
    co_return ok ? Next::kContinue : Next::kClose;
  }

  // STARTTLS [RFC 3207 §4].
  asio::awaitable<Next> on_starttls() {
    if (conn_.is_tls()) {
      Next next = co_await reply(wire::kC503BadSequence, "TLS already active");
      co_return next;
    }
    if (ctx_.listener.tls != config::TlsMode::kStartTls) {
      Next next = co_await reply(wire::kC502NotImplemented, "STARTTLS not available");
      co_return next;
    }
    if (ctx_.tls == nullptr) {
      Next next = co_await reply(wire::kC454TlsNotAvailable);
      co_return next;
    }
    bool ok = co_await send(wire::format(wire::kC220ReadyToStartTls));
    if (!ok) co_return Next::kClose;
    if (size_t pending = conn_.buffered(); pending > 0) {
      spdlog::warn("conn={} discarded {} bytes pipelined after STARTTLS", id(), pending);
    }
    bool up = co_await conn_.start_tls(*ctx_.tls, ctx_.config->timeouts.tls_handshake);
    if (!up) {
      spdlog::debug("conn={} smtp: TLS handshake failed", id());
      co_return Next::kClose;
    }
    // Connection::start_tls logs "conn=<id> tls <version> <cipher>".
    // Forget everything learnt before TLS [RFC 3207 §4.2].
    extended_ = false;
    principal_.reset();
    co_return Next::kContinue;
  }

  // AUTH [RFC 4954 §4].
  asio::awaitable<Next> on_auth(wire::Auth cmd) {
    if (proto_ != Proto::kSubmission || ctx_.auth == nullptr) {
      Next next = co_await reply(wire::kC502NotImplemented, "AUTH not available on this port");
      co_return next;
    }
    if (!extended_) {
      Next next = co_await reply(wire::kC503BadSequence, "Send EHLO first");
      co_return next;
    }
    if (principal_) {
      Next next = co_await reply(wire::kC503BadSequence, "Already authenticated");
      co_return next;
    }
    auth::AuthContext actx = auth_context();
    auto mechs = auth::sasl_mechanisms(*ctx_.auth, actx);
    bool offered = false;
    for (const auto& m : mechs) offered = offered || ascii::iequals(m, cmd.mechanism);
    if (!offered) {
      bool plaintext = cmd.mechanism == "PLAIN" || cmd.mechanism == "LOGIN";
      const wire::Reply& r = plaintext && !ctx_.auth->plaintext_allowed(actx) ? wire::kC538EncryptionRequired
                                                                              : wire::kC504MechUnsupported;
      Next next = co_await reply(r);
      co_return next;
    }
    std::optional<std::string> initial;
    if (cmd.initial_response) {
      if (*cmd.initial_response == "=") {
        initial = std::string();  // "=" is an empty initial response [RFC 4954 §4]
      } else {
        initial = base64::decode(*cmd.initial_response);
        if (!initial) {
          Next next = co_await reply(wire::kC501Base64);
          co_return next;
        }
      }
    }
    auth::SaslExchange exchange(*ctx_.auth, std::move(actx));
    auth::SaslStep step = co_await exchange.start(cmd.mechanism, std::move(initial));
    while (step.kind == auth::SaslStep::Kind::kChallenge) {
      ClientResponse response = co_await read_response(step.challenge);
      if (response.next) co_return *response.next;
      auth::SaslStep following = co_await exchange.respond(std::move(response.data));
      step = std::move(following);
    }
    if (step.kind == auth::SaslStep::Kind::kFailure) {
      spdlog::debug("conn={} smtp: AUTH {} failed: {}", id(), cmd.mechanism, step.error.message);
      Next next = co_await reply(wire::to_auth_reply(step.error));
      co_return next;
    }
    if (!step.challenge.empty()) {
      // Additional data with success goes in a last 334; the client answers with an empty line
      // [RFC 4954 §4].
      ClientResponse response = co_await read_response(step.challenge);
      if (response.next) co_return *response.next;
      if (!response.data.empty()) {
        Next next = co_await reply(wire::kC501ArgSyntax, "Expected an empty response");
        co_return next;
      }
    }
    principal_ = step.principal;
    Next next = co_await reply(wire::kC235AuthOk);
    co_return next;
  }

  // One client response inside an AUTH exchange: the decoded bytes, or (next set) the exchange is
  // over because the client cancelled, sent bad base64, or the connection failed.
  struct ClientResponse {
    std::string data;
    std::optional<Next> next;
  };
  asio::awaitable<ClientResponse> read_response(const std::string& challenge) {
    ClientResponse out;
    bool ok = co_await send(wire::format_continue(base64::encode(challenge)));
    if (!ok) {
      out.next = Next::kClose;
      co_return out;
    }
    net::ReadOptions options{ctx_.config->limits.max_auth_line_length, ctx_.config->timeouts.smtp, false};
    net::ReadResult line = co_await conn_.read_line(options);
    if (!line) {
      co_await read_failed(line.status);
      out.next = Next::kClose;
      co_return out;
    }
    if (line.data == "*") {
      Next next = co_await reply(wire::kC501AuthCancelled);
      out.next = next;
      co_return out;
    }
    auto decoded = base64::decode(line.data);
    if (!decoded) {
      Next next = co_await reply(wire::kC501Base64);
      out.next = next;
      co_return out;
    }
    out.data = std::move(*decoded);
    co_return out;
  }

  // MAIL, RCPT, DATA, BDAT, ETRN: not part of this stage.
  asio::awaitable<Next> on_deferred(const wire::Deferred& cmd) {
    if (proto_ == Proto::kSubmission && !principal_ && cmd.verb == wire::Verb::kMail) {
      Next next = co_await reply(wire::kC530AuthRequired);
      co_return next;
    }
    Next next = co_await reply(wire::kC502NotImplemented, std::string(wire::verb_name(cmd.verb)) + " not implemented");
    co_return next;
  }

  net::Connection conn_;
  SmtpContext ctx_;
  Proto proto_;
  bool extended_ = false;  // EHLO or LHLO was accepted since the start or the last STARTTLS
  std::optional<auth::Principal> principal_;
  uint32_t errors_ = 0;
  uint32_t commands_before_auth_ = 0;
};

}  // namespace

asio::awaitable<void> run_session(net::Accepted accepted, SmtpContext ctx) {
  Session session(std::move(accepted.connection), std::move(ctx));
  co_await session.run(accepted.over_limit);
}

}  // namespace posthorn::server::smtp
