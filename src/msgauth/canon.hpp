// DKIM canonicalisation [RFC 6376 §3.4]: the "simple" and "relaxed" forms of header fields and of
// the body, the body length limit (l=), and the split of a raw header block into fields as they are
// on the wire. Body canonicalisation streams: it is fed chunks and writes the canonical bytes to a
// sink in bounded pieces, so a 50 MB body is hashed without being copied whole.
// Depends on nothing but the standard library. Pure functions; a BodyCanonicalizer is one object
// per body (not shared between threads).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace posthorn::msgauth {

enum class Canon { kSimple, kRelaxed };

// One header field exactly as on the wire. mime::parse_header is not used here on purpose: it
// copies, trims the name, unfolds the value and forgets the line ends, while "simple" header
// canonicalisation and the signature check need every original byte of the field.
struct RawField {
  std::string_view name;  // the bytes before ':' with trailing WSP removed (for name matching)
  std::string_view raw;   // the whole field: name, ':', value, folding, and its final line end
};

// Splits a header block (the bytes before the empty line; may also be a whole message, it stops at
// the empty line, where mime::split_header puts the body start) into fields. A line end is CRLF or a bare LF. Lines without ':' that are not
// continuations are skipped; at most `max_fields` fields are returned (the rest are ignored).
std::vector<RawField> split_raw_fields(std::string_view header, std::size_t max_fields = 10'000);

// Canonical form of one header field [RFC 6376 §3.4.1, §3.4.2], `raw` as in RawField::raw.
// Simple: unchanged except that bare LF line ends become CRLF. Relaxed: lower-case name, unfolded,
// WSP runs reduced to one SP, WSP around ':' and at the end removed, then CRLF. The result always
// ends with CRLF (one is added to a field that lacks it).
std::string canon_header(std::string_view raw, Canon c);

// Streaming body canonicalisation [RFC 6376 §3.4.3, §3.4.4] with an optional length limit (l=,
// §3.5): canonical bytes beyond `limit` are counted but not written to the sink.
// Line ends are CRLF; a bare LF is taken as a line end too (a bare CR is an ordinary byte).
class BodyCanonicalizer {
 public:
  using Sink = std::function<void(std::string_view)>;
  BodyCanonicalizer(Canon c, std::optional<uint64_t> limit, Sink sink);
  void update(std::string_view chunk);
  void finish();  // call once, after the last update
  // Length of the full canonical body (ignoring the limit); final after finish().
  uint64_t canonical_length() const { return total_; }
  // Bytes written to the sink (min(limit, canonical_length())).
  uint64_t written() const { return written_; }

 private:
  void emit(char ch);
  void emit_crlf();
  void flush_deferred();
  void flush_buffer();

  Canon canon_;
  std::optional<uint64_t> limit_;
  Sink sink_;
  std::string buffer_;        // canonical bytes not yet handed to the sink
  uint64_t total_ = 0;
  uint64_t written_ = 0;
  uint64_t deferred_crlf_ = 0;  // line ends held back: trailing empty lines are dropped
  bool pending_cr_ = false;     // a CR whose next byte decides whether it ends a line
  bool pending_wsp_ = false;    // relaxed: WSP seen since the last content byte of this line
  bool line_content_ = false;   // the current line has content
  bool any_content_ = false;    // some line had content
};

// The whole canonical body as a string (tests and small bodies).
std::string canon_body(std::string_view body, Canon c, std::optional<uint64_t> limit = std::nullopt);

}  // namespace posthorn::msgauth
