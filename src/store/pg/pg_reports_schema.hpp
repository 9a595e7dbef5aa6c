// The schema of the PostgreSQL report logs, PgDmarcLog and PgTlsRptLog (component "reports" of
// pg_schema's versioned migrations, one for both logs); the tables are described in pg_dmarc_log.hpp
// and pg_tlsrpt_log.hpp.
#pragma once

#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

inline constexpr int kReportsSchemaVersion = 1;

// Brings the "reports" component to kReportsSchemaVersion (pg_schema.hpp's migrate()).
Task<int> migrate_reports_schema(Connection& conn);

}  // namespace posthorn::store::pg
