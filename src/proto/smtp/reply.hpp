// SMTP reply codes [RFC 5321 §4.2] with enhanced status codes [RFC 2034, RFC 3463], the reply
// formatters (single and multiline) and the mappings from Errc to an SMTP reply: one for AUTH, one
// for everything a mail transaction asks of the directory, the store and the queue.
// Pure: no sockets, no Asio, no storage. Constants are immutable; every function is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace posthorn::proto::smtp {

// One reply: the three-digit code, the enhanced status code ("2.0.0"; empty where RFC 2034 §3 forbids
// it: the greeting and the EHLO/HELO/LHLO replies) and the default text.
struct Reply {
  uint16_t code = 0;
  std::string_view status;
  std::string_view text;
};

inline constexpr Reply kC211SystemStatus{211, "2.0.0", "System status"};
inline constexpr Reply kC214Help{214, "2.0.0",
                                 "Commands: EHLO HELO STARTTLS AUTH NOOP RSET VRFY HELP QUIT"};
inline constexpr Reply kC220ServiceReady{220, "", "ESMTP Posthorn"};
inline constexpr Reply kC220ReadyToStartTls{220, "2.0.0", "Ready to start TLS"};
inline constexpr Reply kC221Bye{221, "2.0.0", "Bye"};
inline constexpr Reply kC235AuthOk{235, "2.7.0", "Authentication successful"};
inline constexpr Reply kC250Ok{250, "2.0.0", "Ok"};
inline constexpr Reply kC252CannotVerify{252, "2.5.0",
                                         "Cannot VRFY user, but will accept message and attempt delivery"};
inline constexpr Reply kC334AuthContinue{334, "", ""};
inline constexpr Reply kC421ServiceUnavailable{421, "4.3.0", "Service not available, closing channel"};
inline constexpr Reply kC421ShuttingDown{421, "4.3.2", "Shutting down"};
inline constexpr Reply kC421Timeout{421, "4.4.2", "Timeout"};
inline constexpr Reply kC421TooManyErrors{421, "4.7.0", "Too many errors"};
inline constexpr Reply kC421TooManyConnections{421, "4.7.0", "Too many connections"};
inline constexpr Reply kC421TooManyCommands{421, "4.7.0", "Too many commands before authentication"};
inline constexpr Reply kC454TempAuthFailure{454, "4.7.0", "Temporary authentication failure"};
inline constexpr Reply kC454TlsNotAvailable{454, "4.7.0", "TLS not available due to temporary reason"};
inline constexpr Reply kC500SyntaxError{500, "5.5.2", "Syntax error, command unrecognized"};
inline constexpr Reply kC500LineTooLong{500, "5.5.6", "Line too long"};
inline constexpr Reply kC501ArgSyntax{501, "5.5.4", "Syntax error in parameters or arguments"};
inline constexpr Reply kC501Base64{501, "5.5.2", "Cannot decode base64 response"};
inline constexpr Reply kC501AuthCancelled{501, "5.7.0", "Authentication cancelled"};
inline constexpr Reply kC502NotImplemented{502, "5.5.1", "Command not implemented"};
inline constexpr Reply kC503BadSequence{503, "5.5.1", "Bad sequence of commands"};
inline constexpr Reply kC504MechUnsupported{504, "5.5.4", "Unrecognized authentication mechanism"};
inline constexpr Reply kC530AuthRequired{530, "5.7.0", "Authentication required"};
inline constexpr Reply kC535AuthFailed{535, "5.7.8", "Authentication credentials invalid"};
inline constexpr Reply kC538EncryptionRequired{538, "5.7.11",
                                               "Encryption required for requested authentication mechanism"};

// The mail transaction [RFC 5321 §4.1.1.2-4, RFC 3030, RFC 3463].
inline constexpr Reply kC250SenderOk{250, "2.1.0", "Sender ok"};
inline constexpr Reply kC250RecipientOk{250, "2.1.5", "Recipient ok"};
inline constexpr Reply kC250MessageAccepted{250, "2.0.0", "Ok: queued as"};
inline constexpr Reply kC250ChunkOk{250, "2.0.0", "Chunk ok"};
inline constexpr Reply kC354StartData{354, "", "End data with <CR><LF>.<CR><LF>"};
inline constexpr Reply kC451LocalError{451, "4.3.0", "Temporary local problem, try again later"};
inline constexpr Reply kC452MailboxFull{452, "4.2.2", "Mailbox full"};
inline constexpr Reply kC452TooManyRecipients{452, "4.5.3", "Too many recipients"};
inline constexpr Reply kC503NeedMail{503, "5.5.1", "Need MAIL command"};
inline constexpr Reply kC503NeedRcpt{503, "5.5.1", "Need RCPT command"};
inline constexpr Reply kC503NestedMail{503, "5.5.1", "Sender already specified"};
inline constexpr Reply kC503NeedHello{503, "5.5.1", "Send EHLO or HELO first"};
inline constexpr Reply kC550NoSuchUser{550, "5.1.1", "No such user here"};
inline constexpr Reply kC550BareLineEnd{550, "5.5.2",
                                        "Message refused: bare CR or LF in DATA (RFC 5321 section 2.3.8)"};
inline constexpr Reply kC550BareLineEndBdat{550, "5.5.2",
                                            "Message refused: bare CR or LF in BDAT (RFC 5321 section 2.3.8)"};
inline constexpr Reply kC552TooBig{552, "5.3.4", "Message size exceeds fixed limit"};
inline constexpr Reply kC553NotOwner{553, "5.7.1", "Sender address not owned by the authenticated user"};
inline constexpr Reply kC553HeaderNotOwner{553, "5.7.1", "Header From/Sender address not owned by the authenticated user"};
inline constexpr Reply kC553AuthNotOwner{553, "5.7.1", "AUTH= must name the authenticated user or <>"};
inline constexpr Reply kC553NeedSmtputf8{553, "5.6.7", "Non-ASCII address requires SMTPUTF8"};
inline constexpr Reply kC554RelayDenied{554, "5.7.1", "Relay access denied"};
inline constexpr Reply kC554NoValidRecipients{554, "5.5.1", "No valid recipients"};
inline constexpr Reply kC554EarlyTalker{554, "5.5.1", "Error: SMTP protocol synchronization"};
inline constexpr Reply kC503BinaryNeedsBdat{503, "5.5.1", "BODY=BINARYMIME requires BDAT"};
inline constexpr Reply kC554ContentRejected{554, "5.6.0", "Message content rejected"};

// "<code> <status> <text>\r\n" (the status is left out when empty; so is the text).
std::string format(const Reply& reply);
// The same with other text in place of reply.text.
std::string format(const Reply& reply, std::string_view text);
// A multiline reply [RFC 5321 §4.2.1]: "250-a\r\n250-b\r\n250 c\r\n". Each line carries `status`
// when it is not empty. An empty `lines` gives one line with the code alone.
std::string format_multiline(uint16_t code, std::string_view status, const std::vector<std::string>& lines);

// An AUTH continuation [RFC 4954 §4]: "334 <base64>\r\n" (the space is there even when empty).
std::string format_continue(std::string_view base64_challenge);

// The reply for a failed authentication exchange [RFC 4954 §6]. Errc::kDenied -> 535 5.7.8, or 538
// 5.7.11 when the message is "encryption required"; kUnavailable -> 454 4.7.0; kInvalid -> 501 5.5.2;
// kNotFound -> 504 5.5.4; anything else (kInternal...) -> 454 4.7.0.
Reply to_auth_reply(const Error& error);

// The reply for a failed directory, store or queue call in a mail transaction (RCPT checks,
// delivery after DATA, queueing): kNotFound -> 550 5.1.1; kOverQuota -> 452 4.2.2; kTooBig ->
// 552 5.3.4; kDenied -> 554 5.7.1; kInvalid -> 554 5.6.0; anything else -> 451 4.3.0.
Reply to_mail_reply(const Error& error);

// True for 4xx and 5xx replies (they count towards the session's error limit).
constexpr bool is_error(const Reply& reply) { return reply.code >= 400; }

}  // namespace posthorn::proto::smtp
