// Schema migrations against a real PostgreSQL (fixture pg_server).
#include "store/pg/pg_schema.hpp"
#include "store/pg/pg_test_support.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace posthorn::store::pg {
namespace {

namespace asio = boost::asio;
using testing::run;
using testing::test_options;
using testing::test_url;


const std::string kComponent = "schema_test_" + std::to_string(::getpid());
const std::string kTable = "schema_test_t_" + std::to_string(::getpid());
const std::string kStep1 = "CREATE TABLE " + kTable + " (id bigint PRIMARY KEY)";
const std::string kStep2 = "ALTER TABLE " + kTable + " ADD COLUMN name text NOT NULL DEFAULT ''";
const Migration kSteps[] = {{kStep1}, {kStep2}};

TEST(PgSchema, MigratesOnceAcrossConcurrentNodesAndRefusesANewerSchema) {
  asio::io_context io;
  std::vector<Result<int>> results;
  std::mutex mu;
  // Four "nodes" start at once: each step must run exactly once (a second CREATE TABLE would fail).
  for (int i = 0; i < 4; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto conn = co_await Connection::connect(io.get_executor(), test_options());
          if (!conn) {
            std::lock_guard lock(mu);
            results.push_back(conn.error());
            co_return;
          }
          auto r = co_await migrate(**conn, kComponent, kSteps);
          std::lock_guard lock(mu);
          results.push_back(std::move(r));
        },
        asio::detached);
  }
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(*r, 2);
  }

  io.restart();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto conn = co_await Connection::connect(io.get_executor(), test_options());
        EXPECT_TRUE(conn.has_value());
        if (!conn) co_return;
        auto& c = **conn;
        EXPECT_EQ((co_await schema_version(c, kComponent)).value(), 2);
        // The new column exists: step 2 ran.
        EXPECT_TRUE(co_await c.query("INSERT INTO " + kTable + " (id, name) VALUES (1, 'x')"));
        // An older Posthorn (one step) refuses the version-2 database and changes nothing.
        auto older = co_await migrate(c, kComponent, std::span<const Migration>(kSteps, 1));
        EXPECT_FALSE(older.has_value());
        if (!older) {
          EXPECT_EQ(older.error().code, Errc::kInvalid);
          EXPECT_NE(older.error().message.find("version 2"), std::string::npos) << older.error().message;
          EXPECT_NE(older.error().message.find("up to version 1"), std::string::npos) << older.error().message;
        }
        EXPECT_EQ((co_await schema_version(c, kComponent)).value(), 2);
        // A failing step leaves the version where it was (the transaction rolls back).
        const std::string bad = "CREATE TABLE " + kTable + " (id bigint)";  // exists already
        const Migration broken[] = {{kStep1}, {kStep2}, {bad}};
        auto failed = co_await migrate(c, kComponent, broken);
        EXPECT_FALSE(failed.has_value());
        EXPECT_EQ((co_await schema_version(c, kComponent)).value(), 2);
        EXPECT_TRUE(co_await c.exec("DROP TABLE " + kTable + "; DELETE FROM posthorn_schema WHERE component = '" +
                                    kComponent + "'"));
      },
      asio::detached);
  io.run();
}

}  // namespace
}  // namespace posthorn::store::pg
