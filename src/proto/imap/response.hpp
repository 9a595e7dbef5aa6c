// IMAP response formatting: tagged, untagged and continuation lines, response codes, astring and
// quoted-string output [RFC 9051 §7, RFC 5530], and the one mapping from authentication errors (Errc)
// to IMAP replies. Every line ends in CRLF; free text is sanitised so it can never break a line.
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace posthorn::proto::imap {

enum class Status { kOk, kNo, kBad, kBye, kPreauth };
std::string_view status_name(Status s);

// Response codes used so far [RFC 9051 §7.1, RFC 5530].
namespace code {
inline constexpr std::string_view kAlert = "ALERT";
inline constexpr std::string_view kAuthenticationFailed = "AUTHENTICATIONFAILED";
inline constexpr std::string_view kAuthorizationFailed = "AUTHORIZATIONFAILED";
inline constexpr std::string_view kCannot = "CANNOT";
inline constexpr std::string_view kCapability = "CAPABILITY";  // followed by the list
inline constexpr std::string_view kPrivacyRequired = "PRIVACYREQUIRED";
inline constexpr std::string_view kServerBug = "SERVERBUG";
inline constexpr std::string_view kTooBig = "TOOBIG";
inline constexpr std::string_view kUnavailable = "UNAVAILABLE";
inline constexpr std::string_view kNonExistent = "NONEXISTENT";
inline constexpr std::string_view kAlreadyExists = "ALREADYEXISTS";
inline constexpr std::string_view kTryCreate = "TRYCREATE";
inline constexpr std::string_view kOverQuota = "OVERQUOTA";
inline constexpr std::string_view kNoPerm = "NOPERM";
inline constexpr std::string_view kInUse = "INUSE";
inline constexpr std::string_view kHasChildren = "HASCHILDREN";
inline constexpr std::string_view kClientBug = "CLIENTBUG";
inline constexpr std::string_view kLimit = "LIMIT";
inline constexpr std::string_view kUnknownCte = "UNKNOWN-CTE";
inline constexpr std::string_view kReadOnly = "READ-ONLY";
inline constexpr std::string_view kReadWrite = "READ-WRITE";
inline constexpr std::string_view kClosed = "CLOSED";
inline constexpr std::string_view kCompressionActive = "COMPRESSIONACTIVE";  // [RFC 4978 §3]
}  // namespace code

// "<tag> OK text\r\n"; with a code: "<tag> NO [CODE] text\r\n". `code` is the inside of the brackets
// (e.g. "CAPABILITY IMAP4rev2 ..."), empty for none.
std::string tagged(std::string_view tag, Status status, std::string_view text);
std::string tagged(std::string_view tag, Status status, std::string_view code, std::string_view text);
// "* OK text\r\n" / "* BYE [CODE] text\r\n".
std::string untagged(Status status, std::string_view text);
std::string untagged(Status status, std::string_view code, std::string_view text);
// "* <data>\r\n" for untagged data such as "CAPABILITY IMAP4rev2 ...".
std::string untagged_data(std::string_view data);
// "+ text\r\n"; "+ \r\n" for empty text [RFC 9051 §7.5].
std::string continuation(std::string_view text);
// A reply to a SyntaxError: "<tag> BAD text" or, without a tag, "* BAD text".
std::string bad(const std::optional<std::string>& tag, std::string_view text);

// An astring for output: the bytes as an atom when they are one (and not "NIL"), else
// string_value(value).
std::string astring(std::string_view value);
// DQUOTE value DQUOTE with "\" and DQUOTE escaped. Only for values without CR, LF, NUL or 8-bit bytes.
std::string quoted(std::string_view value);
// A string for output: quoted, or a literal when the value has CR, LF or 8-bit bytes. NUL bytes,
// which no IMAP string may carry [RFC 9051 §4.3], are dropped.
std::string string_value(std::string_view value);

// The single Errc -> reply mapping for LOGIN and AUTHENTICATE outcomes:
//   kDenied "encryption required" -> NO [PRIVACYREQUIRED], kDenied -> NO [AUTHENTICATIONFAILED],
//   kUnavailable / kInternal -> NO [UNAVAILABLE], kInvalid -> BAD, kNotFound -> NO [CANNOT]
//   (unsupported mechanism), anything else -> NO [AUTHENTICATIONFAILED].
std::string auth_failure(std::string_view tag, const Error& error);

// Which call failed, for the few codes that depend on it.
enum class StoreCall {
  kGeneral,
  kDestination,  // APPEND/COPY/MOVE target: kNotFound -> NO [TRYCREATE] [RFC 9051 §6.3.12]
  kDelete,       // DELETE: kConflict (children) -> NO [HASCHILDREN]
};
// The single Errc -> reply mapping for mail store outcomes [RFC 5530, RFC 9051 §7.1]:
//   kNotFound -> NO [NONEXISTENT] (or [TRYCREATE]), kExists -> NO [ALREADYEXISTS], kDenied -> NO [NOPERM],
//   kOverQuota -> NO [OVERQUOTA], kTooBig -> NO [TOOBIG], kInvalid -> NO [CANNOT], kConflict -> NO [INUSE]
//   (or [HASCHILDREN]), kUnavailable -> NO [UNAVAILABLE], kInternal -> NO [SERVERBUG].
// The store's message is client-safe and becomes the text.
std::string store_failure(std::string_view tag, const Error& error, StoreCall call = StoreCall::kGeneral);

}  // namespace posthorn::proto::imap
