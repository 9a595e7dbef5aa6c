// IMAP FETCH data items built from the cached message summary: ENVELOPE, BODY and BODYSTRUCTURE
// [RFC 3501 §7.4.2, RFC 9051 §7.5.2]. Section byte ranges (BODY[1.2.MIME] ...) come from
// mime/section.hpp, which works on the same cached tree.
// Depends on mime (summary, envelope) and imap/response (string quoting). Pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "mime/envelope.hpp"
#include "mime/summary.hpp"

namespace posthorn::proto::imap {

// "(date subject (from) (sender) (reply-to) (to) (cc) (bcc) in-reply-to message-id)": NIL for an
// absent field or empty list; addresses as (name adl mailbox host); a group as (NIL NIL "name" NIL)
// ... (NIL NIL NIL NIL); names and subjects as written (encoded words kept). A non-group address
// without a domain gets an empty host "" (never NIL, which would mark a group).
std::string format_envelope(const mime::Envelope& envelope);

// The body structure of the message: BODY when `extended` is false, BODYSTRUCTURE when true (with
// MD5 / parameters, disposition, language and location extension data). Type, subtype, parameter
// names and encoding are the parser's lower-case forms. A text part without a charset parameter
// gets "charset" "us-ascii" [RFC 2045 §5.2]. Parameter values that are not printable ASCII after
// RFC 2231/2047 decoding are written back in RFC 2231 form (name* = utf-8''%XX). A multipart
// without parts and a message/rfc822 left unparsed (nesting cap, illegal encoding) get an empty
// text/plain body (and a NIL envelope) so the result always matches the grammar.
std::string format_body_structure(const mime::MessageSummary& summary, bool extended);

// Section data (BODY[...], RFC822*, BINARY[...]) goes out as a literal of `size` octets; this is its
// opening: " {size}\r\n", or " ~{size}\r\n" (literal8) when `literal8`. literal8 is only for BINARY
// data that holds NUL [RFC 3516 §4.3, RFC 9051 §9 "literal8"]; BODY[] and RFC822* are nstring,
// never literal8 [RFC 9051 §7.5.2].
std::string section_literal_open(uint64_t size, bool literal8);

// A literal carries CHAR8 (%x01-ff), never NUL [RFC 3501 §9, RFC 9051 §4.3]: message data sent as
// BODY[...] or RFC822* gets each NUL replaced by 0x80, as Dovecot does. The length stays, so
// partial ranges <origin.size> and RFC822.SIZE still agree with the data; BINARY[...] sends the
// exact octets in a literal8 instead. Returns the number of octets replaced.
size_t mask_nul_octets(std::string& data);

}  // namespace posthorn::proto::imap
