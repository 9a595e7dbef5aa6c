// RFC 5322 header block: split a message into header and body at exact byte offsets and parse the
// header fields (name, raw folded value, unfolded value). Tolerant of bare LF, a missing blank line,
// 8-bit bytes and very long fields; keeps at most `max_fields` fields without failing.
// Depends only on src/base. Pure functions over caller-owned bytes; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace posthorn::mime {

// Where the header ends and the body starts, as byte offsets into the message.
// [0, header_end) are the header lines; [header_end, body_start) is the blank line (CRLF or LF,
// empty when the message has no blank line); [body_start, size) is the body. BODY[HEADER] in IMAP
// is [0, body_start) [RFC 3501 §6.4.5].
struct HeaderSplit {
  std::size_t header_end = 0;
  std::size_t body_start = 0;
};

// A header ends at the first empty line (CRLF CRLF, LF LF or a leading empty line). Without an
// empty line the whole message is header and the body is empty.
HeaderSplit split_header(std::string_view message);

struct HeaderField {
  std::string name;       // as written, case preserved, trailing WSP before ':' removed
  std::string raw_value;  // bytes after ':' up to the final line end, folding (CRLF/LF) preserved
  std::string value;      // unfolded [RFC 5322 §2.2.3]: line ends before WSP removed, then trimmed
};

struct HeaderOptions {
  std::size_t max_fields = 10'000;  // further fields are dropped and `truncated` is set
};

struct Header {
  std::vector<HeaderField> fields;
  bool truncated = false;  // more than max_fields fields were present

  // First field with this name (case-insensitive), or nullptr.
  const HeaderField* find(std::string_view name) const;
  // Every field with this name, in order.
  std::vector<const HeaderField*> find_all(std::string_view name) const;
};

// Parses the header bytes [0, header_end) of a split (or any header text). Lines without a colon
// that are not continuations are skipped (they are not fields); a continuation before any field is
// skipped too. Never fails.
Header parse_header(std::string_view header_bytes, const HeaderOptions& options = {});

// Unfolds a raw value: removes every CR/LF, then trims leading and trailing WSP.
std::string unfold(std::string_view raw_value);

}  // namespace posthorn::mime
