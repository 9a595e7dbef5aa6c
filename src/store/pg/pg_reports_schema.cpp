#include "store/pg/pg_reports_schema.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "store/pg/pg_schema.hpp"

namespace posthorn::store::pg {

namespace {

// Version 1. Days are unix seconds of 00:00 UTC (bigint). The stored text forms (a DMARC row, a
// published policy, a TLS policy) are bytea: they come from the network and need not be UTF-8, and
// they are keyed by their SHA-256 (`digest`), as a b-tree key cannot hold long values. `seq` keeps
// the order in which rows were first counted (SQLite's rowid order).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE dmarc_report (
  domain text NOT NULL,
  day bigint NOT NULL,
  policy bytea NOT NULL,
  row_count bigint NOT NULL DEFAULT 0,
  overflow bigint NOT NULL DEFAULT 0,
  sent boolean NOT NULL DEFAULT false,
  PRIMARY KEY (domain, day)
);
CREATE TABLE dmarc_row (
  domain text NOT NULL,
  day bigint NOT NULL,
  digest bytea NOT NULL,
  fields bytea NOT NULL,
  count bigint NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (domain, day, digest),
  FOREIGN KEY (domain, day) REFERENCES dmarc_report (domain, day) ON DELETE CASCADE
);
CREATE TABLE tlsrpt_policy (
  domain text NOT NULL,
  day bigint NOT NULL,
  digest bytea NOT NULL,
  policy bytea NOT NULL,
  successes bigint NOT NULL DEFAULT 0,
  failures bigint NOT NULL DEFAULT 0,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (domain, day, digest)
);
CREATE TABLE tlsrpt_failure (
  domain text NOT NULL,
  day bigint NOT NULL,
  digest bytea NOT NULL,
  result_type text NOT NULL,
  mx_host text NOT NULL,
  receiving_ip text NOT NULL,
  count bigint NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (domain, day, digest, result_type, mx_host, receiving_ip),
  FOREIGN KEY (domain, day, digest) REFERENCES tlsrpt_policy (domain, day, digest) ON DELETE CASCADE
);
)sql";

// Version 2: which node sends a report (PgDmarcLog::claim, PgTlsRptLog::claim), `kind` "dmarc" or
// "tlsrpt", until the unix second `until`.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE report_claim (
  kind text NOT NULL,
  domain text NOT NULL,
  day bigint NOT NULL,
  until bigint NOT NULL,
  PRIMARY KEY (kind, domain, day)
);
)sql";

const Migration kSteps[] = {{kV1}, {kV2}};
static_assert(sizeof(kSteps) / sizeof(kSteps[0]) == kReportsSchemaVersion);

}  // namespace

Task<bool> claim_report(Pool& pool, std::string_view kind, std::string domain, int64_t day, int64_t now) {
  const std::string k(kind);  // before the first suspension
  auto lease = co_await pool.acquire();
  if (!lease) co_return lease.error();
  auto taken = co_await (*lease)->query(
      "INSERT INTO report_claim (kind, domain, day, until) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (kind, domain, day) DO UPDATE SET until = excluded.until WHERE report_claim.until <= $5 RETURNING 1",
      Param::text(k), Param::text(domain), Param::integer(day), Param::integer(now + kReportClaimSeconds),
      Param::integer(now));
  if (!taken) co_return taken.error();
  co_return taken->size() == 1;
}

Task<void> end_report_claim(Connection& c, std::string_view kind, std::string domain, int64_t day) {
  const std::string k(kind);
  auto ended = co_await c.query("DELETE FROM report_claim WHERE kind = $1 AND domain = $2 AND day = $3", Param::text(k),
                                Param::text(domain), Param::integer(day));
  if (!ended) co_return ended.error();
  co_return Result<void>{};
}

Task<int> migrate_reports_schema(Connection& conn) { return migrate(conn, "reports", kSteps); }

}  // namespace posthorn::store::pg
