// The IMAP command table (see command_table.hpp) and the adapters from a parsed Command to the
// handlers in the cmd_*.cpp files.
#include "server/imap/command_table.hpp"

#include <variant>

#include "proto/imap/response.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

// A friend of Session: unpacks each command's arguments and calls its handler.
struct CommandHandlers {
  using Cmd = pi::Command;

  // --- any state (imap_session.cpp)
  static asio::awaitable<Flow> capability(Session& s, Cmd& c) {
    auto flow = co_await s.reply(pi::untagged_data("CAPABILITY " + s.capabilities()) +
                                 pi::tagged(c.tag, Status::kOk, "CAPABILITY completed"));
    co_return flow;
  }
  static asio::awaitable<Flow> logout(Session& s, Cmd& c) {
    co_await s.send(pi::untagged(Status::kBye, "Logging out") + pi::tagged(c.tag, Status::kOk, "LOGOUT completed"));
    co_return Flow::kClose;
  }
  static asio::awaitable<std::string> noop(Session&, Cmd& c) {
    co_return pi::tagged(c.tag, Status::kOk, "NOOP completed");
  }
  static asio::awaitable<std::string> id(Session& s, Cmd& c) {
    auto r = co_await s.cmd_id(c.tag, std::get<pi::Id>(c.args));
    co_return r;
  }

  // --- not authenticated (imap_session.cpp)
  static asio::awaitable<Flow> starttls(Session& s, Cmd& c) {
    auto flow = co_await s.starttls(c.tag);
    co_return flow;
  }
  static asio::awaitable<Flow> login(Session& s, Cmd& c) {
    auto flow = co_await s.do_login(c.tag, std::get<pi::Login>(c.args));
    co_return flow;
  }
  static asio::awaitable<Flow> authenticate(Session& s, Cmd& c) {
    auto flow = co_await s.do_authenticate(c.tag, std::get<pi::Authenticate>(c.args));
    co_return flow;
  }

  // --- authenticated
  static asio::awaitable<Flow> idle(Session& s, Cmd& c) {
    auto flow = co_await s.cmd_idle(c.tag);
    co_return flow;
  }
  static asio::awaitable<Flow> compress(Session& s, Cmd& c) {
    auto flow = co_await s.cmd_compress(c.tag, std::get<pi::Compress>(c.args));
    co_return flow;
  }
  static asio::awaitable<std::string> enable(Session& s, Cmd& c) {
    co_return s.cmd_enable(c.tag, std::get<pi::Enable>(c.args));
  }
  static asio::awaitable<std::string> namespace_(Session& s, Cmd& c) {
    auto r = co_await s.cmd_namespace(c.tag);
    co_return r;
  }
  static asio::awaitable<std::string> create(Session& s, Cmd& c) {
    auto r = co_await s.cmd_create(c.tag, std::get<pi::Create>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> delete_(Session& s, Cmd& c) {
    auto r = co_await s.cmd_delete(c.tag, std::get<pi::Delete>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> rename(Session& s, Cmd& c) {
    auto r = co_await s.cmd_rename(c.tag, std::get<pi::Rename>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> subscribe(Session& s, Cmd& c) {
    auto r = co_await s.cmd_subscribe(c.tag, std::get<pi::Subscribe>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> list(Session& s, Cmd& c) {
    auto r = co_await s.cmd_list(c.tag, std::get<pi::List>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> status(Session& s, Cmd& c) {
    auto r = co_await s.cmd_status(c.tag, std::get<pi::StatusCmd>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> append(Session& s, Cmd& c) {
    auto r = co_await s.cmd_append(c.tag, std::get<pi::Append>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> select(Session& s, Cmd& c) {
    auto r = co_await s.cmd_select(c.tag, std::get<pi::Select>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> getquota(Session& s, Cmd& c) {
    auto r = co_await s.cmd_getquota(c.tag, std::get<pi::GetQuota>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> getquotaroot(Session& s, Cmd& c) {
    auto r = co_await s.cmd_getquotaroot(c.tag, std::get<pi::GetQuotaRoot>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> setquota(Session& s, Cmd& c) { co_return s.cmd_setquota(c.tag); }
  static asio::awaitable<std::string> unauthenticate(Session& s, Cmd& c) {
    s.on_unauthenticated();
    s.assembler_.set_options(s.assembler_limits());
    co_return pi::tagged(c.tag, Status::kOk, "UNAUTHENTICATE completed");
  }

  // --- selected
  static asio::awaitable<std::string> check(Session&, Cmd& c) {
    co_return pi::tagged(c.tag, Status::kOk, "CHECK completed");
  }
  static asio::awaitable<std::string> close(Session& s, Cmd& c) {
    auto r = co_await s.cmd_close(c.tag, true);
    co_return r;
  }
  static asio::awaitable<std::string> unselect(Session& s, Cmd& c) {
    auto r = co_await s.cmd_close(c.tag, false);
    co_return r;
  }
  static asio::awaitable<std::string> expunge(Session& s, Cmd& c) {
    auto r = co_await s.cmd_expunge(c.tag, std::get<pi::Expunge>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> fetch(Session& s, Cmd& c) {
    auto r = co_await s.cmd_fetch(c.tag, std::get<pi::Fetch>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> store(Session& s, Cmd& c) {
    auto r = co_await s.cmd_store(c.tag, std::get<pi::Store>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> copy(Session& s, Cmd& c) {
    auto r = co_await s.cmd_copy(c.tag, std::get<pi::Copy>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> replace(Session& s, Cmd& c) {
    auto r = co_await s.cmd_replace(c.tag, std::get<pi::Replace>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> search(Session& s, Cmd& c) {
    auto r = co_await s.cmd_search(c.tag, c.name, std::get<pi::Search>(c.args));
    co_return r;
  }
  static asio::awaitable<std::string> cancel_update(Session& s, Cmd& c) {
    co_return s.cmd_cancel_update(c.tag, std::get<pi::CancelUpdate>(c.args));
  }
};

namespace {

using namespace cmdflag;
using H = CommandHandlers;

constexpr CommandEntry tagged(std::string_view name, StateSet states, uint16_t flags, TaggedHandler h) {
  return CommandEntry{.name = name, .states = states, .flags = flags, .tagged = h};
}
constexpr CommandEntry direct(std::string_view name, StateSet states, uint16_t flags, DirectHandler h,
                              std::string_view after_login = {}) {
  return CommandEntry{.name = name, .states = states, .flags = flags, .direct = h, .after_login = after_login};
}

const CommandEntry kCommands[] = {
    // Any state [RFC 9051 §6.1]; ID [RFC 2971].
    direct("CAPABILITY", kAnyState, kParallel, &H::capability),
    tagged("NOOP", kAnyState, kParallel, &H::noop),
    direct("LOGOUT", kAnyState, 0, &H::logout),
    tagged("ID", kAnyState, kParallel, &H::id),
    // Not authenticated [RFC 9051 §6.2].
    direct("STARTTLS", kPreAuth, 0, &H::starttls, kStartTlsNotAvailable),
    direct("AUTHENTICATE", kPreAuth, 0, &H::authenticate, kAlreadyAuthenticated),
    direct("LOGIN", kPreAuth, 0, &H::login, kAlreadyAuthenticated),
    // Authenticated [RFC 9051 §6.3] and the extensions of that state.
    tagged("ENABLE", kAfterAuth, 0, &H::enable),
    tagged("SELECT", kAfterAuth, 0, &H::select),
    tagged("EXAMINE", kAfterAuth, 0, &H::select),
    tagged("NAMESPACE", kAfterAuth, kParallel, &H::namespace_),
    tagged("CREATE", kAfterAuth, 0, &H::create),
    tagged("DELETE", kAfterAuth, 0, &H::delete_),
    tagged("RENAME", kAfterAuth, 0, &H::rename),
    tagged("SUBSCRIBE", kAfterAuth, 0, &H::subscribe),
    tagged("UNSUBSCRIBE", kAfterAuth, 0, &H::subscribe),
    tagged("LIST", kAfterAuth, kParallel, &H::list),
    tagged("LSUB", kAfterAuth, kParallel, &H::list),
    tagged("STATUS", kAfterAuth, kParallel, &H::status),
    tagged("APPEND", kAfterAuth, 0, &H::append),
    direct("IDLE", kAfterAuth, 0, &H::idle),
    tagged("GETQUOTA", kAfterAuth, kParallel, &H::getquota),
    tagged("GETQUOTAROOT", kAfterAuth, kParallel, &H::getquotaroot),
    tagged("SETQUOTA", kAfterAuth, 0, &H::setquota),
    direct("COMPRESS", kAfterAuth, 0, &H::compress),
    tagged("UNAUTHENTICATE", kAfterAuth, 0, &H::unauthenticate),
    // Selected [RFC 9051 §6.4] and the extensions of that state.
    tagged("CHECK", kSelectedOnly, kParallel, &H::check),
    tagged("CLOSE", kSelectedOnly, 0, &H::close),
    tagged("UNSELECT", kSelectedOnly, 0, &H::unselect),
    tagged("EXPUNGE", kSelectedOnly, kReadWrite, &H::expunge),
    tagged("UID EXPUNGE", kSelectedOnly, kUid | kReadWrite, &H::expunge),
    tagged("FETCH", kSelectedOnly, kBySequence | kParallel, &H::fetch),
    tagged("UID FETCH", kSelectedOnly, kUid, &H::fetch),
    tagged("STORE", kSelectedOnly, kBySequence | kReadWrite, &H::store),
    tagged("UID STORE", kSelectedOnly, kUid | kReadWrite, &H::store),
    tagged("COPY", kSelectedOnly, 0, &H::copy),
    tagged("UID COPY", kSelectedOnly, kUid, &H::copy),
    tagged("MOVE", kSelectedOnly, kReadWrite, &H::copy),
    tagged("UID MOVE", kSelectedOnly, kUid | kReadWrite, &H::copy),
    tagged("REPLACE", kSelectedOnly, kReadWrite, &H::replace),
    tagged("UID REPLACE", kSelectedOnly, kUid | kReadWrite, &H::replace),
    tagged("SEARCH", kSelectedOnly, kBySequence | kParallel, &H::search),
    tagged("UID SEARCH", kSelectedOnly, kUid, &H::search),
    tagged("SORT", kSelectedOnly, kBySequence | kParallel, &H::search),
    tagged("UID SORT", kSelectedOnly, kUid, &H::search),
    tagged("THREAD", kSelectedOnly, kBySequence | kParallel, &H::search),
    tagged("UID THREAD", kSelectedOnly, kUid, &H::search),
    tagged("CANCELUPDATE", kSelectedOnly, 0, &H::cancel_update),
};

}  // namespace

std::span<const CommandEntry> command_table() { return kCommands; }

const CommandEntry* find_command(std::string_view name) {
  for (const auto& entry : kCommands) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

std::string_view refusal(const CommandEntry* entry, SessionState state) {
  if (entry == nullptr) return kNotAvailable;
  if (entry->allows(state)) return {};
  if (state == SessionState::kNotAuthenticated) return kNotAvailable;
  if (entry->needs_selection()) return kNoMailboxSelected;
  if (!entry->after_login.empty()) return entry->after_login;
  return kNotAvailable;
}

}  // namespace posthorn::server::imap
