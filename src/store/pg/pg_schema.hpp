// Versioned schema migrations for the PostgreSQL backend. Each component (the directory, the mail
// store, the queue, ...) keeps its version in one shared table, posthorn_schema(component, version).
// migrate() brings a component to its last version inside one transaction under an advisory lock, so
// that several nodes starting at once apply each step exactly once, and refuses a database written by
// a newer Posthorn with a message naming both versions (issue 20: "refuse to start, say which versions").
#pragma once

#include <span>
#include <string_view>

#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

// One step: brings `component` from version N to N + 1 (steps are listed in order, the first from 0).
struct Migration {
  std::string_view sql;  // one or more statements, run as a simple query
};

// Applies the missing steps of `steps` and returns the version reached (steps.size()). Errors:
// kInvalid when the database already holds a newer version of the component ("database schema of
// directory is version 5; this Posthorn knows up to version 3"), kUnavailable when the database is
// unreachable; nothing is applied unless every step commits.
Task<int> migrate(Connection& conn, std::string_view component, std::span<const Migration> steps);

// What every store's open() does first: connects once (a connection of its own, closed after) and
// brings a component to its current version with `migrate_component` (migrate_directory_schema,
// migrate_mail_schema, ...). Errors as migrate(), and connect's (naming the redacted URL).
Task<void> migrate_on_own_connection(boost::asio::any_io_executor executor, const ConnectOptions& connect,
                                     Task<int> (*migrate_component)(Connection&));

// The version a component has in the database (0 when it has none).
Task<int> schema_version(Connection& conn, std::string_view component);

}  // namespace posthorn::store::pg
