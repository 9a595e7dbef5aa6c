// A thin RAII layer over the SQLite C API: a connection (Db), prepared statements (Stmt) with
// bind/step/column helpers, and a scoped Transaction that rolls back unless committed.
// SQLite failures become Result errors with a generic message; the SQLite text is logged here, never
// returned (STYLE-ANCHORS §3.3). Not thread-safe: a Db and its statements are used by one thread at a
// time (callers such as SqliteDirectory hold a mutex). Blocking: call from the blocking pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace posthorn::store::sqlite {

struct DbOptions {
  bool wal = true;                               // journal_mode=WAL (ignored for ":memory:")
  bool synchronous_full = true;                  // synchronous=FULL, else NORMAL
  bool foreign_keys = true;
  std::chrono::milliseconds busy_timeout{5000};  // wait this long for another writer's lock
};

// Maps a SQLite result code to an Errc: constraint -> kConflict, busy/locked/full/cantopen/ioerr ->
// kUnavailable, anything else -> kInternal.
Errc errc_from_sqlite(int rc);

// One prepared statement. Parameters are 1-based (as in SQLite), columns 0-based.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Binding never fails for valid indexes; a bad index is remembered and reported by step().
  Stmt& bind(int index, int64_t value);
  Stmt& bind(int index, std::string_view text);  // copied by SQLite
  Stmt& bind_null(int index);
  Stmt& bind_blob(int index, std::string_view bytes);  // copied by SQLite; any bytes

  // Advances: true when a row is available, false when the statement is done.
  // Errc::kConflict on a constraint violation, kUnavailable when the database is busy or the disk is full.
  Result<bool> step();
  // Steps to the end, ignoring rows (INSERT/UPDATE/DELETE).
  Result<void> run();
  // Makes the statement ready to run again; bindings are kept.
  void reset();

  int64_t column_int(int index) const;
  std::string column_text(int index) const;  // "" for NULL
  std::string column_blob(int index) const;  // BLOB bytes, embedded NULs included; "" for NULL
  bool column_is_null(int index) const;

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void note_bind(int rc);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_rc_ = 0;  // first failing sqlite3_bind_* code
};

class Db;

// One step of a database's schema: it brings version N to N + 1 (the first creates the tables from
// nothing). `sql` runs first, then `fill` when set (rows that SQL alone cannot write, such as an
// account's default mailboxes). A database written before its file kept a version reports 0, so the
// first step of such a file must be idempotent (CREATE TABLE IF NOT EXISTS, columns added only when
// missing).
struct Migration {
  std::string_view sql;
  std::function<Result<void>(Db&)> fill = {};
};

// One connection.
class Db {
 public:
  // Opens (creating when absent) `file`, or an in-memory database for ":memory:", and applies
  // `options`. Errc::kUnavailable when the file cannot be opened or is not a database.
  static Result<Db> open(const std::filesystem::path& file, const DbOptions& options);

  // Opens `file` as open() does, then brings its schema to version migrations.size() (migrate()).
  // `name` names the database in the log and the error ("directory.db"). Every SQLite database of
  // the embedded backend is opened through here or migrate().
  static Result<Db> open_with_schema(const std::filesystem::path& file, const DbOptions& options,
                                     std::string_view name, std::span<const Migration> migrations);

  // In one IMMEDIATE transaction: reads the version (the schema_version table, or PRAGMA
  // user_version for the files that kept it there; 0 for a new file), runs the missing steps in order
  // and records the new version in schema_version. Errc::kInvalid, with nothing changed, when the file
  // is newer than `migrations` knows; a failing step rolls every step back.
  Result<void> migrate(std::string_view name, std::span<const Migration> migrations);
  // The version migrate() reads.
  Result<int64_t> schema_version();

  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more statements without parameters (schema, pragmas).
  Result<void> exec(std::string_view sql);
  Result<Stmt> prepare(std::string_view sql);
  // Runs a query without parameters and returns column 0 of every row as text.
  Result<std::vector<std::string>> column_texts(std::string_view sql);

  int64_t last_insert_rowid() const;
  int64_t changes() const;  // rows changed by the last INSERT/UPDATE/DELETE
  sqlite3* handle() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// BEGIN ... COMMIT; the destructor rolls back when commit() was not reached.
class Transaction {
 public:
  // kImmediate takes the write lock at once (use it for read-check-then-write sequences).
  enum class Kind { kDeferred, kImmediate };
  static Result<Transaction> begin(Db& db, Kind kind = Kind::kImmediate);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Result<void> commit();

 private:
  explicit Transaction(Db& db) : db_(&db) {}
  Db* db_;  // nullptr once committed, rolled back or moved from
};

}  // namespace posthorn::store::sqlite
