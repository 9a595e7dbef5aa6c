// SqliteDmarcLog: the embedded msgauth::DmarcReportLog, in <data_dir>/dmarc.db (SQLite, WAL,
// synchronous=NORMAL: losing the last counts of a report in a power cut is acceptable, a slower MX is
// not). One report per (domain, UTC day): the latest published policy, the count of distinct rows,
// the overflow counter and a sent flag; one row per distinct evaluation with its count. At most
// `max_rows` distinct rows per report; further distinct rows only add to its overflow counter.
// mark_sent() drops a report's rows at once and keeps its header until prune(); an evaluation
// recorded for a day already sent starts a new report for that day.
// Its own file (not directory.db or queue.db): written on every MX message with a DMARC record,
// and disposable. Schema version 1 (Db::open_with_schema).
// Depends on msgauth/dmarc_report.hpp (the interface and text forms), store/sqlite/sqlite_db, base/.
// Thread-safe: one connection behind a mutex. Each call runs its blocking body (the *_blocking
// functions below) on the BlockingPool given to open(), as SqliteQueue does. The `posthorn dmarc`
// command opens the same file from another process; SQLite's locking keeps that safe.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "base/blocking_pool.hpp"
#include "msgauth/dmarc_report.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace posthorn::store::sqlite {

class SqliteDmarcLog final : public msgauth::DmarcReportLog {
 public:
  static constexpr std::size_t kDefaultMaxRows = 10000;
  static constexpr int64_t kKeepDays = 7;

  // Opens or creates <data_dir>/dmarc.db. Errc::kUnavailable when it cannot be opened, kInvalid when
  // it was written by a newer version. `pool` runs every call and must outlive the log.
  static Result<std::unique_ptr<SqliteDmarcLog>> open(const std::filesystem::path& data_dir, BlockingPool& pool,
                                                      std::size_t max_rows = kDefaultMaxRows);

  Task<void> record(msgauth::DmarcReportEntry entry, int64_t now) override;
  Task<std::vector<msgauth::DmarcAggregate>> due(int64_t before_day) override;
  Task<void> mark_sent(std::string domain, int64_t day) override;
  Task<std::size_t> prune(int64_t now) override;

 private:
  SqliteDmarcLog(Db db, BlockingPool& pool, std::size_t max_rows) : db_(std::move(db)), pool_(pool), max_rows_(max_rows) {}
  // The blocking bodies of the calls above, same contracts.
  Result<void> record_blocking(const msgauth::DmarcReportEntry& entry, int64_t now);
  Result<std::vector<msgauth::DmarcAggregate>> due_blocking(int64_t before_day);
  Result<void> mark_sent_blocking(std::string_view domain, int64_t day);
  Result<std::size_t> prune_blocking(int64_t now);
  Result<void> load_rows(msgauth::DmarcAggregate& report);

  std::mutex mu_;
  Db db_;  // guarded by mu_
  BlockingPool& pool_;
  const std::size_t max_rows_;
};

}  // namespace posthorn::store::sqlite
