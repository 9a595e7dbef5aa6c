// The schema of the PostgreSQL mail store (component "mail" of pg_schema's versioned migrations);
// the tables are described in pg_mail_store.hpp.
#pragma once

#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

inline constexpr int kMailSchemaVersion = 1;

// Brings the "mail" component to kMailSchemaVersion (pg_schema.hpp's migrate()).
Task<int> migrate_mail_schema(Connection& conn);

}  // namespace posthorn::store::pg
