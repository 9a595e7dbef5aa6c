// The schema of the PostgreSQL report logs, PgDmarcLog and PgTlsRptLog (component "reports" of
// pg_schema's versioned migrations, one for both logs); the tables are described in pg_dmarc_log.hpp
// and pg_tlsrpt_log.hpp; and the claims both logs take on a report before sending it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

inline constexpr int kReportsSchemaVersion = 2;

// Brings the "reports" component to kReportsSchemaVersion (pg_schema.hpp's migrate()).
Task<int> migrate_reports_schema(Connection& conn);

// How long a claim on a report holds (a node that dies while sending gives it up this late).
inline constexpr int64_t kReportClaimSeconds = 600;

// The claims of both logs (table report_claim; `kind` "dmarc" or "tlsrpt"): takes (domain, day)
// until now + kReportClaimSeconds unless a claim of another pass still holds; true when taken. One
// upsert, so of two nodes claiming at once exactly one gets it.
Task<bool> claim_report(Pool& pool, std::string_view kind, std::string domain, int64_t day, int64_t now);
// Ends the claim, in mark_sent's transaction: a report counted later for that day is free at once.
Task<void> end_report_claim(Connection& c, std::string_view kind, std::string domain, int64_t day);

}  // namespace posthorn::store::pg
