// The bounded worker pool for blocking work (SQLite, fsync, password hashing, RSA) and run_blocking(),
// which runs a function there and resumes the calling coroutine on its own executor (DESIGN.md §3).
// Thread-safe. In base/ (header-only, Asio) so every layer that hands work to the pool (auth, the
// store backends, server/) can use it without linking net/.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/awaitable.hpp>
#include <type_traits>

namespace posthorn {

class BlockingPool {
 public:
  explicit BlockingPool(size_t threads) : pool_(threads) {}
  ~BlockingPool() { pool_.join(); }
  boost::asio::thread_pool& pool() { return pool_; }
  void stop() { pool_.stop(); }

 private:
  boost::asio::thread_pool pool_;
};

// Runs `fn` on the pool, never on an I/O thread. `fn` is taken by value and must not capture
// references to the caller's frame that could dangle (the caller co_awaits at once, so its locals live).
template <class Fn, class R = std::invoke_result_t<Fn&>>
boost::asio::awaitable<R> run_blocking(BlockingPool& pool, Fn fn) {
  co_return co_await boost::asio::co_spawn(
      pool.pool(), [](Fn f) -> boost::asio::awaitable<R> { co_return f(); }(std::move(fn)),
      boost::asio::use_awaitable);
}

}  // namespace posthorn
