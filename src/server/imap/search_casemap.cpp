#include "server/imap/search_casemap.hpp"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>

namespace posthorn::server::imap {

namespace {

constexpr UChar32 kReplacement = 0xFFFD;

void append_utf8(UChar32 c, std::string& out) {
  char buf[4];
  int32_t n = 0;
  UBool error = false;
  U8_APPEND(reinterpret_cast<uint8_t*>(buf), n, 4, c, error);
  if (error) {
    append_utf8(kReplacement, out);
    return;
  }
  out.append(buf, static_cast<size_t>(n));
}

bool is_hangul_syllable(UChar32 c) { return c >= 0xAC00 && c <= 0xD7A3; }

// One code point through RFC 5051 §2: titlecase, then decompose, repeated on the result.
void fold_code_point(const UNormalizer2* nfkd, UChar32 c, std::string& out, int depth) {
  c = u_totitle(c);
  UChar decomposition[32];
  int32_t n = 0;
  if (nfkd != nullptr && depth < 8 && !is_hangul_syllable(c)) {
    UErrorCode err = U_ZERO_ERROR;
    n = unorm2_getRawDecomposition(nfkd, c, decomposition, 32, &err);
    if (U_FAILURE(err)) n = 0;
  }
  if (n <= 0) {
    append_utf8(c, out);
    return;
  }
  for (int32_t i = 0; i < n;) {
    UChar32 d;
    U16_NEXT(decomposition, i, n, d);
    fold_code_point(nfkd, d, out, depth + 1);
  }
}

const UNormalizer2* nfkd_instance() {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* n = unorm2_getNFKDInstance(&err);
  return U_FAILURE(err) ? nullptr : n;
}

// Folded UTF-8 of every BMP code point, computed once: offsets[c]..offsets[c + 1] in data.
struct BmpTable {
  std::vector<uint32_t> offsets;
  std::string data;
  const UNormalizer2* nfkd = nullptr;

  BmpTable() : offsets(0x10001), nfkd(nfkd_instance()) {
    data.reserve(0x10000 * 3);
    for (UChar32 c = 0; c <= 0xFFFF; ++c) {
      offsets[static_cast<size_t>(c)] = static_cast<uint32_t>(data.size());
      if (U_IS_SURROGATE(c)) {
        append_utf8(kReplacement, data);
      } else {
        fold_code_point(nfkd, c, data, 0);
      }
    }
    offsets[0x10000] = static_cast<uint32_t>(data.size());
  }
};

const BmpTable& bmp_table() {
  static const BmpTable table;
  return table;
}

}  // namespace

void casemap_fold_append(std::string_view utf8, std::string& out) {
  const BmpTable& table = bmp_table();
  const auto* s = reinterpret_cast<const uint8_t*>(utf8.data());
  const size_t n = utf8.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = s[i];
    if (b < 0x80) {
      out.push_back(static_cast<char>(b >= 'a' && b <= 'z' ? b - 32 : b));
      ++i;
      continue;
    }
    int32_t consumed = 0;
    UChar32 c;
    const auto window = static_cast<int32_t>(std::min<size_t>(n - i, 4));
    U8_NEXT(s + i, consumed, window, c);
    i += static_cast<size_t>(consumed);
    if (c < 0) c = kReplacement;
    if (c <= 0xFFFF) {
      const auto k = static_cast<size_t>(c);
      out.append(table.data, table.offsets[k], table.offsets[k + 1] - table.offsets[k]);
    } else {
      fold_code_point(table.nfkd, c, out, 0);
    }
  }
}

std::string casemap_fold(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  casemap_fold_append(utf8, out);
  return out;
}

bool casemap_contains(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  return casemap_fold(haystack).find(casemap_fold(needle)) != std::string::npos;
}

SubstringMatcher::SubstringMatcher(const std::vector<std::string>& needles) : found_(needles.size(), false) {
  needles_.reserve(needles.size());
  for (const auto& n : needles) {
    needles_.push_back(casemap_fold(n));
    if (needles_.back().empty()) {
      found_[needles_.size() - 1] = true;
    } else {
      ++remaining_;
      keep_ = std::max(keep_, needles_.back().size() - 1);
    }
  }
}

bool SubstringMatcher::feed(std::string_view utf8) {
  if (remaining_ == 0) return true;
  buffer_.assign(tail_);
  casemap_fold_append(utf8, buffer_);
  for (size_t i = 0; i < needles_.size(); ++i) {
    if (!found_[i] && buffer_.find(needles_[i]) != std::string::npos) {
      found_[i] = true;
      --remaining_;
    }
  }
  size_t start = buffer_.size() > keep_ ? buffer_.size() - keep_ : 0;
  while (start < buffer_.size() && (static_cast<uint8_t>(buffer_[start]) & 0xC0) == 0x80) ++start;
  tail_.assign(buffer_, start, std::string::npos);
  return remaining_ == 0;
}

}  // namespace posthorn::server::imap
