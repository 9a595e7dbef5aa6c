// SqliteQueue: the embedded queue::Queue. Entries and per-recipient state live in
// <data_dir>/queue.db (SQLite, WAL, synchronous=FULL); message bytes in spool files
// <data_dir>/queue/<id>, written like blobs (temp file, fdatasync, rename, directory fsync).
//
// Why queue.db and not directory.db (DESIGN.md §4 lists the queue there): the queue is written on
// every remote message and every delivery attempt, while the directory is read on every login and
// RCPT; separate files keep the queue's writes from taking the directory's write lock, and the
// queue can be inspected or reset without touching accounts. Both are in the data folder.
//
// Order on enqueue: spool file durable first, then the row commit; a crash in between leaves an
// orphan spool file, removed by open(). remove() deletes the row, then the file.
// Thread-safe: one connection behind a mutex. Each queue::Queue call runs its blocking body (the
// *_blocking functions below) on the BlockingPool given to open(), as SqliteMailStore does. The
// `posthorn queue` commands open the same files from another process; SQLite's locking and
// BEGIN IMMEDIATE keep that safe.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "base/blocking_pool.hpp"
#include "queue/queue.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace posthorn::store::sqlite {

class SqliteQueue final : public queue::Queue {
 public:
  // Opens or creates <data_dir>/queue.db and <data_dir>/queue/, and removes spool files without an
  // entry (left by a crash during enqueue). Errc::kUnavailable when they cannot be opened. `pool`
  // runs every call and must outlive the queue.
  static Result<std::unique_ptr<SqliteQueue>> open(const std::filesystem::path& data_dir, BlockingPool& pool);

  Task<std::string> enqueue(queue::NewEntry entry) override;
  Task<queue::Entry> get(std::string id) override;
  Task<std::vector<queue::Entry>> list() override;
  Task<std::vector<queue::Entry>> due(int64_t now) override;
  Task<std::string> read_message(std::string id) override;
  Task<void> record_attempt(std::string id, queue::Attempt attempt) override;
  Task<void> set_next_attempt(std::string id, int64_t next_attempt) override;
  Task<void> mark_reported(std::string id, std::vector<std::string> addresses) override;
  Task<void> set_delay_notified(std::string id) override;
  Task<std::size_t> retry(std::optional<std::string> id, int64_t now) override;
  Task<void> remove(std::string id) override;

  // ---- Moving an installation (posthorn migrate) ----
  Task<void> import_entry(queue::Entry entry, std::string message) override;

  std::filesystem::path spool_path(std::string_view id) const { return spool_ / std::string(id); }

 private:
  SqliteQueue(Db db, std::filesystem::path spool, BlockingPool& pool)
      : db_(std::move(db)), spool_(std::move(spool)), pool_(pool) {}
  // Runs fn() -> Result<T> on the pool.
  template <class T, class Fn>
  Task<T> on_pool(Fn fn);

  // The blocking bodies of the Queue calls, same contracts.
  Result<std::string> enqueue_blocking(queue::NewEntry entry);
  Result<void> import_entry_blocking(const queue::Entry& entry, std::string_view message);
  // Writes the spool file durably, then the entry's rows exactly as given (both enqueue and import).
  Result<void> insert_blocking(const queue::Entry& entry, std::string_view message);
  Result<queue::Entry> get_blocking(std::string_view id);
  Result<std::string> read_message_blocking(std::string_view id);
  Result<void> record_attempt_blocking(std::string_view id, const queue::Attempt& attempt);
  Result<void> mark_reported_blocking(std::string_view id, const std::vector<std::string>& addresses);
  Result<std::size_t> retry_blocking(std::optional<std::string_view> id, int64_t now);
  Result<void> remove_blocking(std::string_view id);
  // Entries selected by `where` (SQL after WHERE, parameter ?1 bound to `param` when given).
  Result<std::vector<queue::Entry>> select(std::string_view where, std::optional<int64_t> param);
  Result<void> load_recipients(queue::Entry& entry);
  Result<std::size_t> remove_orphans();
  // Runs `sql` (an UPDATE of one entry: ?1 the id, ?2 the value); kNotFound when no row changed.
  Result<void> set_entry_value(std::string_view sql, std::string_view id, int64_t value);
  // The same inside a caller's transaction (mu_ held).
  Result<void> set_entry_value_locked(std::string_view sql, std::string_view id, int64_t value);

  std::mutex mu_;
  Db db_;  // guarded by mu_
  std::filesystem::path spool_;
  BlockingPool& pool_;
};

}  // namespace posthorn::store::sqlite
