// IMAP command parser: one assembled command (CommandAssembler::take()) in, a typed Command or a
// SyntaxError out [RFC 9051 §6, §9]. This stage knows the any-state and not-authenticated commands
// (CAPABILITY, NOOP, LOGOUT, STARTTLS, AUTHENTICATE, LOGIN); every other well-formed command comes back
// as Unknown carrying its name, so the session can answer honestly. Pure; thread-safe.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace posthorn::proto::imap {

// CAPABILITY [RFC 9051 §6.1.1]
struct Capability {};
// NOOP [RFC 9051 §6.1.2]
struct Noop {};
// LOGOUT [RFC 9051 §6.1.3]
struct Logout {};
// STARTTLS [RFC 9051 §6.2.1]
struct StartTls {};
// AUTHENTICATE <mechanism> [initial-response] [RFC 9051 §6.2.2, RFC 4959 SASL-IR]
struct Authenticate {
  std::string mechanism;                        // upper-cased
  std::optional<std::string> initial_response;  // decoded; "=" on the wire is an empty response
};
// LOGIN <userid> <password> (astrings) [RFC 9051 §6.2.3]
struct Login {
  std::string userid;
  std::string password;
};
// A syntactically plausible command this stage does not implement (SELECT, LIST, UID, ...).
struct Unknown {
  std::string name;  // upper-cased
};

using CommandArgs = std::variant<Capability, Noop, Logout, StartTls, Authenticate, Login, Unknown>;

struct Command {
  std::string tag;
  std::string name;  // upper-cased command name
  CommandArgs args;
};

// A command that does not parse. tag is set when a valid tag was read, so the reply can be
// "<tag> BAD <message>"; otherwise it is "* BAD <message>" [RFC 9051 §7.1.5].
struct SyntaxError {
  std::optional<std::string> tag;
  std::string message;  // client-safe text
  bool operator==(const SyntaxError&) const = default;
};

// Thrown only by ParseResult::value() on an error: a bug (the caller did not check).
class SyntaxErrorException : public std::runtime_error {
 public:
  explicit SyntaxErrorException(const SyntaxError& e) : std::runtime_error(e.message) {}
};
[[noreturn]] inline void throw_exception_from_error(const SyntaxError& e, const boost::source_location&) {
  throw SyntaxErrorException(e);
}

using ParseResult = boost::system::result<Command, SyntaxError>;

// Parses one command in wire form without its final CRLF (literals inline, see reader.hpp).
ParseResult parse_command(std::string_view text);

}  // namespace posthorn::proto::imap
