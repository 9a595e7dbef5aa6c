// Where DKIM signing keys are kept (issue 20): the storage interface DkimKeyStore, implemented by the
// embedded backend as files, <data_dir>/dkim/<domain>/<selector>.pem (store/sqlite/file_dkim_keys:
// an operator may drop a PEM there), and by the PostgreSQL backend as rows that every node reads
// (store/pg/pg_dkim_keys). `posthorn dkim generate` adds keys, `posthorn serve` reads them all at
// start and on SIGHUP into a DkimSigner (signer_from). Every call may wait on storage (Task); the
// shared behavioural suite is tests/harness/dkim_keys_contract.hpp.
// Depends on msgauth/dkim, base/. Implementations say their own thread safety.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/task.hpp"
#include "msgauth/dkim.hpp"

namespace posthorn::msgauth {

struct DkimKey {
  std::string domain;    // lower-case
  std::string selector;  // one DNS label of [a-z0-9-] (it also names a file)
  std::string pem;       // the private key, PEM (PKCS#8 or traditional)
  bool operator==(const DkimKey&) const = default;
};

class DkimKeyStore {
 public:
  virtual ~DkimKeyStore() = default;
  // Every key, ordered by domain then selector (bytewise): the order of the signatures.
  virtual Task<std::vector<DkimKey>> list() = 0;
  // Adds a key durably; Errc::kExists (nothing changed) when its domain already has the selector,
  // Errc::kInvalid for a domain or selector that is not a lower-case DNS label sequence / label.
  virtual Task<void> add(DkimKey key) = 0;
};

// A selector as add() accepts it: 1..63 bytes of [a-z0-9-], not starting or ending with '-'.
bool valid_dkim_selector(std::string_view selector);
// A domain as add() accepts it: dot-separated labels as valid_dkim_selector, at most 253 bytes
// (lower case: it names a folder, and domains compare case-insensitively).
bool valid_dkim_domain(std::string_view domain);

// The signer of `keys` (DkimSigner::add_key each, in order); an invalid key is an error naming its
// domain and selector (serve then refuses to start: mail would go out unsigned).
Result<DkimSigner> signer_from(const std::vector<DkimKey>& keys);

}  // namespace posthorn::msgauth
