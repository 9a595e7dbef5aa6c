// Flags, keyword and mailbox-name validation for the store value types.
#include "store/types.hpp"

#include <algorithm>

#include "base/ascii.hpp"

namespace posthorn::store {

bool Flags::has_keyword(std::string_view keyword) const {
  return std::any_of(keywords.begin(), keywords.end(),
                     [&](const std::string& k) { return ascii::iequals(k, keyword); });
}

void Flags::normalize() {
  system &= kAllSystemFlags;
  std::vector<std::string> unique;
  unique.reserve(keywords.size());
  for (auto& k : keywords) {
    bool seen = std::any_of(unique.begin(), unique.end(),
                            [&](const std::string& u) { return ascii::iequals(u, k); });
    if (!seen) unique.push_back(std::move(k));
  }
  std::sort(unique.begin(), unique.end(),
            [](const std::string& a, const std::string& b) { return ascii::lower(a) < ascii::lower(b); });
  keywords = std::move(unique);
}

Result<void> check_keyword(std::string_view keyword) {
  if (keyword.empty() || keyword.size() > kMaxKeywordLength) {
    return make_error(Errc::kInvalid, "keyword length must be 1 to 100 bytes");
  }
  for (char c : keyword) {
    auto u = static_cast<unsigned char>(c);
    // atom-specials [RFC 9051 §9]: ( ) { SP CTL % * " \ ]  plus 8-bit
    if (u <= 0x20 || u >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' ||
        c == '"' || c == '\\' || c == ']') {
      return make_error(Errc::kInvalid, "keyword contains a character that is not allowed");
    }
  }
  return {};
}

std::string normalize_crlf(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 32 + 2);
  std::size_t start = 0;
  for (;;) {
    const std::size_t lf = bytes.find('\n', start);
    if (lf == std::string_view::npos) break;
    out.append(bytes.substr(start, lf - start));
    if (lf == 0 || bytes[lf - 1] != '\r') out.push_back('\r');
    out.push_back('\n');
    start = lf + 1;
  }
  out.append(bytes.substr(start));
  return out;
}

bool has_bare_lf(std::string_view bytes) {
  for (std::size_t lf = bytes.find('\n'); lf != std::string_view::npos; lf = bytes.find('\n', lf + 1)) {
    if (lf == 0 || bytes[lf - 1] != '\r') return true;
  }
  return false;
}

void CrlfNormalizer::feed(std::string_view piece, std::string& out) {
  if (piece.empty()) return;
  std::size_t start = 0;
  for (;;) {
    const std::size_t lf = piece.find('\n', start);
    if (lf == std::string_view::npos) break;
    out.append(piece.substr(start, lf - start));
    const bool cr_before = lf == 0 ? after_cr_ : piece[lf - 1] == '\r';
    if (!cr_before) out.push_back('\r');
    out.push_back('\n');
    start = lf + 1;
  }
  out.append(piece.substr(start));
  after_cr_ = piece.back() == '\r';
}

std::string_view to_string(SpecialUse use) {
  switch (use) {
    case SpecialUse::kNone: return "";
    case SpecialUse::kAll: return "\\All";
    case SpecialUse::kArchive: return "\\Archive";
    case SpecialUse::kDrafts: return "\\Drafts";
    case SpecialUse::kFlagged: return "\\Flagged";
    case SpecialUse::kJunk: return "\\Junk";
    case SpecialUse::kSent: return "\\Sent";
    case SpecialUse::kTrash: return "\\Trash";
    case SpecialUse::kImportant: return "\\Important";
  }
  return "";
}

Result<std::string> canonical_mailbox_name(std::string_view name) {
  if (name.empty()) return make_error(Errc::kInvalid, "empty mailbox name");
  if (name.size() > kMaxNameBytes) return make_error(Errc::kInvalid, "mailbox name too long");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return make_error(Errc::kInvalid, "control character in mailbox name");
  }
  auto parts = ascii::split(name, kSeparator);
  if (parts.size() > kMaxNameDepth) return make_error(Errc::kInvalid, "mailbox name nested too deep");
  for (auto p : parts) {
    if (p.empty()) return make_error(Errc::kInvalid, "empty level in mailbox name");
    if (p == "." || p == "..") return make_error(Errc::kInvalid, "'.' and '..' are not mailbox names");
  }
  std::string out(name);
  if (ascii::iequals(parts[0], "INBOX")) out.replace(0, 5, "INBOX");
  return out;
}

bool is_under(std::string_view name, std::string_view parent) {
  return name.size() > parent.size() && name.compare(0, parent.size(), parent) == 0 && name[parent.size()] == kSeparator;
}

Result<Flags> checked_flags(Flags flags) {
  for (const auto& k : flags.keywords) {
    if (auto r = check_keyword(k); !r) return r.error();
  }
  flags.normalize();
  return flags;
}

Flags apply_flag_op(const Flags& old, FlagOp op, const Flags& given) {
  Flags out = old;
  switch (op) {
    case FlagOp::kAdd:
      out.system |= given.system;
      out.keywords.insert(out.keywords.end(), given.keywords.begin(), given.keywords.end());
      break;
    case FlagOp::kRemove:
      out.system &= uint8_t(~given.system);
      std::erase_if(out.keywords, [&](const std::string& k) { return given.has_keyword(k); });
      break;
    case FlagOp::kReplace:
      out = given;
      break;
  }
  out.normalize();
  return out;
}

}  // namespace posthorn::store
