// For the tests of msgauth/ (spf, dmarc): runs one awaitable to completion on a private
// io_context. Header-only; not thread-safe (one io_context per call).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace posthorn::msgauth::testing {

template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  auto f = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return f.get();
}

}  // namespace posthorn::msgauth::testing
