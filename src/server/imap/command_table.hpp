// The IMAP command table: one entry per command the parser knows (Command::name, with "UID FETCH"
// etc. for the UID forms), naming the session states it is allowed in [RFC 9051 §3, §6], its flags
// and its handler. Session::dispatch reads it for the state checks (and their BAD/NO replies), the
// read-only refusal, the §7.5.1 rule on EXPUNGE after a command by sequence number, and the call.
//
// Adding a command: teach proto/imap its syntax (a CommandArgs alternative), write the handler in
// the cmd_<family>.cpp it belongs to, and add one entry (with a small adapter) in command_table.cpp.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proto/imap/command.hpp"

namespace posthorn::server::imap {

class Session;

enum class Flow { kContinue, kClose };

// The session states [RFC 9051 §3]. The logout state runs no command: LOGOUT's handler says BYE and
// the session ends, so no entry lists it.
enum class SessionState : uint8_t { kNotAuthenticated = 1, kAuthenticated = 2, kSelected = 4 };
using StateSet = uint8_t;
inline constexpr StateSet kPreAuth = static_cast<StateSet>(SessionState::kNotAuthenticated);
inline constexpr StateSet kSelectedOnly = static_cast<StateSet>(SessionState::kSelected);
inline constexpr StateSet kAfterAuth =
    static_cast<StateSet>(SessionState::kAuthenticated) | static_cast<StateSet>(SessionState::kSelected);
inline constexpr StateSet kAnyState = kPreAuth | kAfterAuth;

// Command flags (a bit set).
namespace cmdflag {
// Changes neither the session state, the selection nor which messages exist, and causes no EXPUNGE:
// a client may pipeline it with others [RFC 9051 §5.5]. The session runs one command at a time; the
// flag documents which commands a parallel executor could overlap.
inline constexpr uint16_t kParallel = 1 << 0;
// The UID form of a command: numbers are UIDs, and EXPUNGE may be sent at its end [RFC 9051 §7.5.1].
inline constexpr uint16_t kUid = 1 << 1;
// Works by message sequence number, and no EXPUNGE may be sent at its end (FETCH, STORE, SEARCH
// [RFC 9051 §7.5.1], and SORT/THREAD, which answer like SEARCH [RFC 5256]). Expunges of other
// sessions are held back until a command without this flag.
inline constexpr uint16_t kBySequence = 1 << 2;
// Changes the selected mailbox: refused with NO [READ-ONLY] when it was opened by EXAMINE.
inline constexpr uint16_t kReadWrite = 1 << 3;
}  // namespace cmdflag

// A handler gets the session and the parsed command (its args are the alternative the entry's name
// parses to). A tagged handler returns its tagged reply; the core then brings the selected mailbox
// up to date and sends it. A direct handler sends everything itself (LOGIN, IDLE, LOGOUT ...).
using TaggedHandler = boost::asio::awaitable<std::string> (*)(Session&, proto::imap::Command&);
using DirectHandler = boost::asio::awaitable<Flow> (*)(Session&, proto::imap::Command&);

struct CommandEntry {
  std::string_view name;  // as Command::name: upper case, "UID FETCH" for the UID forms
  StateSet states = 0;    // where it is allowed
  uint16_t flags = 0;     // cmdflag bits
  TaggedHandler tagged = nullptr;  // exactly one of tagged, direct
  DirectHandler direct = nullptr;
  // The BAD text when a pre-login command comes after login (LOGIN: "Already authenticated").
  std::string_view after_login = {};

  bool allows(SessionState s) const { return (states & static_cast<StateSet>(s)) != 0; }
  bool has(uint16_t flag) const { return (flags & flag) != 0; }
  // Allowed only with a mailbox selected (answered "No mailbox selected" in the authenticated state).
  bool needs_selection() const { return states == kSelectedOnly; }
  // Needs the account's mail store: a tagged command of the authenticated states.
  bool needs_store() const { return tagged != nullptr && !allows(SessionState::kNotAuthenticated); }
};

inline constexpr std::string_view kNotAvailable = "Unknown command or not available";
inline constexpr std::string_view kNoMailboxSelected = "No mailbox selected";
inline constexpr std::string_view kAlreadyAuthenticated = "Already authenticated";
inline constexpr std::string_view kStartTlsNotAvailable = "STARTTLS not available";

// Every entry, in no particular order.
std::span<const CommandEntry> command_table();
// The entry named `name` (Command::name), or nullptr for a command the server does not implement.
const CommandEntry* find_command(std::string_view name);
// The BAD text for `entry` (nullptr: an unknown command) in `state`, or empty when it is allowed.
// The "mail store not available" NO comes first for commands that need the store (Session::dispatch).
std::string_view refusal(const CommandEntry* entry, SessionState state);

}  // namespace posthorn::server::imap
