// The POP3 maildrop lock [RFC 1939 §8, RFC 2449 §8.1.1 IN-USE]: one POP3 session per account at a
// time in this process. IMAP sessions never take it (they see POP3's changes as expunges).
// Thread-safe. With several nodes sharing a PostgreSQL store the lock has to move into the store;
// this one covers the embedded store, where one process owns the data folder.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_set>

namespace posthorn::server::pop3 {

class MaildropLocks {
 public:
  // Holds one account's lock; releasing it on destruction (however the session ends).
  class Guard {
   public:
    Guard(Guard&& other) noexcept : locks_(other.locks_), account_(other.account_) { other.locks_ = nullptr; }
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() {
      if (locks_ != nullptr) locks_->release(account_);
    }

   private:
    friend class MaildropLocks;
    Guard(MaildropLocks* locks, int64_t account) : locks_(locks), account_(account) {}
    MaildropLocks* locks_;
    int64_t account_;
  };

  // The lock, or nullopt while another session holds it.
  std::optional<Guard> try_lock(int64_t account);
  bool locked(int64_t account);

 private:
  void release(int64_t account);

  std::mutex mu_;
  std::unordered_set<int64_t> held_;  // guarded by mu_
};

}  // namespace posthorn::server::pop3
