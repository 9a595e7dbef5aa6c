// Implementation notes
// - Addresses are stored as "<local as given>@<domain lower-case>"; the address columns are
//   COLLATE NOCASE, so lookups and uniqueness ignore ASCII case in the local part too.
// - accounts.id is AUTOINCREMENT: an id is never reused, because it names data/accounts/<id>/.
// - aliases.targets holds the normalised targets joined with "\n" (targets never contain control
//   characters, so the separator is unambiguous).
// - The schema_version table holds one row; kMigrations[i] upgrades version i to i + 1.
#include "store/sqlite/sqlite_directory.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <type_traits>

#include "base/ascii.hpp"
#include "base/log.hpp"

namespace posthorn::store::sqlite {

namespace {

using auth::Account;
using auth::AccountId;
using auth::Alias;
using auth::Resolved;

constexpr int kMaxAliasDepth = 10;

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

// A normalised address: domain lower-case; local empty only for a catch-all ("@domain").
struct Addr {
  std::string local;
  std::string domain;
  std::string full() const { return local + "@" + domain; }
};

// RFC 1035 §2.3.1 / RFC 1123 §2.1 domain name (ASCII; IDNs in their xn-- form): labels of letters,
// digits and hyphens, 1..63 bytes, not starting or ending with a hyphen, 253 bytes in all.
// A local copy: auth/directory.cpp owns the shared is_valid_domain, which this library does not call.
bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  for (std::string_view label : ascii::split(d, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
  }
  return true;
}

// "local@domain" -> parts; local part non-empty, at most 64 bytes, no spaces or control characters
// (UTF-8 is allowed for SMTPUTF8); the domain is lower-cased. Splits at the last '@'.
std::optional<Addr> normalize_address(std::string_view a) {
  if (a.size() > 254) return std::nullopt;
  const size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  const std::string_view local = a.substr(0, at);
  if (local.size() > 64) return std::nullopt;
  for (char c : local) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return std::nullopt;
  }
  const std::string domain = ascii::lower(a.substr(at + 1));
  if (!valid_domain(domain)) return std::nullopt;
  return Addr{std::string(local), domain};
}

// Like normalize_address, and also accepts the catch-all form "@domain".
std::optional<Addr> normalize_alias_address(std::string_view a) {
  if (a.starts_with('@')) {
    const std::string domain = ascii::lower(a.substr(1));
    if (!valid_domain(domain)) return std::nullopt;
    return Addr{"", domain};
  }
  return normalize_address(a);
}

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

std::vector<std::string> split_targets(const std::string& joined) {
  std::vector<std::string> out;
  for (std::string_view t : ascii::split(joined, '\n')) {
    if (!t.empty()) out.emplace_back(t);
  }
  return out;
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

Result<int64_t> quota_value(uint64_t quota_bytes) {
  if (quota_bytes > uint64_t(std::numeric_limits<int64_t>::max())) {
    return make_error(Errc::kInvalid, "quota too large");
  }
  return int64_t(quota_bytes);
}

// One resolve() call: expands an address through accounts, aliases, sub-addresses and catch-alls.
class AddressWalk {
 public:
  explicit AddressWalk(Db& db) : db_(db) {}

  Result<bool> expand(const Addr& a, int depth) {
    auto local = is_local(a.domain);
    if (!local) return local.error();
    if (!*local) {
      add_remote(a.full());
      return true;
    }
    if (!visited_.insert(ascii::lower(a.full())).second) return true;  // expanded earlier in this walk
    auto hit = exact(a, depth);
    if (!hit || *hit) return hit;
    // Sub-address: "user+tag" delivers to "user" [RFC 5233 §1 describes the convention].
    if (const size_t plus = a.local.find('+'); plus != std::string::npos && plus > 0) {
      hit = exact(Addr{a.local.substr(0, plus), a.domain}, depth);
      if (!hit || *hit) return hit;
    }
    const std::string catch_all = "@" + a.domain;
    auto targets = find_alias_targets(db_, catch_all);
    if (!targets) return targets.error();
    if (!*targets) return false;
    if (visited_.insert(catch_all).second) {
      if (auto r = expand_targets(**targets, depth + 1); !r) return r.error();
    }
    return true;
  }

  Resolved take() { return std::move(out_); }
  bool empty() const { return out_.accounts.empty() && out_.remote.empty(); }

 private:
  // An account or an alias with exactly this address.
  Result<bool> exact(const Addr& a, int depth) {
    auto id = find_account_id(db_, a.full());
    if (!id) return id.error();
    if (*id) {
      if (std::find(out_.accounts.begin(), out_.accounts.end(), **id) == out_.accounts.end()) {
        out_.accounts.push_back(**id);
      }
      return true;
    }
    auto targets = find_alias_targets(db_, a.full());
    if (!targets) return targets.error();
    if (!*targets) return false;
    if (auto r = expand_targets(**targets, depth + 1); !r) return r.error();
    return true;
  }

  Result<void> expand_targets(const std::vector<std::string>& targets, int depth) {
    if (depth > kMaxAliasDepth) {
      spdlog::warn("directory: alias expansion deeper than {} levels ignored", kMaxAliasDepth);
      return {};
    }
    for (const auto& t : targets) {
      auto addr = normalize_address(t);
      if (!addr) continue;  // validated on insert; never expected
      if (auto r = expand(*addr, depth); !r) return r.error();
    }
    return {};
  }

  Result<bool> is_local(const std::string& domain) {
    if (auto it = local_.find(domain); it != local_.end()) return it->second;
    auto r = domain_exists(db_, domain);
    if (!r) return r.error();
    local_.emplace(domain, *r);
    return *r;
  }

  void add_remote(std::string address) {
    if (std::find(out_.remote.begin(), out_.remote.end(), address) == out_.remote.end()) {
      out_.remote.push_back(std::move(address));
    }
  }

  Db& db_;
  Resolved out_;
  std::set<std::string> visited_;     // lower-case addresses expanded so far
  std::map<std::string, bool> local_; // domain -> is local
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
  if (!valid_domain(domain)) return make_error(Errc::kInvalid, "not a domain name");
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
                                             std::string_view scram, uint64_t quota_bytes) {
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
  a.created_at = now_unix();
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
  if (targets.empty()) return make_error(Errc::kInvalid, "an alias needs at least one target");
  std::vector<std::string> normalized;
  for (const auto& t : targets) {
    auto ta = normalize_address(t);
    if (!ta) return make_error(Errc::kInvalid, "malformed target address");
    std::string full = ta->full();
    const bool dup = std::any_of(normalized.begin(), normalized.end(),
                                 [&](const std::string& n) { return ascii::iequals(n, full); });
    if (!dup) normalized.push_back(std::move(full));
  }
  std::string joined;
  for (const auto& t : normalized) {
    if (!joined.empty()) joined += '\n';
    joined += t;
  }

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
  auto addr = normalize_address(address);
  if (!addr) return make_error(Errc::kInvalid, "malformed address");
  std::lock_guard lock(mu_);
  // One read transaction: a consistent snapshot while walking aliases.
  auto tx = Transaction::begin(db_, Transaction::Kind::kDeferred);
  if (!tx) return tx.error();
  AddressWalk walk(db_);
  auto hit = walk.expand(*addr, 0);
  if (!hit) return hit.error();
  if (walk.empty()) return make_error(Errc::kNotFound, "no such user");
  if (auto r = tx->commit(); !r) return r.error();
  return walk.take();
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
