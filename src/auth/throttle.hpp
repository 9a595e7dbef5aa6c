// Failed-authentication throttling. Failures are counted per (remote IP, account), per remote IP and
// per account: a few free failures, then a doubling delay before the failure reply; then a temporary
// block of that (IP, account) pair, or of the whole IP. An account is never blocked for everyone:
// its own count only lengthens the delay of failure replies, so a correct password from an IP
// without failures always gets in at once, whatever others try against the account. Memory is
// bounded (old entries are evicted). Thread-safe (one mutex); time comes from the injected Clock.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.hpp"
#include "config/config.hpp"

namespace posthorn::auth {

class Throttle {
 public:
  Throttle(const config::Auth& settings, Clock& clock, size_t max_entries = 100000);

  // True while `ip` is blocked, or `account` is blocked for `ip`; the caller refuses without
  // checking the password. An account alone is never blocked.
  bool blocked(std::string_view ip, std::string_view account);
  // Records a failure; returns how long to wait before sending the failure reply (the delay that
  // the worst of the three counts asks for).
  std::chrono::milliseconds record_failure(std::string_view ip, std::string_view account);
  // A success forgets the (IP, account) failures. The IP's and the account's counts stay until they
  // age out, so a password sprayer cannot wipe its IP's record by logging in to an account of its own.
  void record_success(std::string_view ip, std::string_view account);

  size_t size() const;

 private:
  struct Entry {
    uint32_t failures = 0;
    Clock::TimePoint first_failure{};
    Clock::TimePoint last_failure{};
    Clock::TimePoint blocked_until{};
  };
  bool is_blocked(const std::string& key, Clock::TimePoint now);
  // Counts a failure; `block_after` 0 means this key is never blocked.
  uint32_t bump(const std::string& key, Clock::TimePoint now, uint32_t block_after);
  void evict_if_full(Clock::TimePoint now);

  config::Auth settings_;
  Clock& clock_;
  size_t max_entries_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // "ip:<addr>", "pair:<addr> <address>", "acct:<address>"
};

// Remembers recently verified (user, stored hash, password) triples as keyed HMACs so that repeated
// logins skip Argon2. An entry dies after the TTL or when the stored hash changes (the hash is part
// of the key). The password never stays in memory in the clear. Thread-safe.
class CredentialCache {
 public:
  CredentialCache(std::chrono::seconds ttl, Clock& clock, size_t max_entries = 100000);

  bool contains(std::string_view user, std::string_view stored_hash, std::string_view password);
  void insert(std::string_view user, std::string_view stored_hash, std::string_view password);
  void forget(std::string_view user);

 private:
  std::string digest(std::string_view user, std::string_view stored_hash, std::string_view password) const;

  std::chrono::seconds ttl_;
  Clock& clock_;
  size_t max_entries_;
  std::string key_;  // random per process
  std::mutex mutex_;
  std::unordered_map<std::string, std::pair<std::string, Clock::TimePoint>> entries_;  // user -> (digest, expiry)
};

}  // namespace posthorn::auth
