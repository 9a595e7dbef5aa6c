// The IMAP session core: greeting, command reading (lines and literals through the assembler), the
// pre-login commands CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN and AUTHENTICATE [RFC 9051 §6.1-6.2,
// RFC 4959 SASL-IR, RFC 7888 LITERAL+], and dispatch of the authenticated and selected-state commands
// through the command table (command_table.hpp) to the cmd_*.cpp files (see session.hpp).
//
// Implementation notes:
// - One command at a time: a command is assembled completely (lines + literals, see
//   proto/imap/assembler.hpp) before it runs, and its reply is written before the next read.
// - Every read is bounded (max_line_length per line, the assembler's limits per command and literal:
//   after login a literal may be as big as APPENDLIMIT, max_auth_line_length per SASL response) and
//   timed (imap_preauth before login, imap after).
// - STARTTLS: after "OK Begin TLS negotiation now" nothing that was pipelined behind it is executed;
//   Connection::start_tls discards it. Afterwards the session is back in its initial state.
// - Errors become replies only through proto::imap::auth_failure() and store_failure().

#include "server/imap/imap_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <algorithm>
#include <optional>
#include <string>
#include <variant>

#include "auth/sasl.hpp"
#include "base/base64.hpp"
#include "net/memory_reserve.hpp"
#include "proto/imap/mutf7.hpp"
#include "proto/imap/reader.hpp"
#include "proto/imap/response.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

namespace {

constexpr std::string_view kGreetingText = "Posthorn ready.";
constexpr std::string_view kByeTimeout = "Autologout; idle for too long";
constexpr std::string_view kByeShutdown = "Server shutting down";
constexpr std::string_view kByeTooManyConnections = "Too many connections";
constexpr std::string_view kLineTooLong = "Line too long";
// An over-long line is skipped and answered BAD up to this length; beyond it the client is not
// speaking IMAP (a 10 MB "line", a decompression bomb) and gets BYE.
constexpr size_t kMaxSkippedLine = 1 << 20;
constexpr std::string_view kByeTooManyCommands = "Too many commands";
// One literal before login carries at most a user name or a password; a command holds a few of them.
constexpr uint32_t kLiteralsPerCommand = 4;
// A command before login: a few literals of a line each, or one ID command of up to kMaxIdLine.
uint64_t preauth_command_size(uint64_t line) { return std::max<uint64_t>(line * kLiteralsPerCommand, pi::kMaxIdLine); }
// Untagged output is written in pieces of about this size (FETCH of many messages streams).
constexpr size_t kFlushThreshold = 64 * 1024;

}  // namespace

Session::Session(net::Connection& conn, ImapContext& ctx, asio::any_io_executor executor)
    : conn_(conn),
      ctx_(ctx),
      assembler_(pi::AssemblerOptions{
          .max_literal_size = ctx.config->limits.max_line_length,
          .max_command_size = preauth_command_size(ctx.config->limits.max_line_length)}) {
  feed_ = std::make_shared<FeedState>(std::move(executor));
}

Session::~Session() {
  // The subscription goes first: after it is destroyed no callback touches feed_.
  subscription_.reset();
}

asio::awaitable<void> Session::run() {
  const std::string greeting = pi::untagged(Status::kOk, "CAPABILITY " + capabilities(), kGreetingText);
  bool ok = co_await conn_.write(greeting);
  while (ok && !broken_) {
    auto flow = co_await next_command();
    ok = flow == Flow::kContinue;
  }
  co_await conn_.close();
}

const std::string& Session::id() const { return conn_.info().id; }

std::chrono::seconds Session::timeout() const {
  return authenticated() ? ctx_.config->timeouts.imap : ctx_.config->timeouts.imap_preauth;
}

bool Session::starttls_offered() const {
  // Not under COMPRESS (possible after UNAUTHENTICATE): TLS must sit below compression [RFC 4978 §4].
  return ctx_.listener.tls == config::TlsMode::kStartTls && ctx_.tls != nullptr && !conn_.is_tls() &&
         !conn_.is_compressed();
}

uint64_t Session::append_limit() const { return ctx_.config->imap.max_message_size; }

pi::AssemblerOptions Session::assembler_limits() const {
  const uint64_t line = ctx_.config->limits.max_line_length;
  if (!authenticated()) return pi::AssemblerOptions{.max_literal_size = line, .max_command_size = preauth_command_size(line)};
  // A literal may carry one message of APPENDLIMIT bytes; a command (MULTIAPPEND) up to two of them.
  const uint64_t limit = append_limit();
  return pi::AssemblerOptions{.max_literal_size = limit, .max_command_size = 2 * limit + line * kLiteralsPerCommand};
}

// [RFC 9051 §7.2.2]; only what works.
std::string Session::capabilities() const {
  std::string caps = "IMAP4rev1 IMAP4rev2";
  if (authenticated()) {
    caps += " LITERAL+ ENABLE IDLE NAMESPACE ID UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE"
            " LIST-EXTENDED LIST-STATUS STATUS=SIZE CONDSTORE QRESYNC MULTIAPPEND BINARY UTF8=ACCEPT SAVEDATE"
            " PREVIEW UNAUTHENTICATE ESEARCH SEARCHRES CONTEXT=SEARCH PARTIAL WITHIN SORT SORT=DISPLAY ESORT"
            " THREAD=ORDEREDSUBJECT THREAD=REFERENCES QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE COMPRESS=DEFLATE"
            " REPLACE APPENDLIMIT=" +
            std::to_string(append_limit());
    return caps;
  }
  // ENABLE before login too (as Dovecot): clients such as Python's imaplib check the capabilities
  // they saw first before sending ENABLE UTF8=ACCEPT [RFC 5161 §3.1, RFC 6855 §3; issue 28].
  caps += " SASL-IR LITERAL+ ENABLE ID";
  const auto actx = auth::context_for(conn_, ctx_.listener);
  if (starttls_offered()) caps += " STARTTLS";
  if (!ctx_.auth->plaintext_allowed(actx)) caps += " LOGINDISABLED";
  for (const auto& mech : auth::sasl_mechanisms(*ctx_.auth, actx)) caps += " AUTH=" + mech;
  return caps;
}

asio::awaitable<bool> Session::send(std::string text) {
  if (broken_) co_return false;
  if (!outbuf_.empty()) {
    text.insert(0, outbuf_);
    outbuf_.clear();
  }
  const bool ok = co_await conn_.write(text);
  if (!ok) broken_ = true;
  co_return ok;
}

asio::awaitable<void> Session::out(std::string_view text) {
  outbuf_ += text;
  if (outbuf_.size() >= kFlushThreshold) co_await flush();
}

asio::awaitable<void> Session::flush() {
  if (outbuf_.empty() || broken_) co_return;
  std::string data;
  data.swap(outbuf_);
  // The buffer is not kept between writes: an idle session holds no output memory.
  const bool ok = co_await conn_.write(data);
  if (!ok) broken_ = true;
}

// Says goodbye for a read that did not deliver a line or literal; EOF and errors close quietly.
asio::awaitable<Flow> Session::read_failed(net::ReadStatus status) {
  std::string_view bye;
  switch (status) {
    case net::ReadStatus::kTimeout: bye = kByeTimeout; break;
    case net::ReadStatus::kShutdown: bye = kByeShutdown; break;
    case net::ReadStatus::kEvicted: bye = kByeTooManyConnections; break;
    case net::ReadStatus::kTooLong: bye = kLineTooLong; break;
    default: break;
  }
  if (!bye.empty()) {
    spdlog::debug("conn={} imap: {}", id(), bye);
    co_await send(pi::untagged(Status::kBye, bye));
  }
  co_return Flow::kClose;
}

net::ReadOptions Session::line_options(bool interruptible) const {
  return net::ReadOptions{.max = ctx_.config->limits.max_line_length, .timeout = timeout(), .interruptible = interruptible};
}

// One line of a command, at most max_line_length bytes, or kMaxIdLine for an ID command (RFC 2971
// §3.3 allows more than the default limit; kTooLong data then holds the line's start).
asio::awaitable<net::ReadResult> Session::read_command_line(bool first, bool id_command) {
  auto line = co_await conn_.read_line(line_options(first));
  const uint64_t limit = ctx_.config->limits.max_line_length;
  if (line.status == net::ReadStatus::kTooLong && limit < pi::kMaxIdLine && (id_command || (first && pi::is_id_command(line.data)))) {
    auto options = line_options(first);
    options.max = pi::kMaxIdLine;
    line = co_await conn_.read_line(options);
  }
  co_return line;
}

// A line over the limit: skipped (up to kMaxSkippedLine bytes, read and dropped a chunk at a time),
// then answered BAD, tagged when the tag could be read, so the client and server stay in step and
// the connection goes on. A longer run without a line end is not IMAP: BYE.
asio::awaitable<Flow> Session::skip_overlong_line(std::optional<std::string> tag) {
  const auto skipped = co_await conn_.skip_line(kMaxSkippedLine, timeout());
  if (skipped != net::ReadStatus::kOk) {
    auto flow = co_await read_failed(skipped);
    co_return flow;
  }
  spdlog::debug("conn={} imap: line too long, skipped", id());
  // Built before the co_await: g++ 12 miscompiles co_await around ?: temporaries (DESIGN.md §3).
  std::string text = tag ? pi::tagged(*tag, Status::kBad, kLineTooLong) : pi::untagged(Status::kBad, kLineTooLong);
  auto flow = co_await reply(std::move(text));
  co_return flow;
}

// Reads one whole command: its first line, then literals and continuation lines as announced.
asio::awaitable<bool> Session::read_literal(uint64_t size, const std::function<void(std::string_view)>& take) {
  auto transfer = conn_.transfer(timeout(), ctx_.config->timeouts.min_data_rate);
  while (size > 0) {
    const net::ReadStatus status = co_await conn_.wait_input(timeout());
    if (status != net::ReadStatus::kOk) {
      co_await read_failed(status);
      co_return false;
    }
    const std::string_view piece = conn_.input().substr(0, static_cast<size_t>(size));
    take(piece);
    conn_.consume(piece.size());
    size -= piece.size();
  }
  co_return true;
}

asio::awaitable<Session::Incoming> Session::read_command() {
  auto first = co_await read_command_line(true, false);
  if (first.status == net::ReadStatus::kTooLong) {
    // The tag only when the kept start of the line holds all of it.
    auto tag = first.data.find(' ') != std::string::npos ? pi::leading_tag(first.data) : std::nullopt;
    auto flow = co_await skip_overlong_line(std::move(tag));
    co_return Incoming{flow, std::nullopt, {}};
  }
  if (!first) {
    co_await read_failed(first.status);
    co_return Incoming{};
  }
  const bool id_command = pi::is_id_command(first.data);
  const bool append_command = pi::is_append_command(first.data);
  pi::Progress progress = assembler_.feed_line(first.data);
  MemoryLease memory;
  std::vector<std::shared_ptr<Spool>> spools;
  bool spool_failed = false;
  for (;;) {
    switch (progress.kind) {
      case pi::Progress::Kind::kComplete:
        co_return Incoming{Flow::kContinue, assembler_.take_command(), std::move(memory), std::move(spools), spool_failed};
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
        co_return Incoming{ok ? Flow::kContinue : Flow::kClose, std::nullopt, {}};
      }
      case pi::Progress::Kind::kNeedLiteral: {
        if (progress.synchronizing) {
          const bool ok = co_await send(pi::continuation("Ready for literal data"));
          if (!ok) co_return Incoming{};
        }
        uint64_t left = progress.literal_size;
        if (append_command && left > ctx_.config->limits.message_memory) {
          // A big APPEND message goes into a spool as it arrives: message_memory bytes in RAM at
          // most, the rest in an anonymous temp file, and the command carries it by reference
          // (issue 28 item 2). A spool that cannot be written (disk full) is still read to its end,
          // so the stream stays in step, and the command then fails.
          auto spool = std::make_shared<Spool>(ctx_.config->data_dir, ctx_.config->limits.message_memory,
                                               ctx_.message_memory);
          bool has_nul = false;
          const bool read = co_await read_literal(left, [&](std::string_view piece) {
            if (!has_nul && piece.find('\0') != std::string_view::npos) has_nul = true;
            if (!spool_failed && !spool->append(piece)) spool_failed = true;
          });
          if (!read) co_return Incoming{};
          progress = assembler_.literal_kept_elsewhere(has_nul);
          spools.push_back(std::move(spool));
          break;
        }
        // Another big literal first takes its bytes from the process-wide message memory budget,
        // then is read as it arrives, chunk by chunk, straight into the assembler.
        if (left > ctx_.config->limits.message_memory) {
          MemoryLease reserved = co_await net::reserve_memory(ctx_.message_memory, left);
          memory.add(std::move(reserved));
        }
        if (left == 0) progress = assembler_.feed_literal({});
        const bool read =
            co_await read_literal(left, [&](std::string_view piece) { progress = assembler_.feed_literal(piece); });
        if (!read) co_return Incoming{};
        break;
      }
      case pi::Progress::Kind::kNeedLine: {
        auto more = co_await read_command_line(false, id_command);
        if (more.status == net::ReadStatus::kTooLong) {
          assembler_.reset();
          auto flow = co_await skip_overlong_line(pi::leading_tag(first.data));
          co_return Incoming{flow, std::nullopt, {}};
        }
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


// STARTTLS [RFC 9051 §6.2.1]
asio::awaitable<Flow> Session::starttls(const std::string& tag) {
  if (!starttls_offered()) {  // (after login the command table refuses it with the same text)
    auto flow = co_await reply(pi::tagged(tag, Status::kBad, kStartTlsNotAvailable));
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
  on_unauthenticated();
  assembler_.reset();
  co_return Flow::kContinue;
}


// LOGIN [RFC 9051 §6.2.3]
asio::awaitable<Flow> Session::do_login(const std::string& tag, const pi::Login& login) {
  const auto actx = auth::context_for(conn_, ctx_.listener);
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
  co_await on_authenticated();
  auto flow = co_await reply(authenticated_reply(tag, "LOGIN completed"));
  co_return flow;
}

// Reads one SASL response line. nullopt: the connection is finished (goodbye already sent).
asio::awaitable<std::optional<std::string>> Session::read_sasl_line() {
  auto line = co_await conn_.read_line(net::ReadOptions{
      .max = ctx_.config->limits.max_auth_line_length, .timeout = timeout(), .interruptible = false});
  if (!line) {
    co_await read_failed(line.status);
    co_return std::nullopt;
  }
  co_return std::move(line.data);
}

// AUTHENTICATE [RFC 9051 §6.2.2, RFC 4959]
asio::awaitable<Flow> Session::do_authenticate(const std::string& tag, const pi::Authenticate& args) {
  auth::SaslExchange exchange(*ctx_.auth, auth::context_for(conn_, ctx_.listener));
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
  co_await on_authenticated();
  auto flow = co_await reply(authenticated_reply(tag, "Authenticated"));
  co_return flow;
}


asio::awaitable<Flow> Session::reply(std::string text) {
  const bool ok = co_await send(std::move(text));
  co_return ok ? Flow::kContinue : Flow::kClose;
}

asio::awaitable<Flow> Session::next_command() {
  auto incoming = co_await read_command();
  if (incoming.flow == Flow::kClose) co_return Flow::kClose;
  if (!authenticated() && ++commands_before_auth_ > ctx_.config->limits.max_commands_before_auth) {
    spdlog::debug("conn={} imap: too many commands before authentication", id());
    co_await send(pi::untagged(Status::kBye, kByeTooManyCommands));
    co_return Flow::kClose;
  }
  if (!incoming.command) co_return Flow::kContinue;  // refused while assembling; already answered
  auto parsed = pi::parse_command(*incoming.command);
  incoming.command.reset();  // an APPEND literal is not kept twice longer than needed
  if (!parsed) {
    spdlog::debug("conn={} imap: syntax error: {}", id(), parsed.error().message);
    const bool ok = co_await send(pi::bad(parsed.error().tag, parsed.error().message));
    co_return ok ? Flow::kContinue : Flow::kClose;
  }
  if (incoming.spool_failed) {
    auto flow = co_await reply(pi::store_failure(parsed->tag, make_error(Errc::kUnavailable, "cannot spool the message")));
    co_return flow;
  }
  // The spools go when the command is done (APPEND hands them to the store, which holds them no longer).
  command_spools_ = std::move(incoming.spools);
  auto flow = co_await dispatch(*parsed);
  command_spools_.clear();
  co_return flow;
}

SessionState Session::state() const {
  if (!authenticated()) return SessionState::kNotAuthenticated;
  return selected() ? SessionState::kSelected : SessionState::kAuthenticated;
}

// Looks the command up in the command table (command_table.cpp). A direct handler answers for
// itself; a tagged one returns its tagged reply, which goes out after the selected mailbox is
// brought up to date.
asio::awaitable<Flow> Session::dispatch(pi::Command& cmd) {
  const CommandEntry* entry = find_command(cmd.name);
  if (entry != nullptr && entry->direct != nullptr) {
    const std::string_view refused = refusal(entry, state());
    if (refused.empty()) {
      auto flow = co_await entry->direct(*this, cmd);
      co_return flow;
    }
    auto flow = co_await reply(pi::tagged(cmd.tag, Status::kBad, refused));
    co_return flow;
  }
  std::string tagged = co_await dispatch_tagged(entry, cmd);
  if (broken_) co_return Flow::kClose;
  // EXPUNGE may not be sent after FETCH, STORE or SEARCH by sequence number [RFC 9051 §7.5.1].
  const bool by_sequence = entry != nullptr && entry->has(cmdflag::kBySequence);
  co_await sync(!by_sequence);
  define_keywords();
  auto flow = co_await reply(std::move(tagged));
  co_return flow;
}

asio::awaitable<std::string> Session::dispatch_tagged(const CommandEntry* entry, pi::Command& cmd) {
  const std::string& tag = cmd.tag;
  const SessionState now = state();
  // After login, a command of the authenticated states (or an unknown one) needs the mail store.
  if (now != SessionState::kNotAuthenticated && (entry == nullptr || entry->needs_store()) &&
      (ctx_.store == nullptr || account_ == nullptr)) {
    co_return pi::tagged(tag, Status::kNo, pi::code::kUnavailable, "Mail store not available");
  }
  if (const std::string_view refused = refusal(entry, now); !refused.empty()) {
    co_return pi::tagged(tag, Status::kBad, refused);
  }
  if (entry->has(cmdflag::kReadWrite) && view_.read_only()) {
    co_return pi::tagged(tag, Status::kNo, pi::code::kReadOnly, "Mailbox is read-only");
  }
  auto r = co_await entry->tagged(*this, cmd);
  co_return r;
}

std::string Session::authenticated_reply(const std::string& tag, std::string_view text) const {
  return pi::tagged(tag, Status::kOk, "CAPABILITY " + capabilities(), text);
}

asio::awaitable<void> Session::on_authenticated() {
  conn_.exempt_from_eviction();
  assembler_.set_options(assembler_limits());
  if (ctx_.store == nullptr) co_return;
  auto account = co_await ctx_.store->account(principal_->account, store::Limits{principal_->quota_bytes, 0});
  if (!account) {
    spdlog::warn("conn={} imap: cannot open the mail store of account {}: {}", id(), principal_->account,
                 account.error().message);
    co_return;
  }
  account_ = std::move(*account);
  // The callback runs on the publisher's thread: it only flags and wakes an IDLE wait on our strand.
  std::weak_ptr<FeedState> weak = feed_;
  subscription_ = ctx_.store->feed().subscribe(principal_->account, [weak](const store::ChangeEvent& event) {
    auto state = weak.lock();
    if (!state || event.mailbox == 0 || event.mailbox != state->mailbox.load()) return;
    state->pending.store(true);
    asio::post(state->executor, [weak] {
      if (auto s = weak.lock()) s->timer.cancel();
    });
  });
}

void Session::on_unauthenticated() {
  unselect();
  subscription_.reset();
  account_.reset();
  principal_.reset();
  condstore_ = qresync_ = rev2_ = utf8_ = false;
}

void Session::define_keywords(const std::vector<std::string>& named) {
  if (ctx_.keywords == nullptr || !principal_ || mailbox_ == nullptr) return;
  ctx_.keywords->add(principal_->account, mailbox_->id(), named);
  const auto& known = view_.known_keywords();
  if (known.size() == keywords_defined_) return;
  ctx_.keywords->add(principal_->account, mailbox_->id(), known);
  keywords_defined_ = known.size();
}

ViewOptions Session::view_options() const {
  return ViewOptions{.condstore = condstore_, .qresync = qresync_, .recent = !rev2_};
}

Result<std::string> Session::mailbox_name(const std::string& wire) const {
  auto decoded = pi::mailbox_from_wire(wire, utf8_names());
  if (!decoded) return decoded.error();
  std::string name = std::move(*decoded);
  // A trailing separator names the same mailbox [RFC 9051 §6.3.4].
  while (name.size() > 1 && name.back() == store::kSeparator) name.pop_back();
  return store::canonical_mailbox_name(name);
}

std::string Session::wire_name(std::string_view name) const { return pi::mailbox_to_wire(name, utf8_names()); }

asio::awaitable<void> run_session(net::Accepted accepted, ImapContext ctx) {
  net::Connection& conn = accepted.connection;
  if (accepted.over_limit) {
    co_await conn.write(pi::untagged(Status::kBye, kByeTooManyConnections));
    co_await conn.close();
    co_return;
  }
  auto executor = co_await asio::this_coro::executor;
  Session session(conn, ctx, executor);
  co_await session.run();
}

}  // namespace posthorn::server::imap
