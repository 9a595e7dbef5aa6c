// PgTlsRptLog: the queue::TlsReportLog on a shared PostgreSQL database (issue 20), so that the TLS
// sessions of every node's deliveries count in one report per (policy domain, UTC day). Same
// semantics as the embedded SqliteTlsRptLog (store/sqlite): per policy the successful and failed
// session counts, per failure (result type, MX host, address) a count; mark_sent() drops a report's
// rows; a session recorded later for the same day starts a new report.
//
// Schema (component "reports" of pg_schema's migrations, pg_reports_schema.cpp):
//   tlsrpt_policy(domain, day, digest, policy, successes, failures, seq)    digest: SHA-256 of
//                     policy (queue::serialize_policy); seq the order first counted
//   tlsrpt_failure(domain, day, digest, result_type, mx_host, receiving_ip, count, seq)
//
// Concurrency (several nodes recording at once): record() is one transaction of two upserts
// (INSERT ... ON CONFLICT DO UPDATE adding to the counts), the policy's row first, which stays
// locked until the commit: no count is lost and a mark_sent() on another node either runs before
// the session (which then starts a new report) or after it (and drops it with the report).
//
// No call blocks a thread (pg_client is asynchronous). Thread-safe; the log must outlive its calls.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "queue/tls_report.hpp"
#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

struct PgTlsRptLogOptions {
  PoolOptions pool;
};

class PgTlsRptLog final : public queue::TlsReportLog {
 public:
  // Connects and brings the "reports" schema to its current version (kInvalid for a newer one,
  // kUnavailable when the database cannot be reached). Queries run on `executor`.
  // (options by reference: g++ 12 and by-value aggregates in co_await expressions, pg_client.hpp.)
  static Task<std::unique_ptr<PgTlsRptLog>> open(boost::asio::any_io_executor executor,
                                                 const PgTlsRptLogOptions& options);

  Task<void> record(queue::TlsSession session, int64_t now) override;
  Task<std::vector<queue::TlsReport>> due(int64_t before_day) override;
  Task<void> mark_sent(std::string domain, int64_t day) override;
  // One node at a time sends a report (table report_claim, pg_reports_schema.hpp).
  Task<bool> claim(std::string domain, int64_t day, int64_t now) override;

 private:
  PgTlsRptLog(boost::asio::any_io_executor executor, const PgTlsRptLogOptions& options);

  PgTlsRptLogOptions options_;
  Pool pool_;
};

}  // namespace posthorn::store::pg
