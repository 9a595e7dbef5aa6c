#include "app/backends.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <exception>
#include <thread>

#include "store/pg/pg_client.hpp"
#include "store/pg/pg_directory.hpp"
#include "store/pg/pg_dkim_keys.hpp"
#include "store/pg/pg_dmarc_log.hpp"
#include "store/pg/pg_maildrop_lock.hpp"
#include "store/pg/pg_mail_store.hpp"
#include "store/pg/pg_queue.hpp"
#include "store/pg/pg_tlsrpt_log.hpp"
#include "store/sqlite/file_dkim_keys.hpp"
#include "store/sqlite/sqlite_directory.hpp"
#include "store/sqlite/sqlite_dmarc_log.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "store/sqlite/sqlite_queue.hpp"
#include "store/sqlite/sqlite_tlsrpt_log.hpp"

namespace posthorn::app {

namespace asio = boost::asio;

// The PostgreSQL backend's I/O thread.
struct Backends::PgRuntime {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};

  ~PgRuntime() {
    work.reset();
    io.stop();
    thread.join();
  }

  // Runs `op` on the I/O thread and waits for it (only before serving and in the command line).
  template <class T>
  Result<T> wait(asio::awaitable<Result<T>> op) {
    auto done = asio::co_spawn(io, std::move(op), asio::use_future);
    try {
      return done.get();
    } catch (const std::exception& e) {
      return make_error(Errc::kInternal, e.what());
    }
  }
};

Backends::~Backends() = default;

std::string Backends::where(const config::Config& cfg) {
  if (cfg.store.backend == config::StoreBackend::kSqlite) return cfg.data_dir.string();
  return "postgresql " + store::pg::redact_url(cfg.store.url);
}

Result<std::unique_ptr<Backends>> Backends::open(const config::Config& cfg, BlockingPool& pool, uint8_t parts) {
  std::unique_ptr<Backends> b(new Backends());
  b->backend_ = cfg.store.backend;
  auto opened = b->backend_ == config::StoreBackend::kSqlite ? b->open_sqlite(cfg, pool, parts)
                                                             : b->open_postgresql(cfg, pool, parts);
  if (!opened) return opened.error();
  return b;
}

namespace {

// Moves an opened part into its slot, or words its error with `why`.
template <class Slot, class T, class Why>
Result<void> take(std::unique_ptr<Slot>& slot, Result<std::unique_ptr<T>> opened, const Why& why) {
  if (!opened) return why(opened.error());
  slot = std::move(*opened);
  return {};
}

}  // namespace

Result<void> Backends::open_sqlite(const config::Config& cfg, BlockingPool& pool, uint8_t parts) {
  namespace sq = store::sqlite;
  const std::string data = cfg.data_dir.string();
  // "cannot open WHAT: cause"
  auto cannot_open = [](std::string what) {
    return [what = std::move(what)](const Error& e) { return make_error(e.code, "cannot open " + what + ": " + e.message); };
  };
  if (parts & kDirectoryPart) {
    const auto file = cfg.data_dir / "directory.db";
    if (auto r = take(directory_, sq::SqliteDirectory::open(file, pool), cannot_open(file.string())); !r) return r;
  }
  if (parts & kStorePart) {
    auto opened = sq::SqliteMailStore::open(cfg.data_dir, pool);
    if (opened) sqlite_store_ = opened->get();
    if (auto r = take(store_, std::move(opened), cannot_open("the mail store in " + data)); !r) return r;
    maildrop_locks_ = std::make_unique<store::LocalMaildropLocks>();
  }
  if (parts & kQueuePart) {
    if (auto r = take(queue_, sq::SqliteQueue::open(cfg.data_dir, pool), cannot_open("the queue in " + data)); !r) return r;
  }
  if (parts & kDmarcLogPart) {
    auto log = sq::SqliteDmarcLog::open(cfg.data_dir, pool, cfg.msgauth.report_max_rows);
    if (auto r = take(dmarc_log_, std::move(log), cannot_open("dmarc.db in " + data)); !r) return r;
  }
  if (parts & kTlsRptLogPart) {
    if (auto r = take(tlsrpt_log_, sq::SqliteTlsRptLog::open(cfg.data_dir, pool), cannot_open("tlsrpt.db in " + data)); !r)
      return r;
  }
  if (parts & kDkimKeysPart) dkim_keys_ = sq::FileDkimKeys::open(cfg.data_dir, pool);
  return {};
}

Result<void> Backends::open_postgresql(const config::Config& cfg, BlockingPool& pool, uint8_t parts) {
  namespace pg = store::pg;
  pg_ = std::make_unique<PgRuntime>();
  const auto executor = pg_->io.get_executor();
  pg::PoolOptions connections;
  connections.connect.url = cfg.store.url;
  connections.size = cfg.store.pool_size;
  const std::string where = Backends::where(cfg);
  auto failed = [&](const Error& e) {
    // pg_client's connect errors already name the (redacted) URL.
    if (e.message.find(pg::redact_url(cfg.store.url)) != std::string::npos) return e;
    return make_error(e.code, where + ": " + e.message);
  };
  if (parts & kDirectoryPart) {
    pg::PgDirectoryOptions options;
    options.pool = connections;
    if (auto r = take(directory_, pg_->wait(pg::PgDirectory::open(executor, options)), failed); !r) return r;
  }
  if (parts & kStorePart) {
    pg::PgMailStoreOptions options;
    options.pool = connections;
    options.spool_dir = cfg.data_dir;
    if (auto r = take(store_, pg_->wait(pg::PgMailStore::open(executor, options, pool)), failed); !r) return r;
    if (auto r = take(maildrop_locks_, pg_->wait(pg::PgMaildropLocks::open(executor, connections.connect)), failed); !r)
      return r;
  }
  if (parts & kQueuePart) {
    pg::PgQueueOptions options;
    options.pool = connections;
    if (auto r = take(queue_, pg_->wait(pg::PgQueue::open(executor, options)), failed); !r) return r;
  }
  if (parts & kDmarcLogPart) {
    pg::PgDmarcLogOptions options;
    options.pool = connections;
    options.max_rows = cfg.msgauth.report_max_rows;
    if (auto r = take(dmarc_log_, pg_->wait(pg::PgDmarcLog::open(executor, options)), failed); !r) return r;
  }
  if (parts & kTlsRptLogPart) {
    pg::PgTlsRptLogOptions options;
    options.pool = connections;
    if (auto r = take(tlsrpt_log_, pg_->wait(pg::PgTlsRptLog::open(executor, options)), failed); !r) return r;
  }
  if (parts & kDkimKeysPart) {
    // Read at start and on SIGHUP only: one connection is enough.
    pg::PoolOptions one = connections;
    one.size = 1;
    if (auto r = take(dkim_keys_, pg_->wait(pg::PgDkimKeys::open(executor, one)), failed); !r) return r;
  }
  return {};
}

}  // namespace posthorn::app
