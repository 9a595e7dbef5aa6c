// POP3 command grammar [RFC 1939, RFC 2449, RFC 2595, RFC 5034]: one command line (without its CRLF)
// in, a typed command or an error out. Pure: no sockets, no storage, no Asio. Thread-safe (no state).
//
// Limits [RFC 2449 §4]: keywords are at most 4 characters; a command line is at most 255 octets
// including CRLF, except PASS (the password may be long and contain spaces) and AUTH (an initial
// response can be long [RFC 5034 §4]); plain arguments are at most 40 characters. USER is the one
// exception to the 40-character rule: addresses longer than 40 characters are common and rejecting
// them would lock real users out, so USER is bounded by the 255-octet line only.
#pragma once

#include <cstdint>
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
// The maildrop commands [RFC 1939 §5, §7]. Message numbers are decimal, at most 9 digits (a
// number beyond the maildrop gets "no such message" from the session).
struct Stat {
  bool operator==(const Stat&) const = default;
};
struct List {
  std::optional<uint32_t> message;
  bool operator==(const List&) const = default;
};
struct Retr {
  uint32_t message = 0;
  bool operator==(const Retr&) const = default;
};
struct Dele {
  uint32_t message = 0;
  bool operator==(const Dele&) const = default;
};
struct Top {
  uint32_t message = 0;
  uint64_t lines = 0;
  bool operator==(const Top&) const = default;
};
struct Uidl {
  std::optional<uint32_t> message;
  bool operator==(const Uidl&) const = default;
};
// APOP is recognised only to be refused: it needs plaintext passwords on the server [RFC 1939 §7].
struct Apop {
  bool operator==(const Apop&) const = default;
};
// UTF8 [RFC 6856 §2]
struct Utf8 {
  bool operator==(const Utf8&) const = default;
};

using Command = std::variant<User, Pass, Auth, Capa, Stls, Quit, Noop, Rset, Stat, List, Retr, Dele, Top, Uidl,
                             Apop, Utf8>;

// Parses one command line (CRLF already stripped). Errors:
//   Errc::kNotFound  unknown or empty keyword (reply "-ERR Unknown command")
//   Errc::kInvalid   known keyword with bad arguments or an overlong line; the message is client-safe
Result<Command> parse_command(std::string_view line);

// The upper-cased keyword of a command, for logs.
std::string_view keyword(const Command& command);

}  // namespace posthorn::proto::pop3
