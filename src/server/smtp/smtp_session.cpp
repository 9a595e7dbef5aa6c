// The SMTP session: greeting (with the MX greeting delay), EHLO/HELO/LHLO, STARTTLS, AUTH, the
// small commands, and the mail transaction (MAIL, RCPT, DATA, BDAT) for the MX, submission and
// LMTP listeners: the dialogue and its policy (who may send, to whom, how much). The complete
// message goes to the delivery pipeline (delivery/intake.hpp), which stores it for local recipients
// and queues it for remote ones; its Outcome becomes the replies.
//
// Implementation notes (invariants):
// - Every reply goes through reply(): it counts 4xx/5xx replies, and after smtp.max_errors it says
//   421 and the session ends (Postfix smtpd_hard_error_limit).
// - Never an open relay: a recipient outside our domains is accepted only from an authenticated
//   submission session; on MX and LMTP it is refused (554 5.7.1). Remote targets of our own aliases
//   (forwarding set up by the administrator) are queued from any listener.
// - The 250 after DATA/BDAT is sent only after delivery::accept() returned, i.e. after the queue
//   entry for remote recipients committed and MailStore::deliver() returned for local ones.
// - While a message arrives (DATA, BDAT) it is spooled (base/spool.hpp): limits.message_memory bytes
//   in RAM, the rest in an anonymous temp file, under one process-wide budget, so slow or unfinished
//   messages cannot pin memory (issue 28 item 2). Once complete it is read back into memory for
//   delivery (one string, then moved, never copied, up to the store), waiting for the budget when
//   other large messages are being processed.
// - DATA is read as raw bytes as they arrive and fed to proto/smtp's DataReader, which alone decides
//   where the data ends (only CRLF.CRLF) and refuses bare CR/LF (SMTP smuggling); bytes after the
//   terminator stay in the connection for the next command (pipelining).
//   BDAT chunks of a 7BIT/8BITMIME message go through the same LineEndCheck, with its state carried
//   from chunk to chunk, and are refused the same way after the LAST chunk; BINARYMIME is binary
//   [RFC 3030 §3] and is not checked. NUL octets are data in both.
// - Plaintext pipelined behind STARTTLS is never executed: Connection::start_tls discards it, and we
//   log how much there was. After the handshake every bit of protocol state is forgotten
//   [RFC 3207 §4.2]: the client must EHLO again, and any authentication is gone.
// - co_await appears only as a statement or a plain initializer (g++ 12, DESIGN.md §3).
#include "server/smtp/smtp_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/sasl.hpp"
#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "base/random.hpp"
#include "base/spool.hpp"
#include "net/memory_reserve.hpp"
#include "proto/smtp/command.hpp"
#include "proto/smtp/data_reader.hpp"
#include "proto/smtp/line_ends.hpp"
#include "proto/smtp/reply.hpp"
#include "delivery/intake.hpp"
#include "delivery/local_delivery.hpp"
#include "delivery/message_prep.hpp"

namespace posthorn::server::smtp {
namespace {

// 452 "too many recipients" replies that do not count as errors (per session; Postfix's default).
constexpr uint32_t kRecipientOvershoot = 1000;
// Distinct addresses in a submitted message's From and Sender fields that are checked; more are refused.
constexpr std::size_t kMaxHeaderSenders = 20;

namespace asio = boost::asio;
namespace wire = posthorn::proto::smtp;

// BDAT chunks are read in pieces of this size (a chunk over the size limit is read and dropped).
constexpr std::size_t kBdatPiece = 64 << 10;

enum class Next { kContinue, kClose };

// RET= as the queue stores it.
std::string ret_word(wire::Ret ret) { return ret == wire::Ret::kFull ? "FULL" : ret == wire::Ret::kHdrs ? "HDRS" : ""; }

// One accepted recipient of the current transaction.
struct Rcpt {
  std::string address;                     // as given ("postmaster" completed with our host name)
  std::vector<store::AccountId> accounts;  // local accounts it resolves to
  std::vector<std::string> remote;         // remote addresses to queue: itself, or alias targets
  uint8_t notify = 0;
  std::string orcpt;
};

// MAIL FROM up to the end of DATA/BDAT (or RSET).
struct Transaction {
  wire::MailFrom mail;
  std::vector<Rcpt> rcpts;
  std::map<store::AccountId, store::Limits> limits;  // quota of every local account seen at RCPT
  std::string id;                                    // for logs, Received and the 250
  bool bdat = false;             // BDAT was used: DATA is no longer allowed
  bool bdat_too_big = false;     // the chunks passed the size limit; the rest is read and dropped
  std::unique_ptr<Spool> chunks;  // BDAT data so far (in RAM up to limits.message_memory, then on disk)
  wire::LineEndCheck line_ends;  // bare CR/LF in the BDAT chunks so far [RFC 5321 §2.3.8]
};

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
    if (proto_ == Proto::kSmtp && !conn_.is_tls() && ctx_.config->smtp.greeting_delay.count() > 0) {
      bool talked = co_await early_talker();
      if (talked) {
        co_await conn_.close();
        co_return;
      }
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

  // Waits the greeting delay; true when the client sent anything before the banner (then it has
  // been told 554 and must be dropped). The delay is rounded up to whole seconds (the read timeout's
  // unit).
  asio::awaitable<bool> early_talker() {
    const auto ms = ctx_.config->smtp.greeting_delay.count();
    net::ReadOptions options{ctx_.config->limits.max_line_length, std::chrono::seconds((ms + 999) / 1000), true};
    net::ReadResult line = co_await conn_.read_line(options);
    if (line.status == net::ReadStatus::kTimeout && conn_.buffered() == 0) co_return false;
    if (line.status == net::ReadStatus::kOk || line.status == net::ReadStatus::kTimeout ||
        line.status == net::ReadStatus::kTooLong) {
      spdlog::info("conn={} smtp: early talker rejected", id());
      co_await send(wire::format(wire::kC554EarlyTalker));
    }
    co_return true;
  }

  // Sends one reply and applies the error limit.
  asio::awaitable<Next> reply(const wire::Reply& r, std::string_view text) {
    bool ok = co_await send(wire::format(r, text));
    if (!ok) co_return Next::kClose;
    if (wire::is_error(r) && r.code != 421 && ++errors_ >= ctx_.config->smtp.max_errors) {
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
      case net::ReadStatus::kEvicted:
        co_await send(wire::format(wire::kC421TooManyConnections));
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
        txn_.reset();
        [[fallthrough]];
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
      case wire::Verb::kMail: {
        Next next = co_await on_mail(std::get<wire::MailFrom>(std::move(cmd)));
        co_return next;
      }
      case wire::Verb::kRcpt: {
        Next next = co_await on_rcpt(std::get<wire::RcptTo>(std::move(cmd)));
        co_return next;
      }
      case wire::Verb::kData: {
        Next next = co_await on_data();
        co_return next;
      }
      case wire::Verb::kBdat: {
        Next next = co_await on_bdat(std::get<wire::Bdat>(cmd));
        co_return next;
      }
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

  auth::AuthContext auth_context() const { return auth::context_for(conn_, ctx_.listener); }

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
    helo_ = hello.domain;
    txn_.reset();  // EHLO/HELO in the middle of a transaction resets it [RFC 5321 §4.1.4]
    if (hello.verb == wire::Verb::kHelo) {
      extended_ = false;
      Next next = co_await reply(wire::Reply{250, "", ""}, host);
      co_return next;
    }
    extended_ = true;
    std::vector<std::string> lines{host,
                                   "PIPELINING",
                                   "SIZE " + std::to_string(ctx_.config->smtp.max_message_size),
                                   "8BITMIME",
                                   "BINARYMIME",
                                   "SMTPUTF8",
                                   "ENHANCEDSTATUSCODES",
                                   "CHUNKING",
                                   "DSN"};
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
    helo_.clear();
    principal_.reset();
    txn_.reset();
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
    conn_.exempt_from_eviction();
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

  // ETRN: not implemented.
  asio::awaitable<Next> on_deferred(const wire::Deferred& cmd) {
    Next next = co_await reply(wire::kC502NotImplemented, std::string(wire::verb_name(cmd.verb)) + " not implemented");
    co_return next;
  }

  bool transactions_available() const {
    return ctx_.store != nullptr && ctx_.pool != nullptr && ctx_.auth != nullptr;
  }
  auth::Directory* directory() { return &ctx_.auth->directory(); }

  // A reply whose text starts with the address it is about ("<a@b> Recipient ok").
  asio::awaitable<Next> reply_about(const wire::Reply& r, std::string_view address) {
    Next next = co_await reply(r, "<" + std::string(address) + "> " + std::string(r.text));
    co_return next;
  }

  // MAIL FROM [RFC 5321 §4.1.1.2] with SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH.
  asio::awaitable<Next> on_mail(wire::MailFrom cmd) {
    if (proto_ == Proto::kSubmission && !principal_) {
      Next next = co_await reply(wire::kC530AuthRequired);
      co_return next;
    }
    if (helo_.empty()) {
      Next next = co_await reply(wire::kC503NeedHello);
      co_return next;
    }
    if (txn_) {
      Next next = co_await reply(wire::kC503NestedMail);
      co_return next;
    }
    if (!transactions_available()) {
      Next next = co_await reply(wire::kC451LocalError);
      co_return next;
    }
    if (cmd.size && *cmd.size > ctx_.config->smtp.max_message_size) {
      Next next = co_await reply(wire::kC552TooBig);
      co_return next;
    }
    if (cmd.sender.non_ascii() && !cmd.smtputf8) {
      Next next = co_await reply(wire::kC553NeedSmtputf8);
      co_return next;
    }
    if (principal_ && !cmd.sender.empty()) {
      std::optional<wire::Reply> refused = co_await check_sender_owned(cmd.sender.address());
      if (refused) {
        spdlog::info("conn={} smtp: {} may not send as {}", id(), principal_->address, cmd.sender.address());
        Next next = co_await reply(*refused);
        co_return next;
      }
    }
    // AUTH=: on submission only the user's own identity or <> [RFC 4954 §5]; elsewhere it is
    // not trusted and not passed on.
    if (proto_ == Proto::kSubmission && cmd.auth && !auth_parameter_ok(*cmd.auth)) {
      spdlog::info("conn={} smtp: {} sent MAIL AUTH={}", id(), principal_->address, printable_value(*cmd.auth));
      Next next = co_await reply(wire::kC553AuthNotOwner);
      co_return next;
    }
    // A transaction under way is kept at the global connection cap, like a login (listener.hpp).
    conn_.exempt_from_eviction();
    txn_.emplace();
    txn_->id = ascii::upper(random_hex(8));
    txn_->mail = std::move(cmd);
    Next next = co_await reply(wire::kC250SenderOk);
    co_return next;
  }

  bool auth_parameter_ok(std::string_view value) const {
    if (value.size() >= 2 && value.front() == '<' && value.back() == '>') value = value.substr(1, value.size() - 2);
    return value.empty() || ascii::iequals(value, principal_->address);
  }

  // Client text for a log line: controls and spaces become '?', at most 256 bytes.
  static std::string printable_value(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 256)) out += (c > 0x20 && c < 0x7f) ? c : '?';
    return out;
  }

  // [smtp.send_as]: extra addresses (or "@domain") for this user or for every user ("*").
  bool send_as_allowed(std::string_view address) const {
    const auto& send_as = ctx_.config->smtp.send_as;
    if (send_as.empty()) return false;
    const std::string lower = ascii::lower(address);
    const auto at = lower.rfind('@');
    const std::string_view domain = at == std::string::npos ? std::string_view() : std::string_view(lower).substr(at);
    for (const std::string& user : {ascii::lower(principal_->address), std::string("*")}) {
      auto it = send_as.find(user);
      if (it == send_as.end()) continue;
      for (const auto& entry : it->second) {
        if (entry == lower || (entry.starts_with('@') && entry == domain)) return true;
      }
    }
    return false;
  }

  // An authenticated sender may use its own address, addresses that resolve to its account
  // (aliases, sub-addresses) and those [smtp.send_as] gives it. Returns the refusal, or nullopt
  // when the address is owned.
  asio::awaitable<std::optional<wire::Reply>> check_sender_owned(std::string address) {
    if (ascii::iequals(address, principal_->address) || send_as_allowed(address)) co_return std::nullopt;
    auto task = directory()->resolve(address);
    auto resolved = co_await std::move(task);
    if (!resolved) {
      if (resolved.error().code == Errc::kNotFound || resolved.error().code == Errc::kInvalid) {
        co_return wire::kC553NotOwner;
      }
      co_return wire::to_mail_reply(resolved.error());
    }
    const auto& accounts = resolved->accounts;
    if (std::find(accounts.begin(), accounts.end(), principal_->account) != accounts.end()) co_return std::nullopt;
    co_return wire::kC553NotOwner;
  }

  // The header From and Sender of a submitted message must name addresses the user may send as
  // (the MAIL FROM rule), or a signed message could claim anyone of our domains [issue 28].
  asio::awaitable<std::optional<wire::Reply>> check_header_senders(const std::string& message) {
    const delivery::HeaderSenders senders = delivery::header_senders(message, kMaxHeaderSenders);
    if (senders.too_many) {
      spdlog::info("conn={} smtp: more than {} header From/Sender addresses", id(), kMaxHeaderSenders);
      co_return wire::kC553HeaderNotOwner;
    }
    for (const std::string& address : senders.addresses) {
      std::optional<wire::Reply> refused = co_await check_sender_owned(address);
      if (!refused) continue;
      spdlog::info("conn={} smtp: {} may not send with header From/Sender {}", id(), principal_->address,
                   printable_value(address));
      if (refused->code == wire::kC553NotOwner.code) co_return wire::kC553HeaderNotOwner;
      co_return refused;
    }
    co_return std::nullopt;
  }

  // The account's quota, from the directory (remembered for the transaction).
  asio::awaitable<Result<store::Limits>> limits_of(store::AccountId account) {
    if (auto it = txn_->limits.find(account); it != txn_->limits.end()) co_return it->second;
    auto task = delivery::account_limits(directory(), account);
    auto limits = co_await std::move(task);
    if (!limits) co_return limits.error();
    txn_->limits[account] = *limits;
    co_return *limits;
  }

  // kOverQuota when the account is full or the declared SIZE would not fit; nullopt when it fits.
  // (An optional rather than Result<void>: g++ 12 warns about Result<void> returned from a coroutine.)
  asio::awaitable<std::optional<Error>> quota_problem(store::AccountId account) {
    auto limits = co_await limits_of(account);
    if (!limits) co_return limits.error();
    if (limits->storage_bytes == 0) co_return std::nullopt;
    auto account_task = ctx_.store->account(account, *limits);
    auto opened = co_await std::move(account_task);
    if (!opened) co_return opened.error();
    auto usage_task = (*opened)->quota();
    auto usage = co_await std::move(usage_task);
    if (!usage) co_return usage.error();
    const uint64_t incoming = txn_->mail.size.value_or(0);
    if (usage->storage_bytes >= limits->storage_bytes || usage->storage_bytes + incoming > limits->storage_bytes) {
      co_return make_error(Errc::kOverQuota, "mailbox full");
    }
    co_return std::nullopt;
  }

  // RCPT TO [RFC 5321 §4.1.1.3] with NOTIFY and ORCPT; the recipient policy.
  asio::awaitable<Next> on_rcpt(wire::RcptTo cmd) {
    if (!txn_) {
      Next next = co_await reply(wire::kC503NeedMail);
      co_return next;
    }
    if (txn_->rcpts.size() >= ctx_.config->smtp.max_recipients) {
      // RFC 5321 §4.5.3.1.10: the client sends the refused recipients in a later transaction and
      // DATA for the accepted ones now, so these 452s do not count toward max_errors until the
      // overshoot passes kRecipientOvershoot (Postfix's smtpd_recipient_overshoot_limit); closing
      // with 421 earlier would lose the accepted recipients' transaction.
      if (++recipient_overshoot_ <= kRecipientOvershoot) {
        bool sent = co_await send(wire::format(wire::kC452TooManyRecipients));
        co_return sent ? Next::kContinue : Next::kClose;
      }
      Next next = co_await reply(wire::kC452TooManyRecipients);
      co_return next;
    }
    if (cmd.recipient.non_ascii() && !txn_->mail.smtputf8) {
      Next next = co_await reply(wire::kC553NeedSmtputf8);
      co_return next;
    }
    Rcpt rcpt;
    std::string domain = cmd.recipient.domain;
    if (cmd.postmaster) domain = ctx_.config->hostname;
    rcpt.address = cmd.postmaster ? "postmaster@" + domain : cmd.recipient.address();
    rcpt.notify = cmd.notify;
    rcpt.orcpt = std::move(cmd.orcpt);

    // An address literal is never one of our domains (we do not accept mail for bare IPs).
    bool local = false;
    if (!domain.starts_with('[')) {
      auto task = directory()->is_local_domain(domain);
      auto is_local = co_await std::move(task);
      if (!is_local) {
        Next next = co_await reply(wire::to_mail_reply(is_local.error()));
        co_return next;
      }
      local = *is_local;
    }
    if (!local) {
      if (cmd.postmaster) {
        Next next = co_await reply_about(wire::kC550NoSuchUser, rcpt.address);
        co_return next;
      }
      // Relaying: only for an authenticated submission session.
      if (proto_ != Proto::kSubmission || !principal_) {
        spdlog::info("conn={} smtp: relay denied for {}", id(), rcpt.address);
        Next next = co_await reply_about(wire::kC554RelayDenied, rcpt.address);
        co_return next;
      }
      if (ctx_.queue == nullptr) {
        Next next = co_await reply(wire::kC451LocalError);
        co_return next;
      }
      rcpt.remote.push_back(rcpt.address);
      txn_->rcpts.push_back(std::move(rcpt));
      Next next = co_await reply(wire::kC250RecipientOk);
      co_return next;
    }

    auto task = directory()->resolve(rcpt.address);
    auto resolved = co_await std::move(task);
    if (!resolved) {
      const Errc code = resolved.error().code;
      const wire::Reply r = code == Errc::kNotFound || code == Errc::kInvalid ? wire::kC550NoSuchUser
                                                                               : wire::to_mail_reply(resolved.error());
      Next next = co_await reply_about(r, rcpt.address);
      co_return next;
    }
    // Remote targets come only from our aliases; an address resolving to itself would be a relay.
    for (const auto& target : resolved->remote) {
      if (ascii::iequals(target, rcpt.address)) {
        Next next = co_await reply_about(wire::kC554RelayDenied, rcpt.address);
        co_return next;
      }
    }
    if (!resolved->remote.empty() && ctx_.queue == nullptr) {
      Next next = co_await reply(wire::kC451LocalError);
      co_return next;
    }
    for (store::AccountId account : resolved->accounts) {
      std::optional<Error> problem = co_await quota_problem(account);
      if (problem) {
        Next next = co_await reply_about(wire::to_mail_reply(*problem), rcpt.address);
        co_return next;
      }
    }
    rcpt.accounts = std::move(resolved->accounts);
    rcpt.remote = std::move(resolved->remote);
    txn_->rcpts.push_back(std::move(rcpt));
    Next next = co_await reply(wire::kC250RecipientOk);
    co_return next;
  }

  // The reply to DATA or BDAT when no message may follow; nullopt when it may.
  std::optional<wire::Reply> message_refusal() const {
    if (!txn_) return wire::kC503NeedMail;
    if (txn_->rcpts.empty()) return wire::kC554NoValidRecipients;
    return std::nullopt;
  }

  // DATA [RFC 5321 §4.1.1.4].
  asio::awaitable<Next> on_data() {
    std::optional<wire::Reply> refused = message_refusal();
    if (!refused && txn_->bdat) refused = wire::kC503BadSequence;
    if (!refused && txn_->mail.body == wire::Body::kBinaryMime) refused = wire::kC503BinaryNeedsBdat;
    if (refused) {
      Next next = co_await reply(*refused);
      co_return next;
    }
    bool ok = co_await send(wire::format(wire::kC354StartData));
    if (!ok) co_return Next::kClose;
    const uint64_t max = ctx_.config->smtp.max_message_size;
    wire::DataReader reader(max);
    // The data is read as it arrives, one read chunk at a time, and spooled past a small buffer:
    // however long a line or the message, the session holds a few hundred kilobytes at most.
    std::unique_ptr<Spool> spool = new_spool();
    bool spool_failed = false;
    {
      // The data must average [timeouts] min_data_rate after timeouts.smtp of grace (slowloris).
      auto transfer = conn_.transfer(ctx_.config->timeouts.smtp, ctx_.config->timeouts.min_data_rate);
      while (!reader.done()) {
        const net::ReadStatus status = co_await conn_.wait_input(ctx_.config->timeouts.smtp);
        if (status != net::ReadStatus::kOk) {
          co_await read_failed(status);
          co_return Next::kClose;
        }
        conn_.consume(reader.feed(conn_.input()));
        if (!reader.message().empty()) {
          if (!spool_failed && !spool->append(reader.message())) spool_failed = true;
          reader.message().clear();
        }
      }
    }
    if (reader.bare_lf() || reader.bare_cr()) {
      spdlog::info("conn={} smtp: message {} refused: bare {} in DATA", id(), txn_->id,
                   reader.bare_lf() ? "LF" : "CR");
      txn_.reset();
      Next next = co_await reply(wire::kC550BareLineEnd);
      co_return next;
    }
    if (reader.too_big()) {
      txn_.reset();
      Next next = co_await reply(wire::kC552TooBig);
      co_return next;
    }
    if (spool_failed) {
      txn_.reset();
      Next next = co_await reply(wire::kC451LocalError);
      co_return next;
    }
    Next next = co_await finish_spooled(*spool);
    co_return next;
  }

  std::unique_ptr<Spool> new_spool() const {
    return std::make_unique<Spool>(ctx_.config->data_dir, ctx_.config->limits.message_memory, ctx_.message_memory);
  }

  // Reads the spooled message back into memory for delivery, once the process-wide message memory
  // allows it (net/memory_reserve.hpp), then finishes the transaction.
  asio::awaitable<Next> finish_spooled(Spool& spool) {
    MemoryLease lease;
    if (spool.on_disk()) {
      MemoryLease reserved = co_await net::reserve_memory(ctx_.message_memory, spool.size());
      lease = std::move(reserved);
    }
    Result<std::string> message = spool.take(lease);
    if (!message) {
      txn_.reset();
      Next next = co_await reply(wire::kC451LocalError);
      co_return next;
    }
    Next next = co_await finish_message(std::move(*message));
    co_return next;
  }

  // BDAT [RFC 3030 §2]: the chunk is read whatever the reply will be, so the session stays in step.
  asio::awaitable<Next> on_bdat(wire::Bdat cmd) {
    std::optional<wire::Reply> refused = message_refusal();
    const uint64_t max = ctx_.config->smtp.max_message_size;
    uint64_t remaining = cmd.size;
    bool spool_failed = false;
    // Each chunk must average [timeouts] min_data_rate after timeouts.smtp of grace (slowloris).
    auto transfer = conn_.transfer(ctx_.config->timeouts.smtp, ctx_.config->timeouts.min_data_rate);
    while (remaining > 0) {
      const std::size_t n = std::size_t(std::min<uint64_t>(remaining, kBdatPiece));
      net::ReadResult piece = co_await conn_.read_exact(n, ctx_.config->timeouts.smtp);
      if (!piece) {
        co_await read_failed(piece.status);
        co_return Next::kClose;
      }
      remaining -= n;
      if (refused) continue;
      if (txn_->mail.body != wire::Body::kBinaryMime) txn_->line_ends.feed(piece.data);
      if (txn_->bdat_too_big) continue;
      if (!txn_->chunks) txn_->chunks = new_spool();
      if (txn_->chunks->size() + n > max) {
        txn_->bdat_too_big = true;
        txn_->chunks.reset();
        continue;
      }
      if (!txn_->chunks->append(piece.data)) spool_failed = true;
    }
    if (refused) {
      Next next = co_await reply(*refused);
      co_return next;
    }
    txn_->bdat = true;
    if (spool_failed) {
      // The chunk could not be kept: the transaction is over [RFC 3030 §2: a failed BDAT ends it].
      txn_.reset();
      Next next = co_await reply(wire::kC451LocalError);
      co_return next;
    }
    if (!cmd.last) {
      Next next = co_await reply(wire::kC250ChunkOk, std::to_string(cmd.size) + " octets received");
      co_return next;
    }
    txn_->line_ends.finish();
    if (!txn_->line_ends.clean()) {
      spdlog::info("conn={} smtp: message {} refused: bare {} in BDAT", id(), txn_->id,
                   txn_->line_ends.bare_lf() ? "LF" : "CR");
      txn_.reset();
      Next next = co_await reply(wire::kC550BareLineEndBdat);
      co_return next;
    }
    if (txn_->bdat_too_big) {
      txn_.reset();
      Next next = co_await reply(wire::kC552TooBig);
      co_return next;
    }
    if (!txn_->chunks) txn_->chunks = new_spool();  // BDAT 0 LAST alone: an empty message
    std::unique_ptr<Spool> chunks = std::move(txn_->chunks);
    Next next = co_await finish_spooled(*chunks);
    co_return next;
  }

  // "ESMTPSA" and friends for the Received field [RFC 3848]; with SMTPUTF8 in MAIL FROM,
  // "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA" and the UTF8LMTP forms [RFC 6531 §3.7.3].
  std::string with_protocol(bool smtputf8) const {
    std::string with = smtputf8 ? (proto_ == Proto::kLmtp ? "UTF8LMTP" : "UTF8SMTP")
                                : (proto_ == Proto::kLmtp ? "LMTP" : extended_ ? "ESMTP" : "SMTP");
    if (conn_.is_tls()) with += "S";
    if (principal_ && proto_ != Proto::kLmtp) with += "A";
    return with;
  }

  // What the delivery pipeline may use (delivery/intake.hpp).
  delivery::Services services() {
    return delivery::Services{ctx_.config.get(), ctx_.store,       ctx_.queue,      directory(),     ctx_.pool,
                              ctx_.signer.get(), ctx_.resolver.get(), ctx_.psl.get(), ctx_.dmarc_log, ctx_.queued};
  }

  // What the transaction established, for the pipeline.
  delivery::Envelope envelope_of(Transaction& txn) const {
    delivery::Envelope env;
    env.origin = proto_ == Proto::kSubmission ? delivery::Origin::kSubmission
                 : proto_ == Proto::kLmtp     ? delivery::Origin::kLmtp
                                              : delivery::Origin::kMx;
    env.log = "conn=" + id();
    env.id = txn.id;
    env.sender = txn.mail.sender.address();
    for (auto& r : txn.rcpts) {
      env.recipients.push_back({std::move(r.address), std::move(r.accounts), std::move(r.remote), r.notify, std::move(r.orcpt)});
    }
    env.limits = std::move(txn.limits);
    env.ret = ret_word(txn.mail.ret);
    env.envid = txn.mail.envid;
    env.smtputf8 = txn.mail.smtputf8;
    env.eight_bit = txn.mail.body == wire::Body::k8BitMime || txn.mail.body == wire::Body::kBinaryMime;
    env.client_ip = conn_.info().remote_ip;
    env.helo = helo_;
    env.with = with_protocol(txn.mail.smtputf8);
    env.tls = conn_.is_tls() ? conn_.tls_description() : "";
    if (principal_) {
      const auto at = principal_->address.rfind('@');
      env.sender_domain = at == std::string::npos ? ctx_.config->hostname : principal_->address.substr(at + 1);
    }
    return env;
  }

  // Hands the complete message to the delivery pipeline, then replies: one reply, or one per
  // recipient on LMTP [RFC 2033 §4.2]. The 250 goes out only after the pipeline returned, i.e.
  // after the queue entry committed and the store delivered.
  asio::awaitable<Next> finish_message(std::string received) {
    Transaction txn = std::move(*txn_);
    txn_.reset();
    delivery::Message message(std::move(received));
    if (proto_ == Proto::kSubmission && ctx_.config->smtp.check_header_from) {
      std::optional<wire::Reply> refused = co_await check_header_senders(message.bytes());
      if (refused) {
        Next next = co_await reply(*refused);
        co_return next;
      }
    }
    const std::vector<std::string> rcpts = [&] {
      std::vector<std::string> v;
      for (const auto& r : txn.rcpts) v.push_back(r.address);
      return v;
    }();
    auto task = delivery::accept(services(), envelope_of(txn), std::move(message));
    const delivery::Outcome outcome = co_await std::move(task);
    if (outcome.refused) {
      const delivery::Rejection& r = *outcome.refused;
      Next next = co_await reply_for_all(rcpts, wire::Reply{r.code, r.status, r.text});
      co_return next;
    }
    if (outcome.not_queued) {
      Next next = co_await reply_for_all(rcpts, wire::to_mail_reply(*outcome.not_queued));
      co_return next;
    }
    const auto& failed = outcome.failed;
    if (proto_ == Proto::kLmtp) {
      for (std::size_t i = 0; i < rcpts.size(); ++i) {
        const wire::Reply r = failed[i] ? wire::to_mail_reply(*failed[i]) : wire::kC250MessageAccepted;
        const std::string text = failed[i] ? std::string(r.text) : std::string(r.text) + " " + txn.id;
        Next next = co_await reply(r, "<" + rcpts[i] + "> " + text);
        if (next == Next::kClose) co_return next;
      }
      co_return Next::kContinue;
    }
    const auto count = std::count_if(failed.begin(), failed.end(), [](const auto& f) { return f.has_value(); });
    if (count > 0 && std::size_t(count) == failed.size()) {
      // Nothing was accepted anywhere: the client keeps the message and may try again.
      Next next = co_await reply(wire::to_mail_reply(*failed.front()));
      co_return next;
    }
    // Everyone has it, or the pipeline queued a DSN for those who do not.
    Next next = co_await reply(wire::kC250MessageAccepted, std::string(wire::kC250MessageAccepted.text) + " " + txn.id);
    co_return next;
  }

  // The same reply for the message (SMTP) or for every recipient (LMTP).
  asio::awaitable<Next> reply_for_all(const std::vector<std::string>& rcpts, const wire::Reply& r) {
    if (proto_ != Proto::kLmtp) {
      Next next = co_await reply(r);
      co_return next;
    }
    for (const auto& address : rcpts) {
      Next next = co_await reply_about(r, address);
      if (next == Next::kClose) co_return next;
    }
    co_return Next::kContinue;
  }

  net::Connection conn_;
  SmtpContext ctx_;
  Proto proto_;
  bool extended_ = false;  // EHLO or LHLO was accepted since the start or the last STARTTLS
  std::string helo_;       // the name from the last EHLO/HELO/LHLO ("" before any)
  std::optional<auth::Principal> principal_;
  std::optional<Transaction> txn_;
  uint32_t errors_ = 0;
  uint32_t recipient_overshoot_ = 0;  // RCPTs refused for max_recipients in this session
  uint32_t commands_before_auth_ = 0;
};

}  // namespace

asio::awaitable<void> run_session(net::Accepted accepted, SmtpContext ctx) {
  Session session(std::move(accepted.connection), std::move(ctx));
  co_await session.run(accepted.over_limit);
}

}  // namespace posthorn::server::smtp
