// IMAP sequence sets [RFC 9051 §9 sequence-set, RFC 5182 "$"]: "1,3:5,7:*" for message sequence
// numbers or UIDs. Parsing keeps "*" symbolic; resolve() turns a set into sorted, merged ranges
// once the largest number in use is known. Pure; thread-compatible values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace posthorn::proto::imap {

inline constexpr uint32_t kStar = 0;  // "*" in a range bound (0 is not a valid number)

struct SeqRange {
  uint32_t first = 1;  // as written: first may be greater than last; kStar for "*"
  uint32_t last = 1;
  bool operator==(const SeqRange&) const = default;
};

struct SequenceSet {
  std::vector<SeqRange> ranges;
  bool saved = false;  // "$": the result saved by SEARCHRES [RFC 5182]; ranges empty

  // Sorted, merged, non-overlapping [first, last] ranges with "*" replaced by `largest` (the largest
  // number in use). A range "n:*" with n > largest is largest:n [RFC 9051 §9]; with largest 0
  // (an empty mailbox) every range containing "*" disappears, so "1:*" names nothing.
  std::vector<SeqRange> resolve(uint32_t largest) const;
  // True when a bound is "*".
  bool contains_star() const;
  // The set in wire form ("1:3,5"); not for saved sets.
  std::string to_string() const;
  bool operator==(const SequenceSet&) const = default;
};

// Parses "1", "1:*", "*", "2,4:7", "$". Zero, empty elements and anything else are kInvalid.
Result<SequenceSet> parse_sequence_set(std::string_view text);
// The compact wire form of ascending numbers: {1,2,3,5} -> "1:3,5" (COPYUID, VANISHED, ESEARCH).
std::string compact_set(const std::vector<uint32_t>& ascending);

}  // namespace posthorn::proto::imap
