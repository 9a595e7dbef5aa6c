// SqliteDirectory: the embedded auth::Directory in <data_dir>/directory.db (DESIGN.md §4): domains,
// accounts with credentials and quotas, aliases and catch-alls, and address resolution for delivery.
// Thread-safe: one connection guarded by a mutex; every call blocks (use the blocking pool). Other
// processes (the `posthorn user ...` commands) may use the same file at the same time: writes that
// check before they change run in BEGIN IMMEDIATE transactions, so they are atomic across processes.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "auth/directory.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace posthorn::store::sqlite {

class SqliteDirectory final : public auth::Directory {
 public:
  // Opens or creates `db_file` (":memory:" gives a private in-memory directory, for tests) and
  // creates or migrates the schema. Errc::kUnavailable when the file cannot be opened;
  // Errc::kInvalid when the file's schema is newer than this program knows.
  static Result<std::unique_ptr<SqliteDirectory>> open(const std::filesystem::path& db_file);

  // The schema version this program writes.
  static constexpr int64_t kSchemaVersion = 1;

  // Errors follow auth::Directory. In addition: find_account and the mutating calls return
  // Errc::kNotFound for a malformed address (nothing can match it) except add_account and add_alias
  // (kInvalid); resolve returns kInvalid for a malformed address; any call may return kUnavailable
  // (busy database, full disk) or kInternal.
  Result<void> add_domain(std::string_view name) override;
  Result<void> delete_domain(std::string_view name) override;
  Result<std::vector<std::string>> list_domains() override;
  Result<bool> is_local_domain(std::string_view name) override;

  Result<auth::Account> add_account(std::string_view address, std::string_view password_hash,
                                    std::string_view scram, uint64_t quota_bytes) override;
  Result<void> delete_account(std::string_view address) override;
  Result<void> set_password(std::string_view address, std::string_view password_hash,
                            std::string_view scram) override;
  Result<void> set_scram(auth::AccountId id, std::string_view scram) override;
  Result<void> set_quota(std::string_view address, uint64_t quota_bytes) override;
  Result<auth::Account> find_account(std::string_view address) override;
  Result<std::vector<auth::Account>> list_accounts() override;
  Result<auth::Account> find_account_by_id(auth::AccountId id) override;

  Result<void> add_alias(std::string_view address, const std::vector<std::string>& targets) override;
  Result<void> delete_alias(std::string_view address) override;
  Result<std::vector<auth::Alias>> list_aliases() override;

  // Implementation notes: lookups are case-insensitive (COLLATE NOCASE on addresses, domains stored
  // lower-case). Each address is expanded at most once per call (cycle-safe), at most 10 alias levels
  // deep; a local target that matches nothing is dropped; kNotFound when no account and no remote
  // target remains. An address in a domain that is not local resolves to remote = {address}.
  Result<auth::Resolved> resolve(std::string_view address) override;

 private:
  explicit SqliteDirectory(Db db) : db_(std::move(db)) {}

  std::mutex mu_;
  Db db_;  // guarded by mu_
};

}  // namespace posthorn::store::sqlite
