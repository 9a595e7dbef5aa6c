// SMTP/LMTP command grammar [RFC 5321 §4.1, RFC 4954 §4, RFC 3207 §4, RFC 2033 §4.1]: one command
// line (without its CRLF) in, a typed Command or a SyntaxError carrying the reply to send out. Verbs
// are case-insensitive. MAIL, RCPT and BDAT carry their typed envelope arguments (envelope.hpp);
// ETRN is recognised but not implemented: it parses to Deferred with its raw arguments.
// Pure: no sockets, no Asio, no storage. Thread-safe.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "proto/smtp/envelope.hpp"
#include "proto/smtp/reply.hpp"

namespace posthorn::proto::smtp {

enum class Verb { kEhlo, kHelo, kLhlo, kStartTls, kAuth, kRset, kNoop, kQuit, kHelp, kVrfy, kExpn,
                  kMail, kRcpt, kData, kBdat, kEtrn };
std::string_view verb_name(Verb verb);

// EHLO / HELO / LHLO <domain or address literal> [RFC 5321 §4.1.1.1, RFC 2033 §4.1]
struct Hello {
  Verb verb = Verb::kEhlo;  // kEhlo, kHelo or kLhlo
  std::string domain;       // as sent (a domain, or an address literal with its brackets)
};
// STARTTLS [RFC 3207 §4]
struct StartTls {};
// AUTH <mechanism> [initial-response] [RFC 4954 §4]
struct Auth {
  std::string mechanism;                        // upper-cased
  std::optional<std::string> initial_response;  // still base64; "=" is an empty response
};
struct Rset {};
struct Noop {};
struct Quit {};
struct Help {
  std::string topic;  // may be empty
};
struct Vrfy {
  std::string argument;
};
struct Expn {
  std::string argument;
};
// DATA [RFC 5321 §4.1.1.4]; MailFrom, RcptTo and Bdat are in envelope.hpp.
struct Data {};
// ETRN: a known verb that Posthorn does not implement.
struct Deferred {
  Verb verb = Verb::kEtrn;
  std::string arguments;  // everything after the verb and its space
};

using Command = std::variant<Hello, StartTls, Auth, Rset, Noop, Quit, Help, Vrfy, Expn, MailFrom, RcptTo, Data,
                             Bdat, Deferred>;
Verb verb_of(const Command& command);

// Why a line did not parse: the reply to send (500 5.5.2 unknown verb, 501 5.5.4 bad arguments...)
// and the text to send with it.
struct SyntaxError {
  Reply reply;
  std::string text;
};

using ParseResult = boost::system::result<Command, SyntaxError>;

// Parses one command line (CRLF already stripped). Trailing spaces are ignored.
ParseResult parse_command(std::string_view line);

// Domain [RFC 5321 §4.1.2]: dot-separated labels of letters, digits and hyphens (underscores and
// UTF-8 octets tolerated, as real clients send them), no empty label, no leading or trailing hyphen.
bool is_domain(std::string_view s);
// address-literal [RFC 5321 §4.1.3]: "[1.2.3.4]", "[IPv6:...]" or "[tag:content]".
bool is_address_literal(std::string_view s);

// boost::system::result needs this to report a value() call on an error (a bug).
[[noreturn]] void throw_exception_from_error(const SyntaxError& error, const boost::source_location& loc);

}  // namespace posthorn::proto::smtp
