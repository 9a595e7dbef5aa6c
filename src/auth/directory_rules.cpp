// Implementation notes
// - g++ 12 (DESIGN.md §3): co_await only as a statement or a plain initializer, no braced lists or
//   aggregate temporaries inside co_await expressions.
#include "auth/directory_rules.hpp"

// g++ 12's false maybe-uninitialized on Result<T> in coroutine frames (as in store/pg).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "base/ascii.hpp"
#include "base/log.hpp"

namespace posthorn::auth {

namespace {

constexpr size_t kMaxAddress = 254;  // [RFC 5321 §4.5.3.1.3] path less its angle brackets
constexpr size_t kMaxLocal = 64;     // [RFC 5321 §4.5.3.1.1]

// One resolve() call: expands an address through accounts, aliases, sub-addresses and catch-alls.
class AddressWalk {
 public:
  explicit AddressWalk(AddressLookup& lookup) : lookup_(lookup) {}

  Task<bool> expand(AddressParts a, int depth);
  Resolved take() { return std::move(out_); }
  bool empty() const { return out_.accounts.empty() && out_.remote.empty(); }

 private:
  Task<bool> exact(AddressParts a, int depth);
  Task<void> expand_targets(std::vector<std::string> targets, int depth);
  Task<bool> is_local(std::string domain);
  void add_remote(std::string address) {
    if (std::find(out_.remote.begin(), out_.remote.end(), address) == out_.remote.end()) {
      out_.remote.push_back(std::move(address));
    }
  }

  AddressLookup& lookup_;
  Resolved out_;
  std::set<std::string> visited_;      // lower-case addresses expanded so far
  std::map<std::string, bool> local_;  // domain -> is local
};

Task<bool> AddressWalk::expand(AddressParts a, int depth) {
  auto local = co_await is_local(a.domain);
  if (!local) co_return local.error();
  if (!*local) {
    add_remote(a.full());
    co_return true;
  }
  if (!visited_.insert(ascii::lower(a.full())).second) co_return true;  // expanded earlier in this walk
  auto hit = co_await exact(a, depth);
  if (!hit || *hit) co_return hit;
  // Sub-address: "user+tag" delivers to "user" [RFC 5233 §1 describes the convention].
  if (const size_t plus = a.local.find('+'); plus != std::string::npos && plus > 0) {
    AddressParts base;
    base.local = a.local.substr(0, plus);
    base.domain = a.domain;
    auto sub = co_await exact(std::move(base), depth);
    if (!sub || *sub) co_return sub;
  }
  const std::string catch_all = "@" + a.domain;
  auto targets = co_await lookup_.alias_targets(catch_all);
  if (!targets) co_return targets.error();
  if (!*targets) co_return false;
  if (visited_.insert(catch_all).second) {
    auto expanded = co_await expand_targets(std::move(**targets), depth + 1);
    if (!expanded) co_return expanded.error();
  }
  co_return true;
}

// An account or an alias with exactly this address.
Task<bool> AddressWalk::exact(AddressParts a, int depth) {
  auto id = co_await lookup_.account_id(a.full());
  if (!id) co_return id.error();
  if (*id) {
    if (std::find(out_.accounts.begin(), out_.accounts.end(), **id) == out_.accounts.end()) {
      out_.accounts.push_back(**id);
    }
    co_return true;
  }
  auto targets = co_await lookup_.alias_targets(a.full());
  if (!targets) co_return targets.error();
  if (!*targets) co_return false;
  auto expanded = co_await expand_targets(std::move(**targets), depth + 1);
  if (!expanded) co_return expanded.error();
  co_return true;
}

Task<void> AddressWalk::expand_targets(std::vector<std::string> targets, int depth) {
  if (depth > kMaxAliasDepth) {
    spdlog::warn("directory: alias expansion deeper than {} levels ignored", kMaxAliasDepth);
    co_return Result<void>{};
  }
  for (const auto& t : targets) {
    auto addr = normalize_address(t);
    if (!addr) continue;  // validated on insert; never expected
    auto expanded = co_await expand(std::move(*addr), depth);
    if (!expanded) co_return expanded.error();
  }
  co_return Result<void>{};
}

Task<bool> AddressWalk::is_local(std::string domain) {
  if (auto it = local_.find(domain); it != local_.end()) co_return it->second;
  auto r = co_await lookup_.is_local_domain(domain);
  if (!r) co_return r.error();
  local_.emplace(std::move(domain), *r);
  co_return *r;
}

}  // namespace

std::optional<AddressParts> normalize_address(std::string_view address) {
  if (address.size() > kMaxAddress) return std::nullopt;
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  const std::string_view local = address.substr(0, at);
  if (local.size() > kMaxLocal) return std::nullopt;
  for (unsigned char c : local) {
    if (c <= 0x20 || c == 0x7f) return std::nullopt;
  }
  std::string domain = ascii::lower(address.substr(at + 1));
  if (!is_valid_domain(domain)) return std::nullopt;
  return AddressParts{std::string(local), std::move(domain)};
}

std::optional<AddressParts> normalize_alias_address(std::string_view address) {
  if (address.starts_with('@')) {
    std::string domain = ascii::lower(address.substr(1));
    if (!is_valid_domain(domain)) return std::nullopt;
    return AddressParts{"", std::move(domain)};
  }
  return normalize_address(address);
}

Result<std::vector<std::string>> normalize_alias_targets(const std::vector<std::string>& targets) {
  if (targets.empty()) return make_error(Errc::kInvalid, "an alias needs at least one target");
  std::vector<std::string> normalized;
  for (const auto& t : targets) {
    auto parts = normalize_address(t);
    if (!parts) return make_error(Errc::kInvalid, "malformed target address");
    std::string full = parts->full();
    const bool dup = std::any_of(normalized.begin(), normalized.end(),
                                 [&](const std::string& n) { return ascii::iequals(n, full); });
    if (!dup) normalized.push_back(std::move(full));
  }
  return normalized;
}

std::string join_targets(const std::vector<std::string>& targets) {
  std::string joined;
  for (const auto& t : targets) {
    if (!joined.empty()) joined += '\n';
    joined += t;
  }
  return joined;
}

std::vector<std::string> split_targets(std::string_view joined) {
  std::vector<std::string> out;
  for (std::string_view t : ascii::split(joined, '\n')) {
    if (!t.empty()) out.emplace_back(t);
  }
  return out;
}

Result<int64_t> quota_value(uint64_t quota_bytes) {
  if (quota_bytes > uint64_t(std::numeric_limits<int64_t>::max())) {
    return make_error(Errc::kInvalid, "quota too large");
  }
  return int64_t(quota_bytes);
}

Task<Resolved> resolve_address(AddressLookup& lookup, std::string address) {
  auto addr = normalize_address(address);
  if (!addr) co_return make_error(Errc::kInvalid, "malformed address");
  AddressWalk walk(lookup);
  auto hit = co_await walk.expand(std::move(*addr), 0);
  if (!hit) co_return hit.error();
  if (walk.empty()) co_return make_error(Errc::kNotFound, "no such user");
  co_return walk.take();
}

}  // namespace posthorn::auth
