// SqliteDirectory: the embedded auth::Directory in <data_dir>/directory.db (DESIGN.md §4): domains,
// accounts with credentials and quotas, aliases and catch-alls, and address resolution for delivery.
// Thread-safe: one connection guarded by a mutex. Each auth::Directory call runs its blocking body
// (the *_blocking functions below) on the BlockingPool given to open(), as SqliteMailStore does. Other
// processes (the `posthorn user ...` commands) may use the same file at the same time: writes that
// check before they change run in BEGIN IMMEDIATE transactions, so they are atomic across processes.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#include "auth/directory.hpp"
#include "base/blocking_pool.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace posthorn::store::sqlite {

class SqliteDirectory final : public auth::Directory {
 public:
  // Opens or creates `db_file` (":memory:" gives a private in-memory directory, for tests) and
  // creates or migrates the schema. Errc::kUnavailable when the file cannot be opened;
  // Errc::kInvalid when the file's schema is newer than this program knows. `pool` runs every call
  // and must outlive the directory.
  static Result<std::unique_ptr<SqliteDirectory>> open(const std::filesystem::path& db_file, BlockingPool& pool);

  // The schema version this program writes.
  static constexpr int64_t kSchemaVersion = 1;

  // Errors follow auth::Directory. In addition: find_account and the mutating calls return
  // Errc::kNotFound for a malformed address (nothing can match it) except add_account and add_alias
  // (kInvalid); resolve returns kInvalid for a malformed address; any call may return kUnavailable
  // (busy database, full disk) or kInternal.
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

  // Implementation notes: lookups are case-insensitive (COLLATE NOCASE on addresses, domains stored
  // lower-case). The walk is auth::resolve_address (auth/directory_rules.hpp). Each address is expanded at most once per call (cycle-safe), at most 10 alias levels
  // deep; a local target that matches nothing is dropped; kNotFound when no account and no remote
  // target remains. An address in a domain that is not local resolves to remote = {address}.
  Task<auth::Resolved> resolve(std::string address) override;

  // ---- Moving an installation (posthorn migrate) ----
  Task<auth::Account> import_account(auth::Account account) override;

 private:
  SqliteDirectory(Db db, BlockingPool& pool) : db_(std::move(db)), pool_(pool) {}
  // Runs fn() -> Result<T> on the pool.
  template <class T, class Fn>
  Task<T> on_pool(Fn fn);

  // The blocking bodies of the Directory calls, same contracts.
  Result<void> add_domain_blocking(std::string_view name);
  Result<void> delete_domain_blocking(std::string_view name);
  Result<std::vector<std::string>> list_domains_blocking();
  Result<bool> is_local_domain_blocking(std::string_view name);
  // created_at: now when not given (import_account keeps the source's).
  Result<auth::Account> add_account_blocking(std::string_view address, std::string_view password_hash,
                                             std::string_view scram, uint64_t quota_bytes,
                                             std::optional<int64_t> created_at = std::nullopt);
  Result<void> delete_account_blocking(std::string_view address);
  Result<void> set_password_blocking(std::string_view address, std::string_view password_hash,
                                     std::string_view scram);
  Result<void> set_scram_blocking(auth::AccountId id, std::string_view scram);
  Result<void> set_quota_blocking(std::string_view address, uint64_t quota_bytes);
  Result<auth::Account> find_account_blocking(std::string_view address);
  Result<std::vector<auth::Account>> list_accounts_blocking();
  Result<auth::Account> find_account_by_id_blocking(auth::AccountId id);
  Result<void> add_alias_blocking(std::string_view address, const std::vector<std::string>& targets);
  Result<void> delete_alias_blocking(std::string_view address);
  Result<std::vector<auth::Alias>> list_aliases_blocking();
  Result<auth::Resolved> resolve_blocking(std::string_view address);

  std::mutex mu_;
  Db db_;  // guarded by mu_
  BlockingPool& pool_;
};

}  // namespace posthorn::store::sqlite
