// For the PostgreSQL backend's tests: the URL of the server that the ctest fixture pg_server
// (scripts/pg-test-server) started, and a runner for one coroutine on two I/O threads.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg::testing {

// Fails the test (never skips it) when no server was started.
inline std::string test_url() {
  const char* file = std::getenv("POSTHORN_TEST_PG_URL_FILE");
  if (!file) ADD_FAILURE() << "POSTHORN_TEST_PG_URL_FILE is not set: run under ctest (fixture pg_server)";
  std::ifstream in(file ? file : "");
  std::string url;
  std::getline(in, url);
  if (url.empty()) ADD_FAILURE() << "no PostgreSQL URL in " << (file ? file : "(unset)");
  return url;
}

// The options for test_url(), as a named object: g++ 12 destroys an aggregate temporary written inside
// a co_await expression twice, so tests never write {.url = ...} there.
inline const ConnectOptions& test_options() {
  static const ConnectOptions options{.url = test_url()};
  return options;
}

// Runs body(executor) to completion on an io_context with two threads, as serve does.
template <class Body>
void run(Body body) {
  boost::asio::io_context io;
  auto done = boost::asio::co_spawn(io, body(io.get_executor()), boost::asio::use_future);
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  done.get();
}

}  // namespace posthorn::store::pg::testing
