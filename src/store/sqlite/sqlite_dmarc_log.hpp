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
// Thread-safe: one connection behind a mutex; every call blocks (use the blocking pool).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "msgauth/dmarc_report.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace posthorn::store::sqlite {

class SqliteDmarcLog final : public msgauth::DmarcReportLog {
 public:
  static constexpr std::size_t kDefaultMaxRows = 10000;
  static constexpr int64_t kKeepDays = 7;

  // Opens or creates <data_dir>/dmarc.db. Errc::kUnavailable when it cannot be opened, kInvalid when
  // it was written by a newer version.
  static Result<std::unique_ptr<SqliteDmarcLog>> open(const std::filesystem::path& data_dir,
                                                      std::size_t max_rows = kDefaultMaxRows);

  Result<void> record(const msgauth::DmarcReportEntry& entry, int64_t now) override;
  Result<std::vector<msgauth::DmarcAggregate>> due(int64_t before_day) override;
  Result<void> mark_sent(std::string_view domain, int64_t day) override;
  Result<std::size_t> prune(int64_t now) override;

 private:
  SqliteDmarcLog(Db db, std::size_t max_rows) : db_(std::move(db)), max_rows_(max_rows) {}
  Result<void> load_rows(msgauth::DmarcAggregate& report);

  std::mutex mu_;
  Db db_;  // guarded by mu_
  const std::size_t max_rows_;
};

}  // namespace posthorn::store::sqlite
