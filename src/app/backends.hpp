// The storage that [store] names, opened for `posthorn serve` and for the admin commands: the
// directory, the mail store, the outbound queue, the DMARC and TLS-RPT report logs and the DKIM keys, either as
// SQLite files under data_dir (the embedded default) or in one shared PostgreSQL database (issue 20,
// docs/cluster.md) that several nodes use at once. Only app/ names the concrete backends;
// everything above store/ sees the interfaces (auth::Directory, store::MailStore, queue::Queue,
// msgauth::DmarcReportLog, queue::TlsReportLog, msgauth::DkimKeyStore).
//
// On PostgreSQL the database connections run on an I/O thread of their own (started here, joined
// when this goes), so the same objects serve the server's I/O threads and the command line's
// run_sync() alike; a coroutine that awaits a call resumes on its own executor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "auth/directory.hpp"
#include "base/blocking_pool.hpp"
#include "base/result.hpp"
#include "config/config.hpp"
#include "msgauth/dkim_keys.hpp"
#include "msgauth/dmarc_report.hpp"
#include "queue/queue.hpp"
#include "queue/tls_report.hpp"
#include "store/maildrop_lock.hpp"
#include "store/store.hpp"

namespace posthorn::store::sqlite {
class SqliteMailStore;
}

namespace posthorn::app {

// Which parts to open (a command that only changes accounts opens no queue).
enum BackendPart : uint8_t {
  kDirectoryPart = 1 << 0,
  kStorePart = 1 << 1,
  kQueuePart = 1 << 2,
  kAllParts = kDirectoryPart | kStorePart | kQueuePart,
  // The report logs (SQLite: dmarc.db, tlsrpt.db in data_dir), not in kAllParts: only what
  // counts or sends reports opens them.
  kDmarcLogPart = 1 << 3,
  kTlsRptLogPart = 1 << 4,
  kReportsPart = kDmarcLogPart | kTlsRptLogPart,
  // The DKIM signing keys (SQLite: files in <data_dir>/dkim/), not in kAllParts either.
  kDkimKeysPart = 1 << 5,
};

class Backends {
 public:
  // `pool` runs blocking work (SQLite calls; CPU work on message bytes for both backends) and must
  // outlive this. Errors name what could not be opened: the file, or the database URL without its
  // password and the cause (unreachable, refused, a schema newer than this Posthorn).
  static Result<std::unique_ptr<Backends>> open(const config::Config& cfg, BlockingPool& pool, uint8_t parts);
  ~Backends();
  Backends(const Backends&) = delete;
  Backends& operator=(const Backends&) = delete;

  // Where [store] keeps things, for messages: the data folder, or the database URL without its password.
  static std::string where(const config::Config& cfg);

  config::StoreBackend backend() const { return backend_; }
  // Each only when opened (the parts given to open()).
  auth::Directory& directory() const { return *directory_; }
  store::MailStore& store() const { return *store_; }
  // POP3's maildrop locks, opened with the store: in process on SQLite, in the database (held
  // across every node) on PostgreSQL.
  store::MaildropLocks& maildrop_locks() const { return *maildrop_locks_; }
  queue::Queue& queue() const { return *queue_; }
  msgauth::DmarcReportLog& dmarc_log() const { return *dmarc_log_; }
  queue::TlsReportLog& tlsrpt_log() const { return *tlsrpt_log_; }
  msgauth::DkimKeyStore& dkim_keys() const { return *dkim_keys_; }
  // The SQLite mail store, whose blob files need garbage collection; nullptr on PostgreSQL (blobs
  // there go with their last message, in the same transaction).
  store::sqlite::SqliteMailStore* sqlite_store() const { return sqlite_store_; }

 private:
  struct PgRuntime;
  Backends() = default;
  Result<void> open_sqlite(const config::Config& cfg, BlockingPool& pool, uint8_t parts);
  Result<void> open_postgresql(const config::Config& cfg, BlockingPool& pool, uint8_t parts);

  config::StoreBackend backend_ = config::StoreBackend::kSqlite;
  std::unique_ptr<PgRuntime> pg_;  // declared first: outlives what runs on it
  std::unique_ptr<auth::Directory> directory_;
  std::unique_ptr<store::MailStore> store_;
  std::unique_ptr<store::MaildropLocks> maildrop_locks_;
  std::unique_ptr<queue::Queue> queue_;
  std::unique_ptr<msgauth::DmarcReportLog> dmarc_log_;
  std::unique_ptr<queue::TlsReportLog> tlsrpt_log_;
  std::unique_ptr<msgauth::DkimKeyStore> dkim_keys_;
  store::sqlite::SqliteMailStore* sqlite_store_ = nullptr;
};

}  // namespace posthorn::app
