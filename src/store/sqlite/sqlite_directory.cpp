// Implementation notes
// - Addresses are stored as "<local as given>@<domain lower-case>"; the address columns are
//   COLLATE NOCASE, so lookups and uniqueness ignore ASCII case in the local part too.
// - accounts.id is AUTOINCREMENT: an id is never reused, because it names data/accounts/<id>/.
// - aliases.targets holds the normalised targets as auth::join_targets() writes them.
// - The address rules and resolve()'s walk are auth/directory_rules.hpp's, shared with store/pg.
// - The schema_version table holds one row; kMigrations[i] upgrades version i to i + 1.
#include "store/sqlite/sqlite_directory.hpp"

#include <chrono>
#include <optional>
#include <type_traits>

#include "auth/directory_rules.hpp"
#include "base/ascii.hpp"
#include "base/run_sync.hpp"

namespace posthorn::store::sqlite {

namespace {

using auth::Account;
using auth::AccountId;
using auth::Alias;
using auth::Resolved;
using Addr = auth::AddressParts;
using auth::normalize_address;
using auth::normalize_alias_address;
using auth::quota_value;
using auth::split_targets;

const Migration kMigrations[] = {
    // 0 -> 1
    {R"sql(
CREATE TABLE domains (
  name TEXT PRIMARY KEY NOT NULL
);
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  address TEXT NOT NULL UNIQUE COLLATE NOCASE,
  domain TEXT NOT NULL REFERENCES domains(name),
  password_hash TEXT NOT NULL,
  scram TEXT NOT NULL DEFAULT '',
  quota_bytes INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain);
CREATE TABLE aliases (
  address TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
  domain TEXT NOT NULL REFERENCES domains(name),
  targets TEXT NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain);
)sql"},
};
static_assert(std::extent_v<decltype(kMigrations)> == SqliteDirectory::kSchemaVersion);

constexpr std::string_view kAccountColumns = "id, address, password_hash, scram, quota_bytes, created_at";

std::string normalize_domain(std::string_view name) { return ascii::lower(name); }

int64_t now_unix() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

Account account_from_row(const Stmt& st) {
  Account a;
  a.id = st.column_int(0);
  a.address = st.column_text(1);
  a.password_hash = st.column_text(2);
  a.scram = st.column_text(3);
  a.quota_bytes = uint64_t(st.column_int(4));
  a.created_at = st.column_int(5);
  return a;
}

Result<bool> exists(Db& db, std::string_view sql, std::string_view key) {
  auto st = db.prepare(sql);
  if (!st) return st.error();
  st->bind(1, key);
  return st->step();
}

Result<bool> domain_exists(Db& db, std::string_view domain) {
  return exists(db, "SELECT 1 FROM domains WHERE name = ?1", domain);
}
Result<bool> account_exists(Db& db, std::string_view address) {
  return exists(db, "SELECT 1 FROM accounts WHERE address = ?1", address);
}
Result<bool> alias_exists(Db& db, std::string_view address) {
  return exists(db, "SELECT 1 FROM aliases WHERE address = ?1", address);
}

Result<std::optional<AccountId>> find_account_id(Db& db, std::string_view address) {
  auto st = db.prepare("SELECT id FROM accounts WHERE address = ?1");
  if (!st) return st.error();
  st->bind(1, address);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<AccountId>();
  return std::optional<AccountId>(st->column_int(0));
}

Result<std::optional<std::vector<std::string>>> find_alias_targets(Db& db, std::string_view address) {
  auto st = db.prepare("SELECT targets FROM aliases WHERE address = ?1");
  if (!st) return st.error();
  st->bind(1, address);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::vector<std::string>>();
  return std::optional<std::vector<std::string>>(split_targets(st->column_text(0)));
}

// Runs one UPDATE/DELETE with `bind` applied; kNotFound when no row changed.
template <class Bind>
Result<void> change_one(Db& db, std::string_view sql, Bind bind, std::string_view not_found) {
  auto st = db.prepare(sql);
  if (!st) return st.error();
  bind(*st);
  if (auto r = st->run(); !r) return r.error();
  if (db.changes() == 0) return make_error(Errc::kNotFound, std::string(not_found));
  return {};
}

// resolve()'s lookups (auth::resolve_address) on the database, inside the caller's transaction. Each
// answers at once, so the walk runs to completion in run_sync() on the calling pool thread.
class DbLookup final : public auth::AddressLookup {
 public:
  explicit DbLookup(Db& db) : db_(db) {}
  Task<bool> is_local_domain(std::string domain) override { co_return domain_exists(db_, domain); }
  Task<std::optional<AccountId>> account_id(std::string address) override {
    co_return find_account_id(db_, address);
  }
  Task<std::optional<std::vector<std::string>>> alias_targets(std::string address) override {
    co_return find_alias_targets(db_, address);
  }

 private:
  Db& db_;
};

}  // namespace

Result<std::unique_ptr<SqliteDirectory>> SqliteDirectory::open(const std::filesystem::path& db_file,
                                                                BlockingPool& pool) {
  auto db = Db::open_with_schema(db_file, DbOptions{}, "directory.db", kMigrations);
  if (!db) return db.error();
  return std::unique_ptr<SqliteDirectory>(new SqliteDirectory(std::move(*db), pool));
}

// ---- Domains ----

Result<void> SqliteDirectory::add_domain_blocking(std::string_view name) {
  const std::string domain = normalize_domain(name);
  if (!auth::is_valid_domain(domain)) return make_error(Errc::kInvalid, "not a domain name");
  std::lock_guard lock(mu_);
  auto st = db_.prepare("INSERT INTO domains (name) VALUES (?1)");
  if (!st) return st.error();
  st->bind(1, domain);
  auto r = st->run();
  if (!r && r.error().code == Errc::kConflict) return make_error(Errc::kExists, "domain already exists");
  return r;
}

Result<void> SqliteDirectory::delete_domain_blocking(std::string_view name) {
  const std::string domain = normalize_domain(name);
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.error();
  auto known = domain_exists(db_, domain);
  if (!known) return known.error();
  if (!*known) return make_error(Errc::kNotFound, "no such domain");
  auto used = exists(db_,
                     "SELECT 1 FROM accounts WHERE domain = ?1 UNION ALL SELECT 1 FROM aliases WHERE domain = ?1",
                     domain);
  if (!used) return used.error();
  if (*used) return make_error(Errc::kConflict, "domain still has accounts or aliases");
  auto st = db_.prepare("DELETE FROM domains WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, domain);
  if (auto r = st->run(); !r) return r.error();
  return tx->commit();
}

Result<std::vector<std::string>> SqliteDirectory::list_domains_blocking() {
  std::lock_guard lock(mu_);
  return db_.column_texts("SELECT name FROM domains ORDER BY name");
}

Result<bool> SqliteDirectory::is_local_domain_blocking(std::string_view name) {
  const std::string domain = normalize_domain(name);
  std::lock_guard lock(mu_);
  return domain_exists(db_, domain);
}

// ---- Accounts ----

namespace {
// For add_account/add_alias (inside their transaction): the domain is local and no account or alias
// has the address yet. Errc::kNotFound for a foreign domain, Errc::kExists when taken.
Result<void> address_free(Db& db, const Addr& addr) {
  auto local = domain_exists(db, addr.domain);
  if (!local) return local.error();
  if (!*local) return make_error(Errc::kNotFound, "domain is not local");
  const std::string full = addr.full();
  auto account = account_exists(db, full);
  if (!account) return account.error();
  auto alias = alias_exists(db, full);
  if (!alias) return alias.error();
  if (*account || *alias) return make_error(Errc::kExists, "address already exists");
  return {};
}
}  // namespace

Result<Account> SqliteDirectory::add_account_blocking(std::string_view address, std::string_view password_hash,
                                             std::string_view scram, uint64_t quota_bytes,
                                             std::optional<int64_t> created_at) {
  auto addr = normalize_address(address);
  if (!addr) return make_error(Errc::kInvalid, "malformed address");
  auto quota = quota_value(quota_bytes);
  if (!quota) return quota.error();
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.error();
  if (auto free = address_free(db_, *addr); !free) return free.error();
  const std::string full = addr->full();

  Account a;
  a.address = full;
  a.password_hash = std::string(password_hash);
  a.scram = std::string(scram);
  a.quota_bytes = quota_bytes;
  a.created_at = created_at ? *created_at : now_unix();
  auto st = db_.prepare(
      "INSERT INTO accounts (address, domain, password_hash, scram, quota_bytes, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!st) return st.error();
  st->bind(1, a.address).bind(2, addr->domain).bind(3, a.password_hash).bind(4, a.scram).bind(5, *quota).bind(
      6, a.created_at);
  if (auto r = st->run(); !r) return r.error();
  a.id = db_.last_insert_rowid();
  if (auto r = tx->commit(); !r) return r.error();
  return a;
}

Result<void> SqliteDirectory::delete_account_blocking(std::string_view address) {
  auto addr = normalize_address(address);
  if (!addr) return make_error(Errc::kNotFound, "no such account");
  std::lock_guard lock(mu_);
  return change_one(
      db_, "DELETE FROM accounts WHERE address = ?1", [&](Stmt& st) { st.bind(1, addr->full()); },
      "no such account");
}

Result<void> SqliteDirectory::set_password_blocking(std::string_view address, std::string_view password_hash,
                                           std::string_view scram) {
  auto addr = normalize_address(address);
  if (!addr) return make_error(Errc::kNotFound, "no such account");
  std::lock_guard lock(mu_);
  return change_one(
      db_, "UPDATE accounts SET password_hash = ?2, scram = ?3 WHERE address = ?1",
      [&](Stmt& st) { st.bind(1, addr->full()).bind(2, password_hash).bind(3, scram); }, "no such account");
}

Result<void> SqliteDirectory::set_scram_blocking(AccountId id, std::string_view scram) {
  std::lock_guard lock(mu_);
  return change_one(
      db_, "UPDATE accounts SET scram = ?2 WHERE id = ?1", [&](Stmt& st) { st.bind(1, id).bind(2, scram); },
      "no such account");
}

Result<void> SqliteDirectory::set_quota_blocking(std::string_view address, uint64_t quota_bytes) {
  auto addr = normalize_address(address);
  if (!addr) return make_error(Errc::kNotFound, "no such account");
  auto quota = quota_value(quota_bytes);
  if (!quota) return quota.error();
  std::lock_guard lock(mu_);
  return change_one(
      db_, "UPDATE accounts SET quota_bytes = ?2 WHERE address = ?1",
      [&](Stmt& st) { st.bind(1, addr->full()).bind(2, *quota); }, "no such account");
}

Result<Account> SqliteDirectory::find_account_blocking(std::string_view address) {
  auto addr = normalize_address(address);
  if (!addr) return make_error(Errc::kNotFound, "no such account");
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT " + std::string(kAccountColumns) + " FROM accounts WHERE address = ?1");
  if (!st) return st.error();
  st->bind(1, addr->full());
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::kNotFound, "no such account");
  return account_from_row(*st);
}

Result<Account> SqliteDirectory::find_account_by_id_blocking(AccountId id) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT " + std::string(kAccountColumns) + " FROM accounts WHERE id = ?1");
  if (!st) return st.error();
  st->bind(1, id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::kNotFound, "no such account");
  return account_from_row(*st);
}

Result<std::vector<Account>> SqliteDirectory::list_accounts_blocking() {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT " + std::string(kAccountColumns) + " FROM accounts ORDER BY domain, address");
  if (!st) return st.error();
  std::vector<Account> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(account_from_row(*st));
  }
}

// ---- Aliases ----

Result<void> SqliteDirectory::add_alias_blocking(std::string_view address, const std::vector<std::string>& targets) {
  auto addr = normalize_alias_address(address);
  if (!addr) return make_error(Errc::kInvalid, "malformed alias address");
  auto normalized = auth::normalize_alias_targets(targets);
  if (!normalized) return normalized.error();
  const std::string joined = auth::join_targets(*normalized);

  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.error();
  if (auto free = address_free(db_, *addr); !free) return free.error();
  const std::string full = addr->full();
  auto st = db_.prepare("INSERT INTO aliases (address, domain, targets) VALUES (?1, ?2, ?3)");
  if (!st) return st.error();
  st->bind(1, full).bind(2, addr->domain).bind(3, joined);
  if (auto r = st->run(); !r) return r.error();
  return tx->commit();
}

Result<void> SqliteDirectory::delete_alias_blocking(std::string_view address) {
  auto addr = normalize_alias_address(address);
  if (!addr) return make_error(Errc::kNotFound, "no such alias");
  std::lock_guard lock(mu_);
  return change_one(
      db_, "DELETE FROM aliases WHERE address = ?1", [&](Stmt& st) { st.bind(1, addr->full()); },
      "no such alias");
}

Result<std::vector<Alias>> SqliteDirectory::list_aliases_blocking() {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT address, targets FROM aliases ORDER BY domain, address");
  if (!st) return st.error();
  std::vector<Alias> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(Alias{st->column_text(0), split_targets(st->column_text(1))});
  }
}

// ---- Resolution ----

Result<Resolved> SqliteDirectory::resolve_blocking(std::string_view address) {
  std::lock_guard lock(mu_);
  // One read transaction: a consistent snapshot while walking aliases.
  auto tx = Transaction::begin(db_, Transaction::Kind::kDeferred);
  if (!tx) return tx.error();
  DbLookup lookup(db_);
  auto resolved = run_sync(auth::resolve_address(lookup, std::string(address)));
  if (!resolved) return resolved.error();
  if (auto r = tx->commit(); !r) return r.error();
  return resolved;
}

// ---- the Directory calls: each runs its blocking body on the pool ----

template <class T, class Fn>
Task<T> SqliteDirectory::on_pool(Fn fn) {
  auto task = run_blocking(pool_, std::move(fn));
  auto result = co_await std::move(task);
  co_return result;
}

Task<void> SqliteDirectory::add_domain(std::string name) {
  return on_pool<void>([this, name = std::move(name)] { return add_domain_blocking(name); });
}

Task<void> SqliteDirectory::delete_domain(std::string name) {
  return on_pool<void>([this, name = std::move(name)] { return delete_domain_blocking(name); });
}

Task<std::vector<std::string>> SqliteDirectory::list_domains() {
  return on_pool<std::vector<std::string>>([this] { return list_domains_blocking(); });
}

Task<bool> SqliteDirectory::is_local_domain(std::string name) {
  return on_pool<bool>([this, name = std::move(name)] { return is_local_domain_blocking(name); });
}

Task<Account> SqliteDirectory::add_account(std::string address, std::string password_hash, std::string scram,
                                           uint64_t quota_bytes) {
  return on_pool<Account>([this, address = std::move(address), password_hash = std::move(password_hash),
                           scram = std::move(scram), quota_bytes] {
    return add_account_blocking(address, password_hash, scram, quota_bytes);
  });
}

Task<Account> SqliteDirectory::import_account(Account account) {
  return on_pool<Account>([this, account = std::move(account)] {
    return add_account_blocking(account.address, account.password_hash, account.scram, account.quota_bytes,
                                account.created_at);
  });
}

Task<void> SqliteDirectory::delete_account(std::string address) {
  return on_pool<void>([this, address = std::move(address)] { return delete_account_blocking(address); });
}

Task<void> SqliteDirectory::set_password(std::string address, std::string password_hash, std::string scram) {
  return on_pool<void>([this, address = std::move(address), password_hash = std::move(password_hash),
                        scram = std::move(scram)] { return set_password_blocking(address, password_hash, scram); });
}

Task<void> SqliteDirectory::set_scram(AccountId id, std::string scram) {
  return on_pool<void>([this, id, scram = std::move(scram)] { return set_scram_blocking(id, scram); });
}

Task<void> SqliteDirectory::set_quota(std::string address, uint64_t quota_bytes) {
  return on_pool<void>([this, address = std::move(address), quota_bytes] { return set_quota_blocking(address, quota_bytes); });
}

Task<Account> SqliteDirectory::find_account(std::string address) {
  return on_pool<Account>([this, address = std::move(address)] { return find_account_blocking(address); });
}

Task<std::vector<Account>> SqliteDirectory::list_accounts() {
  return on_pool<std::vector<Account>>([this] { return list_accounts_blocking(); });
}

Task<Account> SqliteDirectory::find_account_by_id(AccountId id) {
  return on_pool<Account>([this, id] { return find_account_by_id_blocking(id); });
}

Task<void> SqliteDirectory::add_alias(std::string address, std::vector<std::string> targets) {
  return on_pool<void>([this, address = std::move(address), targets = std::move(targets)] {
    return add_alias_blocking(address, targets);
  });
}

Task<void> SqliteDirectory::delete_alias(std::string address) {
  return on_pool<void>([this, address = std::move(address)] { return delete_alias_blocking(address); });
}

Task<std::vector<Alias>> SqliteDirectory::list_aliases() {
  return on_pool<std::vector<Alias>>([this] { return list_aliases_blocking(); });
}

Task<Resolved> SqliteDirectory::resolve(std::string address) {
  return on_pool<Resolved>([this, address = std::move(address)] { return resolve_blocking(address); });
}

}  // namespace posthorn::store::sqlite
