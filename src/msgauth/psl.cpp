// Public suffix list: parsing, the matching algorithm of publicsuffix.org ("exception rules win,
// else the matching rule with the most labels, else *"), and an RFC 3492 Punycode encoder.
#include "msgauth/psl.hpp"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/ascii.hpp"

namespace posthorn::msgauth {

namespace {

// Decodes UTF-8 into code points; false on malformed input (overlong, surrogates, truncation).
bool decode_utf8(std::string_view s, std::vector<uint32_t>& out) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = uint8_t(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      const uint8_t d = uint8_t(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    out.push_back(cp);
    i += len;
  }
  return true;
}

// RFC 3492 §6.3 encoding of one label's code points (the "xn--" prefix is the caller's).
std::string punycode(const std::vector<uint32_t>& cps) {
  constexpr uint32_t kBase = 36, kTmin = 1, kTmax = 26, kSkew = 38, kDamp = 700;
  auto digit = [](uint32_t d) { return char(d < 26 ? 'a' + d : '0' + (d - 26)); };
  auto adapt = [&](uint32_t delta, uint32_t points, bool first) {
    delta = first ? delta / kDamp : delta / 2;
    delta += delta / points;
    uint32_t k = 0;
    while (delta > ((kBase - kTmin) * kTmax) / 2) {
      delta /= kBase - kTmin;
      k += kBase;
    }
    return k + (kBase - kTmin + 1) * delta / (delta + kSkew);
  };
  std::string out;
  for (uint32_t c : cps) {
    if (c < 0x80) out += char(c);
  }
  const uint32_t basic = uint32_t(out.size());
  uint32_t handled = basic;
  if (basic > 0) out += '-';
  uint32_t n = 0x80, bias = 72;
  uint64_t delta = 0;
  while (handled < cps.size()) {
    uint32_t m = UINT32_MAX;
    for (uint32_t c : cps) {
      if (c >= n && c < m) m = c;
    }
    delta += uint64_t(m - n) * (handled + 1);
    n = m;
    for (uint32_t c : cps) {
      if (c < n) ++delta;
      if (c != n) continue;
      uint64_t q = delta;
      for (uint32_t k = kBase;; k += kBase) {
        const uint32_t t = k <= bias ? kTmin : k >= bias + kTmax ? kTmax : k - bias;
        if (q < t) break;
        out += digit(uint32_t(t + (q - t) % (kBase - t)));
        q = (q - t) / (kBase - t);
      }
      out += digit(uint32_t(q));
      bias = adapt(uint32_t(delta), handled + 1, handled == basic);
      delta = 0;
      ++handled;
    }
    ++delta;
    ++n;
  }
  return out;
}

std::vector<std::string_view> labels_of(std::string_view name) { return ascii::split(name, '.'); }

std::string join_from(const std::vector<std::string_view>& labels, size_t first) {
  std::string out;
  for (size_t i = first; i < labels.size(); ++i) {
    if (i > first) out += '.';
    out += labels[i];
  }
  return out;
}

}  // namespace

std::optional<std::string> domain_to_ascii(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 1024) return std::nullopt;
  std::string out;
  for (auto label : labels_of(name)) {
    if (label.empty()) return std::nullopt;
    std::string encoded;
    if (ascii::is_printable(label)) {
      encoded = ascii::lower(label);
    } else {
      std::vector<uint32_t> cps;
      if (!decode_utf8(label, cps)) return std::nullopt;
      for (auto& c : cps) {
        if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
      }
      encoded = "xn--" + punycode(cps);
    }
    if (encoded.size() > 63) return std::nullopt;
    if (!out.empty()) out += '.';
    out += encoded;
  }
  return out;
}

PublicSuffixList::PublicSuffixList(std::string_view text, bool private_rules) {
  bool in_private = false;
  for (auto raw : ascii::split(text, '\n')) {
    std::string_view line = ascii::trim(raw);
    if (line.starts_with("//")) {
      if (line.find("===BEGIN PRIVATE DOMAINS===") != std::string_view::npos) in_private = true;
      if (line.find("===END PRIVATE DOMAINS===") != std::string_view::npos) in_private = false;
      continue;
    }
    // A rule is the first whitespace-delimited word of a line.
    line = line.substr(0, line.find_first_of(" \t"));
    if (line.empty() || (in_private && !private_rules)) continue;
    uint8_t kind = kNormal;
    if (line.starts_with("!")) {
      kind = kException;
      line.remove_prefix(1);
    } else if (line.starts_with("*.")) {
      kind = kWildcard;
      line.remove_prefix(2);
    }
    auto ascii_name = domain_to_ascii(line);
    if (!ascii_name) continue;  // a malformed rule is skipped, not fatal
    rules_[*ascii_name] |= kind;
  }
}

Result<std::shared_ptr<const PublicSuffixList>> PublicSuffixList::load(const std::filesystem::path& path,
                                                                       bool private_rules) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kNotFound, "public suffix list not found");
  std::ostringstream text;
  text << in.rdbuf();
  auto list = std::make_shared<const PublicSuffixList>(text.str(), private_rules);
  if (list->rule_count() == 0) return make_error(Errc::kInvalid, "public suffix list has no rules");
  return list;
}

std::string PublicSuffixList::public_suffix(std::string_view name) const {
  auto ascii_name = domain_to_ascii(name);
  if (!ascii_name) return "";
  const auto labels = labels_of(*ascii_name);
  auto has = [this](const std::string& s, uint8_t kind) {
    auto it = rules_.find(s);
    return it != rules_.end() && (it->second & kind) != 0;
  };
  // An exception rule wins: its suffix minus the leftmost label is the public suffix.
  for (size_t i = 0; i < labels.size(); ++i) {
    if (has(join_from(labels, i), kException)) return join_from(labels, i + 1);
  }
  // Otherwise the matching rule with the most labels; "*.x" matches any one label before x.
  for (size_t i = 0; i < labels.size(); ++i) {
    if (has(join_from(labels, i), kNormal)) return join_from(labels, i);
    if (i + 1 < labels.size() && has(join_from(labels, i + 1), kWildcard)) return join_from(labels, i);
  }
  return std::string(labels.back());  // the implicit "*" rule
}

std::optional<std::string> PublicSuffixList::registrable_domain(std::string_view name) const {
  const std::string suffix = public_suffix(name);
  if (suffix.empty()) return std::nullopt;
  const std::string full = *domain_to_ascii(name);
  if (full.size() <= suffix.size()) return std::nullopt;
  const size_t start = full.rfind('.', full.size() - suffix.size() - 2);
  return full.substr(start == std::string::npos ? 0 : start + 1);
}

std::string PublicSuffixList::organizational_domain(std::string_view name) const {
  if (auto r = registrable_domain(name)) return *r;
  auto ascii_name = domain_to_ascii(name);
  return ascii_name ? *ascii_name : std::string();
}

}  // namespace posthorn::msgauth
