// Implementation notes
// - Numbers are selected as text (id::text) and read with Rows::integer().
// - g++ 12 (DESIGN.md §3, pg_client.hpp): co_await only as a statement or a plain initializer, no
//   braced lists or aggregate temporaries inside co_await expressions, no capturing lambda
//   coroutines (the transaction bodies below are lambdas returning the Task of a named coroutine).
#include "store/pg/pg_directory.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <chrono>

#include "auth/directory_rules.hpp"
#include "base/ascii.hpp"
#include "store/pg/pg_directory_schema.hpp"
#include "store/pg/pg_schema.hpp"
#include "store/pg/pg_transaction.hpp"

namespace posthorn::store::pg {

namespace {

namespace asio = boost::asio;
using auth::Account;
using auth::AccountId;
using auth::Alias;
using auth::Resolved;

constexpr std::string_view kAccountSelect =
    "SELECT id::text, address, password_hash, scram, quota_bytes::text, created_at::text FROM directory_account ";

Error no_account() { return make_error(Errc::kNotFound, "no such account"); }

Account account_from_row(const Rows& rows, int row) {
  Account a;
  a.id = rows.integer(row, 0);
  a.address = std::string(rows.text(row, 1));
  a.password_hash = std::string(rows.text(row, 2));
  a.scram = std::string(rows.text(row, 3));
  a.quota_bytes = uint64_t(rows.integer(row, 4));
  a.created_at = rows.integer(row, 5);
  return a;
}

// The unique key of an address (the schema's address_key).
std::string key_of(const auth::AddressParts& parts) { return ascii::lower(parts.full()); }

// ---- steps inside a transaction ----

// Locks the domain's row until the end of the transaction; Errc::kNotFound (`missing`) when there
// is none.
Task<void> lock_domain(Connection& c, std::string domain, std::string_view missing) {
  auto locked = co_await c.query("SELECT 1 FROM directory_domain WHERE name = $1 FOR UPDATE", Param::text(domain));
  if (!locked) co_return locked.error();
  if (locked->empty()) co_return make_error(Errc::kNotFound, std::string(missing));
  co_return Result<void>{};
}

// For add_account/add_alias: locks the domain's row (serialising every add in the domain and
// delete_domain) and checks that no account or alias has the address yet. Errc::kNotFound for a
// domain that is not local, Errc::kExists when taken.
Task<void> claim_address(Connection& c, std::string domain, std::string key) {
  auto locked = co_await lock_domain(c, domain, "domain is not local");
  if (!locked) co_return locked.error();
  auto taken = co_await c.query(
      "SELECT 1 FROM directory_account WHERE address_key = $1 UNION ALL "
      "SELECT 1 FROM directory_alias WHERE address_key = $1",
      Param::text(key));
  if (!taken) co_return taken.error();
  if (!taken->empty()) co_return make_error(Errc::kExists, "address already exists");
  co_return Result<void>{};
}

Task<Account> insert_account(Connection& c, auth::AddressParts addr, Account a) {
  auto claimed = co_await claim_address(c, addr.domain, key_of(addr));
  if (!claimed) co_return claimed.error();
  auto rows = co_await c.query(
      "INSERT INTO directory_account (address, address_key, domain, password_hash, scram, quota_bytes, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id::text",
      Param::text(a.address), Param::text(key_of(addr)), Param::text(addr.domain), Param::text(a.password_hash),
      Param::text(a.scram), Param::integer(int64_t(a.quota_bytes)), Param::integer(a.created_at));
  if (!rows) co_return rows.error();
  a.id = rows->integer(0, 0);
  co_return a;
}

Task<void> insert_alias(Connection& c, auth::AddressParts addr, std::string targets) {
  auto claimed = co_await claim_address(c, addr.domain, key_of(addr));
  if (!claimed) co_return claimed.error();
  auto rows = co_await c.query(
      "INSERT INTO directory_alias (address_key, address, domain, targets) VALUES ($1, $2, $3, $4)",
      Param::text(key_of(addr)), Param::text(addr.full()), Param::text(addr.domain), Param::text(targets));
  if (!rows) co_return rows.error();
  co_return Result<void>{};
}

Task<void> remove_domain(Connection& c, std::string domain) {
  auto locked = co_await lock_domain(c, domain, "no such domain");
  if (!locked) co_return locked.error();
  auto used = co_await c.query(
      "SELECT 1 FROM directory_account WHERE domain = $1 UNION ALL SELECT 1 FROM directory_alias WHERE domain = $1 "
      "LIMIT 1",
      Param::text(domain));
  if (!used) co_return used.error();
  if (!used->empty()) co_return make_error(Errc::kConflict, "domain still has accounts or aliases");
  auto deleted = co_await c.query("DELETE FROM directory_domain WHERE name = $1", Param::text(domain));
  if (!deleted) co_return deleted.error();
  co_return Result<void>{};
}

// resolve()'s lookups (auth::resolve_address) on one connection, inside its snapshot.
class SnapshotLookup final : public auth::AddressLookup {
 public:
  explicit SnapshotLookup(Connection& c) : c_(c) {}

  Task<bool> is_local_domain(std::string domain) override {
    auto rows = co_await c_.query("SELECT 1 FROM directory_domain WHERE name = $1", Param::text(domain));
    if (!rows) co_return rows.error();
    co_return !rows->empty();
  }
  Task<std::optional<AccountId>> account_id(std::string address) override {
    auto rows = co_await c_.query("SELECT id::text FROM directory_account WHERE address_key = $1",
                                  Param::text(ascii::lower(address)));
    if (!rows) co_return rows.error();
    if (rows->empty()) co_return std::optional<AccountId>();
    co_return std::optional<AccountId>(rows->integer(0, 0));
  }
  Task<std::optional<std::vector<std::string>>> alias_targets(std::string address) override {
    auto rows = co_await c_.query("SELECT targets FROM directory_alias WHERE address_key = $1",
                                  Param::text(ascii::lower(address)));
    if (!rows) co_return rows.error();
    if (rows->empty()) co_return std::optional<std::vector<std::string>>();
    co_return std::optional<std::vector<std::string>>(auth::split_targets(rows->text(0, 0)));
  }

 private:
  Connection& c_;
};

Task<Resolved> resolve_in(Connection& c, std::string address) {
  SnapshotLookup lookup(c);
  auto resolved = co_await auth::resolve_address(lookup, std::move(address));
  co_return resolved;
}

}  // namespace

Task<std::unique_ptr<PgDirectory>> PgDirectory::open(asio::any_io_executor executor, const PgDirectoryOptions& options) {
  const PgDirectoryOptions copy = options;  // before the first suspension (pg_client.hpp)
  {
    auto migrating = migrate_on_own_connection(executor, copy.pool.connect, &migrate_directory_schema);
    auto migrated = co_await std::move(migrating);
    if (!migrated) co_return migrated.error();
  }
  co_return std::unique_ptr<PgDirectory>(new PgDirectory(std::move(executor), copy.pool));
}

Task<Rows> PgDirectory::run(std::string_view sql, std::vector<Param> params) {
  auto lease = co_await pool_.acquire();
  if (!lease) co_return lease.error();
  auto rows = co_await (*lease)->query(sql, std::move(params));
  co_return rows;
}

Task<void> PgDirectory::change_one(std::string_view sql, std::vector<Param> params, std::string_view what) {
  auto rows = co_await run(sql, std::move(params));
  if (!rows) co_return rows.error();
  if (rows->affected() == 0) co_return make_error(Errc::kNotFound, "no such " + std::string(what));
  co_return Result<void>{};
}

// ---- Domains ----

Task<void> PgDirectory::add_domain(std::string name) {
  const std::string domain = ascii::lower(name);
  if (!auth::is_valid_domain(domain)) co_return make_error(Errc::kInvalid, "not a domain name");
  std::vector<Param> params;
  params.push_back(Param::text(domain));
  auto rows = co_await run("INSERT INTO directory_domain (name) VALUES ($1) ON CONFLICT DO NOTHING", std::move(params));
  if (!rows) co_return rows.error();
  if (rows->affected() == 0) co_return make_error(Errc::kExists, "domain already exists");
  co_return Result<void>{};
}

Task<void> PgDirectory::delete_domain(std::string name) {
  TxBody<void> body = [domain = ascii::lower(name)](Connection& c) { return remove_domain(c, domain); };
  auto r = co_await transaction<void>(pool_, std::move(body), "directory");
  co_return r;
}

Task<std::vector<std::string>> PgDirectory::list_domains() {
  auto rows = co_await run("SELECT name FROM directory_domain ORDER BY name", std::vector<Param>());
  if (!rows) co_return rows.error();
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->text(i, 0));
  co_return out;
}

Task<bool> PgDirectory::is_local_domain(std::string name) {
  std::vector<Param> params;
  params.push_back(Param::text(ascii::lower(name)));
  auto rows = co_await run("SELECT 1 FROM directory_domain WHERE name = $1", std::move(params));
  if (!rows) co_return rows.error();
  co_return !rows->empty();
}

// ---- Accounts ----

Task<Account> PgDirectory::add_account(std::string address, std::string password_hash, std::string scram,
                                       uint64_t quota_bytes) {
  Account a;
  a.address = std::move(address);
  a.password_hash = std::move(password_hash);
  a.scram = std::move(scram);
  a.quota_bytes = quota_bytes;
  a.created_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto task = import_account(std::move(a));  // made first: g++ 12 and aggregates in co_await
  auto added = co_await std::move(task);
  co_return added;
}

Task<Account> PgDirectory::import_account(Account a) {
  auto addr = auth::normalize_address(a.address);
  if (!addr) co_return make_error(Errc::kInvalid, "malformed address");
  auto quota = auth::quota_value(a.quota_bytes);
  if (!quota) co_return quota.error();
  a.address = addr->full();
  TxBody<Account> body = [addr = *addr, a](Connection& c) { return insert_account(c, addr, a); };
  auto added = co_await transaction<Account>(pool_, std::move(body), "directory");
  co_return added;
}

Task<void> PgDirectory::delete_account(std::string address) {
  auto addr = auth::normalize_address(address);
  if (!addr) co_return no_account();
  std::vector<Param> params;
  params.push_back(Param::text(key_of(*addr)));
  auto r = co_await change_one("DELETE FROM directory_account WHERE address_key = $1", std::move(params), "account");
  co_return r;
}

Task<void> PgDirectory::set_password(std::string address, std::string password_hash, std::string scram) {
  auto addr = auth::normalize_address(address);
  if (!addr) co_return no_account();
  std::vector<Param> params;
  params.push_back(Param::text(key_of(*addr)));
  params.push_back(Param::text(password_hash));
  params.push_back(Param::text(scram));
  auto r = co_await change_one("UPDATE directory_account SET password_hash = $2, scram = $3 WHERE address_key = $1",
                               std::move(params), "account");
  co_return r;
}

Task<void> PgDirectory::set_scram(AccountId id, std::string scram) {
  std::vector<Param> params;
  params.push_back(Param::integer(id));
  params.push_back(Param::text(scram));
  auto r = co_await change_one("UPDATE directory_account SET scram = $2 WHERE id = $1", std::move(params), "account");
  co_return r;
}

Task<void> PgDirectory::set_quota(std::string address, uint64_t quota_bytes) {
  auto addr = auth::normalize_address(address);
  if (!addr) co_return no_account();
  auto quota = auth::quota_value(quota_bytes);
  if (!quota) co_return quota.error();
  std::vector<Param> params;
  params.push_back(Param::text(key_of(*addr)));
  params.push_back(Param::integer(*quota));
  auto r = co_await change_one("UPDATE directory_account SET quota_bytes = $2 WHERE address_key = $1",
                               std::move(params), "account");
  co_return r;
}

Task<Account> PgDirectory::find_account(std::string address) {
  auto addr = auth::normalize_address(address);
  if (!addr) co_return no_account();
  std::vector<Param> params;
  params.push_back(Param::text(key_of(*addr)));
  const std::string sql = std::string(kAccountSelect) + "WHERE address_key = $1";
  auto rows = co_await run(sql, std::move(params));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return no_account();
  co_return account_from_row(*rows, 0);
}

Task<Account> PgDirectory::find_account_by_id(AccountId id) {
  std::vector<Param> params;
  params.push_back(Param::integer(id));
  const std::string sql = std::string(kAccountSelect) + "WHERE id = $1";
  auto rows = co_await run(sql, std::move(params));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return no_account();
  co_return account_from_row(*rows, 0);
}

Task<std::vector<Account>> PgDirectory::list_accounts() {
  const std::string sql = std::string(kAccountSelect) + "ORDER BY domain, address_key";
  auto rows = co_await run(sql, std::vector<Param>());
  if (!rows) co_return rows.error();
  std::vector<Account> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(account_from_row(*rows, i));
  co_return out;
}

// ---- Aliases ----

Task<void> PgDirectory::add_alias(std::string address, std::vector<std::string> targets) {
  auto addr = auth::normalize_alias_address(address);
  if (!addr) co_return make_error(Errc::kInvalid, "malformed alias address");
  auto normalized = auth::normalize_alias_targets(targets);
  if (!normalized) co_return normalized.error();
  TxBody<void> body = [addr = *addr, joined = auth::join_targets(*normalized)](Connection& c) {
    return insert_alias(c, addr, joined);
  };
  auto r = co_await transaction<void>(pool_, std::move(body), "directory");
  co_return r;
}

Task<void> PgDirectory::delete_alias(std::string address) {
  auto addr = auth::normalize_alias_address(address);
  if (!addr) co_return make_error(Errc::kNotFound, "no such alias");
  std::vector<Param> params;
  params.push_back(Param::text(key_of(*addr)));
  auto r = co_await change_one("DELETE FROM directory_alias WHERE address_key = $1", std::move(params), "alias");
  co_return r;
}

Task<std::vector<Alias>> PgDirectory::list_aliases() {
  auto rows = co_await run("SELECT address, targets FROM directory_alias ORDER BY domain, address_key", std::vector<Param>());
  if (!rows) co_return rows.error();
  std::vector<Alias> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(Alias{std::string(rows->text(i, 0)), auth::split_targets(rows->text(i, 1))});
  }
  co_return out;
}

// ---- Resolution ----

Task<Resolved> PgDirectory::resolve(std::string address) {
  TxBody<Resolved> body = [address = std::move(address)](Connection& c) { return resolve_in(c, address); };
  auto resolved = co_await snapshot<Resolved>(pool_, std::move(body));
  co_return resolved;
}

}  // namespace posthorn::store::pg
