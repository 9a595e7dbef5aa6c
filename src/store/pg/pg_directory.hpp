// PgDirectory: the auth::Directory on a shared PostgreSQL database (issue 20), so that several
// Posthorn nodes see one set of domains, accounts and aliases. Same semantics as the embedded
// SqliteDirectory: the address rules, alias targets, quotas and resolve()'s walk are the shared
// ones of auth/directory_rules.hpp; error codes as in sqlite_directory.hpp (a malformed address is
// kNotFound for lookups and changes, kInvalid for add_account, add_alias and resolve).
//
// Schema (component "directory" of pg_schema's migrations, pg_directory_schema.cpp):
//   directory_domain(name)                                     lower-case
//   directory_account(id bigserial, address, address_key, domain, password_hash, scram,
//                     quota_bytes, created_at)                 ids never reused
//   directory_alias(address_key, address, domain, targets)     "@domain" is the catch-all;
//                     targets joined with "\n" (auth::join_targets)
// address is "<local as given>@<domain lower-case>", address_key its ASCII lower case: the unique
// key of each table and what lookups compare, so they ignore case as the embedded backend does.
//
// Concurrency: add_account, add_alias and delete_domain lock the domain's row (SELECT ... FOR
// UPDATE) before they check, so on any node they are serialised per domain: an address is taken
// by exactly one account or alias, and a domain is never deleted under a new address. Their
// transactions run again after a serialization failure or deadlock (pg_transaction.hpp). resolve()
// reads one REPEATABLE READ snapshot; other calls are single statements.
//
// No call blocks a thread (pg_client is asynchronous). Thread-safe: every call may come from any
// thread or coroutine; the directory must outlive its calls.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "auth/directory.hpp"
#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

struct PgDirectoryOptions {
  PoolOptions pool;
};

class PgDirectory final : public auth::Directory {
 public:
  // Connects and brings the "directory" schema to its current version (kInvalid for a newer one,
  // kUnavailable when the database cannot be reached). Queries run on `executor`.
  // (options by reference: g++ 12 and by-value aggregates in co_await expressions, pg_client.hpp.)
  static Task<std::unique_ptr<PgDirectory>> open(boost::asio::any_io_executor executor,
                                                 const PgDirectoryOptions& options);

  Task<void> add_domain(std::string name) override;
  Task<void> delete_domain(std::string name) override;
  Task<std::vector<std::string>> list_domains() override;
  Task<bool> is_local_domain(std::string name) override;

  Task<auth::Account> add_account(std::string address, std::string password_hash, std::string scram,
                                  uint64_t quota_bytes) override;
  Task<void> delete_account(std::string address) override;
  Task<void> set_password(std::string address, std::string password_hash, std::string scram) override;
  Task<void> set_scram(auth::AccountId id, std::string scram) override;
  Task<void> set_quota(std::string address, uint64_t quota_bytes) override;
  Task<auth::Account> find_account(std::string address) override;
  Task<std::vector<auth::Account>> list_accounts() override;
  Task<auth::Account> find_account_by_id(auth::AccountId id) override;

  Task<void> add_alias(std::string address, std::vector<std::string> targets) override;
  Task<void> delete_alias(std::string address) override;
  Task<std::vector<auth::Alias>> list_aliases() override;

  Task<auth::Resolved> resolve(std::string address) override;

  // ---- Moving an installation (posthorn migrate) ----
  // add_account is this with created_at now.
  Task<auth::Account> import_account(auth::Account account) override;

 private:
  PgDirectory(boost::asio::any_io_executor executor, const PoolOptions& options) : pool_(std::move(executor), options) {}
  // One statement on a pooled connection, outside a transaction.
  Task<Rows> run(std::string_view sql, std::vector<Param> params);
  // One UPDATE or DELETE: Errc::kNotFound ("no such <what>") when it changed no row.
  Task<void> change_one(std::string_view sql, std::vector<Param> params, std::string_view what);

  Pool pool_;
};

}  // namespace posthorn::store::pg
