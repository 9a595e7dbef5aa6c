// POP3 reply formatting [RFC 1939 §3, RFC 2449 §8 response codes, RFC 3206 SYS/AUTH codes,
// RFC 5034 §4 continuations]: single-line "+OK"/"-ERR [CODE]" replies, multi-line replies with
// dot-stuffing and the "." terminator, and the one Errc -> wire mapping for POP3. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace posthorn::proto::pop3 {

// Extended response codes, sent in brackets after "-ERR " [RFC 2449 §8, RFC 3206].
enum class RespCode {
  kNone,
  kAuth,        // [AUTH]: the credentials are wrong or the mechanism is refused [RFC 3206 §5]
  kSysTemp,     // [SYS/TEMP]: a temporary system problem; try again later [RFC 3206 §4]
  kSysPerm,     // [SYS/PERM]: a permanent system problem [RFC 3206 §4]
  kInUse,       // [IN-USE]: the maildrop is locked [RFC 2449 §8.1.1]
  kLoginDelay,  // [LOGIN-DELAY] [RFC 2449 §8.1.2]
};
std::string_view resp_code_name(RespCode code);  // "AUTH", "SYS/TEMP", ... ("" for kNone)

// "+OK text\r\n" ("+OK\r\n" when text is empty).
std::string ok(std::string_view text);
// "-ERR [CODE] text\r\n" ("-ERR text\r\n" without a code).
std::string err(std::string_view text, RespCode code = RespCode::kNone);
// SASL continuation "+ <base64>\r\n"; an empty challenge is "+ \r\n" [RFC 5034 §4].
std::string continuation(std::string_view base64_text);
// A multi-line reply: "+OK first\r\n", each line dot-stuffed, then ".\r\n" [RFC 1939 §3].
// `lines` must not contain CR or LF.
std::string multiline(std::string_view first, const std::vector<std::string>& lines);

// Turns message text into the body of a multi-line reply [RFC 1939 §3]: every line ends in CRLF
// (a bare LF or a bare CR becomes CRLF; a final line without a newline gets one), and a line that
// begins with "." gets one more ".". The terminating ".\r\n" is not included. Empty input gives
// empty output.
std::string dot_stuff(std::string_view text);

// dot_stuff for text that arrives in pieces (RETR and TOP stream a message from storage, so a
// large message never sits in memory whole). Optionally stops after the header, the empty line
// and `body_lines` lines of the body (TOP [RFC 1939 §7]). Not thread-safe; one per reply.
class DotStuffer {
 public:
  explicit DotStuffer(std::optional<uint64_t> body_lines = std::nullopt) : body_lines_(body_lines) {}

  // Appends the wire form of `piece` to `out`. Returns false once the TOP limit is reached: the
  // rest of the text is not wanted (further pieces are ignored).
  bool feed(std::string_view piece, std::string& out);
  // Ends the text: completes a last line that has no line end.
  void finish(std::string& out);
  bool done() const { return done_; }

 private:
  void end_line(std::string& out);

  std::optional<uint64_t> body_lines_;
  bool line_start_ = true;
  bool pending_cr_ = false;   // a CR was written; its LF is not seen yet
  bool in_body_ = false;
  bool line_empty_ = true;    // the current line has no characters yet
  uint64_t body_seen_ = 0;
  bool done_ = false;
};

// The single mapping from a domain error to a POP3 reply line (with CRLF) [DESIGN.md §5]:
//   kDenied "encryption required" -> "-ERR [AUTH] Encryption required"
//   kDenied       -> "-ERR [AUTH] Authentication failed"
//   kUnavailable  -> "-ERR [SYS/TEMP] Temporary failure, try again later"
//   kInvalid      -> "-ERR Malformed authentication exchange"
//   kNotFound     -> "-ERR Unsupported authentication mechanism"
//   kInternal and the rest -> "-ERR [SYS/TEMP] Internal error, try again later" (never the detail)
std::string to_reply(const Error& error);

// The mapping from a mail store error to a POP3 reply line in TRANSACTION (and when opening the
// maildrop) [DESIGN.md §5]:
//   kNotFound    -> "-ERR Message was removed by another session" (expunged over IMAP meanwhile)
//   kUnavailable -> "-ERR [SYS/TEMP] Mail storage temporarily unavailable"
//   the rest     -> "-ERR [SYS/TEMP] Internal error, try again later" (never the detail)
std::string maildrop_reply(const Error& error);

// Fixed replies, with CRLF.
inline constexpr std::string_view kGreeting = "+OK Posthorn POP3 ready.\r\n";
inline constexpr std::string_view kUnknownCommand = "-ERR Unknown command\r\n";
inline constexpr std::string_view kNotAuthenticated = "-ERR Not authenticated\r\n";
inline constexpr std::string_view kAlreadyAuthenticated = "-ERR Already authenticated\r\n";
inline constexpr std::string_view kApopNotSupported = "-ERR APOP not supported\r\n";
inline constexpr std::string_view kPassWithoutUser = "-ERR USER first\r\n";
inline constexpr std::string_view kUserAccepted = "+OK Send PASS\r\n";
inline constexpr std::string_view kLoggedIn = "+OK Logged in.\r\n";
inline constexpr std::string_view kAuthenticated = "+OK Authenticated\r\n";
inline constexpr std::string_view kAuthFailed = "-ERR [AUTH] Authentication failed\r\n";
inline constexpr std::string_view kEncryptionRequired = "-ERR [AUTH] Encryption required\r\n";
inline constexpr std::string_view kAuthCancelled = "-ERR Authentication cancelled\r\n";
inline constexpr std::string_view kInvalidBase64 = "-ERR Invalid base64 data\r\n";
inline constexpr std::string_view kBeginTls = "+OK Begin TLS negotiation\r\n";
inline constexpr std::string_view kTlsNotAvailable = "-ERR STLS not available\r\n";
inline constexpr std::string_view kNoop = "+OK\r\n";
inline constexpr std::string_view kInUse = "-ERR [IN-USE] Maildrop is locked by another session\r\n";
inline constexpr std::string_view kNoSuchMessage = "-ERR No such message\r\n";
inline constexpr std::string_view kMessageDeleted = "-ERR Message is deleted\r\n";
inline constexpr std::string_view kMarkedDeleted = "+OK Marked to be deleted\r\n";
inline constexpr std::string_view kNotRemoved = "-ERR [SYS/TEMP] Some deleted messages not removed\r\n";
inline constexpr std::string_view kUtf8Enabled = "+OK UTF8 enabled\r\n";
inline constexpr std::string_view kBye = "+OK Bye\r\n";
inline constexpr std::string_view kLineTooLong = "-ERR Line too long\r\n";
inline constexpr std::string_view kAutologout = "-ERR Autologout; idle for too long\r\n";
inline constexpr std::string_view kShuttingDown = "-ERR [SYS/TEMP] Server shutting down\r\n";
inline constexpr std::string_view kTooManyConnections = "-ERR [SYS/TEMP] Too many connections\r\n";
inline constexpr std::string_view kTooManyCommands = "-ERR Too many commands before authentication\r\n";

}  // namespace posthorn::proto::pop3
