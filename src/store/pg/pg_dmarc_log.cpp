// PgDmarcLog (see pg_dmarc_log.hpp). Implementation notes
// - The text forms are sent as binary bytea parameters and read back with Rows::bytes().
// - record() locks the report's row first (the upsert), then touches its rows; mark_sent() does the
//   same, and prune() deletes reports whose rows go by cascade: one lock order, report then rows.
// - g++ 12 (DESIGN.md §3, pg_client.hpp): co_await only as a statement or a plain initializer; the
//   transaction bodies are plain lambdas returning the Task of a named coroutine.
#include "store/pg/pg_dmarc_log.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <map>
#include <utility>

#include "base/log.hpp"
#include "store/pg/pg_reports_schema.hpp"
#include "store/pg/pg_schema.hpp"
#include "store/pg/pg_transaction.hpp"

namespace posthorn::store::pg {

namespace asio = boost::asio;
using msgauth::DmarcAggregate;

namespace {

// One evaluation as stored.
struct Counted {
  std::string domain;
  int64_t day = 0;
  std::string policy;  // msgauth::serialize_published
  std::string fields;  // msgauth::serialize_row
  int64_t max_rows = 0;
};

Task<void> record_in(Connection& c, std::shared_ptr<const Counted> e) {
  // The report, locked until the commit; one already sent starts over.
  auto report = co_await c.query(
      "INSERT INTO dmarc_report (domain, day, policy) VALUES ($1, $2, $3::bytea) ON CONFLICT (domain, day) DO UPDATE "
      "SET policy = excluded.policy, "
      "row_count = CASE WHEN dmarc_report.sent THEN 0 ELSE dmarc_report.row_count END, "
      "overflow = CASE WHEN dmarc_report.sent THEN 0 ELSE dmarc_report.overflow END, sent = false "
      "RETURNING row_count",
      Param::text(e->domain), Param::integer(e->day), Param::bytes(e->policy));
  if (!report) co_return report.error();
  const int64_t distinct = report->integer(0, 0);
  auto bumped = co_await c.query(
      "UPDATE dmarc_row SET count = count + 1 WHERE domain = $1 AND day = $2 AND digest = sha256($3::bytea)",
      Param::text(e->domain), Param::integer(e->day), Param::bytes(e->fields));
  if (!bumped) co_return bumped.error();
  if (bumped->affected() > 0) co_return Result<void>{};
  if (distinct >= e->max_rows) {
    auto over = co_await c.query("UPDATE dmarc_report SET overflow = overflow + 1 WHERE domain = $1 AND day = $2",
                                 Param::text(e->domain), Param::integer(e->day));
    if (!over) co_return over.error();
    co_return Result<void>{};
  }
  auto added = co_await c.query(
      "WITH added AS (INSERT INTO dmarc_row (domain, day, digest, fields, count) "
      "VALUES ($1, $2, sha256($3::bytea), $3::bytea, 1)) "
      "UPDATE dmarc_report SET row_count = row_count + 1 WHERE domain = $1 AND day = $2",
      Param::text(e->domain), Param::integer(e->day), Param::bytes(e->fields));
  if (!added) co_return added.error();
  co_return Result<void>{};
}

Task<std::vector<DmarcAggregate>> due_in(Connection& c, int64_t before_day) {
  auto reports = co_await c.query(
      "SELECT domain, day, policy, overflow FROM dmarc_report WHERE NOT sent AND day < $1 "
      "AND (row_count > 0 OR overflow > 0) ORDER BY day, domain COLLATE \"C\"",
      Param::integer(before_day));
  if (!reports) co_return reports.error();
  std::vector<DmarcAggregate> out;
  std::map<std::pair<std::string, int64_t>, std::size_t> index;
  for (int i = 0; i < reports->size(); ++i) {
    auto policy = msgauth::parse_published(reports->bytes(i, 2));
    if (!policy) {
      spdlog::warn("dmarc_report: unreadable policy in the report for {} skipped", reports->text(i, 0));
      continue;
    }
    index[{std::string(reports->text(i, 0)), reports->integer(i, 1)}] = out.size();
    out.push_back(DmarcAggregate{std::string(reports->text(i, 0)), reports->integer(i, 1), std::move(*policy), {},
                                 uint64_t(reports->integer(i, 3))});
  }
  if (out.empty()) co_return out;
  auto rows = co_await c.query(
      "SELECT w.domain, w.day, w.fields, w.count FROM dmarc_row w JOIN dmarc_report r USING (domain, day) "
      "WHERE NOT r.sent AND r.day < $1 ORDER BY w.seq",
      Param::integer(before_day));
  if (!rows) co_return rows.error();
  for (int i = 0; i < rows->size(); ++i) {
    auto it = index.find({std::string(rows->text(i, 0)), rows->integer(i, 1)});
    if (it == index.end()) continue;
    auto parsed = msgauth::parse_row(rows->bytes(i, 2));
    if (!parsed) {
      spdlog::warn("dmarc_row: unreadable row in the report for {} skipped", rows->text(i, 0));
      continue;
    }
    out[it->second].rows.emplace_back(std::move(*parsed), uint64_t(rows->integer(i, 3)));
  }
  co_return out;
}

Task<void> mark_sent_in(Connection& c, std::string domain, int64_t day) {
  auto marked = co_await c.query("UPDATE dmarc_report SET sent = true WHERE domain = $1 AND day = $2",
                                 Param::text(domain), Param::integer(day));
  if (!marked) co_return marked.error();
  if (marked->affected() == 0) co_return make_error(Errc::kNotFound, "no such DMARC report");
  auto dropped = co_await c.query("DELETE FROM dmarc_row WHERE domain = $1 AND day = $2", Param::text(domain),
                                  Param::integer(day));
  if (!dropped) co_return dropped.error();
  auto ended_task = end_report_claim(c, "dmarc", domain, day);
  auto ended = co_await std::move(ended_task);
  co_return ended;
}

}  // namespace

PgDmarcLog::PgDmarcLog(asio::any_io_executor executor, const PgDmarcLogOptions& options)
    : options_(options), pool_(executor, options.pool) {}

Task<std::unique_ptr<PgDmarcLog>> PgDmarcLog::open(asio::any_io_executor executor, const PgDmarcLogOptions& options) {
  if (options.max_rows == 0) co_return make_error(Errc::kInvalid, "the DMARC report row limit must be positive");
  std::unique_ptr<PgDmarcLog> log(new PgDmarcLog(executor, options));
  {
    auto migrating = migrate_on_own_connection(executor, log->options_.pool.connect, &migrate_reports_schema);
    auto migrated = co_await std::move(migrating);
    if (!migrated) co_return migrated.error();
  }
  co_return std::move(log);
}

Task<void> PgDmarcLog::record(msgauth::DmarcReportEntry entry, int64_t now) {
  auto counted = std::make_shared<const Counted>(Counted{entry.policy.domain, msgauth::day_start(now),
                                                         msgauth::serialize_published(entry.policy),
                                                         msgauth::serialize_row(entry.row), int64_t(options_.max_rows)});
  TxBody<void> body = [counted](Connection& c) { return record_in(c, counted); };
  auto done = co_await transaction<void>(pool_, std::move(body), "dmarc report");
  co_return done;
}

Task<std::vector<DmarcAggregate>> PgDmarcLog::due(int64_t before_day) {
  TxBody<std::vector<DmarcAggregate>> body = [before_day](Connection& c) { return due_in(c, before_day); };
  auto due = co_await snapshot<std::vector<DmarcAggregate>>(pool_, std::move(body));
  co_return due;
}

Task<void> PgDmarcLog::mark_sent(std::string domain, int64_t day) {
  TxBody<void> body = [domain = std::move(domain), day](Connection& c) { return mark_sent_in(c, domain, day); };
  auto done = co_await transaction<void>(pool_, std::move(body), "dmarc report");
  co_return done;
}

Task<bool> PgDmarcLog::claim(std::string domain, int64_t day, int64_t now) {
  auto taken_task = claim_report(pool_, "dmarc", std::move(domain), day, now);
  auto taken = co_await std::move(taken_task);
  co_return taken;
}

Task<std::size_t> PgDmarcLog::prune(int64_t now) {
  const int64_t oldest = msgauth::day_start(now) - kKeepDays * msgauth::kDaySeconds;
  auto lease = co_await pool_.acquire();
  if (!lease) co_return lease.error();
  // The rows of the removed reports go with them (ON DELETE CASCADE); a sent report has none left.
  auto removed = co_await (*lease)->query("DELETE FROM dmarc_report WHERE sent OR day < $1", Param::integer(oldest));
  if (!removed) co_return removed.error();
  co_return std::size_t(removed->affected());
}

}  // namespace posthorn::store::pg
