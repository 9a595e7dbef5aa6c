// SqliteMailStore: the embedded MailStore (DESIGN.md §4) over a data folder:
//   <data_dir>/blobs/ab/cd/<sha256>     message bytes (BlobStore), shared by every message with them
//   <data_dir>/accounts/<id>/index.db   one SQLite index per account (account_index.hpp)
//
// Every SQLite and file call runs on the blocking pool (run_blocking); no call blocks the
// caller's thread. Writes to one account go through that account's queue: the first writer drains
// every queued request into ONE transaction (group commit: one WAL fsync for many appends), each
// request in its own savepoint so one request's error (over quota, no such mailbox) rolls back only
// that request. Message bytes are made durable (blob fsync + directory fsync) before their index
// transaction starts. After a commit the changes are published on feed(), then the callers resume.
// Writers of different accounts never wait for each other; reads use a second connection per account
// (WAL readers do not wait for the writer).
//
// Depends on store/ (interfaces, types, LocalChangeFeed), mime/summary (the cached parse),
// store/sqlite (Db, BlobStore, index), base/blocking_pool.hpp (header-only) and Asio.
// Thread-safe: every call may come from any thread or coroutine.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "base/blocking_pool.hpp"
#include "store/change_feed.hpp"
#include "store/sqlite/blob_store.hpp"
#include "store/store.hpp"

namespace posthorn::store::sqlite {

class SqliteAccount;

// What the account objects share with the store; outlives the store while accounts are in use.
struct StoreShared {
  StoreShared(std::filesystem::path dir, BlockingPool& p) : data_dir(std::move(dir)), pool(p) {}
  std::filesystem::path data_dir;
  BlockingPool& pool;
  std::unique_ptr<BlobStore> blobs;
  LocalChangeFeed feed;
  std::atomic<uint64_t> transactions{0};  // committed write transactions (group commits), all accounts
  std::atomic<uint64_t> indexes_opened{0};  // account indexes opened since start
  // A commit removed messages or mailboxes (or an account was deleted) since the last
  // take_garbage(): blobs may be unreferenced now.
  std::atomic<bool> garbage{false};
  // Held by a collection while it reads the account indexes, and by delete_account while it removes
  // an account's folder (so the collection never opens, and so re-creates, an index being removed).
  std::mutex accounts_dir_mu;
};

class SqliteMailStore final : public MailStore {
 public:
  // Creates <data_dir>, blobs/ and accounts/ when missing. `pool` must outlive the store and every
  // Account or Mailbox obtained from it.
  static Result<std::unique_ptr<SqliteMailStore>> open(const std::filesystem::path& data_dir, BlockingPool& pool);
  ~SqliteMailStore() override;

  // Account objects are cached while anyone holds them, and the 32 used last stay open after
  // that; each call updates the cached limits.
  // kNotFound for an id <= 0; kUnavailable when the index cannot be opened.
  Task<std::shared_ptr<Account>> account(AccountId id, Limits limits) override;
  // One blob for all targets; an unknown or invalid mailbox name falls back to INBOX.
  Task<std::vector<Result<AppendResult>>> deliver(Delivery delivery) override;
  // Removes accounts/<id>/ (a missing account is not an error). Objects of that account still held
  // elsewhere return kNotFound afterwards. Blobs are freed by the next collect_garbage().
  Task<void> delete_account(AccountId id) override;
  ChangeFeed& feed() override { return shared_->feed; }

  struct GcStats {
    std::size_t blobs_removed = 0;
    std::size_t blobs_kept = 0;
    std::size_t tmp_removed = 0;
    uint64_t bytes_freed = 0;
    bool skipped = false;  // another process had the store open: nothing was removed
  };
  // kStartup: before any writer of this process runs; also empties blobs/tmp (a crash's leftovers).
  // kServing: while deliveries and appends run; blobs/tmp is left alone (its files may be writes in
  // progress).
  enum class GcMode { kStartup, kServing };
  // Removes every blob no account index refers to (and in kStartup the files in blobs/tmp).
  // Blocking; one collection at a time. Safe beside this process's writers: a blob being delivered
  // or appended is pinned from before its file is looked for until its index entry is committed
  // (BlobStore::put_pinned), and the collection keeps every blob pinned when it checks it or
  // unpinned since it began, because its read of the indexes may predate that commit. Other
  // processes are excluded by <data_dir>/store.lock: every open store holds a shared flock on it
  // and collection needs it exclusively, so while a `posthorn import` (or a second server) has the
  // store open, collection is skipped (stats.skipped) instead of racing it. Removes nothing when any
  // index cannot be read. Counts its work in Metrics (posthorn_blob_gc_*).
  Result<GcStats> collect_garbage(GcMode mode = GcMode::kStartup);
  // The same on the blocking pool given to open(), for a caller on an I/O thread (serve's GC loop).
  Task<GcStats> collect_garbage_async(GcMode mode);
  // True when blobs may have become garbage since the last call (and clears that); a caller that
  // then cannot collect (error, skipped) calls mark_garbage() to try again later.
  bool take_garbage() { return shared_->garbage.exchange(false); }
  void mark_garbage() { shared_->garbage = true; }

  // Committed write transactions since open (all accounts): with group commit this grows slower
  // than the number of concurrent writes. For tests and metrics.
  uint64_t transactions() const { return shared_->transactions.load(); }
  // Account indexes opened since open(): a burst of logins of one account, or a client that
  // reconnects soon, opens its index once. For tests and metrics.
  uint64_t indexes_opened() const { return shared_->indexes_opened.load(); }
  BlobStore& blobs() { return *shared_->blobs; }

 private:
  SqliteMailStore(std::shared_ptr<StoreShared> shared, int lock_fd) : shared_(std::move(shared)), lock_fd_(lock_fd) {}
  Task<std::shared_ptr<SqliteAccount>> account_impl(AccountId id, Limits limits);

  std::shared_ptr<SqliteAccount> live_account(AccountId id, const Limits& limits);
  std::shared_ptr<SqliteAccount> keep_warm(std::shared_ptr<SqliteAccount> account);
  void release(std::shared_ptr<SqliteAccount> evicted);

  std::shared_ptr<StoreShared> shared_;
  std::mutex gc_mu_;  // one collection at a time
  int lock_fd_ = -1;  // <data_dir>/store.lock, flock(LOCK_SH) while open
  std::mutex mu_;
  std::map<AccountId, std::weak_ptr<SqliteAccount>> accounts_;  // guarded by mu_
  // The accounts used last, kept open after their last session ends (most recent first; guarded by
  // mu_), so a client that reconnects does not pay for opening its index again.
  std::deque<std::shared_ptr<SqliteAccount>> warm_;
  // Opening an account holds its stripe: concurrent logins of one account open it once.
  std::array<std::mutex, 16> open_mu_;
};

}  // namespace posthorn::store::sqlite
