// What every Directory backend shares (store/sqlite's SqliteDirectory, store/pg's PgDirectory), so
// that both behave alike: the address forms the directory accepts and stores, the validation of alias
// targets and quotas, the stored form of an alias's targets, and the walk of Directory::resolve()
// (accounts, aliases, sub-addresses, catch-alls) over a backend's lookups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/directory.hpp"
#include "base/result.hpp"
#include "base/task.hpp"

namespace posthorn::auth {

// Alias levels resolve() expands; deeper targets are ignored (logged).
inline constexpr int kMaxAliasDepth = 10;

// An account address or an alias target: "local@domain" split at its last '@', at most 254 bytes;
// the local part 1..64 bytes without spaces or control characters (UTF-8 is allowed for SMTPUTF8;
// unlike split_address, '@' is too, as in a quoted local part), the domain valid (is_valid_domain)
// and lower-cased. nullopt when malformed.
std::optional<AddressParts> normalize_address(std::string_view address);
// The same, and also the catch-all form "@domain" (local empty).
std::optional<AddressParts> normalize_alias_address(std::string_view address);

// An alias's targets normalised (normalize_address), duplicates that differ only in ASCII case
// dropped, order kept. Errc::kInvalid when there is none or one is malformed.
Result<std::vector<std::string>> normalize_alias_targets(const std::vector<std::string>& targets);

// An alias's targets as one stored text, joined with "\n" (targets never hold control characters,
// so the separator is unambiguous), and back.
std::string join_targets(const std::vector<std::string>& targets);
std::vector<std::string> split_targets(std::string_view joined);

// A quota as the signed 64-bit column the databases keep; Errc::kInvalid when it does not fit.
Result<int64_t> quota_value(uint64_t quota_bytes);

// What resolve_address() asks a backend; all calls of one walk should read one snapshot.
class AddressLookup {
 public:
  virtual ~AddressLookup() = default;
  // `domain` lower-case.
  virtual Task<bool> is_local_domain(std::string domain) = 0;
  // The account with exactly this address (ASCII case ignored), if any.
  virtual Task<std::optional<AccountId>> account_id(std::string address) = 0;
  // The targets of the alias with exactly this address ("@domain" for a catch-all), if any.
  virtual Task<std::optional<std::vector<std::string>>> alias_targets(std::string address) = 0;
};

// Directory::resolve() on `lookup`: exact account, exact alias, sub-address ("user+tag" -> "user"),
// then the domain's catch-all. Each address is expanded at most once (cycle-safe), at most
// kMaxAliasDepth alias levels deep; a local target that matches nothing is dropped; an address in a
// domain that is not local resolves to remote = {address}. Errors: kInvalid for a malformed address
// (normalize_address), kNotFound when no account and no remote target remains, or the lookup's.
Task<Resolved> resolve_address(AddressLookup& lookup, std::string address);

}  // namespace posthorn::auth
