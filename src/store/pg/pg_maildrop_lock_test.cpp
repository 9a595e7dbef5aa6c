// PgMaildropLocks against a real PostgreSQL (fixture pg_server): two "nodes" on one database never
// hold the same maildrop; a release is seen by the other node at once; a lock dropped without a
// release, or the death of a node's connection, frees it; a node whose lock connection was cut
// takes its sessions' locks again on the next call.
#include "store/pg/pg_maildrop_lock.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>

#include "store/pg/pg_test_support.hpp"
#include "tests/harness/drive.hpp"

namespace posthorn::store::pg {
namespace {

using posthorn::testing::drive;

// pg_locks rows of maildrop locks in the current database (a bigint key shows as classid = its high half).
constexpr std::string_view kOurs =
    "WHERE locktype = 'advisory' AND classid = 1345519616 AND objsubid = 1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

class PgMaildropLockTest : public ::testing::Test {
 protected:
  std::unique_ptr<PgMaildropLocks> node() {
    auto locks = drive(io_, PgMaildropLocks::open(io_.get_executor(), db_.options()));
    EXPECT_TRUE(locks) << locks.error().message;
    return locks ? std::move(*locks) : nullptr;
  }
  Result<std::unique_ptr<MaildropLock>> lock(PgMaildropLocks& node, AccountId account) {
    return drive(io_, node.try_lock(account));
  }
  // The maildrop locks the server holds in this test's database.
  int64_t locks_in_db() {
    auto rows = db_.query("SELECT count(*) FROM pg_locks " + std::string(kOurs) + " AND granted");
    EXPECT_TRUE(rows);
    return rows ? rows->integer(0, 0) : -1;
  }
  // Ends every connection that holds maildrop locks, without an unlock (a node that dies, or its
  // lock connection cut), and waits until the server holds none: false when that did not happen.
  bool cut_lock_connections() {
    auto cut = db_.query("SELECT pg_terminate_backend(pid) FROM pg_locks " + std::string(kOurs));
    EXPECT_TRUE(cut);
    return cut && eventually([&] { return locks_in_db() == 0; });
  }
  // Runs the io_context until `done()` or 5 seconds.
  template <class Pred>
  bool eventually(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  testing::TestDatabase db_;
  boost::asio::io_context io_;
};

TEST_F(PgMaildropLockTest, TwoNodesNeverHoldTheSameMaildrop) {
  auto a = node();
  auto b = node();
  auto held = lock(*a, 1);
  ASSERT_TRUE(held) << held.error().message;
  auto refused = lock(*b, 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kConflict);
  auto same_node = lock(*a, 1);  // a second session of the same node
  ASSERT_FALSE(same_node);
  EXPECT_EQ(same_node.error().code, Errc::kConflict);
  auto other = lock(*b, 2);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_TRUE(a->held_here(1));
  EXPECT_FALSE(b->held_here(1));

  ASSERT_TRUE(drive(io_, (*held)->release()));
  EXPECT_FALSE(a->held_here(1));
  auto now_b = lock(*b, 1);  // at once: release() returns after the unlock
  ASSERT_TRUE(now_b) << now_b.error().message;
  EXPECT_EQ(locks_in_db(), 2);
}

TEST_F(PgMaildropLockTest, ALockDroppedWithoutReleaseIsFreedInTheBackground) {
  auto a = node();
  auto b = node();
  {
    auto held = lock(*a, 5);
    ASSERT_TRUE(held);
  }
  EXPECT_TRUE(eventually([&] { return !a->held_here(5); }));
  auto taken = lock(*b, 5);
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(locks_in_db(), 1);
}

TEST_F(PgMaildropLockTest, ANodeGoneFreesItsLocks) {
  auto b = node();
  {
    auto a = node();
    auto held = lock(*a, 9);
    ASSERT_TRUE(held);
    EXPECT_TRUE(cut_lock_connections());  // the node dies
    auto taken = lock(*b, 9);
    ASSERT_TRUE(taken) << taken.error().message;
    held->reset();
    a.reset();
  }
}

TEST_F(PgMaildropLockTest, AfterAReconnectTheNodeTakesItsLocksAgain) {
  auto a = node();
  auto b = node();
  auto held = lock(*a, 11);
  ASSERT_TRUE(held);
  ASSERT_TRUE(cut_lock_connections());
  // The next call on a notices the broken connection (an error), then reconnects and carries 11 over.
  Result<std::unique_ptr<MaildropLock>> next = make_error(Errc::kUnavailable, "not yet");
  ASSERT_TRUE(eventually([&] {
    next = lock(*a, 12);
    return bool(next);
  })) << next.error().message;
  EXPECT_EQ(locks_in_db(), 2);
  auto refused = lock(*b, 11);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kConflict);
  ASSERT_TRUE(drive(io_, (*held)->release()));
  ASSERT_TRUE(drive(io_, (*next)->release()));
  EXPECT_EQ(locks_in_db(), 0);
}

TEST_F(PgMaildropLockTest, AnUnreachableDatabaseIsNamedWithoutItsPassword) {
  ConnectOptions bad;
  bad.url = "postgresql://posthorn:s3cret@127.0.0.1:1/none";
  bad.connect_timeout = std::chrono::milliseconds(2000);
  auto locks = drive(io_, PgMaildropLocks::open(io_.get_executor(), bad));
  ASSERT_FALSE(locks);
  EXPECT_EQ(locks.error().code, Errc::kUnavailable);
  EXPECT_EQ(locks.error().message.find("s3cret"), std::string::npos);
  EXPECT_NE(locks.error().message.find("127.0.0.1:1"), std::string::npos) << locks.error().message;
}

}  // namespace
}  // namespace posthorn::store::pg
