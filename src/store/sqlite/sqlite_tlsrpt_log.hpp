// SqliteTlsRptLog: the embedded queue::TlsReportLog, in <data_dir>/tlsrpt.db (SQLite, WAL,
// synchronous=NORMAL: losing the last counts of a report in a power cut is acceptable). Per
// (policy domain, UTC day, policy): the successful and failed session counts; per failure: its
// result type, MX host and IP with a count. mark_sent() drops a report's rows; a session recorded
// later for the same day starts a new report. The rows are naturally bounded per domain and day
// (policies x MX hosts x addresses x result types). Schema version 1 (Db::open_with_schema).
// Depends on queue/tls_report.hpp (the interface and key text), store/sqlite/sqlite_db, base/.
// Thread-safe: one connection behind a mutex. Each call runs its blocking body (the *_blocking
// functions below) on the BlockingPool given to open(), as SqliteQueue does.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "base/blocking_pool.hpp"
#include "queue/tls_report.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace posthorn::store::sqlite {

class SqliteTlsRptLog final : public queue::TlsReportLog {
 public:
  // Opens or creates <data_dir>/tlsrpt.db. Errc::kUnavailable when it cannot be opened, kInvalid
  // when it was written by a newer version. `pool` runs every call and must outlive the log.
  static Result<std::unique_ptr<SqliteTlsRptLog>> open(const std::filesystem::path& data_dir, BlockingPool& pool);

  Task<void> record(queue::TlsSession session, int64_t now) override;
  Task<std::vector<queue::TlsReport>> due(int64_t before_day) override;
  Task<void> mark_sent(std::string domain, int64_t day) override;

 private:
  SqliteTlsRptLog(Db db, BlockingPool& pool) : db_(std::move(db)), pool_(pool) {}
  // The blocking bodies of the calls above, same contracts.
  Result<void> record_blocking(const queue::TlsSession& session, int64_t now);
  Result<std::vector<queue::TlsReport>> due_blocking(int64_t before_day);
  Result<void> mark_sent_blocking(std::string_view domain, int64_t day);
  Result<void> load(queue::TlsReport& report);

  std::mutex mu_;
  Db db_;  // guarded by mu_
  BlockingPool& pool_;
};

}  // namespace posthorn::store::sqlite
