// Implementation notes (POP3 session) [RFC 1939, RFC 2449, RFC 2595, RFC 5034, RFC 6856]:
// - States: AUTHORIZATION, then TRANSACTION once the credentials are right AND the maildrop (INBOX)
//   is locked and listed; UPDATE is QUIT in TRANSACTION: the session's DELEs, its retrievals
//   (\Seen, first-retrieval time) and the policy's expiry go to the store in one transaction.
//   A connection that ends any other way commits nothing; the lock guard releases the maildrop.
// - Message numbers are this session's: the list taken at login does not change, even when an
//   IMAP session expunges a message meanwhile (RETR of it then answers -ERR).
// - RETR and TOP stream the message from the store in kChunk pieces through a DotStuffer: a
//   50 MB message never sits in memory whole.
// - Every read is bounded (config limits) and timed (config timeouts.pop3). Only the read that waits
//   for a command is interruptible by a graceful shutdown; reads inside an AUTH exchange are not.
// - STLS: after "+OK Begin TLS negotiation" any plaintext the client pipelined is discarded (never
//   executed) by Connection::start_tls; then the session is back to a fresh AUTHORIZATION state.
// - All Errc -> reply text goes through proto::pop3::to_reply / maildrop_reply.
#include "server/pop3/pop3_session.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
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

// Bytes read from the store per step of RETR/TOP.
constexpr std::size_t kChunk = 128 * 1024;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "%08X" of a 32-bit value.
std::string hex8(uint32_t v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4) out[size_t(i)] = kHex[v & 0xf];
  return out;
}

// One message as this session numbers it.
struct Message {
  store::Uid uid = 0;
  uint64_t size = 0;
  std::string uidl;
  bool deleted = false;    // DELE in this session (RSET undoes it)
  bool retrieved = false;  // RETR in this session
  bool recorded = false;   // retrieved before and \Seen already: a RETR changes nothing in the store
};

// UIDLs [RFC 1939 §7]: 1-70 characters 0x21-0x7E, unique in the maildrop and the same in every
// session. Posthorn's: the first 32 hex digits of the content hash; a message whose bytes equal an
// earlier one's (an IMAP copy back into INBOX) gets ".<uid>" so the two stay apart. Dovecot's default
// pop3_uidl_format "%08Xu%08Xv" for migrated maildrops.
std::vector<Message> number_messages(const store::MaildropView& view, config::UidlFormat format) {
  std::vector<Message> out;
  out.reserve(view.messages.size());
  std::unordered_map<std::string, int> seen;
  for (const auto& m : view.messages) {
    Message msg{m.uid, m.size, {}};
    msg.recorded = m.retrieved_at > 0 && m.seen;
    if (format == config::UidlFormat::kDovecot) {
      msg.uidl = hex8(m.uid) + hex8(view.uid_validity);
    } else {
      msg.uidl = m.content_hash.substr(0, 32);
      if (seen[msg.uidl]++ > 0) msg.uidl += "." + std::to_string(m.uid);
    }
    out.push_back(std::move(msg));
  }
  return out;
}

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

  auth::AuthContext auth_context() const { return auth::context_for(conn_, ctx_.listener); }

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
      case net::ReadStatus::kEvicted: return p::kTooManyConnections;
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
      Outcome o = co_await on_quit();
      co_return o;
    }
    if (std::holds_alternative<p::Apop>(command)) {
      if (state_ != State::kAuthorization) co_return say(p::kAlreadyAuthenticated);
      co_return say(p::kApopNotSupported);  // no timestamp in the greeting [RFC 1939 §7]
    }
    if (std::holds_alternative<p::Utf8>(command)) {  // [RFC 6856 §2]
      if (state_ != State::kAuthorization) co_return say(p::kAlreadyAuthenticated);
      co_return say(p::kUtf8Enabled);
    }
    // Everything else needs the maildrop.
    if (state_ != State::kTransaction) co_return say(p::kNotAuthenticated);
    if (std::holds_alternative<p::Noop>(command)) co_return say(p::kNoop);
    if (std::holds_alternative<p::Rset>(command)) co_return on_rset();
    if (std::holds_alternative<p::Stat>(command)) co_return on_stat();
    if (const auto* c = std::get_if<p::List>(&command)) co_return on_list(c->message, false);
    if (const auto* c = std::get_if<p::Uidl>(&command)) co_return on_list(c->message, true);
    if (const auto* c = std::get_if<p::Dele>(&command)) co_return on_dele(c->message);
    if (const auto* c = std::get_if<p::Retr>(&command)) {
      Outcome o = co_await send_message(c->message, std::nullopt);
      co_return o;
    }
    const auto& top = std::get<p::Top>(command);
    Outcome o = co_await send_message(top.message, top.lines);
    co_return o;
  }

  // ---- TRANSACTION [RFC 1939 §5] ----

  // The message numbered n (1-based) that is not deleted, or the reply that says why not.
  struct Lookup {
    Message* message = nullptr;
    std::string_view error;
  };
  Lookup find(uint32_t n) {
    if (n == 0 || n > messages_.size()) return {nullptr, p::kNoSuchMessage};
    Message& m = messages_[n - 1];
    if (m.deleted) return {nullptr, p::kMessageDeleted};
    return {&m, {}};
  }

  Outcome on_stat() const {
    uint64_t count = 0;
    uint64_t octets = 0;
    for (const auto& m : messages_) {
      if (m.deleted) continue;
      ++count;
      octets += m.size;
    }
    return Outcome{p::ok(std::to_string(count) + " " + std::to_string(octets))};
  }

  // LIST / UIDL [RFC 1939 §5, §7]: one message, or every message not deleted.
  Outcome on_list(std::optional<uint32_t> n, bool uidl) {
    auto value = [uidl](const Message& m) { return uidl ? m.uidl : std::to_string(m.size); };
    if (n) {
      Lookup found = find(*n);
      if (found.message == nullptr) return say(found.error);
      return Outcome{p::ok(std::to_string(*n) + " " + value(*found.message))};
    }
    std::vector<std::string> lines;
    lines.reserve(messages_.size());
    for (size_t i = 0; i < messages_.size(); ++i) {
      if (!messages_[i].deleted) lines.push_back(std::to_string(i + 1) + " " + value(messages_[i]));
    }
    return Outcome{p::multiline(uidl ? "Unique-ID listing follows" : "Scan listing follows", lines)};
  }

  Outcome on_dele(uint32_t n) {
    Lookup found = find(n);
    if (found.message == nullptr) return say(found.error);
    found.message->deleted = true;
    return say(p::kMarkedDeleted);
  }

  Outcome on_rset() {
    for (auto& m : messages_) m.deleted = false;
    return Outcome{p::ok("Maildrop has " + std::to_string(messages_.size()) + " messages")};
  }

  // RETR n, or TOP n lines: streamed from the store, dot-stuffed as it goes. Once "+OK" is out a
  // failure cannot be reported in the protocol: the connection is closed instead (a client then
  // knows the listing is incomplete, and nothing is deleted).
  asio::awaitable<Outcome> send_message(uint32_t n, std::optional<uint64_t> top_lines) {
    Lookup found = find(n);
    if (found.message == nullptr) co_return say(found.error);
    const store::Uid uid = found.message->uid;
    auto open_task = inbox_->open_message(uid);
    auto opened = co_await std::move(open_task);
    if (!opened) co_return Outcome{p::maildrop_reply(opened.error())};
    std::unique_ptr<store::MessageBlob> blob = std::move(*opened);
    std::string out = top_lines ? std::string(p::ok("")) : p::ok(std::to_string(blob->size()) + " octets");
    p::DotStuffer stuffer(top_lines);
    const uint64_t size = blob->size();
    for (uint64_t offset = 0; offset < size && !stuffer.done(); offset += kChunk) {
      auto read_task = blob->read(offset, kChunk);
      auto chunk = co_await std::move(read_task);
      if (!chunk) {
        spdlog::error("conn={} pop3 reading message uid={} failed: {}", id(), uid, chunk.error().message);
        Outcome broken;
        broken.close = true;
        co_return broken;
      }
      stuffer.feed(*chunk, out);
      if (out.size() >= kChunk) {
        bool written = co_await conn_.write(out);
        if (!written) {
          Outcome gone;
          gone.close = true;
          co_return gone;
        }
        out.clear();
      }
    }
    stuffer.finish(out);
    out += ".\r\n";
    if (!top_lines) {
      // Looked up again: the message vector does not change during the session, the pointer would
      // do, but the index is what the rest of the session uses.
      messages_[n - 1].retrieved = true;
    }
    co_return Outcome{std::move(out)};
  }

  // QUIT: in TRANSACTION the UPDATE state [RFC 1939 §6] commits this session's changes at once.
  asio::awaitable<Outcome> on_quit() {
    Outcome o = say(p::kBye);
    o.close = true;
    if (state_ != State::kTransaction) co_return o;
    // The maildrop is free once the UPDATE is done, before the reply: a client that reconnects the
    // moment it reads "+OK" must not find it locked, on this node or another.
    Outcome done = co_await update_maildrop(std::move(o));
    if (lock_) {
      auto release_task = lock_->release();
      auto released = co_await std::move(release_task);
      if (!released) spdlog::warn("conn={} pop3 maildrop unlock: {}", id(), released.error().message);
      lock_.reset();
    }
    co_return done;
  }

  // The UPDATE state's changes [RFC 1939 §6]; `o` is the reply when they succeed.
  asio::awaitable<Outcome> update_maildrop(Outcome o) {
    store::MaildropUpdate update;
    update.now = unix_now();
    update.remove_deleted = policy_.kind == config::Pop3Policy::Kind::kDelete;
    if (policy_.kind == config::Pop3Policy::Kind::kKeep && policy_.keep_days > 0) {
      update.expire_retrieved_before = update.now - int64_t(policy_.keep_days) * 86400;
    }
    for (const auto& m : messages_) {
      if (m.deleted) update.deleted.push_back(m.uid);
      if (m.retrieved && !m.recorded) update.retrieved.push_back(m.uid);
    }
    // Nothing new to record (the common case of a client that leaves mail on the server and
    // fetches what it already has): no write at all.
    if (update.deleted.empty() && update.retrieved.empty()) co_return o;
    auto commit_task = inbox_->commit_maildrop(std::move(update));
    auto done = co_await std::move(commit_task);
    if (!done) {
      spdlog::error("conn={} pop3 UPDATE failed: {}", id(), done.error().message);
      o.reply = std::string(p::kNotRemoved);
      co_return o;
    }
    spdlog::info("conn={} pop3 user={} removed={} hidden={}", id(), principal_->address, done->removed.size(),
                 done->hidden.size());
    co_return o;
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
    Outcome o = co_await open_maildrop(*who, p::kLoggedIn);
    co_return o;
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
    Outcome o = co_await open_maildrop(step.principal, p::kAuthenticated);
    co_return o;
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

  // CAPA [RFC 2449 §5]. After login only the session-wide capabilities remain, and EXPIRE is the
  // user's own: before login it is the server's, marked USER because accounts may differ
  // [RFC 2449 §6.7]. DELE-then-QUIT is the client's choice under every policy; only keep:N makes
  // the server remove downloaded messages on its own, so that is the one with a number.
  Outcome on_capa() const {
    std::vector<std::string> caps;
    caps.emplace_back("TOP");
    caps.emplace_back("UIDL");
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
    const bool before_login = state_ == State::kAuthorization;
    const config::Pop3Policy& policy = before_login ? ctx_.config->pop3.policy : policy_;
    std::string expire = "EXPIRE ";
    expire += policy.kind == config::Pop3Policy::Kind::kKeep && policy.keep_days > 0 ? std::to_string(policy.keep_days)
                                                                                    : std::string("NEVER");
    if (before_login) expire += " USER";
    caps.push_back(std::move(expire));
    if (before_login) caps.emplace_back("UTF8 USER");  // [RFC 6856 §2]
    if (before_login && stls_offered()) caps.emplace_back("STLS");
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

  // After the credentials: lock the maildrop, list INBOX, apply the policy's expiry. On failure the
  // session stays in AUTHORIZATION [RFC 1939 §7: "-ERR ... unable to lock maildrop"].
  asio::awaitable<Outcome> open_maildrop(const auth::Principal& who, std::string_view welcome) {
    user_.reset();
    auto lock_task = ctx_.locks->try_lock(who.account);
    auto guard = co_await std::move(lock_task);
    if (!guard) {
      if (guard.error().code != Errc::kConflict) co_return Outcome{p::maildrop_reply(guard.error())};
      spdlog::info("conn={} pop3 user={} maildrop in use", id(), who.address);
      co_return say(p::kInUse);
    }
    auto account_task = ctx_.store->account(who.account, store::Limits{who.quota_bytes, 0});
    auto account = co_await std::move(account_task);
    if (!account) co_return Outcome{p::maildrop_reply(account.error())};
    auto open_task = (*account)->open("INBOX");
    auto inbox = co_await std::move(open_task);
    if (!inbox) co_return Outcome{p::maildrop_reply(inbox.error())};
    auto view_task = (*inbox)->maildrop();
    auto view = co_await std::move(view_task);
    if (!view) co_return Outcome{p::maildrop_reply(view.error())};
    policy_ = ctx_.config->pop3.policy;
    if (!view->pop3_policy.empty()) {
      if (auto own = config::parse_pop3_policy(view->pop3_policy)) {
        policy_ = *own;
      } else {
        spdlog::warn("conn={} pop3 user={} has an invalid POP3 policy {:?}; using the server's", id(), who.address,
                     view->pop3_policy);
      }
    }
    // keep:N: what was first downloaded more than N days ago goes now, before the listing.
    if (policy_.kind == config::Pop3Policy::Kind::kKeep && policy_.keep_days > 0) {
      const int64_t cutoff = unix_now() - int64_t(policy_.keep_days) * 86400;
      const size_t before = view->messages.size();
      std::erase_if(view->messages,
                    [cutoff](const store::MaildropEntry& m) { return m.retrieved_at > 0 && m.retrieved_at < cutoff; });
      if (view->messages.size() != before) {
        store::MaildropUpdate expire;
        expire.now = unix_now();
        expire.remove_deleted = false;
        expire.expire_retrieved_before = cutoff;
        auto expire_task = (*inbox)->commit_maildrop(std::move(expire));
        auto expired = co_await std::move(expire_task);
        if (!expired) co_return Outcome{p::maildrop_reply(expired.error())};
        spdlog::info("conn={} pop3 user={} expired {} messages (keep:{})", id(), who.address,
                     expired->removed.size(), policy_.keep_days);
      }
    }
    messages_ = number_messages(*view, ctx_.config->pop3.uidl_format);
    inbox_ = std::move(*inbox);
    lock_ = std::move(*guard);
    principal_ = who;
    state_ = State::kTransaction;
    conn_.exempt_from_eviction();
    co_return say(welcome);
  }

  net::Connection& conn_;
  Pop3Context& ctx_;
  State state_ = State::kAuthorization;
  std::optional<std::string> user_;  // from USER, waiting for PASS
  std::optional<auth::Principal> principal_;
  uint32_t commands_before_auth_ = 0;
  // TRANSACTION state: the locked maildrop.
  std::unique_ptr<store::MaildropLock> lock_;
  std::unique_ptr<store::Mailbox> inbox_;
  std::vector<Message> messages_;
  config::Pop3Policy policy_;
};

}  // namespace

asio::awaitable<void> run_session(net::Accepted accepted, Pop3Context ctx) {
  Session session(accepted.connection, ctx);
  co_await session.run(accepted.over_limit);
}

}  // namespace posthorn::server::pop3
