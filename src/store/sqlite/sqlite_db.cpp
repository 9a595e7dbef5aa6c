#include "store/sqlite/sqlite_db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "base/log.hpp"

namespace posthorn::store::sqlite {

namespace {

Error db_error(sqlite3* db, int rc, std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const Errc code = errc_from_sqlite(rc);
  if (code == Errc::kConflict) {
    spdlog::debug("sqlite {}: {} ({})", what, detail, rc);
  } else {
    spdlog::error("sqlite {}: {} ({})", what, detail, rc);
  }
  switch (code) {
    case Errc::kConflict: return make_error(code, "conflicting change");
    case Errc::kUnavailable: return make_error(code, "database temporarily unavailable");
    default: return make_error(code, "database error");
  }
}

}  // namespace

Errc errc_from_sqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return Errc::kConflict;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_NOTADB: return Errc::kUnavailable;
    default: return Errc::kInternal;
  }
}

// ---- Stmt ----

Stmt::Stmt(Stmt&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_rc_(other.bind_rc_) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = other.bind_rc_;
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

void Stmt::note_bind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == 0) bind_rc_ = rc;
}

Stmt& Stmt::bind(int index, int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  note_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Stmt& Stmt::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob needs a non-null pointer, or SQLite stores NULL.
  static const char kEmpty = 0;
  note_bind(sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                                SQLITE_TRANSIENT));
  return *this;
}

Result<bool> Stmt::step() {
  if (bind_rc_ != 0) return db_error(db_, bind_rc_, "bind");
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e = db_error(db_, rc, sqlite3_sql(stmt_));
  sqlite3_reset(stmt_);
  return e;
}

Result<void> Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) return {};
  }
}

void Stmt::reset() { sqlite3_reset(stmt_); }

int64_t Stmt::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string Stmt::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  if (text == nullptr) return {};
  return std::string(text, size_t(sqlite3_column_bytes(stmt_, index)));
}

std::string Stmt::column_blob(int index) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
  if (bytes == nullptr) return {};
  return std::string(bytes, size_t(sqlite3_column_bytes(stmt_, index)));
}

bool Stmt::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

// ---- Db ----

Result<Db> Db::open(const std::filesystem::path& file, const DbOptions& options) {
  // SQLite's page cache otherwise allocates 20 pages (about 85 KB) at once for every connection on
  // its first read. Every open account holds two connections, so with many accounts that block was
  // most of an idle IMAP session's memory; without it pages are allocated as they are read (an
  // account's index reads a handful to start). Takes effect only before SQLite initialises, i.e. on
  // the process's first open; SQLITE_MISUSE after that is harmless.
  static const int configured = sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
  (void)configured;
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
  Db db(raw);  // owns the handle even on failure
  if (rc != SQLITE_OK) {
    spdlog::error("sqlite open {}: {}", file.string(), raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return make_error(Errc::kUnavailable, "cannot open database");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, int(options.busy_timeout.count()));
  std::string pragmas;
  if (options.foreign_keys) pragmas += "PRAGMA foreign_keys=ON;";
  pragmas += options.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
  if (auto r = db.exec(pragmas); !r) return r.error();
  if (options.wal && file != ":memory:") {
    auto st = db.prepare("PRAGMA journal_mode=WAL");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();  // also reports "file is not a database"
    if (!*row || st->column_text(0) != "wal") {
      spdlog::warn("sqlite {}: could not switch to WAL mode", file.string());
    }
    // Keep the -wal and -shm files when the last connection closes (the WAL is checkpointed and cut
    // to zero bytes, as journal_size_limit also bounds it after each checkpoint): an account's index
    // is opened at a login after a quiet spell, and creating and unlinking two files each time was
    // a large part of such a login (ext4 inode allocation and removal, measured with perf).
    int persist = 1;
    sqlite3_file_control(raw, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    if (auto r = db.exec("PRAGMA journal_size_limit=4194304"); !r) return r.error();
  }
  return db;
}

Result<Db> Db::open_with_schema(const std::filesystem::path& file, const DbOptions& options, std::string_view name,
                               std::span<const Migration> migrations) {
  auto db = open(file, options);
  if (!db) return db.error();
  if (auto r = db->migrate(name, migrations); !r) return r.error();
  return db;
}

namespace {

Result<int64_t> first_int(Db& db, std::string_view sql) {
  auto st = db.prepare(sql);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return *row ? st->column_int(0) : 0;
}

}  // namespace

Result<int64_t> Db::schema_version() {
  // The DMARC and TLS-RPT logs kept their version in the file header (PRAGMA user_version) before
  // every database used the schema_version table; the larger of the two is the file's version.
  auto header = first_int(*this, "PRAGMA user_version");
  if (!header) return header.error();
  auto has_table = first_int(*this, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (!has_table) return has_table.error();
  if (*has_table == 0) return *header;
  auto table = first_int(*this, "SELECT coalesce(max(version), 0) FROM schema_version");
  if (!table) return table.error();
  return std::max(*header, *table);
}

Result<void> Db::migrate(std::string_view name, std::span<const Migration> migrations) {
  const auto target = int64_t(migrations.size());
  auto tx = Transaction::begin(*this);
  if (!tx) return tx.error();
  auto current = schema_version();
  if (!current) return current.error();
  if (*current > target) {
    spdlog::error("{} has schema version {}, this program knows up to {}", name, *current, target);
    return make_error(Errc::kInvalid, std::string(name) + " is from a newer Posthorn version");
  }
  if (*current == target) return {};
  for (int64_t v = *current; v < target; ++v) {
    const Migration& step = migrations[size_t(v)];
    if (auto r = exec(step.sql); !r) return r.error();
    if (step.fill) {
      if (auto r = step.fill(*this); !r) return r.error();
    }
  }
  if (auto r = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
                    "DELETE FROM schema_version");
      !r) {
    return r.error();
  }
  auto ins = prepare("INSERT INTO schema_version (version) VALUES (?1)");
  if (!ins) return ins.error();
  ins->bind(1, target);
  if (auto r = ins->run(); !r) return r.error();
  if (*current > 0) spdlog::info("{}: schema version {} -> {}", name, *current, target);
  return tx->commit();
}

Db::Db(Db&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Db::~Db() { sqlite3_close_v2(db_); }

Result<void> Db::exec(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return db_error(db_, rc, text);
  return {};
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), int(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return db_error(db_, rc, sql);
  }
  return Stmt(db_, stmt);
}

int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int64_t Db::changes() const { return sqlite3_changes64(db_); }

// ---- Transaction ----

Result<Transaction> Transaction::begin(Db& db, Kind kind) {
  auto r = db.exec(kind == Kind::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!r) return r.error();
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_ != nullptr && !sqlite3_get_autocommit(db_->handle())) {
    (void)db_->exec("ROLLBACK");
  }
}

Result<void> Transaction::commit() {
  Db* db = std::exchange(db_, nullptr);
  auto r = db->exec("COMMIT");
  if (!r && !sqlite3_get_autocommit(db->handle())) (void)db->exec("ROLLBACK");
  return r;
}

Result<std::vector<std::string>> Db::column_texts(std::string_view sql) {
  auto st = prepare(sql);
  if (!st) return st.error();
  std::vector<std::string> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(st->column_text(0));
  }
}

}  // namespace posthorn::store::sqlite
