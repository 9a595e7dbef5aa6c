#include "proto/imap/sequence_set.hpp"

#include <algorithm>
#include <limits>

namespace posthorn::proto::imap {

namespace {

Result<uint32_t> parse_bound(std::string_view s) {
  if (s == "*") return kStar;
  if (s.empty() || s.size() > 10 || s[0] == '0') return make_error(Errc::kInvalid, "Invalid sequence number");
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return make_error(Errc::kInvalid, "Invalid sequence number");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > std::numeric_limits<uint32_t>::max()) return make_error(Errc::kInvalid, "Sequence number too big");
  return static_cast<uint32_t>(n);
}

}  // namespace

Result<SequenceSet> parse_sequence_set(std::string_view text) {
  SequenceSet set;
  if (text == "$") {
    set.saved = true;
    return set;
  }
  if (text.empty()) return make_error(Errc::kInvalid, "Empty sequence set");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    const size_t colon = item.find(':');
    SeqRange r;
    if (colon == std::string_view::npos) {
      auto n = parse_bound(item);
      if (!n) return n.error();
      r = SeqRange{*n, *n};
    } else {
      auto a = parse_bound(item.substr(0, colon));
      auto b = parse_bound(item.substr(colon + 1));
      if (!a || !b) return make_error(Errc::kInvalid, "Invalid sequence range");
      r = SeqRange{*a, *b};
    }
    set.ranges.push_back(r);
    if (comma == text.size()) break;
    start = comma + 1;
  }
  return set;
}

std::vector<SeqRange> SequenceSet::resolve(uint32_t largest) const {
  std::vector<SeqRange> out;
  out.reserve(ranges.size());
  for (SeqRange r : ranges) {
    // "*" in an empty mailbox: the range names nothing (clients send "1:*" to any mailbox).
    if (largest == 0 && (r.first == kStar || r.last == kStar)) continue;
    uint32_t a = r.first == kStar ? largest : r.first;
    uint32_t b = r.last == kStar ? largest : r.last;
    if (a > b) std::swap(a, b);
    if (b == 0) continue;
    if (a == 0) a = 1;
    out.push_back(SeqRange{a, b});
  }
  std::sort(out.begin(), out.end(), [](const SeqRange& x, const SeqRange& y) { return x.first < y.first; });
  std::vector<SeqRange> merged;
  for (const SeqRange& r : out) {
    if (!merged.empty() && uint64_t{r.first} <= uint64_t{merged.back().last} + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

bool SequenceSet::contains_star() const {
  for (const auto& r : ranges) {
    if (r.first == kStar || r.last == kStar) return true;
  }
  return false;
}

std::string SequenceSet::to_string() const {
  if (saved) return "$";
  std::string out;
  auto bound = [](uint32_t n) { return n == kStar ? std::string("*") : std::to_string(n); };
  for (const auto& r : ranges) {
    if (!out.empty()) out += ',';
    out += bound(r.first);
    if (r.first != r.last) out += ':' + bound(r.last);
  }
  return out;
}

std::string compact_set(const std::vector<uint32_t>& ascending) {
  std::string out;
  size_t i = 0;
  while (i < ascending.size()) {
    size_t j = i;
    while (j + 1 < ascending.size() && ascending[j + 1] == ascending[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(ascending[i]);
    if (j > i) out += ':' + std::to_string(ascending[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace posthorn::proto::imap
