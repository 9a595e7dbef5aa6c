#include "store/pg/pg_mail_schema.hpp"

#include "store/pg/pg_schema.hpp"

namespace posthorn::store::pg {

namespace {

// Version 1. Numbers are bigint (UIDs and UIDVALIDITY are unsigned 32-bit, MODSEQ 63-bit). The large
// per-message values (prefix, summary) sit in the message row: PostgreSQL keeps them out of line
// (TOAST), so a SELECT of metadata does not read them. Chunks are stored uncompressed (EXTERNAL) so a
// substring() of one reads only the pages it needs.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE mail_account (
  id bigint PRIMARY KEY,
  last_uid_validity bigint NOT NULL DEFAULT 0,
  storage_bytes bigint NOT NULL DEFAULT 0,
  messages bigint NOT NULL DEFAULT 0,
  pop3_policy text NOT NULL DEFAULT ''
);
CREATE TABLE mailbox (
  id bigserial PRIMARY KEY,
  account bigint NOT NULL REFERENCES mail_account (id) ON DELETE CASCADE,
  name text NOT NULL,
  uid_validity bigint NOT NULL,
  uid_next bigint NOT NULL,
  highest_modseq bigint NOT NULL,
  special_use smallint NOT NULL,
  first_recent bigint NOT NULL,
  UNIQUE (account, name)
);
CREATE TABLE subscription (
  account bigint NOT NULL REFERENCES mail_account (id) ON DELETE CASCADE,
  name text NOT NULL,
  PRIMARY KEY (account, name)
);
CREATE TABLE blob (
  hash text PRIMARY KEY,
  size bigint NOT NULL,
  refcount bigint NOT NULL
);
CREATE TABLE blob_chunk (
  hash text NOT NULL REFERENCES blob (hash) ON DELETE CASCADE,
  seq integer NOT NULL,
  bytes bytea NOT NULL,
  PRIMARY KEY (hash, seq)
);
ALTER TABLE blob_chunk ALTER COLUMN bytes SET STORAGE EXTERNAL;
CREATE TABLE message (
  mailbox bigint NOT NULL REFERENCES mailbox (id) ON DELETE CASCADE,
  uid bigint NOT NULL,
  modseq bigint NOT NULL,
  flags smallint NOT NULL,
  keywords text NOT NULL,
  internal_date bigint NOT NULL,
  save_date bigint NOT NULL,
  size bigint NOT NULL,
  blob text NOT NULL REFERENCES blob (hash),
  prefix bytea NOT NULL,
  summary bytea NOT NULL,
  content_hash text NOT NULL,
  retrieved_at bigint NOT NULL DEFAULT 0,
  pop3_hidden boolean NOT NULL DEFAULT false,
  PRIMARY KEY (mailbox, uid)
);
CREATE INDEX message_modseq ON message (mailbox, modseq);
CREATE INDEX message_blob ON message (blob);
CREATE TABLE expunged (
  mailbox bigint NOT NULL REFERENCES mailbox (id) ON DELETE CASCADE,
  uid bigint NOT NULL,
  modseq bigint NOT NULL,
  PRIMARY KEY (mailbox, uid)
);
CREATE INDEX expunged_modseq ON expunged (mailbox, modseq);
)sql";

const Migration kSteps[] = {{kV1}};
static_assert(sizeof(kSteps) / sizeof(kSteps[0]) == kMailSchemaVersion);

}  // namespace

Task<int> migrate_mail_schema(Connection& conn) { return migrate(conn, "mail", kSteps); }

}  // namespace posthorn::store::pg
