// PgTlsRptLog (see pg_tlsrpt_log.hpp). Implementation notes
// - The policy text is sent as a binary bytea parameter and read back with Rows::bytes().
// - g++ 12 (DESIGN.md §3, pg_client.hpp): co_await only as a statement or a plain initializer; the
//   transaction bodies are plain lambdas returning the Task of a named coroutine.
#include "store/pg/pg_tlsrpt_log.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <map>
#include <tuple>
#include <utility>

#include "base/log.hpp"
#include "store/pg/pg_reports_schema.hpp"
#include "store/pg/pg_schema.hpp"
#include "store/pg/pg_transaction.hpp"

namespace posthorn::store::pg {

namespace asio = boost::asio;
using queue::TlsReport;

namespace {

constexpr int64_t kDay = 86400;

int64_t day_of(int64_t t) { return t - ((t % kDay) + kDay) % kDay; }

// One session as stored.
struct Counted {
  std::string domain;
  int64_t day = 0;
  std::string policy;  // queue::serialize_policy
  queue::TlsSession session;
};

Task<void> record_in(Connection& c, std::shared_ptr<const Counted> e) {
  const bool ok = e->session.result_type.empty();
  auto counted = co_await c.query(
      "INSERT INTO tlsrpt_policy (domain, day, digest, policy, successes, failures) "
      "VALUES ($1, $2, sha256($3::bytea), $3::bytea, $4, $5) ON CONFLICT (domain, day, digest) DO UPDATE "
      "SET successes = tlsrpt_policy.successes + excluded.successes, failures = tlsrpt_policy.failures + excluded.failures",
      Param::text(e->domain), Param::integer(e->day), Param::bytes(e->policy), Param::integer(ok ? 1 : 0),
      Param::integer(ok ? 0 : 1));
  if (!counted) co_return counted.error();
  if (ok) co_return Result<void>{};
  auto failure = co_await c.query(
      "INSERT INTO tlsrpt_failure (domain, day, digest, result_type, mx_host, receiving_ip, count) "
      "VALUES ($1, $2, sha256($3::bytea), $4, $5, $6, 1) "
      "ON CONFLICT (domain, day, digest, result_type, mx_host, receiving_ip) DO UPDATE "
      "SET count = tlsrpt_failure.count + 1",
      Param::text(e->domain), Param::integer(e->day), Param::bytes(e->policy), Param::text(e->session.result_type),
      Param::text(e->session.mx_host), Param::text(e->session.receiving_ip));
  if (!failure) co_return failure.error();
  co_return Result<void>{};
}

Task<std::vector<TlsReport>> due_in(Connection& c, int64_t before_day) {
  auto policies = co_await c.query(
      "SELECT domain, day, digest, policy, successes, failures FROM tlsrpt_policy WHERE day < $1 "
      "ORDER BY day, domain COLLATE \"C\", seq",
      Param::integer(before_day));
  if (!policies) co_return policies.error();
  std::vector<TlsReport> out;
  // (domain, day, digest) -> (report, policy) indexes
  std::map<std::tuple<std::string, int64_t, std::string>, std::pair<std::size_t, std::size_t>> index;
  for (int i = 0; i < policies->size(); ++i) {
    const std::string domain(policies->text(i, 0));
    const int64_t day = policies->integer(i, 1);
    if (out.empty() || out.back().domain != domain || out.back().day != day) out.push_back(TlsReport{domain, day, {}});
    auto policy = queue::parse_policy_key(policies->bytes(i, 3));
    if (!policy) {
      spdlog::warn("tlsrpt_policy: unreadable policy in the report for {} skipped", domain);
      continue;
    }
    index[{domain, day, policies->bytes(i, 2)}] = {out.size() - 1, out.back().policies.size()};
    out.back().policies.push_back(queue::TlsPolicyCounts{std::move(*policy), uint64_t(policies->integer(i, 4)),
                                                         uint64_t(policies->integer(i, 5)), {}});
  }
  if (index.empty()) co_return out;
  auto failures = co_await c.query(
      "SELECT domain, day, digest, result_type, mx_host, receiving_ip, count FROM tlsrpt_failure WHERE day < $1 "
      "ORDER BY seq",
      Param::integer(before_day));
  if (!failures) co_return failures.error();
  for (int i = 0; i < failures->size(); ++i) {
    auto it = index.find({std::string(failures->text(i, 0)), failures->integer(i, 1), failures->bytes(i, 2)});
    if (it == index.end()) continue;
    out[it->second.first].policies[it->second.second].details.push_back(
        queue::TlsFailureCount{std::string(failures->text(i, 3)), std::string(failures->text(i, 4)),
                               std::string(failures->text(i, 5)), uint64_t(failures->integer(i, 6))});
  }
  co_return out;
}

}  // namespace

PgTlsRptLog::PgTlsRptLog(asio::any_io_executor executor, const PgTlsRptLogOptions& options)
    : options_(options), pool_(executor, options.pool) {}

Task<std::unique_ptr<PgTlsRptLog>> PgTlsRptLog::open(asio::any_io_executor executor, const PgTlsRptLogOptions& options) {
  std::unique_ptr<PgTlsRptLog> log(new PgTlsRptLog(executor, options));
  {
    auto migrating = migrate_on_own_connection(executor, log->options_.pool.connect, &migrate_reports_schema);
    auto migrated = co_await std::move(migrating);
    if (!migrated) co_return migrated.error();
  }
  co_return std::move(log);
}

Task<void> PgTlsRptLog::record(queue::TlsSession session, int64_t now) {
  auto counted = std::make_shared<const Counted>(
      Counted{session.policy.domain, day_of(now), queue::serialize_policy(session.policy), std::move(session)});
  TxBody<void> body = [counted](Connection& c) { return record_in(c, counted); };
  auto done = co_await transaction<void>(pool_, std::move(body), "tlsrpt");
  co_return done;
}

Task<std::vector<TlsReport>> PgTlsRptLog::due(int64_t before_day) {
  TxBody<std::vector<TlsReport>> body = [before_day](Connection& c) { return due_in(c, before_day); };
  auto due = co_await snapshot<std::vector<TlsReport>>(pool_, std::move(body));
  co_return due;
}

Task<void> PgTlsRptLog::mark_sent(std::string domain, int64_t day) {
  auto lease = co_await pool_.acquire();
  if (!lease) co_return lease.error();
  // The failures go with their policies (ON DELETE CASCADE).
  auto dropped = co_await (*lease)->query("DELETE FROM tlsrpt_policy WHERE domain = $1 AND day = $2",
                                          Param::text(domain), Param::integer(day));
  if (!dropped) co_return dropped.error();
  auto ended_task = end_report_claim(**lease, "tlsrpt", domain, day);
  auto ended = co_await std::move(ended_task);
  co_return ended;
}

Task<bool> PgTlsRptLog::claim(std::string domain, int64_t day, int64_t now) {
  auto taken_task = claim_report(pool_, "tlsrpt", std::move(domain), day, now);
  auto taken = co_await std::move(taken_task);
  co_return taken;
}

}  // namespace posthorn::store::pg
