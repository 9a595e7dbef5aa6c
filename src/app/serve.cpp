// posthorn serve and check-config: load the config, load certificates, open the directory, bind every
// listener, drop privileges, then run the I/O threads until SIGTERM. SIGHUP reloads the config file:
// certificates (new connections get them; existing ones keep theirs), limits and settings used by
// new sessions (limits, timeouts), the log level. Listener, data_dir, run_as_user, [auth] and
// [workers] changes need a restart (a warning says so). The outbound queue runner starts with the
// listeners and stops after them; [dns] and [delivery] connection settings need a restart, the
// retry schedule is read from the current config on each pass.
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "app/admin_http.hpp"
#include "app/commands.hpp"
#include "auth/authenticator.hpp"
#include "base/log.hpp"
#include "base/spool.hpp"
#include "config/config.hpp"
#include "dns/unbound_resolver.hpp"
#include "base/run_sync.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dkim_keys.hpp"
#include "msgauth/psl.hpp"
#include "base/blocking_pool.hpp"
#include "net/listener.hpp"
#include "net/tls_context.hpp"
#include "server/imap/imap_session.hpp"
#include "server/pop3/pop3_session.hpp"
#include "delivery/dmarc_reporter.hpp"
#include "delivery/queue_runner.hpp"
#include "server/smtp/smtp_session.hpp"
#include "delivery/tls_reporter.hpp"
#include "smtpc/agent.hpp"
#include "app/backends.hpp"
#include "store/pg/pg_client.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"

namespace posthorn::app {

namespace asio = boost::asio;

namespace {

// The config snapshot new sessions start with; replaced on SIGHUP. Thread-safe.
class ConfigHolder {
 public:
  explicit ConfigHolder(std::shared_ptr<const config::Config> c) : current_(std::move(c)) {}
  std::shared_ptr<const config::Config> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void set(std::shared_ptr<const config::Config> c) {
    std::lock_guard lock(mutex_);
    current_ = std::move(c);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const config::Config> current_;
};

unsigned io_thread_count(const config::Config& cfg) {
  if (cfg.workers.io_threads > 0) return cfg.workers.io_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

unsigned blocking_thread_count(const config::Config& cfg) {
  if (cfg.workers.blocking_threads > 0) return cfg.workers.blocking_threads;
  return std::max(4u, 2 * std::thread::hardware_concurrency());
}

// Each connection holds a file descriptor, and the soft limit is often 1024: raise it to the hard
// limit (what nginx's worker_rlimit_nofile and Dovecot's master do), and say so when even that is
// too low for max_connections (with room for the stores, the queue and outbound connections).
void raise_descriptor_limit(uint32_t max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  const rlim_t needed = static_cast<rlim_t>(max_connections) + 512;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    spdlog::warn("open-file limit {} is below what limits.max_connections = {} needs ({}); raise it "
                 "(ulimit -n, systemd LimitNOFILE=)", lim.rlim_cur, max_connections, needed);
  }
}

// Changes the owner of the data folder (when it differs) and drops root for `user`.
Result<void> drop_privileges(const std::string& user, const std::filesystem::path& data_dir) {
  struct passwd* pw = getpwnam(user.c_str());
  if (!pw) return make_error(Errc::kInvalid, "run_as_user: no such user: " + user);
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(data_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (lchown(it->path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return make_error(Errc::kDenied, "cannot chown " + it->path().string());
    }
  }
  if (lchown(data_dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    return make_error(Errc::kDenied, "cannot chown " + data_dir.string());
  }
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
    return make_error(Errc::kDenied, "cannot switch to user " + user);
  }
  if (setuid(0) == 0) return make_error(Errc::kInternal, "privileges could be regained after dropping them");
  return {};
}

// The server's io_context, whose pending handlers can be destroyed while everything they refer to
// still exists: coroutines stopped mid-call (a queue delivery in a database transaction) hold
// leases of the backends' connection pools, so their frames must go before the backends do.
class ServeContext : public asio::io_context {
 public:
  using asio::io_context::io_context;
  void destroy_pending() { shutdown(); }
};

class Server {
 public:
  Server(std::shared_ptr<const config::Config> cfg, std::shared_ptr<net::TlsContext> tls)
      : config_(cfg),
        tls_(std::move(tls)),
        pool_(blocking_thread_count(*cfg)),
        message_memory_(cfg->limits.message_memory_total),
        limiter_(std::make_shared<net::ConnectionLimiter>(cfg->limits.max_connections,
                                                          cfg->limits.max_connections_per_ip)),
        registry_(std::make_shared<net::ConnectionRegistry>()),
        signals_(io_, SIGTERM, SIGINT, SIGHUP) {}
  // Coroutines left suspended when run() ended go first, while the backends they lease from exist.
  ~Server() { io_.destroy_pending(); }

  // Opens the storage [store] names (app/backends.hpp: the directory, the mail store, the queue,
  // the TLS-RPT log and, when DMARC reports are on, the DMARC log, as SQLite files in data_dir or in
  // PostgreSQL) and the authenticator that reads the directory. First, before anything else uses them.
  Result<void> open_backends() {
    const auto cfg = config_.get();
    const bool dmarc_reports = cfg->msgauth.verify && cfg->msgauth.dmarc_reports;
    auto backends = Backends::open(*cfg, pool_, kAllParts | kTlsRptLogPart | kDkimKeysPart | (dmarc_reports ? kDmarcLogPart : 0));
    if (!backends) return backends.error();
    backends_ = std::move(*backends);
    auth_ = std::make_unique<auth::Authenticator>(backends_->directory(), pool_, cfg->auth);
    if (cfg->store.backend == config::StoreBackend::kPostgresql) {
      spdlog::info("store: postgresql {} ({} connections)", store::pg::redact_url(cfg->store.url), cfg->store.pool_size);
    }
    return {};
  }

  Result<void> bind_all() {
    const auto cfg = config_.get();
    for (const auto& l : cfg->listeners) {
      net::Listener::Options options;
      options.config = l;
      options.limiter = limiter_;
      options.tls = tls_;
      options.registry = registry_;
      options.tls_handshake_timeout = cfg->timeouts.tls_handshake;
      options.handler = handler_for(l);
      auto bound = net::Listener::bind(io_, std::move(options));
      if (!bound) return bound.error();
      listeners_.push_back(std::move(*bound));
    }
    return {};
  }

  // Collects what a crash left behind in the SQLite store (orphaned blobs, temp files) before any
  // listener accepts: collection must not race a delivery of this process (see
  // SqliteMailStore::collect_garbage); then sets up the queue runner and the TLS-RPT reporter.
  Result<void> open_store() {
    const auto cfg = config_.get();
    if (auto* sqlite = backends_->sqlite_store()) {
      auto gc = sqlite->collect_garbage();
      if (!gc) spdlog::warn("mail store garbage collection failed: {}", gc.error().message);
    }
    // The queue runner (started by run()).
    delivery::RunnerContext ctx;
    ctx.config = [this] { return config_.get(); };
    ctx.queue = &backends_->queue();
    ctx.agent = agent_;
    ctx.store = &backends_->store();
    ctx.directory = &backends_->directory();
    // TLS-RPT counts (the backends' TLS-RPT log).
    ctx.tlsrpt = &backends_->tlsrpt_log();
    delivery::TlsReporterContext rctx;
    rctx.log = &backends_->tlsrpt_log();
    rctx.queue = &backends_->queue();
    rctx.resolver = resolver_;
    rctx.hostname = cfg->hostname;
    rctx.queued = [this] { runner_->wake(); };
    tls_reporter_ = delivery::TlsReporter::create(io_.get_executor(), std::move(rctx));
    runner_ = delivery::QueueRunner::create(io_.get_executor(), std::move(ctx));
    return {};
  }

  // DMARC aggregate reports: the backends' DMARC log (opened by open_backends() when reports are on)
  // and the hourly reporter (started by run()). After open_store() and open_delivery(): it sends
  // through the store and the queue and looks up rua= consent records with the resolver.
  Result<void> open_dmarc_reports() {
    const auto cfg = config_.get();
    if (!cfg->msgauth.verify || !cfg->msgauth.dmarc_reports || !psl_) return {};
    dmarc_log_ = &backends_->dmarc_log();
    delivery::ReporterContext ctx;
    ctx.config = [this] { return config_.get(); };
    ctx.log = dmarc_log_;
    ctx.resolver = resolver_;
    ctx.psl = psl_;
    ctx.queue = &backends_->queue();
    ctx.store = &backends_->store();
    ctx.directory = &backends_->directory();
    ctx.queued = [this] { runner_->wake(); };
    reporter_ = delivery::DmarcReporter::create(io_.get_executor(), std::move(ctx));
    return {};
  }

  // The resolver and the delivery agent, before any port opens: libunbound's set-up allocates
  // several megabytes, which must not land in a client's first measurements.
  Result<void> open_delivery() {
    const auto cfg = config_.get();
    auto resolver = dns::UnboundResolver::create(io_.get_executor(), cfg->dns);
    if (!resolver) return resolver.error();
    auto agent = smtpc::DeliveryAgent::create(io_.get_executor(), *resolver, cfg->delivery, cfg->data_dir);
    if (!agent) return agent.error();
    agent_ = *agent;
    resolver_ = *resolver;
    return open_msgauth();
  }

  // DKIM keys (a broken key file stops the start: mail would go out unsigned) and the public
  // suffix list for DMARC (Debian's publicsuffix package; without it DMARC cannot find
  // organisational domains, so inbound checks are off and the log says why).
  Result<void> open_msgauth() {
    const auto cfg = config_.get();
    if (auto r = run_sync(load_dkim_keys()); !r) return r;
    if (cfg->msgauth.verify) {
      auto psl = msgauth::PublicSuffixList::load();
      if (psl) {
        psl_ = *psl;
      } else {
        spdlog::warn("msgauth: inbound SPF/DKIM/DMARC checks are off: {} (install Debian's publicsuffix)",
                     psl.error().message);
      }
    }
    return {};
  }

  // Reads the DKIM keys of [store] (data/dkim/, or the database every node shares) at start and on
  // SIGHUP, so `posthorn dkim generate` needs no restart.
  asio::awaitable<Result<void>> load_dkim_keys() {
    auto listing = backends_->dkim_keys().list();
    auto keys = co_await std::move(listing);
    if (!keys) co_return keys.error();
    auto signer = msgauth::signer_from(*keys);
    if (!signer) co_return signer.error();
    if (signer->key_count() > 0) spdlog::info("dkim: {} signing key(s) loaded", signer->key_count());
    signer_.store(signer->key_count() > 0 ? std::make_shared<const msgauth::DkimSigner>(std::move(*signer))
                                          : nullptr);
    co_return Result<void>{};
  }

  int run() {
    const auto cfg = config_.get();
    for (auto& l : listeners_) l->start();
    runner_->start();
    if (reporter_) reporter_->start();
    if (tls_reporter_) tls_reporter_->start();
    asio::co_spawn(io_, signal_loop(this), asio::detached);
    asio::co_spawn(io_, gc_loop(this), asio::detached);
    const unsigned n = io_thread_count(*cfg);
    spdlog::info("posthorn {} serving as {} with {} I/O threads; data in {}", POSTHORN_VERSION, cfg->hostname, n,
                 cfg->data_dir.string());
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < n; ++i) threads.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : threads) t.join();
    pool_.stop();
    spdlog::info("posthorn stopped");
    return 0;
  }

 private:
  net::SessionHandler handler_for(const config::Listener& l) {
    switch (l.protocol) {
      case Proto::kSmtp:
      case Proto::kSubmission:
      case Proto::kLmtp:
        return [this, l](net::Accepted a) {
          return server::smtp::run_session(std::move(a), server::smtp::SmtpContext{config_.get(), l, auth_.get(), tls_, &backends_->store(), &pool_,
                                                                            &backends_->queue(), [this] { runner_->wake(); },
                                                                            resolver_, psl_, signer_.load(), dmarc_log_,
                                                                            &message_memory_});
        };
      case Proto::kImap:
        return [this, l](net::Accepted a) {
          return server::imap::run_session(std::move(a), server::imap::ImapContext{config_.get(), l, auth_.get(), tls_, &backends_->store(),
                                                                                              &message_memory_, &imap_keywords_});
        };
      case Proto::kPop3:
        return [this, l](net::Accepted a) {
          return server::pop3::run_session(
              std::move(a), server::pop3::Pop3Context{config_.get(), l, auth_.get(), tls_, &backends_->store(), &backends_->maildrop_locks()});
        };
      case Proto::kAdmin:
      case Proto::kCount:
        break;
    }
    return [](net::Accepted a) { return run_admin_session(std::move(a)); };
  }

  void reload() {
    const auto old = config_.get();
    auto fresh = config::load(old->file);
    if (!fresh) {
      spdlog::error("reload: {} (keeping the running configuration)", fresh.error().message);
      return;
    }
    if (auto r = tls_->reload((*fresh)->tls); !r) {
      spdlog::error("reload: {} (keeping the running configuration)", r.error().message);
      return;
    }
    limiter_->set_limits((*fresh)->limits.max_connections, (*fresh)->limits.max_connections_per_ip);
    bool listeners_changed = (*fresh)->listeners.size() != old->listeners.size();
    for (size_t i = 0; !listeners_changed && i < old->listeners.size(); ++i) {
      const auto &a = old->listeners[i], &b = (*fresh)->listeners[i];
      listeners_changed = a.name != b.name || a.address != b.address || a.port != b.port ||
                          a.protocol != b.protocol || a.tls != b.tls;
    }
    if (listeners_changed) spdlog::warn("reload: listener changes take effect after a restart");
    if ((*fresh)->data_dir != old->data_dir || (*fresh)->run_as_user != old->run_as_user) {
      spdlog::warn("reload: data_dir and run_as_user changes take effect after a restart");
    }
    if (!((*fresh)->auth == old->auth) || !((*fresh)->workers == old->workers)) {
      spdlog::warn("reload: [auth] and [workers] changes take effect after a restart");
    }
    if (!((*fresh)->dns == old->dns) || !((*fresh)->delivery == old->delivery)) {
      spdlog::warn("reload: [dns] and [delivery] changes take effect after a restart (the retry schedule at once)");
    }
    if ((*fresh)->log_level != old->log_level) {
      spdlog::set_level(spdlog::level::from_str((*fresh)->log_level));
    }
    config_.set(*fresh);
    spdlog::info("reload: configuration and certificates reloaded from {}", old->file.string());
  }

  static asio::awaitable<void> signal_loop(Server* self) {
    for (;;) {
      auto [ec, sig] = co_await self->signals_.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading");
        self->reload();
        auto load = self->load_dkim_keys();
        auto keys = co_await std::move(load);
        if (!keys) spdlog::error("reload: {} (keeping the DKIM keys loaded before)", keys.error().message);
        continue;
      }
      break;
    }
    co_await self->shutdown();
  }

  // Blob garbage collection while serving [issue 28 item 5]: every [store] gc_interval, when a
  // commit removed messages or mailboxes since the last look, the message files nothing refers to
  // are removed (collect_garbage_async, on the store's blocking pool; safe beside deliveries:
  // SqliteMailStore::collect_garbage).
  static asio::awaitable<void> gc_loop(Server* self) {
    if (self->backends_->sqlite_store() == nullptr) co_return;  // PostgreSQL's blobs go in their transactions
    for (;;) {
      self->gc_timer_.expires_after(self->config_.get()->store.gc_interval);
      auto [ec] = co_await self->gc_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      // Marked running before the stopping check, so shutdown() either sees it or we see stopping.
      self->gc_running_ = true;
      auto* store = self->backends_->sqlite_store();
      if (ec || self->registry_->stopping() || !store->take_garbage()) {
        self->gc_running_ = false;
        if (ec || self->registry_->stopping()) co_return;
        continue;
      }
      auto collect = store->collect_garbage_async(store::sqlite::SqliteMailStore::GcMode::kServing);
      auto gc = co_await std::move(collect);
      if (!gc) spdlog::warn("mail store garbage collection failed: {}", gc.error().message);
      if (!gc || gc->skipped) store->mark_garbage();  // try again at the next tick
      self->gc_running_ = false;  // the store is not touched after this
    }
  }

  // Stop accepting, end idle sessions at once, let busy ones finish up to the grace period.
  asio::awaitable<void> shutdown() {
    const auto grace = config_.get()->timeouts.shutdown_grace;
    spdlog::info("shutting down: stop accepting; up to {}s for {} open connections", grace.count(), limiter_->total());
    for (auto& l : listeners_) l->stop();
    registry_->begin_shutdown();
    const auto deadline = std::chrono::steady_clock::now() + grace;
    asio::steady_timer timer(io_);
    while (limiter_->total() > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(50));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (limiter_->total() > 0) spdlog::warn("shutdown: closing {} connections still busy", limiter_->total());
    // A collection in progress finishes first: it uses the store, which goes before the pool.
    while (gc_running_) {
      timer.expires_after(std::chrono::milliseconds(50));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    // Deliveries in flight get what is left of the grace period (at least a moment to say QUIT).
    const auto left = std::max(std::chrono::milliseconds(100), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                   deadline - std::chrono::steady_clock::now()));
    if (reporter_) co_await reporter_->stop();
    if (tls_reporter_) co_await tls_reporter_->stop();
    co_await runner_->stop(left);
    signals_.cancel();
    gc_timer_.cancel();
    io_.stop();
  }

  ConfigHolder config_;
  std::shared_ptr<net::TlsContext> tls_;
  ServeContext io_;
  BlockingPool pool_;
  std::unique_ptr<Backends> backends_;  // after pool_: destroyed before it
  MemoryBudget message_memory_;  // RAM for messages in flight, all sessions (limits.message_memory_total)
  server::imap::MailboxKeywords imap_keywords_;  // keywords defined per mailbox, all IMAP sessions
  std::shared_ptr<smtpc::DeliveryAgent> agent_;
  std::shared_ptr<dns::Resolver> resolver_;
  std::shared_ptr<const msgauth::PublicSuffixList> psl_;
  std::atomic<std::shared_ptr<const msgauth::DkimSigner>> signer_;  // replaced on SIGHUP
  std::shared_ptr<delivery::QueueRunner> runner_;
  msgauth::DmarcReportLog* dmarc_log_ = nullptr;  // backends_' DMARC log while reports are on
  std::shared_ptr<delivery::DmarcReporter> reporter_;
  std::shared_ptr<delivery::TlsReporter> tls_reporter_;
  std::unique_ptr<auth::Authenticator> auth_;  // reads backends_' directory
  std::shared_ptr<net::ConnectionLimiter> limiter_;
  std::shared_ptr<net::ConnectionRegistry> registry_;
  asio::signal_set signals_;
  asio::steady_timer gc_timer_{io_};
  std::atomic<bool> gc_running_{false};
  std::vector<std::unique_ptr<net::Listener>> listeners_;
};

Result<std::shared_ptr<const config::Config>> load_or_explain(const std::filesystem::path& file) {
  auto cfg = config::load(file);
  if (!cfg && cfg.error().code == Errc::kNotFound) {
    return make_error(Errc::kNotFound, cfg.error().message +
                                           "\nhint: create one with `posthorn init --dir DIR`, or pass --config FILE");
  }
  return cfg;
}

}  // namespace

int cmd_check_config(const std::filesystem::path& config_file) {
  auto cfg = load_or_explain(config_file);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().message.c_str());
    return 1;
  }
  auto tls = net::TlsContext::build((*cfg)->tls);
  if (!tls) {
    std::fprintf(stderr, "%s: %s\n", config_file.c_str(), tls.error().message.c_str());
    return 1;
  }
  std::error_code ec;
  if (!std::filesystem::is_directory((*cfg)->data_dir, ec)) {
    std::fprintf(stderr, "%s: data_dir %s does not exist (posthorn init creates it)\n", config_file.c_str(),
                 (*cfg)->data_dir.c_str());
    return 1;
  }
  std::printf("%s: configuration OK\n", config_file.c_str());
  std::printf("%-12s %-11s %-28s %s\n", "LISTENER", "PROTOCOL", "ADDRESS", "TLS");
  for (const auto& l : (*cfg)->listeners) {
    const bool v6 = l.address.find(':') != std::string::npos;
    std::string addr = v6 ? fmt::format("[{}]:{}", l.address, l.port) : fmt::format("{}:{}", l.address, l.port);
    std::printf("%-12s %-11s %-28s %s\n", l.name.c_str(), std::string(proto_name(l.protocol)).c_str(), addr.c_str(),
                std::string(config::tls_mode_name(l.tls)).c_str());
  }
  return 0;
}

int cmd_serve(const std::filesystem::path& config_file) {
  auto cfg = load_or_explain(config_file);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().message.c_str());
    return 1;
  }
  log::init((*cfg)->log_level);
  // A fixed mmap threshold: glibc otherwise raises it to the size of the last freed mmapped block,
  // so each worker's 19 MiB Argon2id buffer would stay cached in its malloc arena for good (80+ MB
  // of resident memory after a few logins, measured by bench/run). Above 1 MiB every allocation is
  // mmapped and goes back to the kernel when freed.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  raise_descriptor_limit((*cfg)->limits.max_connections);
  auto tls = net::TlsContext::load((*cfg)->tls);
  if (!tls) {
    std::fprintf(stderr, "%s: %s\n", config_file.c_str(), tls.error().message.c_str());
    return 1;
  }
  Server server(*cfg, *tls);
  if (auto r = server.open_backends(); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  if (auto r = server.open_delivery(); !r) {
    std::fprintf(stderr, "cannot set up outbound delivery: %s\n", r.error().message.c_str());
    return 1;
  }
  if (auto r = server.bind_all(); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  // Opened (and crash leftovers collected) before the privilege drop, whose chown then covers the
  // store's files too.
  if (auto r = server.open_store(); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  if (auto r = server.open_dmarc_reports(); !r) {
    std::fprintf(stderr, "cannot start the DMARC reports: %s\n", r.error().message.c_str());
    return 1;
  }
  if (!(*cfg)->run_as_user.empty()) {
    if (geteuid() == 0) {
      if (auto r = drop_privileges((*cfg)->run_as_user, (*cfg)->data_dir); !r) {
        std::fprintf(stderr, "%s\n", r.error().message.c_str());
        return 1;
      }
      spdlog::info("dropped privileges to {}", (*cfg)->run_as_user);
      if (::access((*cfg)->data_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
        spdlog::error("{} cannot reach data_dir {} (check the permissions of its parent folders): new "
                      "accounts and mail cannot be stored",
                      (*cfg)->run_as_user, (*cfg)->data_dir.string());
      }
    } else {
      spdlog::warn("run_as_user {} ignored: not started as root", (*cfg)->run_as_user);
    }
  }
  return server.run();
}

}  // namespace posthorn::app
