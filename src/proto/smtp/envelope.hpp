// SMTP envelope grammar: the arguments of MAIL FROM, RCPT TO and BDAT [RFC 5321 §4.1.1.2-3, §4.1.2]
// with the ESMTP parameters Posthorn implements: SIZE [RFC 1870], BODY [RFC 6152, RFC 3030],
// SMTPUTF8 [RFC 6531], RET/ENVID/NOTIFY/ORCPT [RFC 3461] and AUTH [RFC 4954 §5], plus xtext
// [RFC 3461 §4]. Source routes ("<@a,@b:u@c>") are accepted and dropped as RFC 5321 §4.1.1.3 and
// Appendix C ask: the address is what follows the route. Nothing here decides policy (local or
// remote, relay or not): that is the session's job with the Directory.
// Pure: no sockets, no storage. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace posthorn::proto::smtp {

// One envelope address, split at the '@' that separates the local part from the domain.
struct Mailbox {
  std::string local;   // as sent (a quoted local part keeps its quotes and escapes)
  std::string domain;  // as sent: a domain or an address literal with its brackets
  bool empty() const { return local.empty() && domain.empty(); }
  // "local@domain", or "" for the null path.
  std::string address() const { return empty() ? std::string() : local + "@" + domain; }
  // True when any byte is outside ASCII (needs SMTPUTF8 [RFC 6531 §3.3]).
  bool non_ascii() const;
  // True when the local part is a quoted string.
  bool quoted() const { return !local.empty() && local.front() == '"'; }
};

enum class Body : uint8_t { kUnspecified, k7Bit, k8BitMime, kBinaryMime };
enum class Ret : uint8_t { kUnspecified, kFull, kHdrs };

// NOTIFY= bits [RFC 3461 §4.1]; 0 = not given (the default: FAILURE,DELAY for the sender's MTA).
enum Notify : uint8_t {
  kNotifyNever = 1 << 0,
  kNotifySuccess = 1 << 1,
  kNotifyFailure = 1 << 2,
  kNotifyDelay = 1 << 3,
};

struct MailFrom {
  Mailbox sender;                  // empty: the null reverse-path "<>" (bounces)
  std::optional<uint64_t> size;    // SIZE=
  Body body = Body::kUnspecified;  // BODY=
  bool smtputf8 = false;           // SMTPUTF8
  Ret ret = Ret::kUnspecified;     // RET=
  std::string envid;               // ENVID=, xtext-decoded ("" when absent)
  std::optional<std::string> auth; // AUTH=, xtext-decoded ("<>" when the submitter is unknown)
};

struct RcptTo {
  Mailbox recipient;
  bool postmaster = false;  // "<Postmaster>" without a domain [RFC 5321 §4.1.1.3]
  uint8_t notify = 0;       // Notify bits
  std::string orcpt;        // ORCPT= as "type;address", the address xtext-decoded ("" when absent)
};

struct Bdat {
  uint64_t size = 0;
  bool last = false;
};

// Why an envelope argument did not parse: the reply code, enhanced status and text.
struct EnvelopeError {
  uint16_t code = 501;
  std::string_view status = "5.5.4";
  std::string text;
};

template <class T>
struct Parsed {
  std::optional<T> value;
  EnvelopeError error;  // meaningful when !value
  explicit operator bool() const { return value.has_value(); }
};

// `args` is everything after "MAIL " / "RCPT " / "BDAT ": "FROM:<a@b> SIZE=10".
// Errors: 501 5.5.4 (no FROM:/TO:), 501 5.1.7 (bad sender), 501 5.1.3 (bad recipient),
// 555 5.5.4 (unknown or malformed parameter), 501 5.5.4 (duplicate parameter).
Parsed<MailFrom> parse_mail_from(std::string_view args);
Parsed<RcptTo> parse_rcpt_to(std::string_view args);
Parsed<Bdat> parse_bdat(std::string_view args);

// Parses a path "<...>" (route dropped) into a Mailbox; "<>" gives an empty Mailbox. nullopt when
// malformed. `allow_empty`: the null path is valid (MAIL FROM only).
std::optional<Mailbox> parse_path(std::string_view path, bool allow_empty);

// xtext [RFC 3461 §4], the one implementation for server (ORCPT, ENVID received) and client (sent):
// decoding gives nullopt on a "+" not followed by two hex digits (lower case accepted), or a byte
// outside 33..126 or "="; encoding writes "+HH" (upper case) for "+", "=" and every byte outside 33..126.
std::optional<std::string> xtext_decode(std::string_view s);
std::string xtext_encode(std::string_view s);

}  // namespace posthorn::proto::smtp
