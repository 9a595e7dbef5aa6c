// LIST pattern matching [RFC 9051 §6.3.9]: "*" matches anything, "%" anything but the hierarchy
// separator; the reference is joined to the pattern first. Works on decoded (UTF-8) names. "INBOX"
// matches case-insensitively. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace posthorn::proto::imap {

// The canonical pattern for LIST reference + pattern: a reference ending in the separator (or empty)
// is prefixed as is; otherwise the separator is put between them; a pattern starting with the separator
// ignores the reference.
std::string join_list_pattern(std::string_view reference, std::string_view pattern, char separator);
// True when `name` matches `pattern`. Iterative with backtracking, O(|name|*|pattern|) at worst.
bool list_match(std::string_view pattern, std::string_view name, char separator);
// True when some child of `name` (name + separator + ...) could match `pattern` (for RECURSIVEMATCH
// and for "\HasChildren"-style parents of a "%" match).
bool list_match_prefix(std::string_view pattern, std::string_view name, char separator);

}  // namespace posthorn::proto::imap
