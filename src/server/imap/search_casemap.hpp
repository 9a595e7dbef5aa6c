// The i;unicode-casemap collation [RFC 5051] that IMAP SEARCH uses for substring matching
// [RFC 9051 §6.4.4], and the substring matcher that feeds text to it in chunks.
//
// RFC 5051 §2 canonicalisation, per code point, repeated until nothing changes: map to the simple
// titlecase form (UnicodeData.txt field 14), then replace by the decomposition mapping
// (UnicodeData.txt field 5, canonical or compatibility). The data comes from ICU (u_totitle,
// unorm2_getRawDecomposition of the NFKD instance): a hand-written table would go stale with each
// Unicode version, and ICU is in Debian and named in DESIGN.md §6. Consequences that tests pin:
//   - "é" folds to "E" + U+0301: "café" matches "CAFÉ" and "Café", and "CAF" or "CAFE" are
//     substrings of it, but "KOLN" is not a substring of "Köln" (O + U+0308 + LN): the marks stay.
//   - German "ß" has no simple titlecase mapping (its full mapping "Ss" lives in SpecialCasing.txt,
//     which RFC 5051 does not use), so "ß" does not match "SS"/"ss"; "ẞ" (U+1E9E) and "ß" do not
//     match each other either. Dovecot behaves the same; a client wanting both searches twice.
//   - Hangul syllables are not decomposed (they have no field-5 mapping; the algorithmic
//     decomposition is not part of RFC 5051).
// Invalid UTF-8 becomes U+FFFD before folding. The Basic Multilingual Plane is folded through a
// table computed once at first use (thread-safe static initialisation).
// Depends on ICU (libicuuc). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace posthorn::server::imap {

// The RFC 5051 canonical form of `utf8`, as UTF-8.
std::string casemap_fold(std::string_view utf8);
// Appends the folded form to `out` (no allocation per call when `out` has room).
void casemap_fold_append(std::string_view utf8, std::string& out);

// Case-folded substring search over text given in pieces (a message body read in chunks). Each
// needle is folded once; each piece must end on a code point boundary (the callers cut at line
// ends). A match spanning two pieces is found: the tail of the previous piece is kept.
class SubstringMatcher {
 public:
  explicit SubstringMatcher(const std::vector<std::string>& needles);

  // Feeds UTF-8 text. Returns true when every needle has been found (the caller may stop).
  bool feed(std::string_view utf8);
  // Starts a new text (no match across the boundary), keeping what was found.
  void break_text() { tail_.clear(); }
  bool found(std::size_t needle) const { return found_[needle]; }
  bool all_found() const { return remaining_ == 0; }

 private:
  std::vector<std::string> needles_;  // folded
  std::vector<bool> found_;
  std::size_t remaining_ = 0;
  std::size_t keep_ = 0;  // bytes of tail to keep: longest folded needle - 1
  std::string tail_;
  std::string buffer_;
};

// True when folded `haystack` contains folded `needle` (an empty needle is always found).
bool casemap_contains(std::string_view haystack, std::string_view needle);

}  // namespace posthorn::server::imap
