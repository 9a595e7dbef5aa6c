// The schema of the PostgreSQL directory (component "directory" of pg_schema's versioned
// migrations); the tables are described in pg_directory.hpp.
#pragma once

#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

inline constexpr int kDirectorySchemaVersion = 2;

// Brings the "directory" component to kDirectorySchemaVersion (pg_schema.hpp's migrate()).
Task<int> migrate_directory_schema(Connection& conn);

}  // namespace posthorn::store::pg
