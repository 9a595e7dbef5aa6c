#include "store/pg/pg_reports_schema.hpp"

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

const Migration kSteps[] = {{kV1}};
static_assert(sizeof(kSteps) / sizeof(kSteps[0]) == kReportsSchemaVersion);

}  // namespace

Task<int> migrate_reports_schema(Connection& conn) { return migrate(conn, "reports", kSteps); }

}  // namespace posthorn::store::pg
