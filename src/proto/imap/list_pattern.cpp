#include "proto/imap/list_pattern.hpp"

#include <algorithm>
#include <vector>

#include "base/ascii.hpp"

namespace posthorn::proto::imap {

namespace {

// Matching with "INBOX" folded: a name starting with INBOX (any case) at a component boundary is
// compared as "INBOX".
std::string fold_inbox(std::string_view s, char separator) {
  if (s.size() >= 5 && ascii::iequals(s.substr(0, 5), "INBOX") && (s.size() == 5 || s[5] == separator)) {
    return "INBOX" + std::string(s.substr(5));
  }
  return std::string(s);
}

// Dynamic programming over (pattern position, name position): O(|p| * |n|) for any pattern, so a
// pattern full of wildcards cannot make LIST slow. prefix_only: true when the whole name can be
// consumed by some prefix of the pattern (the rest can then match something longer).
bool match(std::string_view p, std::string_view n, char sep, bool prefix_only) {
  const size_t P = p.size();
  std::vector<char> cur(P + 1, 0), next(P + 1, 0);
  cur[0] = 1;
  for (size_t j = 0;; ++j) {
    for (size_t i = 0; i < P; ++i) {
      if (cur[i] && (p[i] == '*' || p[i] == '%')) cur[i + 1] = 1;
    }
    if (j == n.size()) break;
    std::fill(next.begin(), next.end(), 0);
    for (size_t i = 0; i < P; ++i) {
      if (!cur[i]) continue;
      const char c = p[i];
      if (c == '*' || (c == '%' && n[j] != sep)) {
        next[i] = 1;
      } else if (c == n[j]) {
        next[i + 1] = 1;
      }
    }
    std::swap(cur, next);
  }
  if (!prefix_only) return cur[P] != 0;
  for (char c : cur) {
    if (c) return true;
  }
  return false;
}

}  // namespace

std::string join_list_pattern(std::string_view reference, std::string_view pattern, char separator) {
  if (reference.empty() || (!pattern.empty() && pattern[0] == separator)) return std::string(pattern);
  if (reference.back() == separator) return std::string(reference) + std::string(pattern);
  return std::string(reference) + separator + std::string(pattern);
}

bool list_match(std::string_view pattern, std::string_view name, char separator) {
  return match(fold_inbox(pattern, separator), fold_inbox(name, separator), separator, false);
}

bool list_match_prefix(std::string_view pattern, std::string_view name, char separator) {
  const std::string child = fold_inbox(name, separator) + separator;
  return match(fold_inbox(pattern, separator), child, separator, true);
}

}  // namespace posthorn::proto::imap
