#include "auth/directory.hpp"

#include "base/ascii.hpp"

namespace posthorn::auth {
namespace {

constexpr size_t kMaxDomain = 253;  // [RFC 1035 §2.3.4], without the trailing dot
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxLocal = 64;    // [RFC 5321 §4.5.3.1.1]

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

// LDH labels separated by dots [RFC 1123 §2.1, RFC 5890 §2.3.1]; upper case is accepted (callers
// store the lower-cased form). No trailing dot, no empty labels, no IP literals.
bool is_valid_domain(std::string_view name) {
  if (name.empty() || name.size() > kMaxDomain) return false;
  for (std::string_view label : ascii::split(name, '.')) {
    if (label.empty() || label.size() > kMaxLabel) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!is_ldh(c)) return false;
    }
  }
  return true;
}

std::optional<AddressParts> split_address(std::string_view address) {
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return std::nullopt;
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.size() > kMaxLocal || !is_valid_domain(domain)) return std::nullopt;
  for (unsigned char c : local) {
    if (c <= 0x20 || c == 0x7f || c == '@') return std::nullopt;  // UTF-8 (>= 0x80) is allowed
  }
  return AddressParts{std::string(local), ascii::lower(domain)};
}

Task<Account> Directory::find_account_by_id(AccountId id) {
  auto task = list_accounts();
  auto all = co_await std::move(task);
  if (!all) co_return all.error();
  for (auto& a : *all) {
    if (a.id == id) co_return std::move(a);
  }
  co_return make_error(Errc::kNotFound, "no such account");
}

}  // namespace posthorn::auth
