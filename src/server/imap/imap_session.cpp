// The IMAP session, pre-login half: greeting, CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN and
// AUTHENTICATE [RFC 9051 §6.1-6.2, RFC 4959 SASL-IR, RFC 7888 LITERAL+]. Mailbox commands come with the
// IMAP issue; until then they get an honest BAD.
//
// Implementation notes:
// - One command at a time: a command is assembled completely (lines + literals, see
//   proto/imap/assembler.hpp) before it runs, and its reply is written before the next read.
// - Every read is bounded (max_line_length per line, the assembler's limits per command and literal,
//   max_auth_line_length per SASL response) and timed (imap_preauth before login, imap after).
// - STARTTLS: after "OK Begin TLS negotiation now" nothing that was pipelined behind it is executed;
//   Connection::start_tls discards it. Afterwards the session is back in its initial state.
// - Authentication errors become replies only through proto::imap::auth_failure().

#include "server/imap/imap_session.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <variant>

#include "auth/sasl.hpp"
#include "base/base64.hpp"
#include "proto/imap/assembler.hpp"
#include "proto/imap/command.hpp"
#include "proto/imap/response.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

namespace {

constexpr std::string_view kGreetingText = "Posthorn ready.";
constexpr std::string_view kByeTimeout = "Autologout; idle for too long";
constexpr std::string_view kByeShutdown = "Server shutting down";
constexpr std::string_view kByeTooManyConnections = "Too many connections";
constexpr std::string_view kByeLineTooLong = "Line too long";
constexpr std::string_view kByeTooManyCommands = "Too many commands";
constexpr std::string_view kNotAvailable = "Unknown command or not available";
constexpr std::string_view kAlreadyAuthenticated = "Already authenticated";
// One literal before login carries at most a user name or a password; a command holds a few of them.
constexpr uint32_t kLiteralsPerCommand = 4;

enum class Flow { kContinue, kClose };

class Session {
 public:
  Session(net::Connection& conn, ImapContext& ctx)
      : conn_(conn),
        ctx_(ctx),
        assembler_(pi::AssemblerOptions{
            .max_literal_size = ctx.config->limits.max_line_length,
            .max_command_size = uint64_t{ctx.config->limits.max_line_length} * kLiteralsPerCommand}) {}

  asio::awaitable<void> run() {
    const std::string greeting =
        pi::untagged(Status::kOk, "CAPABILITY " + capabilities(), kGreetingText);
    bool ok = co_await conn_.write(greeting);
    while (ok) {
      auto flow = co_await next_command();
      ok = flow == Flow::kContinue;
    }
    co_await conn_.close();
  }

 private:
  struct Incoming {
    Flow flow = Flow::kClose;
    std::optional<std::string> command;  // set: a complete command to run; unset: already answered
  };

  const std::string& id() const { return conn_.info().id; }
  bool authenticated() const { return principal_.has_value(); }
  std::chrono::seconds timeout() const {
    return authenticated() ? ctx_.config->timeouts.imap : ctx_.config->timeouts.imap_preauth;
  }
  bool starttls_offered() const {
    return ctx_.listener.tls == config::TlsMode::kStartTls && ctx_.tls != nullptr && !conn_.is_tls();
  }

  auth::AuthContext auth_context() const { return auth::context_for(conn_); }

  // [RFC 9051 §7.2.2]; only what this stage implements.
  std::string capabilities() const {
    std::string caps = "IMAP4rev1 IMAP4rev2";
    if (authenticated()) {
      caps += " LITERAL+";
      return caps;
    }
    caps += " SASL-IR LITERAL+";
    const auto actx = auth_context();
    if (starttls_offered()) caps += " STARTTLS";
    if (!ctx_.auth->plaintext_allowed(actx)) caps += " LOGINDISABLED";
    for (const auto& mech : auth::sasl_mechanisms(*ctx_.auth, actx)) caps += " AUTH=" + mech;
    return caps;
  }

  asio::awaitable<bool> send(std::string text) {
    const bool ok = co_await conn_.write(text);
    co_return ok;
  }

  // Says goodbye for a read that did not deliver a line or literal; EOF and errors close quietly.
  asio::awaitable<Flow> read_failed(net::ReadStatus status) {
    std::string_view bye;
    switch (status) {
      case net::ReadStatus::kTimeout: bye = kByeTimeout; break;
      case net::ReadStatus::kShutdown: bye = kByeShutdown; break;
      case net::ReadStatus::kTooLong: bye = kByeLineTooLong; break;
      default: break;
    }
    if (!bye.empty()) {
      spdlog::debug("conn={} imap: {}", id(), bye);
      co_await send(pi::untagged(Status::kBye, bye));
    }
    co_return Flow::kClose;
  }

  net::ReadOptions line_options(bool interruptible) const {
    return net::ReadOptions{.max = ctx_.config->limits.max_line_length,
                            .timeout = timeout(),
                            .interruptible = interruptible};
  }

  // Reads one whole command: its first line, then literals and continuation lines as announced.
  asio::awaitable<Incoming> read_command() {
    auto first = co_await conn_.read_line(line_options(true));
    if (!first) {
      co_await read_failed(first.status);
      co_return Incoming{};
    }
    pi::Progress progress = assembler_.feed_line(first.data);
    for (;;) {
      switch (progress.kind) {
        case pi::Progress::Kind::kComplete:
          co_return Incoming{Flow::kContinue, assembler_.take()};
        case pi::Progress::Kind::kError: {
          const auto& err = progress.error;
          spdlog::debug("conn={} imap: {} (close: {})", id(), err.message, err.must_close);
          if (err.must_close) {
            // A non-synchronizing literal we refused is already on its way: no way to resync.
            co_await send(pi::untagged(Status::kBye, pi::code::kTooBig, err.message));
            co_return Incoming{};
          }
          std::string text = err.tag ? pi::tagged(*err.tag, Status::kNo, pi::code::kTooBig, err.message)
                                     : pi::untagged(Status::kBad, pi::code::kTooBig, err.message);
          const bool ok = co_await send(std::move(text));
          co_return Incoming{ok ? Flow::kContinue : Flow::kClose, std::nullopt};
        }
        case pi::Progress::Kind::kNeedLiteral: {
          if (progress.synchronizing) {
            const bool ok = co_await send(pi::continuation("Ready for literal data"));
            if (!ok) co_return Incoming{};
          }
          std::string bytes;
          if (progress.literal_size > 0) {
            auto lit = co_await conn_.read_exact(static_cast<size_t>(progress.literal_size), timeout());
            if (!lit) {
              co_await read_failed(lit.status);
              co_return Incoming{};
            }
            bytes = std::move(lit.data);
          }
          progress = assembler_.feed_literal(bytes);
          break;
        }
        case pi::Progress::Kind::kNeedLine: {
          auto more = co_await conn_.read_line(line_options(false));
          if (!more) {
            co_await read_failed(more.status);
            co_return Incoming{};
          }
          progress = assembler_.feed_line(more.data);
          break;
        }
      }
    }
  }

  asio::awaitable<Flow> next_command() {
    auto incoming = co_await read_command();
    if (incoming.flow == Flow::kClose) co_return Flow::kClose;
    if (!authenticated() && ++commands_before_auth_ > ctx_.config->limits.max_commands_before_auth) {
      spdlog::debug("conn={} imap: too many commands before authentication", id());
      co_await send(pi::untagged(Status::kBye, kByeTooManyCommands));
      co_return Flow::kClose;
    }
    if (!incoming.command) co_return Flow::kContinue;  // refused while assembling; already answered
    auto parsed = pi::parse_command(*incoming.command);
    if (!parsed) {
      spdlog::debug("conn={} imap: syntax error: {}", id(), parsed.error().message);
      const bool ok = co_await send(pi::bad(parsed.error().tag, parsed.error().message));
      co_return ok ? Flow::kContinue : Flow::kClose;
    }
    auto flow = co_await dispatch(*parsed);
    co_return flow;
  }

  asio::awaitable<Flow> reply(std::string text) {
    const bool ok = co_await send(std::move(text));
    co_return ok ? Flow::kContinue : Flow::kClose;
  }

  asio::awaitable<Flow> dispatch(const pi::Command& cmd) {
    const std::string& tag = cmd.tag;
    if (std::holds_alternative<pi::Capability>(cmd.args)) {
      auto flow = co_await reply(pi::untagged_data("CAPABILITY " + capabilities()) +
                                 pi::tagged(tag, Status::kOk, "CAPABILITY completed"));
      co_return flow;
    }
    if (std::holds_alternative<pi::Noop>(cmd.args)) {
      auto flow = co_await reply(pi::tagged(tag, Status::kOk, "NOOP completed"));
      co_return flow;
    }
    if (std::holds_alternative<pi::Logout>(cmd.args)) {
      co_await send(pi::untagged(Status::kBye, "Logging out") +
                    pi::tagged(tag, Status::kOk, "LOGOUT completed"));
      co_return Flow::kClose;
    }
    if (std::holds_alternative<pi::StartTls>(cmd.args)) {
      auto flow = co_await starttls(tag);
      co_return flow;
    }
    if (const auto* login = std::get_if<pi::Login>(&cmd.args)) {
      auto flow = co_await do_login(tag, *login);
      co_return flow;
    }
    if (const auto* authenticate = std::get_if<pi::Authenticate>(&cmd.args)) {
      auto flow = co_await do_authenticate(tag, *authenticate);
      co_return flow;
    }
    auto flow = co_await reply(pi::tagged(tag, Status::kBad, kNotAvailable));
    co_return flow;
  }

  // STARTTLS [RFC 9051 §6.2.1]
  asio::awaitable<Flow> starttls(const std::string& tag) {
    if (!starttls_offered() || authenticated()) {
      auto flow = co_await reply(pi::tagged(tag, Status::kBad, "STARTTLS not available"));
      co_return flow;
    }
    const bool ok = co_await send(pi::tagged(tag, Status::kOk, "Begin TLS negotiation now"));
    if (!ok) co_return Flow::kClose;
    if (const size_t pending = conn_.buffered(); pending > 0) {
      spdlog::warn("conn={} discarded {} bytes pipelined after STARTTLS", id(), pending);
    }
    const bool up = co_await conn_.start_tls(*ctx_.tls, ctx_.config->timeouts.tls_handshake);
    if (!up) {
      spdlog::debug("conn={} imap: TLS handshake failed", id());
      co_return Flow::kClose;
    }
    spdlog::info("conn={} tls {}", id(), conn_.tls_description());
    // Back to the initial state: nothing learned before TLS survives it [RFC 9051 §6.2.1].
    principal_.reset();
    assembler_.reset();
    co_return Flow::kContinue;
  }

  std::string authenticated_reply(const std::string& tag, std::string_view text) const {
    return pi::tagged(tag, Status::kOk, "CAPABILITY " + capabilities(), text);
  }

  // LOGIN [RFC 9051 §6.2.3]
  asio::awaitable<Flow> do_login(const std::string& tag, const pi::Login& login) {
    if (authenticated()) {
      auto flow = co_await reply(pi::tagged(tag, Status::kBad, kAlreadyAuthenticated));
      co_return flow;
    }
    const auto actx = auth_context();
    if (!ctx_.auth->plaintext_allowed(actx)) {
      auto flow = co_await reply(pi::auth_failure(tag, make_error(Errc::kDenied, "encryption required")));
      co_return flow;
    }
    auto who = co_await ctx_.auth->verify_plain(actx, std::string(), login.userid, login.password);
    if (!who) {
      auto flow = co_await reply(pi::auth_failure(tag, who.error()));
      co_return flow;
    }
    principal_ = *who;
    auto flow = co_await reply(authenticated_reply(tag, "LOGIN completed"));
    co_return flow;
  }

  // Reads one SASL response line. nullopt: the connection is finished (goodbye already sent).
  asio::awaitable<std::optional<std::string>> read_sasl_line() {
    auto line = co_await conn_.read_line(net::ReadOptions{
        .max = ctx_.config->limits.max_auth_line_length, .timeout = timeout(), .interruptible = false});
    if (!line) {
      co_await read_failed(line.status);
      co_return std::nullopt;
    }
    co_return std::move(line.data);
  }

  // AUTHENTICATE [RFC 9051 §6.2.2, RFC 4959]
  asio::awaitable<Flow> do_authenticate(const std::string& tag, const pi::Authenticate& args) {
    if (authenticated()) {
      auto flow = co_await reply(pi::tagged(tag, Status::kBad, kAlreadyAuthenticated));
      co_return flow;
    }
    auth::SaslExchange exchange(*ctx_.auth, auth_context());
    auth::SaslStep step = co_await exchange.start(args.mechanism, args.initial_response);
    for (;;) {
      const bool challenge = step.kind == auth::SaslStep::Kind::kChallenge;
      // Additional data with success travels as a last challenge answered by an empty response
      // [RFC 9051 §6.2.2].
      const bool final_data =
          step.kind == auth::SaslStep::Kind::kSuccess && !step.challenge.empty();
      if (!challenge && !final_data) break;
      const bool ok = co_await send(pi::continuation(base64::encode(step.challenge)));
      if (!ok) co_return Flow::kClose;
      auto line = co_await read_sasl_line();
      if (!line) co_return Flow::kClose;
      if (*line == "*") {
        auto flow = co_await reply(pi::tagged(tag, Status::kBad, "Authentication cancelled"));
        co_return flow;
      }
      auto decoded = base64::decode(*line);
      if (!decoded) {
        auto flow = co_await reply(pi::tagged(tag, Status::kBad, "Invalid base64 in response"));
        co_return flow;
      }
      if (final_data) {
        if (!decoded->empty()) {
          auto flow = co_await reply(pi::tagged(tag, Status::kBad, "Expected an empty response"));
          co_return flow;
        }
        step.challenge.clear();
        break;
      }
      step = co_await exchange.respond(std::move(*decoded));
    }
    if (step.kind != auth::SaslStep::Kind::kSuccess) {
      auto flow = co_await reply(pi::auth_failure(tag, step.error));
      co_return flow;
    }
    principal_ = step.principal;
    auto flow = co_await reply(authenticated_reply(tag, "Authenticated"));
    co_return flow;
  }

  net::Connection& conn_;
  ImapContext& ctx_;
  pi::CommandAssembler assembler_;
  std::optional<auth::Principal> principal_;
  uint32_t commands_before_auth_ = 0;
};

}  // namespace

asio::awaitable<void> run_session(net::Accepted accepted, ImapContext ctx) {
  net::Connection& conn = accepted.connection;
  if (accepted.over_limit) {
    co_await conn.write(pi::untagged(Status::kBye, kByeTooManyConnections));
    co_await conn.close();
    co_return;
  }
  Session session(conn, ctx);
  co_await session.run();
}

}  // namespace posthorn::server::imap
