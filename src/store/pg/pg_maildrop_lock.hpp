// PgMaildropLocks: the POP3 maildrop lock (store/maildrop_lock.hpp) held across every node that
// shares one PostgreSQL database (issue 20: "POP3's maildrop lock holds across nodes").
//
// How: each node keeps one connection of its own (a pool of one, reconnected with backoff) and
// holds, on it, a session-level advisory lock per locked maildrop (pg_try_advisory_lock on key
// kMaildropLockSpace | account). The node's in-process LocalMaildropLocks is taken first: advisory
// locks are re-entrant within one database session, so two sessions of the same node are told
// apart there, and the database only arbitrates between nodes. release() unlocks and returns once
// another node can take the lock; a lock destroyed unreleased is unlocked in the background (and
// its in-process lock is held until then, so the counts on the connection stay one per account).
//
// When the lock connection breaks, PostgreSQL drops its advisory locks. The next call on the new
// connection takes again the locks of this node's sessions; a lock another node took in between
// is logged as lost (the two sessions then both see the maildrop, which the store's transactions
// keep consistent: a message deleted twice is deleted once). A node that dies loses its locks
// with its connection, so its users can log in on another node at once.
// Thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "store/maildrop_lock.hpp"
#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

// The advisory lock keys of maildrops: this prefix in the top 16 bits, the account in the rest.
inline constexpr int64_t kMaildropLockSpace = int64_t(0x5033) << 48;  // "P3"

class PgMaildropLocks final : public MaildropLocks {
 public:
  // Connects once (kUnavailable naming the URL when the database cannot be reached).
  static Task<std::unique_ptr<PgMaildropLocks>> open(boost::asio::any_io_executor executor, const ConnectOptions& options);
  ~PgMaildropLocks() override;

  Task<std::unique_ptr<MaildropLock>> try_lock(AccountId account) override;
  bool held_here(AccountId account) override;

  struct State;  // the implementation's (pg_maildrop_lock.cpp)

 private:
  class Lock;
  explicit PgMaildropLocks(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;  // shared with the locks handed out and their background releases
};

}  // namespace posthorn::store::pg
