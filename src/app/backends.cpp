#include "app/backends.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <exception>
#include <thread>

#include "store/pg/pg_client.hpp"
#include "store/pg/pg_directory.hpp"
#include "store/pg/pg_dmarc_log.hpp"
#include "store/pg/pg_maildrop_lock.hpp"
#include "store/pg/pg_mail_store.hpp"
#include "store/pg/pg_queue.hpp"
#include "store/pg/pg_tlsrpt_log.hpp"
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

Result<void> Backends::open_sqlite(const config::Config& cfg, BlockingPool& pool, uint8_t parts) {
  if (parts & kDirectoryPart) {
    const auto file = cfg.data_dir / "directory.db";
    auto directory = store::sqlite::SqliteDirectory::open(file, pool);
    if (!directory) return make_error(directory.error().code, "cannot open " + file.string() + ": " + directory.error().message);
    directory_ = std::move(*directory);
  }
  if (parts & kStorePart) {
    auto opened = store::sqlite::SqliteMailStore::open(cfg.data_dir, pool);
    if (!opened) {
      return make_error(opened.error().code,
                        "cannot open the mail store in " + cfg.data_dir.string() + ": " + opened.error().message);
    }
    sqlite_store_ = opened->get();
    store_ = std::move(*opened);
    maildrop_locks_ = std::make_unique<store::LocalMaildropLocks>();
  }
  if (parts & kQueuePart) {
    auto queue = store::sqlite::SqliteQueue::open(cfg.data_dir, pool);
    if (!queue) {
      return make_error(queue.error().code, "cannot open the queue in " + cfg.data_dir.string() + ": " + queue.error().message);
    }
    queue_ = std::move(*queue);
  }
  if (parts & kDmarcLogPart) {
    auto log = store::sqlite::SqliteDmarcLog::open(cfg.data_dir, pool, cfg.msgauth.report_max_rows);
    if (!log) return make_error(log.error().code, "cannot open dmarc.db in " + cfg.data_dir.string() + ": " + log.error().message);
    dmarc_log_ = std::move(*log);
  }
  if (parts & kTlsRptLogPart) {
    auto log = store::sqlite::SqliteTlsRptLog::open(cfg.data_dir, pool);
    if (!log) return make_error(log.error().code, "cannot open tlsrpt.db in " + cfg.data_dir.string() + ": " + log.error().message);
    tlsrpt_log_ = std::move(*log);
  }
  return {};
}

Result<void> Backends::open_postgresql(const config::Config& cfg, BlockingPool& pool, uint8_t parts) {
  pg_ = std::make_unique<PgRuntime>();
  const auto executor = pg_->io.get_executor();
  store::pg::PoolOptions connections;
  connections.connect.url = cfg.store.url;
  connections.size = cfg.store.pool_size;
  const std::string where = Backends::where(cfg);
  auto failed = [&](const Error& e) {
    // pg_client's connect errors already name the (redacted) URL.
    if (e.message.find(store::pg::redact_url(cfg.store.url)) != std::string::npos) return e;
    return make_error(e.code, where + ": " + e.message);
  };
  if (parts & kDirectoryPart) {
    store::pg::PgDirectoryOptions options;
    options.pool = connections;
    auto directory = pg_->wait(store::pg::PgDirectory::open(executor, options));
    if (!directory) return failed(directory.error());
    directory_ = std::move(*directory);
  }
  if (parts & kStorePart) {
    store::pg::PgMailStoreOptions options;
    options.pool = connections;
    options.spool_dir = cfg.data_dir;
    auto opened = pg_->wait(store::pg::PgMailStore::open(executor, options, pool));
    if (!opened) return failed(opened.error());
    store_ = std::move(*opened);
    auto locks = pg_->wait(store::pg::PgMaildropLocks::open(executor, connections.connect));
    if (!locks) return failed(locks.error());
    maildrop_locks_ = std::move(*locks);
  }
  if (parts & kQueuePart) {
    store::pg::PgQueueOptions options;
    options.pool = connections;
    auto queue = pg_->wait(store::pg::PgQueue::open(executor, options));
    if (!queue) return failed(queue.error());
    queue_ = std::move(*queue);
  }
  if (parts & kDmarcLogPart) {
    store::pg::PgDmarcLogOptions options;
    options.pool = connections;
    options.max_rows = cfg.msgauth.report_max_rows;
    auto log = pg_->wait(store::pg::PgDmarcLog::open(executor, options));
    if (!log) return failed(log.error());
    dmarc_log_ = std::move(*log);
  }
  if (parts & kTlsRptLogPart) {
    store::pg::PgTlsRptLogOptions options;
    options.pool = connections;
    auto log = pg_->wait(store::pg::PgTlsRptLog::open(executor, options));
    if (!log) return failed(log.error());
    tlsrpt_log_ = std::move(*log);
  }
  return {};
}

}  // namespace posthorn::app
