// drive(): runs a coroutine to completion on an io_context that no other thread runs, from the
// calling (test) thread, and returns its result. For unit tests of coroutine APIs (store, search,
// SASL) that need no server threads. Completions posted from a blocking pool's threads are picked
// up within a couple of milliseconds. Header-only; not thread-safe (one caller per io_context).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>

namespace posthorn::testing {

template <class T>
T drive(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
  auto result = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  while (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    io.restart();  // run_for returns when the context runs out of work; the next op may bring more
    io.run_for(std::chrono::milliseconds(2));
  }
  return result.get();
}

// As drive(), but returning as soon as the operation is done even while other work is pending on `io`
// (a store's LISTEN loop always is): one handler at a time.
template <class T>
T drive_each(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
  auto result = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  while (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(2));
  }
  return result.get();
}

}  // namespace posthorn::testing
