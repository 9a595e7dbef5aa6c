// Content-Transfer-Encoding decoding of body bytes [RFC 2045 §6.7, §6.8], lenient as mail readers
// are: base64 skips characters outside the alphabet and stops at padding; quoted-printable keeps a
// malformed "=" literally and joins soft line breaks. Also used for RFC 2047 "B" words.
// Depends on nothing but the standard library. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace posthorn::mime {

// Lenient base64: characters outside the alphabet are skipped, "=" ends the data, a trailing
// partial quantum is dropped. (base/base64.hpp is the strict decoder for SASL.)
std::string decode_base64_lenient(std::string_view text);

// Quoted-printable body text: "=XX" is a byte, "=" before a line end is a soft break (removed with
// the line end), spaces and tabs at the end of an encoded line (before a hard line break, and at
// the end of the text when `complete`) are deleted [RFC 2045 §6.7 rule 3], anything malformed is
// kept as written. `complete` false: `text` is a piece that continues (a chunk cut mid-line).
std::string decode_quoted_printable(std::string_view text, bool complete = true);

// Decodes `body` for a lower-case transfer encoding; 7bit, 8bit, binary and unknown encodings are
// returned unchanged. `complete` as for decode_quoted_printable.
std::string decode_transfer_encoding(std::string_view body, std::string_view encoding, bool complete = true);

}  // namespace posthorn::mime
