// SqliteDmarcLog (see sqlite_dmarc_log.hpp): counts per report and row in one IMMEDIATE transaction;
// each call runs on the pool (run_blocking).
#include "store/sqlite/sqlite_dmarc_log.hpp"

#include "base/log.hpp"
#include "store/sqlite/blob_store.hpp"

namespace posthorn::store::sqlite {

namespace fs = std::filesystem;
using msgauth::DmarcAggregate;

namespace {

constexpr std::string_view kSchema = R"(
CREATE TABLE IF NOT EXISTS dmarc_reports(
  domain TEXT NOT NULL,
  day INTEGER NOT NULL,
  policy TEXT NOT NULL,
  rows INTEGER NOT NULL DEFAULT 0,
  overflow INTEGER NOT NULL DEFAULT 0,
  sent INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(domain, day)
);
CREATE TABLE IF NOT EXISTS dmarc_rows(
  domain TEXT NOT NULL,
  day INTEGER NOT NULL,
  fields TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY(domain, day, fields)
);
)";

// Version 1 is idempotent: files from before the schema_version table kept it in PRAGMA user_version.
const Migration kMigrations[] = {{kSchema}};

// Binds ?1 domain, ?2 day and runs `sql`.
Result<void> run_for_report(Db& db, std::string_view sql, std::string_view domain, int64_t day) {
  auto st = db.prepare(sql);
  if (!st) return st.error();
  st->bind(1, domain).bind(2, day);
  return st->run();
}

}  // namespace

Result<std::unique_ptr<SqliteDmarcLog>> SqliteDmarcLog::open(const fs::path& data_dir, BlockingPool& pool,
                                                             std::size_t max_rows) {
  if (auto r = make_durable_dir(data_dir); !r) return r.error();
  DbOptions options;
  options.synchronous_full = false;
  auto db = Db::open_with_schema(data_dir / "dmarc.db", options, "dmarc.db", kMigrations);
  if (!db) return db.error();
  return std::unique_ptr<SqliteDmarcLog>(new SqliteDmarcLog(std::move(*db), pool, max_rows));
}

Result<void> SqliteDmarcLog::record_blocking(const msgauth::DmarcReportEntry& entry, int64_t now) {
  const int64_t day = msgauth::day_start(now);
  const std::string& domain = entry.policy.domain;
  const std::string fields = msgauth::serialize_row(entry.row);
  std::lock_guard lock(mu_);
  auto txn = Transaction::begin(db_);
  if (!txn) return txn.error();
  {
    // A report already sent for this day starts over (its rows are gone already).
    auto st = db_.prepare(
        "INSERT INTO dmarc_reports(domain, day, policy) VALUES(?1, ?2, ?3) ON CONFLICT(domain, day) DO UPDATE SET "
        "policy = excluded.policy, rows = CASE WHEN sent THEN 0 ELSE rows END, "
        "overflow = CASE WHEN sent THEN 0 ELSE overflow END, sent = 0");
    if (!st) return st.error();
    st->bind(1, domain).bind(2, day).bind(3, msgauth::serialize_published(entry.policy));
    if (auto r = st->run(); !r) return r.error();
  }
  auto bump = db_.prepare("UPDATE dmarc_rows SET count = count + 1 WHERE domain = ?1 AND day = ?2 AND fields = ?3");
  if (!bump) return bump.error();
  bump->bind(1, domain).bind(2, day).bind(3, fields);
  if (auto r = bump->run(); !r) return r.error();
  if (db_.changes() == 0) {
    auto rows = db_.prepare("SELECT rows FROM dmarc_reports WHERE domain = ?1 AND day = ?2");
    if (!rows) return rows.error();
    rows->bind(1, domain).bind(2, day);
    auto found = rows->step();
    if (!found) return found.error();
    const int64_t distinct = *found ? rows->column_int(0) : 0;
    if (distinct >= int64_t(max_rows_)) {
      if (auto r = run_for_report(db_, "UPDATE dmarc_reports SET overflow = overflow + 1 WHERE domain = ?1 AND day = ?2",
                                  domain, day);
          !r) {
        return r.error();
      }
    } else {
      auto insert = db_.prepare("INSERT INTO dmarc_rows(domain, day, fields, count) VALUES(?1, ?2, ?3, 1)");
      if (!insert) return insert.error();
      insert->bind(1, domain).bind(2, day).bind(3, fields);
      if (auto r = insert->run(); !r) return r.error();
      if (auto r = run_for_report(db_, "UPDATE dmarc_reports SET rows = rows + 1 WHERE domain = ?1 AND day = ?2",
                                  domain, day);
          !r) {
        return r.error();
      }
    }
  }
  return txn->commit();
}

Result<void> SqliteDmarcLog::load_rows(DmarcAggregate& report) {
  auto st = db_.prepare("SELECT fields, count FROM dmarc_rows WHERE domain = ?1 AND day = ?2 ORDER BY rowid");
  if (!st) return st.error();
  st->bind(1, report.domain).bind(2, report.day);
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto parsed = msgauth::parse_row(st->column_text(0));
    if (!parsed) {
      spdlog::warn("dmarc.db: unreadable row in the report for {} skipped", report.domain);
      continue;
    }
    report.rows.emplace_back(std::move(*parsed), uint64_t(st->column_int(1)));
  }
  return {};
}

Result<std::vector<DmarcAggregate>> SqliteDmarcLog::due_blocking(int64_t before_day) {
  std::lock_guard lock(mu_);
  auto txn = Transaction::begin(db_, Transaction::Kind::kDeferred);
  if (!txn) return txn.error();
  auto st = db_.prepare(
      "SELECT domain, day, policy, overflow FROM dmarc_reports WHERE sent = 0 AND day < ?1 AND (rows > 0 OR overflow > 0) "
      "ORDER BY day, domain");
  if (!st) return st.error();
  st->bind(1, before_day);
  std::vector<DmarcAggregate> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto policy = msgauth::parse_published(st->column_text(2));
    if (!policy) {
      spdlog::warn("dmarc.db: unreadable policy in the report for {} skipped", st->column_text(0));
      continue;
    }
    out.push_back(DmarcAggregate{st->column_text(0), st->column_int(1), std::move(*policy), {},
                                 uint64_t(st->column_int(3))});
  }
  for (auto& report : out) {
    if (auto r = load_rows(report); !r) return r.error();
  }
  if (auto r = txn->commit(); !r) return r.error();
  return out;
}

Result<void> SqliteDmarcLog::mark_sent_blocking(std::string_view domain, int64_t day) {
  std::lock_guard lock(mu_);
  auto txn = Transaction::begin(db_);
  if (!txn) return txn.error();
  if (auto r = run_for_report(db_, "UPDATE dmarc_reports SET sent = 1 WHERE domain = ?1 AND day = ?2", domain, day); !r) {
    return r.error();
  }
  if (db_.changes() == 0) return make_error(Errc::kNotFound, "no such DMARC report");
  if (auto r = run_for_report(db_, "DELETE FROM dmarc_rows WHERE domain = ?1 AND day = ?2", domain, day); !r) {
    return r.error();
  }
  return txn->commit();
}

Result<std::size_t> SqliteDmarcLog::prune_blocking(int64_t now) {
  const int64_t oldest = msgauth::day_start(now) - kKeepDays * msgauth::kDaySeconds;
  std::lock_guard lock(mu_);
  auto txn = Transaction::begin(db_);
  if (!txn) return txn.error();
  auto rows = db_.prepare("DELETE FROM dmarc_rows WHERE day < ?1");
  if (!rows) return rows.error();
  rows->bind(1, oldest);
  if (auto r = rows->run(); !r) return r.error();
  auto reports = db_.prepare("DELETE FROM dmarc_reports WHERE sent = 1 OR day < ?1");
  if (!reports) return reports.error();
  reports->bind(1, oldest);
  if (auto r = reports->run(); !r) return r.error();
  const std::size_t removed = std::size_t(db_.changes());
  if (auto r = txn->commit(); !r) return r.error();
  return removed;
}

Task<void> SqliteDmarcLog::record(msgauth::DmarcReportEntry entry, int64_t now) {
  return run_blocking(pool_, [this, entry = std::move(entry), now] { return record_blocking(entry, now); });
}

Task<std::vector<DmarcAggregate>> SqliteDmarcLog::due(int64_t before_day) {
  return run_blocking(pool_, [this, before_day] { return due_blocking(before_day); });
}

Task<void> SqliteDmarcLog::mark_sent(std::string domain, int64_t day) {
  return run_blocking(pool_, [this, domain = std::move(domain), day] { return mark_sent_blocking(domain, day); });
}

Task<std::size_t> SqliteDmarcLog::prune(int64_t now) {
  return run_blocking(pool_, [this, now] { return prune_blocking(now); });
}

}  // namespace posthorn::store::sqlite
