#include "store/pg/pg_directory_schema.hpp"

#include "store/pg/pg_schema.hpp"

namespace posthorn::store::pg {

namespace {

// Version 1. address_key is the address in ASCII lower case (what SQLite's NOCASE compares): the
// unique key of accounts and aliases, so the rules do not depend on the database's locale; names
// and keys sort bytewise (COLLATE "C") as in the embedded backend. Account ids come from a
// sequence, never reused (the mail store keeps an account's mail under its id).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE directory_domain (
  name text COLLATE "C" PRIMARY KEY
);
CREATE TABLE directory_account (
  id bigserial PRIMARY KEY,
  address text NOT NULL,
  address_key text COLLATE "C" NOT NULL UNIQUE,
  domain text COLLATE "C" NOT NULL REFERENCES directory_domain (name),
  password_hash text NOT NULL,
  scram text NOT NULL DEFAULT '',
  quota_bytes bigint NOT NULL DEFAULT 0,
  created_at bigint NOT NULL
);
CREATE INDEX directory_account_domain ON directory_account (domain, address_key);
CREATE TABLE directory_alias (
  address_key text COLLATE "C" PRIMARY KEY,
  address text NOT NULL,
  domain text COLLATE "C" NOT NULL REFERENCES directory_domain (name),
  targets text NOT NULL
);
CREATE INDEX directory_alias_domain ON directory_alias (domain, address_key);
)sql";

// v2: DKIM signing keys (pg_dkim_keys.hpp), read by every node at start and on SIGHUP.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE dkim_key (
  domain text COLLATE "C" NOT NULL,
  selector text COLLATE "C" NOT NULL,
  pem text NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (domain, selector)
);
)sql";

const Migration kSteps[] = {{kV1}, {kV2}};
static_assert(sizeof(kSteps) / sizeof(kSteps[0]) == kDirectorySchemaVersion);

}  // namespace

Task<int> migrate_directory_schema(Connection& conn) { return migrate(conn, "directory", kSteps); }

}  // namespace posthorn::store::pg
