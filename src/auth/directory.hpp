// The directory of domains, accounts (users), aliases and quotas, and the credentials to check.
// Interface only; the implementations are store/sqlite/SqliteDirectory (embedded) and
// store/pg/PgDirectory, which share the rules and the resolution walk of auth/directory_rules.hpp. Every call is an awaitable (Task<T>, base/task.hpp) and thread-safe: co_await it from a
// coroutine, or run_sync() it from synchronous code. The backend decides how it waits (SQLite on the
// blocking pool, PostgreSQL on its connection): callers never hand directory calls to the pool.
// Arguments are taken by value, as the call may run after the caller's temporaries are gone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/task.hpp"

namespace posthorn::auth {

using AccountId = int64_t;

struct Account {
  AccountId id = 0;
  std::string address;            // "local@domain", lower-case domain, local part as added
  std::string password_hash;      // "{SCHEME}..." as in password.hpp
  std::string scram;              // ScramCredentials::serialize(), or empty when unknown
  uint64_t quota_bytes = 0;       // 0 = unlimited
  int64_t created_at = 0;         // unix seconds
};

struct Alias {
  std::string address;                // "local@domain" or "@domain" (catch-all)
  std::vector<std::string> targets;   // addresses, local or remote
};

// What an envelope address resolves to.
struct Resolved {
  std::vector<AccountId> accounts;    // local accounts to deliver to (deduplicated)
  std::vector<std::string> remote;    // forwarding targets outside our domains
};

class Directory {
 public:
  virtual ~Directory() = default;

  // Domains. Names are stored lower-case. add: Errc::kExists if present, kInvalid if not a domain name.
  // del: Errc::kNotFound; Errc::kConflict while accounts or aliases still use it.
  virtual Task<void> add_domain(std::string name) = 0;
  virtual Task<void> delete_domain(std::string name) = 0;
  virtual Task<std::vector<std::string>> list_domains() = 0;
  virtual Task<bool> is_local_domain(std::string name) = 0;

  // Accounts. add: Errc::kExists (account or alias with that address), kNotFound (domain unknown),
  // kInvalid (malformed address).
  virtual Task<Account> add_account(std::string address, std::string password_hash, std::string scram,
                                    uint64_t quota_bytes) = 0;
  virtual Task<void> delete_account(std::string address) = 0;
  virtual Task<void> set_password(std::string address, std::string password_hash, std::string scram) = 0;
  virtual Task<void> set_scram(AccountId id, std::string scram) = 0;
  virtual Task<void> set_quota(std::string address, uint64_t quota_bytes) = 0;
  // Exact lookup by address (case-insensitive). Errc::kNotFound when absent.
  virtual Task<Account> find_account(std::string address) = 0;
  virtual Task<std::vector<Account>> list_accounts() = 0;
  // Lookup by id (delivery knows ids from resolve() and needs the quota). Errc::kNotFound when
  // absent. The default scans list_accounts(); backends override it with an indexed lookup.
  virtual Task<Account> find_account_by_id(AccountId id);

  // Aliases. address "@domain" is the domain's catch-all. add: kExists if an account or alias has
  // that address, kNotFound if the domain is not local, kInvalid if a target is malformed.
  virtual Task<void> add_alias(std::string address, std::vector<std::string> targets) = 0;
  virtual Task<void> delete_alias(std::string address) = 0;
  virtual Task<std::vector<Alias>> list_aliases() = 0;

  // Resolution for delivery: exact account, exact alias, sub-address ("user+tag" -> "user"),
  // then the domain catch-all; aliases expand recursively (depth 10, cycles ignored).
  // Errc::kNotFound when nothing matches in a local domain.
  virtual Task<Resolved> resolve(std::string address) = 0;

  // ---- Moving an installation between backends (posthorn migrate, issue 20 item 3) ----
  // Adds an account as another directory holds it: address, password hash, SCRAM data, quota and
  // created_at unchanged (so its users log in with the same password); account.id is ignored and
  // the new id returned. Errors as add_account.
  virtual Task<Account> import_account(Account account) = 0;
};

// Splits and normalises "local@domain": domain lower-cased, both parts non-empty, no spaces or
// control characters. nullopt when malformed.
struct AddressParts {
  std::string local;
  std::string domain;
  std::string full() const { return local + "@" + domain; }  // "@domain" for a catch-all (local empty)
};
std::optional<AddressParts> split_address(std::string_view address);
bool is_valid_domain(std::string_view name);

}  // namespace posthorn::auth
