// Public suffix list (publicsuffix.org) and the DMARC Organizational Domain (RFC 7489 §3.2).
// Loads Debian's /usr/share/publicsuffix/public_suffix_list.dat: normal rules, wildcards ("*.ck"),
// exceptions ("!www.ck"), ICANN and PRIVATE sections. Rules written in UTF-8 are stored as A-labels
// (a small RFC 3492 Punycode encoder), and names looked up are converted the same way, so
// "食狮.公司.cn" and "xn--85x722f.xn--55qx5d.cn" give the same answer. Limitation: no IDNA2008
// mapping or NFC normalisation is done on non-ASCII input (only ASCII letters are lower-cased); the
// names that reach us from DNS and SMTP are A-labels already.
// Depends on base/. An instance is immutable after construction: thread-safe for readers.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.hpp"

namespace posthorn::msgauth {

inline constexpr const char* kDebianPublicSuffixList = "/usr/share/publicsuffix/public_suffix_list.dat";

class PublicSuffixList {
 public:
  // Parses the list's text. `private_rules` = false drops the PRIVATE DOMAINS section.
  explicit PublicSuffixList(std::string_view text, bool private_rules = true);

  // Reads and parses a file. Errc::kNotFound / kInvalid when it is missing or has no rules.
  static Result<std::shared_ptr<const PublicSuffixList>> load(
      const std::filesystem::path& path = kDebianPublicSuffixList, bool private_rules = true);

  size_t rule_count() const { return rules_.size(); }

  // The public suffix of `name` (lower-case, A-labels, no trailing dot); the implicit "*" rule
  // makes an unlisted TLD a suffix. "" when the name is not a valid domain name (empty label,
  // leading dot, a label over 63 bytes, bad UTF-8).
  std::string public_suffix(std::string_view name) const;
  // The public suffix plus one label (the "registrable domain"); nullopt when `name` is itself a
  // public suffix or invalid.
  std::optional<std::string> registrable_domain(std::string_view name) const;
  // RFC 7489 §3.2: the registrable domain, or the (normalised) name itself when it is a public
  // suffix; "" for an invalid name.
  std::string organizational_domain(std::string_view name) const;

 private:
  enum : uint8_t { kNormal = 1, kWildcard = 2, kException = 4 };
  std::unordered_map<std::string, uint8_t> rules_;  // "ck" -> kWildcard for "*.ck"
};

// A domain name in lower-case ASCII with non-ASCII labels Punycode-encoded ("xn--..."), without a
// trailing dot. nullopt on invalid UTF-8, an empty label or a label (encoded) over 63 bytes.
std::optional<std::string> domain_to_ascii(std::string_view name);

}  // namespace posthorn::msgauth
