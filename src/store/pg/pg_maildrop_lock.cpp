// PgMaildropLocks (see pg_maildrop_lock.hpp). Every database call holds the pool's one lease, so
// calls on the lock connection run one at a time; `mu` guards the bookkeeping beside them.
#include "store/pg/pg_maildrop_lock.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <mutex>
#include <set>

#include "base/log.hpp"

namespace posthorn::store::pg {

namespace asio = boost::asio;

namespace {

PoolOptions one_connection(const ConnectOptions& options) {
  PoolOptions pool;
  pool.connect = options;
  pool.size = 1;
  return pool;
}

Error in_use() { return make_error(Errc::kConflict, "the maildrop is locked by another session"); }

}  // namespace

struct PgMaildropLocks::State {
  State(asio::any_io_executor ex, const ConnectOptions& options) : executor(ex), pool(ex, one_connection(options)) {}
  asio::any_io_executor executor;
  LocalMaildropLocks local;
  Pool pool;
  std::mutex mu;
  uint64_t connection = 0;          // serial() of the connection the locks below are held on; guarded by mu
  std::set<AccountId> held_in_db;   // guarded by mu
};

// The database's answer to pg_try_advisory_lock / pg_advisory_unlock on `c`: true or false.
static Task<bool> ask(Connection& c, std::string_view sql, AccountId account) {
  auto rows = co_await c.query(sql, Param::integer(kMaildropLockSpace | account));
  if (!rows) co_return rows.error();
  co_return !rows->empty() && rows->integer(0, 0) != 0;
}

// After a reconnect: takes again, on the new connection `c`, the locks this node's sessions hold.
static Task<void> carry_over(PgMaildropLocks::State* s, Connection& c) {
  std::set<AccountId> held;
  {
    std::lock_guard lock(s->mu);
    if (s->connection == c.serial()) co_return Result<void>{};
    held = s->held_in_db;
  }
  std::set<AccountId> kept;
  for (AccountId account : held) {
    auto taken = co_await ask(c, "SELECT pg_try_advisory_lock($1::bigint)::int", account);
    if (!taken) co_return taken.error();
    if (*taken) {
      kept.insert(account);
    } else {
      spdlog::warn("pop3 maildrop lock of account {} lost with the database connection; another node holds it now",
                   account);
    }
  }
  std::lock_guard lock(s->mu);
  s->held_in_db = std::move(kept);
  s->connection = c.serial();
  co_return Result<void>{};
}

// Unlocks `account` in the database, then lets go of its in-process lock (`local`).
static asio::awaitable<Result<void>> unlock(std::shared_ptr<PgMaildropLocks::State> s, AccountId account,
                                            std::unique_ptr<MaildropLock> local) {
  auto lease = co_await s->pool.acquire();
  bool held = false;
  {
    std::lock_guard lock(s->mu);
    held = lease && s->connection == (*lease)->serial() && s->held_in_db.contains(account);
    s->held_in_db.erase(account);
  }
  // Without the connection the lock went with it; a failed unlock breaks the connection, which drops it too.
  if (held) {
    auto done = co_await ask(**lease, "SELECT pg_advisory_unlock($1::bigint)::int", account);
    if (!done) spdlog::warn("pop3 maildrop unlock of account {}: {}", account, done.error().message);
  }
  local.reset();
  co_return Result<void>{};
}

class PgMaildropLocks::Lock final : public MaildropLock {
 public:
  Lock(std::shared_ptr<State> state, AccountId account, std::unique_ptr<MaildropLock> local)
      : state_(std::move(state)), account_(account), local_(std::move(local)) {}
  ~Lock() override {
    if (!state_) return;
    auto executor = state_->executor;  // before the move below (argument order is unspecified)
    asio::co_spawn(executor, unlock(std::move(state_), account_, std::move(local_)), asio::detached);
  }
  Task<void> release() override {
    if (!state_) co_return Result<void>{};
    auto state = std::move(state_);
    auto done = co_await unlock(std::move(state), account_, std::move(local_));
    co_return done;
  }

 private:
  std::shared_ptr<State> state_;  // null once released
  AccountId account_;
  std::unique_ptr<MaildropLock> local_;
};

Task<std::unique_ptr<PgMaildropLocks>> PgMaildropLocks::open(asio::any_io_executor executor,
                                                            const ConnectOptions& options) {
  auto state = std::make_shared<State>(executor, options);
  auto first = co_await Connection::connect(executor, options);
  if (!first) co_return first.error();
  co_return std::unique_ptr<PgMaildropLocks>(new PgMaildropLocks(std::move(state)));
}

PgMaildropLocks::~PgMaildropLocks() = default;

Task<std::unique_ptr<MaildropLock>> PgMaildropLocks::try_lock(AccountId account) {
  auto local = state_->local.try_lock_now(account);
  if (!local) co_return in_use();
  auto lease = co_await state_->pool.acquire();
  if (!lease) co_return lease.error();
  if (auto carried = co_await carry_over(state_.get(), **lease); !carried) co_return carried.error();
  auto taken = co_await ask(**lease, "SELECT pg_try_advisory_lock($1::bigint)::int", account);
  if (!taken) co_return taken.error();
  if (!*taken) co_return in_use();
  {
    std::lock_guard lock(state_->mu);
    state_->held_in_db.insert(account);
  }
  co_return std::unique_ptr<MaildropLock>(new Lock(state_, account, std::move(local)));
}

bool PgMaildropLocks::held_here(AccountId account) { return state_->local.held_here(account); }

}  // namespace posthorn::store::pg
