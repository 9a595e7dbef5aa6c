// For the PostgreSQL backend's tests: the URL of the server that the ctest fixture pg_server
// (scripts/pg-test-server) started, a database of its own for one test, and a runner for one
// coroutine on two I/O threads.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

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

// Runs one statement on a connection of its own.
inline boost::asio::awaitable<Result<Rows>> one_query(boost::asio::any_io_executor ex, ConnectOptions options,
                                                      std::string sql) {
  auto conn = co_await Connection::connect(ex, options);
  if (!conn) co_return conn.error();
  auto rows = co_await (*conn)->query(sql);
  co_return rows;
}

// The same, run to completion on an io_context of its own.
inline Result<Rows> query_now(const ConnectOptions& options, std::string sql) {
  boost::asio::io_context io;
  auto done = boost::asio::co_spawn(io, one_query(io.get_executor(), options, std::move(sql)), boost::asio::use_future);
  io.run();
  return done.get();
}

// A database of its own on the fixture's server for one test, dropped (WITH FORCE) at the end.
class TestDatabase {
 public:
  TestDatabase() {
    static std::atomic<int> n{0};
    name_ = "posthorn_t_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    admin_.url = test_url();
    auto made = query_now(admin_, "CREATE DATABASE " + name_);
    EXPECT_TRUE(made) << made.error().message;
    options_.url = admin_.url.substr(0, admin_.url.rfind('/') + 1) + name_;
  }
  ~TestDatabase() {
    auto dropped = query_now(admin_, "DROP DATABASE " + name_ + " WITH (FORCE)");
    EXPECT_TRUE(dropped) << dropped.error().message;
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // Connects to this database.
  const ConnectOptions& options() const { return options_; }
  // One statement on it.
  Result<Rows> query(std::string sql) const { return query_now(options_, std::move(sql)); }

 private:
  std::string name_;
  ConnectOptions admin_;
  ConnectOptions options_;
};

// The schema test of one component: `db` holds it at version `current`; once the database says 99,
// open() (a Result of the component's store) fails with kInvalid naming that version.
template <class Open>
void expect_newer_schema_refused(const TestDatabase& db, std::string_view component, int current, Open open) {
  const std::string where = " WHERE component = '" + std::string(component) + "'";
  auto version = db.query("SELECT version FROM posthorn_schema" + where);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(version->integer(0, 0), current);
  ASSERT_TRUE(db.query("UPDATE posthorn_schema SET version = 99" + where));
  auto refused = open();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kInvalid);
  EXPECT_NE(refused.error().message.find("version 99"), std::string::npos) << refused.error().message;
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
