// pg_client against a real PostgreSQL 15 (the ctest fixture pg_server, scripts/pg-test-server).
#include "store/pg/pg_client.hpp"
#include "store/pg/pg_test_support.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace posthorn::store::pg {
namespace {

namespace asio = boost::asio;
using testing::run;
using testing::test_options;
using testing::test_url;



std::string unique(std::string_view base) { return std::string(base) + "_" + std::to_string(::getpid()); }

TEST(PgClient, QueriesWithTextBytesIntegersAndNulls) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto conn = co_await Connection::connect(ex, test_options());
    EXPECT_TRUE(conn.has_value()) << conn.error().message;
    if (!conn) co_return;
    auto& c = **conn;
    const std::string bytes("a\0b\r\n\xff", 6);
    auto rows = co_await c.query("SELECT $1::text, $2::bytea, $3::bigint + 1, $4::text IS NULL", Param::text("héllo"), Param::bytes(bytes), Param::integer(41), Param::null());
    EXPECT_TRUE(rows.has_value());
    if (!rows) co_return;
    EXPECT_EQ(rows->size(), 1);
    EXPECT_EQ(rows->text(0, 0), "héllo");
    EXPECT_EQ(rows->bytes(0, 1), bytes);  // text format: hex-escaped on the wire, decoded here
    EXPECT_EQ(rows->integer(0, 2), 42);
    EXPECT_EQ(rows->text(0, 3), "t");
    auto binary = co_await c.query_binary("SELECT $1::bytea", Param::bytes(bytes));
    EXPECT_TRUE(binary.has_value());
    if (binary) {
      EXPECT_EQ(binary->bytes(0, 0), bytes);
    }
  });
}

TEST(PgClient, ALargeValueRoundTripsThroughTheFlushLoop) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto conn = co_await Connection::connect(ex, test_options());
    EXPECT_TRUE(conn.has_value());
    if (!conn) co_return;
    std::string big(8 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
    auto rows = co_await (*conn)->query_binary("SELECT $1::bytea, length($1::bytea)", Param::bytes(big));
    EXPECT_TRUE(rows.has_value());
    if (!rows) co_return;
    EXPECT_EQ(rows->bytes(0, 0), big);
  });
}

TEST(PgClient, ErrorsMapToErrcAndKeepTheConnectionUsable) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto conn = co_await Connection::connect(ex, test_options());
    EXPECT_TRUE(conn.has_value());
    if (!conn) co_return;
    auto& c = **conn;
    const std::string table = unique("pgc_errors");
    EXPECT_TRUE(co_await c.exec("DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (k text PRIMARY KEY)"));
    EXPECT_TRUE(co_await c.query("INSERT INTO " + table + " VALUES ($1)", Param::text("x")));
    auto dup = co_await c.query("INSERT INTO " + table + " VALUES ($1)", Param::text("x"));
    EXPECT_FALSE(dup.has_value());
    if (!dup) {
      EXPECT_EQ(dup.error().code, Errc::kConflict);
    }
    EXPECT_EQ(c.last_sqlstate(), "23505");
    auto syntax = co_await c.query("SELEKT 1");
    EXPECT_FALSE(syntax.has_value());
    if (!syntax) {
      EXPECT_EQ(syntax.error().code, Errc::kInternal);
    }
    EXPECT_EQ(c.last_sqlstate(), "42601");
    EXPECT_FALSE(c.broken());
    auto count = co_await c.query("SELECT count(*) FROM " + table);
    EXPECT_TRUE(count.has_value());
    if (count) {
      EXPECT_EQ(count->integer(0, 0), 1);
    }
    auto deleted = co_await c.query("DELETE FROM " + table);
    EXPECT_TRUE(deleted.has_value());
    if (deleted) {
      EXPECT_EQ(deleted->affected(), 1);
    }
    EXPECT_TRUE(co_await c.exec("DROP TABLE " + table));
  });
}

TEST(PgClient, AConnectFailureNamesTheUrlWithoutItsPassword) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    // Port 1 on loopback: nothing listens there.
    const ConnectOptions options{.url = "postgresql://alice:s3cret@127.0.0.1:1/mail"};
    auto conn = co_await Connection::connect(ex, options);
    EXPECT_FALSE(conn.has_value());
    if (conn) co_return;
    EXPECT_EQ(conn.error().code, Errc::kUnavailable);
    EXPECT_NE(conn.error().message.find("postgresql://alice@127.0.0.1:1/mail"), std::string::npos) << conn.error().message;
    EXPECT_EQ(conn.error().message.find("s3cret"), std::string::npos) << conn.error().message;
    EXPECT_NE(conn.error().message.find("refused"), std::string::npos) << conn.error().message;
  });
}

TEST(PgClient, RedactUrl) {
  EXPECT_EQ(redact_url("postgresql://u:pw@h:5432/db"), "postgresql://u@h:5432/db");
  EXPECT_EQ(redact_url("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(redact_url("postgresql://h/db?user=u&password=pw"), "postgresql://h/db?user=u&password=...");
  EXPECT_EQ(redact_url("host=h password=pw dbname=d"), "host=h password=... dbname=d");
  EXPECT_EQ(errc_from_sqlstate("40001"), Errc::kConflict);
  EXPECT_EQ(errc_from_sqlstate("57P01"), Errc::kUnavailable);
  EXPECT_TRUE(is_retryable("40P01"));
  EXPECT_FALSE(is_retryable("23505"));
}

TEST(PgClient, APoolSharesFewConnectionsAmongManyCoroutines) {
  asio::io_context io;
  Pool pool(io.get_executor(), {.connect = {.url = test_url()}, .size = 3});
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto lease = co_await pool.acquire();
          if (!lease) co_return;
          auto rows = co_await (*lease)->query("SELECT pg_sleep(0.02), $1::int", Param::integer(7));
          if (rows && rows->integer(0, 1) == 7) ++ok;
        },
        asio::detached);
  }
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(pool.failed_connects(), 0u);
}

TEST(PgClient, ABrokenConnectionIsReplacedOnTheNextAcquire) {
  asio::io_context io;
  Pool pool(io.get_executor(), {.connect = {.url = test_url()}, .size = 1});
  std::string first_pid;
  std::string second_pid;
  std::optional<Errc> killed_error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        {
          auto lease = co_await pool.acquire();
          EXPECT_TRUE(lease.has_value());
          if (!lease) co_return;
          auto pid = co_await (*lease)->query("SELECT pg_backend_pid()");
          if (pid) first_pid = std::string(pid->text(0, 0));
          // The server ends this session, as a restart or an administrator would.
          auto killed = co_await (*lease)->query("SELECT pg_terminate_backend(pg_backend_pid())");
          if (!killed) killed_error = killed.error().code;
          EXPECT_TRUE((*lease)->broken());
        }
        auto lease = co_await pool.acquire();
        EXPECT_TRUE(lease.has_value());
        if (!lease) co_return;
        auto pid = co_await (*lease)->query("SELECT pg_backend_pid()");
        EXPECT_TRUE(pid.has_value());
        if (pid) second_pid = std::string(pid->text(0, 0));
      },
      asio::detached);
  io.run();
  EXPECT_EQ(killed_error, Errc::kUnavailable);
  EXPECT_FALSE(first_pid.empty());
  EXPECT_FALSE(second_pid.empty());
  EXPECT_NE(first_pid, second_pid);
}

TEST(PgClient, ListenReceivesANotifyFromAnotherConnection) {
  run([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto listener = co_await Connection::connect(ex, test_options());
    auto sender = co_await Connection::connect(ex, test_options());
    EXPECT_TRUE(listener.has_value() && sender.has_value());
    if (!listener || !sender) co_return;
    const std::string channel = unique("pgc_chan");
    EXPECT_TRUE(co_await (*listener)->exec("LISTEN " + channel));
    EXPECT_TRUE(co_await (*sender)->query("SELECT pg_notify($1, $2)", Param::text(channel), Param::text("mailbox 7")));
    auto n = co_await (*listener)->next_notification();
    EXPECT_TRUE(n.has_value());
    if (!n) co_return;
    EXPECT_EQ(n->channel, channel);
    EXPECT_EQ(n->payload, "mailbox 7");
  });
}

}  // namespace
}  // namespace posthorn::store::pg
