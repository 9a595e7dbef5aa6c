// SqliteTlsRptLog (see sqlite_tlsrpt_log.hpp): one IMMEDIATE transaction per recorded session; each
// call runs on the pool (run_blocking).
#include "store/sqlite/sqlite_tlsrpt_log.hpp"

#include "base/log.hpp"
#include "store/sqlite/blob_store.hpp"

namespace posthorn::store::sqlite {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kDay = 86400;

constexpr std::string_view kSchema = R"(
CREATE TABLE IF NOT EXISTS tlsrpt_policies(
  domain TEXT NOT NULL,
  day INTEGER NOT NULL,
  policy TEXT NOT NULL,
  successes INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(domain, day, policy)
);
CREATE TABLE IF NOT EXISTS tlsrpt_failures(
  domain TEXT NOT NULL,
  day INTEGER NOT NULL,
  policy TEXT NOT NULL,
  result_type TEXT NOT NULL,
  mx_host TEXT NOT NULL,
  receiving_ip TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY(domain, day, policy, result_type, mx_host, receiving_ip)
);
)";

// Version 1 is idempotent: files from before the schema_version table kept it in PRAGMA user_version.
const Migration kMigrations[] = {{kSchema}};

int64_t day_of(int64_t t) { return t - ((t % kDay) + kDay) % kDay; }

}  // namespace

Result<std::unique_ptr<SqliteTlsRptLog>> SqliteTlsRptLog::open(const fs::path& data_dir, BlockingPool& pool) {
  if (auto r = make_durable_dir(data_dir); !r) return r.error();
  DbOptions options;
  options.synchronous_full = false;
  auto db = Db::open_with_schema(data_dir / "tlsrpt.db", options, "tlsrpt.db", kMigrations);
  if (!db) return db.error();
  return std::unique_ptr<SqliteTlsRptLog>(new SqliteTlsRptLog(std::move(*db), pool));
}

Result<void> SqliteTlsRptLog::record_blocking(const queue::TlsSession& session, int64_t now) {
  const int64_t day = day_of(now);
  const std::string& domain = session.policy.domain;
  const std::string policy = queue::serialize_policy(session.policy);
  const bool ok = session.result_type.empty();
  std::lock_guard lock(mu_);
  auto txn = Transaction::begin(db_);
  if (!txn) return txn.error();
  {
    auto st = db_.prepare(
        "INSERT INTO tlsrpt_policies(domain, day, policy, successes, failures) VALUES(?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(domain, day, policy) DO UPDATE SET successes = successes + ?4, failures = failures + ?5");
    if (!st) return st.error();
    st->bind(1, domain).bind(2, day).bind(3, policy).bind(4, int64_t(ok ? 1 : 0)).bind(5, int64_t(ok ? 0 : 1));
    if (auto r = st->run(); !r) return r.error();
  }
  if (!ok) {
    auto st = db_.prepare(
        "INSERT INTO tlsrpt_failures(domain, day, policy, result_type, mx_host, receiving_ip, count) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 1) ON CONFLICT(domain, day, policy, result_type, mx_host, receiving_ip) "
        "DO UPDATE SET count = count + 1");
    if (!st) return st.error();
    st->bind(1, domain).bind(2, day).bind(3, policy).bind(4, session.result_type).bind(5, session.mx_host)
        .bind(6, session.receiving_ip);
    if (auto r = st->run(); !r) return r.error();
  }
  return txn->commit();
}

Result<void> SqliteTlsRptLog::load(queue::TlsReport& report) {
  auto st = db_.prepare(
      "SELECT policy, successes, failures FROM tlsrpt_policies WHERE domain = ?1 AND day = ?2 ORDER BY rowid");
  if (!st) return st.error();
  st->bind(1, report.domain).bind(2, report.day);
  std::vector<std::string> keys;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto policy = queue::parse_policy_key(st->column_text(0));
    if (!policy) {
      spdlog::warn("tlsrpt.db: unreadable policy in the report for {} skipped", report.domain);
      continue;
    }
    keys.push_back(st->column_text(0));
    report.policies.push_back(queue::TlsPolicyCounts{std::move(*policy), uint64_t(st->column_int(1)),
                                                     uint64_t(st->column_int(2)), {}});
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto f = db_.prepare(
        "SELECT result_type, mx_host, receiving_ip, count FROM tlsrpt_failures WHERE domain = ?1 AND day = ?2 AND "
        "policy = ?3 ORDER BY rowid");
    if (!f) return f.error();
    f->bind(1, report.domain).bind(2, report.day).bind(3, keys[i]);
    for (;;) {
      auto row = f->step();
      if (!row) return row.error();
      if (!*row) break;
      report.policies[i].details.push_back(
          queue::TlsFailureCount{f->column_text(0), f->column_text(1), f->column_text(2), uint64_t(f->column_int(3))});
    }
  }
  return {};
}

Result<std::vector<queue::TlsReport>> SqliteTlsRptLog::due_blocking(int64_t before_day) {
  std::lock_guard lock(mu_);
  auto txn = Transaction::begin(db_, Transaction::Kind::kDeferred);
  if (!txn) return txn.error();
  auto st = db_.prepare("SELECT DISTINCT domain, day FROM tlsrpt_policies WHERE day < ?1 ORDER BY day, domain");
  if (!st) return st.error();
  st->bind(1, before_day);
  std::vector<queue::TlsReport> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(queue::TlsReport{st->column_text(0), st->column_int(1), {}});
  }
  for (auto& r : out) {
    if (auto l = load(r); !l) return l.error();
  }
  return out;
}

Result<void> SqliteTlsRptLog::mark_sent_blocking(std::string_view domain, int64_t day) {
  std::lock_guard lock(mu_);
  auto txn = Transaction::begin(db_);
  if (!txn) return txn.error();
  for (std::string_view sql : {"DELETE FROM tlsrpt_policies WHERE domain = ?1 AND day = ?2",
                               "DELETE FROM tlsrpt_failures WHERE domain = ?1 AND day = ?2"}) {
    auto st = db_.prepare(sql);
    if (!st) return st.error();
    st->bind(1, domain).bind(2, day);
    if (auto r = st->run(); !r) return r.error();
  }
  return txn->commit();
}

Task<void> SqliteTlsRptLog::record(queue::TlsSession session, int64_t now) {
  return run_blocking(pool_, [this, session = std::move(session), now] { return record_blocking(session, now); });
}

Task<std::vector<queue::TlsReport>> SqliteTlsRptLog::due(int64_t before_day) {
  return run_blocking(pool_, [this, before_day] { return due_blocking(before_day); });
}

Task<void> SqliteTlsRptLog::mark_sent(std::string domain, int64_t day) {
  return run_blocking(pool_, [this, domain = std::move(domain), day] { return mark_sent_blocking(domain, day); });
}

}  // namespace posthorn::store::sqlite
