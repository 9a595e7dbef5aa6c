// Header text decoding to UTF-8: RFC 2047 encoded words (B and Q), RFC 2231 parameter values
// (charset'lang'value, continuations), charset conversion and UTF-8 repair.
// Depends only on src/base and glibc iconv. Never throws on malformed input: undecodable pieces are
// kept as bytes and invalid UTF-8 becomes U+FFFD. Pure functions; thread-safe (one iconv handle
// per call).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace posthorn::mime {

// Replaces every invalid or overlong UTF-8 sequence (and surrogates) with U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

// Converts `bytes` in `charset` to UTF-8. An unknown, unsafe or empty charset keeps the bytes
// (sanitized as UTF-8); bytes invalid in the charset become U+FFFD.
std::string to_utf8(std::string_view bytes, std::string_view charset);

// Decodes RFC 2047 encoded words in an unfolded header value [RFC 2047 §6.1]. Whitespace between
// two adjacent encoded words is dropped [RFC 2047 §6.2]; adjacent words in the same charset are
// joined before conversion so a character split across words survives. Text outside encoded
// words is sanitized as UTF-8. A malformed encoded word is kept as written.
std::string decode_words(std::string_view text);

// One parameter as written: `name` may carry RFC 2231 markers (title*, title*0, title*1*),
// `value` has its quotes already removed.
struct RawParameter {
  std::string name;
  std::string value;
};

// A decoded parameter: lower-case name without RFC 2231 markers, UTF-8 value.
struct Parameter {
  std::string name;
  std::string value;

  bool operator==(const Parameter&) const = default;
};

// Joins RFC 2231 continuations (name*0, name*1*, ... in numeric order, gaps end the value) and
// decodes charset'lang'%XX values [RFC 2231 §3, §4]. Plain values get RFC 2047 decoding (common
// in the wild for filenames). Order follows the first appearance of each name; a duplicate name
// keeps the first value.
std::vector<Parameter> decode_parameters(const std::vector<RawParameter>& raw);

}  // namespace posthorn::mime
