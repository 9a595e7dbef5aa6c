// The POP3 maildrop lock [RFC 1939 §8, RFC 2449 §8.1.1 IN-USE]: one POP3 session per account at a
// time, across every node that shares the store. IMAP sessions never take it (they see POP3's
// changes as expunges). The store backend provides it (app/backends): LocalMaildropLocks below for
// the embedded store, where one process owns the data folder; store::pg::PgMaildropLocks, an
// advisory lock in the shared PostgreSQL database, when several nodes serve the same maildrops.
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_set>

#include "base/task.hpp"
#include "store/types.hpp"

namespace posthorn::store {

// One held lock. release() gives it back and returns once any session (on any node) can take it;
// destroying a lock that was not released gives it back too (at once in process; a shared store
// sends the release without waiting for it).
class MaildropLock {
 public:
  virtual ~MaildropLock() = default;
  virtual Task<void> release() = 0;
};

class MaildropLocks {
 public:
  virtual ~MaildropLocks() = default;
  // The lock of `account`'s maildrop. Errc::kConflict while another session holds it;
  // kUnavailable when the shared store cannot be reached (the session says so and may retry).
  virtual Task<std::unique_ptr<MaildropLock>> try_lock(AccountId account) = 0;
  // Whether a session of this process holds it (tests and diagnostics).
  virtual bool held_here(AccountId account) = 0;
};

// The locks of one process. try_lock_now() is the same as try_lock() without a coroutine (the
// shared implementation takes the process's lock first, then the database's).
class LocalMaildropLocks final : public MaildropLocks {
 public:
  LocalMaildropLocks() : state_(std::make_shared<State>()) {}
  // nullptr while a session of this process holds it.
  std::unique_ptr<MaildropLock> try_lock_now(AccountId account);
  Task<std::unique_ptr<MaildropLock>> try_lock(AccountId account) override;
  bool held_here(AccountId account) override;

 private:
  // Shared with the locks handed out, so a lock may outlive this object (a session still closing
  // when the server goes away).
  struct State {
    std::mutex mu;
    std::unordered_set<AccountId> held;  // guarded by mu
  };
  class Lock;
  std::shared_ptr<State> state_;
};

}  // namespace posthorn::store
