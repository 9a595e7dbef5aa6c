// For the PostgreSQL backend's tests: the URL of the server that the ctest fixture pg_server
// (scripts/pg-test-server) started, a runner for one coroutine on two I/O threads, and a database
// of its own for one test.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "base/run_sync.hpp"
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

// Runs one statement on a connection of its own.
inline boost::asio::awaitable<Result<Rows>> one_query(ConnectOptions options, std::string sql) {
  auto executor = co_await boost::asio::this_coro::executor;
  auto conn = co_await Connection::connect(executor, options);
  if (!conn) co_return conn.error();
  auto rows = co_await (*conn)->query(sql);
  co_return rows;
}

// A database of its own on the fixture's server for one test, dropped (with its connections) at
// the end. Its statements run from synchronous test code (run_sync).
class TestDatabase {
 public:
  TestDatabase() {
    static std::atomic<int> n{0};
    name_ = "posthorn_t_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    admin_.url = test_url();
    auto made = run_sync(one_query(admin_, "CREATE DATABASE " + name_));
    EXPECT_TRUE(made) << made.error().message;
    options_.url = admin_.url.substr(0, admin_.url.rfind('/') + 1) + name_;
  }
  ~TestDatabase() {
    auto dropped = run_sync(one_query(admin_, "DROP DATABASE " + name_ + " WITH (FORCE)"));
    EXPECT_TRUE(dropped) << dropped.error().message;
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // How to connect to this database.
  const ConnectOptions& options() const { return options_; }
  // One statement on this database.
  Result<Rows> query(std::string sql) const { return run_sync(one_query(options_, std::move(sql))); }

 private:
  std::string name_;
  ConnectOptions admin_;
  ConnectOptions options_;
};

}  // namespace posthorn::store::pg::testing
