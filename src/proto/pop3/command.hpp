// POP3 command grammar [RFC 1939, RFC 2449, RFC 2595, RFC 5034]: one command line (without its CRLF)
// in, a typed command or an error out. Pure: no sockets, no storage, no Asio. Thread-safe (no state).
//
// Limits [RFC 2449 §4]: keywords are at most 4 characters; a command line is at most 255 octets
// including CRLF, except PASS (the password may be long and contain spaces) and AUTH (an initial
// response can be long [RFC 5034 §4]); plain arguments are at most 40 characters. USER is the one
// exception to the 40-character rule: addresses longer than 40 characters are common and rejecting
// them would lock real users out, so USER is bounded by the 255-octet line only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "base/result.hpp"

namespace posthorn::proto::pop3 {

inline constexpr size_t kMaxKeywordLength = 4;     // [RFC 2449 §4]
inline constexpr size_t kMaxArgumentLength = 40;   // [RFC 2449 §4]
inline constexpr size_t kMaxCommandLine = 255 - 2; // 255 octets including CRLF [RFC 2449 §4]
inline constexpr size_t kMaxMechanismLength = 20;  // SASL mechanism names [RFC 4422 §3.1]

// USER name [RFC 1939 §7]
struct User {
  std::string name;
  bool operator==(const User&) const = default;
};
// PASS string: everything after "PASS ", spaces included [RFC 1939 §7]
struct Pass {
  std::string password;
  bool operator==(const Pass&) const = default;
};
// AUTH [mechanism [initial-response]] [RFC 5034 §4]. No mechanism: the client asks for the list
// (de-facto extension used by Outlook and others). The initial response arrives decoded; "=" on the
// wire is an empty initial response.
struct Auth {
  std::optional<std::string> mechanism;  // upper-cased
  std::optional<std::string> initial_response;
  bool operator==(const Auth&) const = default;
};
struct Capa {  // [RFC 2449 §5]
  bool operator==(const Capa&) const = default;
};
struct Stls {  // [RFC 2595 §4]
  bool operator==(const Stls&) const = default;
};
struct Quit {
  bool operator==(const Quit&) const = default;
};
struct Noop {
  bool operator==(const Noop&) const = default;
};
struct Rset {
  bool operator==(const Rset&) const = default;
};
// STAT, LIST, RETR, DELE, TOP, UIDL, APOP: recognised, but they belong to the maildrop stage that
// comes later; the session answers them honestly as not implemented. Arguments are only checked
// against the RFC 2449 length limits here.
struct NotInThisStage {
  std::string keyword;    // upper-cased: "STAT", "RETR", ...
  std::string arguments;  // the rest of the line after the keyword and one space, verbatim
  bool operator==(const NotInThisStage&) const = default;
};

using Command = std::variant<User, Pass, Auth, Capa, Stls, Quit, Noop, Rset, NotInThisStage>;

// Parses one command line (CRLF already stripped). Errors:
//   Errc::kNotFound  unknown or empty keyword (reply "-ERR Unknown command")
//   Errc::kInvalid   known keyword with bad arguments or an overlong line; the message is client-safe
Result<Command> parse_command(std::string_view line);

// The upper-cased keyword of a command, for logs.
std::string_view keyword(const Command& command);

}  // namespace posthorn::proto::pop3
