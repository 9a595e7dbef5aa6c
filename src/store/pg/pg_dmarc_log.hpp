// PgDmarcLog: the msgauth::DmarcReportLog on a shared PostgreSQL database (issue 20), so that the
// DMARC evaluations of every node count in one report per (policy domain, UTC day). Same semantics
// as the embedded SqliteDmarcLog (store/sqlite): a report keeps the latest published policy, at most
// `max_rows` distinct rows with their counts (further distinct rows only add to its overflow
// counter), and a sent flag; mark_sent() drops a report's rows at once (kNotFound for no report) and
// keeps its header until prune(); an evaluation recorded for a day already sent starts that day's
// report over; prune() removes sent reports and everything older than 7 days.
//
// Schema (component "reports" of pg_schema's migrations, pg_reports_schema.cpp):
//   dmarc_report(domain, day, policy, row_count, overflow, sent)   one per report
//   dmarc_row(domain, day, digest, fields, count, seq)             one per distinct row; digest is
//                     the SHA-256 of fields (msgauth::serialize_row), seq the order first counted
//
// Concurrency (several nodes recording at once): record() is one transaction that first upserts the
// report's row (INSERT ... ON CONFLICT DO UPDATE), which locks it until the commit, so every
// record() of one report on any node runs after the other: counts are never lost and the row bound
// holds exactly. Transactions run again after a serialization failure or deadlock
// (pg_transaction.hpp); due() reads one REPEATABLE READ snapshot.
//
// No call blocks a thread (pg_client is asynchronous). Thread-safe; the log must outlive its calls.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "msgauth/dmarc_report.hpp"
#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

struct PgDmarcLogOptions {
  PoolOptions pool;
  std::size_t max_rows = 10000;  // distinct rows per report (as SqliteDmarcLog::kDefaultMaxRows)
};

class PgDmarcLog final : public msgauth::DmarcReportLog {
 public:
  static constexpr int64_t kKeepDays = 7;

  // Connects and brings the "reports" schema to its current version (kInvalid for a newer one,
  // kUnavailable when the database cannot be reached). Queries run on `executor`.
  // (options by reference: g++ 12 and by-value aggregates in co_await expressions, pg_client.hpp.)
  static Task<std::unique_ptr<PgDmarcLog>> open(boost::asio::any_io_executor executor,
                                                const PgDmarcLogOptions& options);

  Task<void> record(msgauth::DmarcReportEntry entry, int64_t now) override;
  Task<std::vector<msgauth::DmarcAggregate>> due(int64_t before_day) override;
  Task<void> mark_sent(std::string domain, int64_t day) override;
  Task<std::size_t> prune(int64_t now) override;
  // One node at a time sends a report (table report_claim, pg_reports_schema.hpp).
  Task<bool> claim(std::string domain, int64_t day, int64_t now) override;

 private:
  PgDmarcLog(boost::asio::any_io_executor executor, const PgDmarcLogOptions& options);

  PgDmarcLogOptions options_;
  Pool pool_;
};

}  // namespace posthorn::store::pg
