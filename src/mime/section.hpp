// IMAP-style section addressing of a parsed MIME tree [RFC 3501 §6.4.5, RFC 9051 §6.4.5]: which
// byte range of the stored message BODY[1.2], BODY[1.2.HEADER], BODY[1.2.TEXT], BODY[1.2.MIME],
// BODY[HEADER] and BODY[TEXT] denote. Protocol-neutral (part numbers are a MIME tree walk), so it
// lives in mime and works on the cached Part tree without the message bytes.
// Depends only on mime/message. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mime/message.hpp"

namespace posthorn::mime {

enum class SectionPart {
  kAll,     // BODY[1.2]: the part's body (for message/rfc822 the whole embedded message);
            // BODY[] with an empty path: the whole message
  kHeader,  // BODY[HEADER], BODY[1.2.HEADER]: the (embedded) message's header with its blank line
  kText,    // BODY[TEXT], BODY[1.2.TEXT]: the (embedded) message's body
  kMime,    // BODY[1.2.MIME]: the part's MIME header with its blank line; needs a non-empty path
};

struct SectionRange {
  std::size_t offset = 0;
  std::size_t size = 0;

  bool operator==(const SectionRange&) const = default;
};

// The byte range of a section, or nullopt when the section does not exist: a part number of 0 or
// past the last child, a number below a leaf that is not message/rfc822, HEADER or TEXT on a part
// that is not message/rfc822, MIME with an empty path, or a path into an opaque (capped) part.
// Rules [RFC 3501 §6.4.5]: a non-multipart message has exactly one part, 1, its body; part numbers
// below a message/rfc822 part number the embedded message's parts.
std::optional<SectionRange> find_section(const Part& root, std::span<const std::uint32_t> path, SectionPart which);

}  // namespace posthorn::mime
