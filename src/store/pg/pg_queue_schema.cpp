#include "store/pg/pg_queue_schema.hpp"

#include "store/pg/pg_schema.hpp"

namespace posthorn::store::pg {

namespace {

// Version 1. Times are unix seconds (bigint); recipient states are queue::RecipientState's numbers.
// The message bytes sit in their own table, so scans of the entries never touch them.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE queue_entry (
  id text PRIMARY KEY,
  sender text NOT NULL,
  size bigint NOT NULL,
  created bigint NOT NULL,
  next_attempt bigint NOT NULL,
  is_bounce boolean NOT NULL,
  bounce_needed boolean NOT NULL,
  ret text NOT NULL,
  envid text NOT NULL,
  smtputf8 boolean NOT NULL,
  eight_bit boolean NOT NULL,
  delay_notified boolean NOT NULL DEFAULT false,
  lease_owner text,
  lease_until bigint NOT NULL DEFAULT 0
);
CREATE INDEX queue_entry_due ON queue_entry (next_attempt);
CREATE TABLE queue_recipient (
  entry text NOT NULL REFERENCES queue_entry (id) ON DELETE CASCADE,
  position integer NOT NULL,
  address text NOT NULL,
  state smallint NOT NULL,
  last_error text NOT NULL,
  attempts bigint NOT NULL,
  notify smallint NOT NULL,
  orcpt text NOT NULL,
  reported boolean NOT NULL DEFAULT false,
  PRIMARY KEY (entry, position)
);
CREATE TABLE queue_message (
  entry text PRIMARY KEY REFERENCES queue_entry (id) ON DELETE CASCADE,
  bytes bytea NOT NULL
);
)sql";

const Migration kSteps[] = {{kV1}};
static_assert(sizeof(kSteps) / sizeof(kSteps[0]) == kQueueSchemaVersion);

}  // namespace

Task<int> migrate_queue_schema(Connection& conn) { return migrate(conn, "queue", kSteps); }

}  // namespace posthorn::store::pg
