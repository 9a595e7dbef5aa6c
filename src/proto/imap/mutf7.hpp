// Mailbox names on the wire: modified UTF-7 [RFC 3501 §5.1.3, RFC 9051 §5.1.3] for IMAP4rev1
// clients, UTF-8 after ENABLE UTF8=ACCEPT [RFC 6855] or IMAP4rev2 [RFC 9051 §6.3.1]. The store
// keeps names as UTF-8. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace posthorn::proto::imap {

// Modified UTF-7 -> UTF-8. kInvalid for 8-bit bytes, control characters, a missing "-", base64
// that is malformed, has non-zero padding bits, encodes printable ASCII (which must be written
// directly), or decodes to an unpaired surrogate.
Result<std::string> mutf7_decode(std::string_view wire);
// UTF-8 -> modified UTF-7. Invalid UTF-8 sequences are kInvalid.
Result<std::string> mutf7_encode(std::string_view utf8);
// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s);

// A mailbox name from a client: decoded from modified UTF-7, or (utf8) validated UTF-8 taken as is.
Result<std::string> mailbox_from_wire(std::string_view wire, bool utf8);
// A mailbox name for a response, as an astring in the session's encoding.
std::string mailbox_to_wire(std::string_view utf8_name, bool utf8);

}  // namespace posthorn::proto::imap
