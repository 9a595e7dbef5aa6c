// run_sync(): runs an awaitable (a Directory or Queue call, a store job) to completion from
// synchronous code, the command-line tools and unit tests, and returns its value (an exception it
// throws is rethrown). The awaitable runs on an io_context of the calling thread; work it hands to
// a blocking pool resumes there.
//
// The io_context is thread_local and lives until the thread ends, not per call: a pool thread may
// still release its hold on the context (work count, a last stop()) just after the result has been
// handed over, so a context destroyed at the end of the call could be touched after its end. Keep
// every pool whose work was awaited here alive no longer than the calling thread (the tools and
// tests destroy their pools before main or the test returns).
//
// Not for use inside a coroutine (it would block that coroutine's thread); not reentrant.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <type_traits>

namespace posthorn {

namespace detail {
inline boost::asio::io_context& run_sync_context() {
  thread_local boost::asio::io_context io(1);
  return io;
}
}  // namespace detail

namespace detail {
// A void awaitable as one that yields a value, so run_sync has one body.
inline boost::asio::awaitable<bool> with_value(boost::asio::awaitable<void> op) {
  co_await std::move(op);
  co_return true;
}
}  // namespace detail

template <class T>
T run_sync(boost::asio::awaitable<T> op) {
  if constexpr (std::is_void_v<T>) {
    (void)run_sync(detail::with_value(std::move(op)));
  } else {
    auto& io = detail::run_sync_context();
    auto guard = boost::asio::make_work_guard(io);
    bool done = false;
    std::exception_ptr error;
    std::optional<T> value;
    boost::asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T v) {
      error = e;
      if (!e) value.emplace(std::move(v));
      done = true;
      guard.reset();
    });
    // A late stop() from a pool thread of an earlier call may end run() early: run again.
    while (!done) {
      io.restart();
      io.run();
    }
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
}

}  // namespace posthorn
