// The schema of the PostgreSQL outbound queue (component "queue" of pg_schema's versioned
// migrations); the tables are described in pg_queue.hpp.
#pragma once

#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

inline constexpr int kQueueSchemaVersion = 1;

// Brings the "queue" component to kQueueSchemaVersion (pg_schema.hpp's migrate()).
Task<int> migrate_queue_schema(Connection& conn);

}  // namespace posthorn::store::pg
