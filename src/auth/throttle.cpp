#include "auth/throttle.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <stdexcept>

#include "base/crypto.hpp"
#include <vector>

#include "base/ascii.hpp"
#include "base/random.hpp"


// Implementation notes:
// - One Entry per key ("ip:<addr>", "pair:<addr> <lower-cased name>", "acct:<lower-cased name>"). A
//   failure bumps all three; the delay follows the worst count. Only the pair (after
//   throttle_block_after) and the IP (after throttle_ip_block_after) are ever blocked: blocking the
//   account would let anyone lock its owner out [issue 28].
// - An entry is forgotten when its last failure is older than the window and it is not blocked, and
//   when its block ends (a fresh start after serving the block).
// - When the table is full, expired entries go first, then the oldest eighth by last failure, so a
//   flood of new keys costs one O(n) pass per n/8 insertions.

namespace posthorn::auth {
namespace {

std::string ip_key(std::string_view ip) { return "ip:" + std::string(ip); }
std::string account_key(std::string_view account) { return "acct:" + ascii::lower(account); }
// A space cannot occur in an IP address, so the pair key is unambiguous.
std::string pair_key(std::string_view ip, std::string_view account) {
  return "pair:" + std::string(ip) + " " + ascii::lower(account);
}

}  // namespace

Throttle::Throttle(const config::Auth& settings, Clock& clock, size_t max_entries)
    : settings_(settings), clock_(clock), max_entries_(std::max<size_t>(max_entries, 1)) {}

bool Throttle::is_blocked(const std::string& key, Clock::TimePoint now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  const Entry& e = it->second;
  if (e.blocked_until != Clock::TimePoint{}) {
    if (now < e.blocked_until) return true;
    entries_.erase(it);  // block served: start over
    return false;
  }
  if (now - e.last_failure > settings_.throttle_window) entries_.erase(it);
  return false;
}

bool Throttle::blocked(std::string_view ip, std::string_view account) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  bool result = false;
  if (!ip.empty()) result = is_blocked(ip_key(ip), now) || result;
  if (!account.empty()) result = is_blocked(pair_key(ip, account), now) || result;
  return result;
}

uint32_t Throttle::bump(const std::string& key, Clock::TimePoint now, uint32_t block_after) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    evict_if_full(now);
    it = entries_.emplace(key, Entry{}).first;
  }
  Entry& e = it->second;
  if (e.failures > 0 && e.blocked_until == Clock::TimePoint{} && now - e.last_failure > settings_.throttle_window) {
    e = Entry{};  // the earlier failures are too old to count
  }
  if (e.blocked_until != Clock::TimePoint{} && now >= e.blocked_until) e = Entry{};
  if (e.failures == 0) e.first_failure = now;
  e.failures++;
  e.last_failure = now;
  if (block_after > 0 && e.failures >= block_after && e.blocked_until == Clock::TimePoint{}) {
    e.blocked_until = now + settings_.throttle_block_duration;
  }
  return e.failures;
}

std::chrono::milliseconds Throttle::record_failure(std::string_view ip, std::string_view account) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  uint32_t worst = 0;
  if (!ip.empty()) worst = std::max(worst, bump(ip_key(ip), now, settings_.throttle_ip_block_after));
  if (!account.empty()) {
    worst = std::max(worst, bump(pair_key(ip, account), now, settings_.throttle_block_after));
    worst = std::max(worst, bump(account_key(account), now, 0));
  }
  if (worst <= settings_.throttle_free_failures) return std::chrono::milliseconds(0);
  // base * 2^(n - free - 1), capped; the shift is bounded so it cannot overflow.
  const uint32_t doublings = std::min<uint32_t>(worst - settings_.throttle_free_failures - 1, 30);
  const auto delay = settings_.throttle_base_delay * (int64_t(1) << doublings);
  return std::min(delay, settings_.throttle_max_delay);
}

void Throttle::record_success(std::string_view ip, std::string_view account) {
  std::lock_guard lock(mutex_);
  if (!account.empty()) entries_.erase(pair_key(ip, account));
}

size_t Throttle::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void Throttle::evict_if_full(Clock::TimePoint now) {
  if (entries_.size() < max_entries_) return;
  std::erase_if(entries_, [&](const auto& kv) {
    const Entry& e = kv.second;
    if (e.blocked_until != Clock::TimePoint{}) return now >= e.blocked_until;
    return now - e.last_failure > settings_.throttle_window;
  });
  if (entries_.size() < max_entries_) return;
  std::vector<std::pair<Clock::TimePoint, std::string>> by_age;
  by_age.reserve(entries_.size());
  for (const auto& [key, e] : entries_) by_age.emplace_back(e.last_failure, key);
  const size_t drop = std::max<size_t>(1, entries_.size() / 8);
  std::nth_element(by_age.begin(), by_age.begin() + ptrdiff_t(drop - 1), by_age.end());
  for (size_t i = 0; i < drop; ++i) entries_.erase(by_age[i].second);
}

// ---- CredentialCache ----

CredentialCache::CredentialCache(std::chrono::seconds ttl, Clock& clock, size_t max_entries)
    : ttl_(ttl), clock_(clock), max_entries_(std::max<size_t>(max_entries, 1)), key_(random_bytes(32)) {}

std::string CredentialCache::digest(std::string_view user, std::string_view stored_hash,
                                    std::string_view password) const {
  // Length-prefixed fields, so ("ab","c") and ("a","bc") cannot collide.
  std::string input;
  input.reserve(user.size() + stored_hash.size() + password.size() + 24);
  for (std::string_view part : {user, stored_hash, password}) {
    input += std::to_string(part.size());
    input += ':';
    input += part;
  }
  std::string digest = hmac_sha256(key_, input);
  OPENSSL_cleanse(input.data(), input.size());
  return digest;
}

bool CredentialCache::contains(std::string_view user, std::string_view stored_hash, std::string_view password) {
  if (ttl_.count() <= 0) return false;
  const std::string d = digest(user, stored_hash, password);
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(user));
  if (it == entries_.end()) return false;
  if (now >= it->second.second) {
    entries_.erase(it);
    return false;
  }
  const std::string& have = it->second.first;
  return have.size() == d.size() && CRYPTO_memcmp(have.data(), d.data(), d.size()) == 0;
}

void CredentialCache::insert(std::string_view user, std::string_view stored_hash, std::string_view password) {
  if (ttl_.count() <= 0) return;
  std::string d = digest(user, stored_hash, password);
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  std::string key(user);
  if (entries_.size() >= max_entries_ && !entries_.contains(key)) {
    std::erase_if(entries_, [&](const auto& kv) { return now >= kv.second.second; });
    if (entries_.size() >= max_entries_) {
      // Every entry has the same TTL, so the earliest expiry is the oldest insertion.
      auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.second < b.second.second;
      });
      entries_.erase(oldest);
    }
  }
  entries_[std::move(key)] = {std::move(d), now + ttl_};
}

void CredentialCache::forget(std::string_view user) {
  std::lock_guard lock(mutex_);
  entries_.erase(std::string(user));
}

}  // namespace posthorn::auth
