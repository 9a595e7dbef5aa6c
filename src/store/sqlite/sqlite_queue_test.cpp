// SqliteQueue: the shared behavioural suite (tests/harness/queue_contract.hpp) on this backend, and
// what only it has: spool files, the clean-up of those a crash left behind, and the upgrade of a
// queue.db from before its schema version. The SQLite-only tests run each call with run_sync.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/run_sync.hpp"
#include "store/sqlite/sqlite_queue.hpp"
#include "tests/harness/queue_contract.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;
using queue::contract::sample;

class SqliteQueueBackend final : public queue::contract::QueueBackend {
 public:
  explicit SqliteQueueBackend(queue::contract::QueueBackendContext& context) : dir_(context.dir), pool_(context.pool) {}
  Result<std::unique_ptr<queue::Queue>> open() override {
    auto q = SqliteQueue::open(dir_, pool_);
    if (!q) return q.error();
    return std::unique_ptr<queue::Queue>(std::move(*q));
  }
  bool message_stored(const std::string& id) override { return fs::exists(dir_ / "queue" / id); }

 private:
  fs::path dir_;
  BlockingPool& pool_;
};

}  // namespace

using queue::contract::QueueContract;
INSTANTIATE_TEST_SUITE_P(Sqlite, QueueContract,
                         ::testing::Values(queue::contract::QueueBackendParam{
                             "sqlite", [](queue::contract::QueueBackendContext& c) -> std::unique_ptr<queue::contract::QueueBackend> {
                               return std::make_unique<SqliteQueueBackend>(c);
                             }}),
                         queue::contract::queue_backend_name);

namespace {

class SqliteQueueTest : public ::testing::Test {
 protected:
  SqliteQueueTest()
      : dir_(fs::temp_directory_path() / ("posthorn_queue_test_" + std::to_string(::getpid()) + "_" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    reopen();
  }
  ~SqliteQueueTest() override {
    q_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    q_.reset();
    auto q = SqliteQueue::open(dir_, pool_);
    if (!q) throw std::runtime_error(q.error().message);
    q_ = std::move(*q);
  }

  BlockingPool pool_{2};  // before q_: outlives it
  fs::path dir_;
  std::unique_ptr<SqliteQueue> q_;
};

TEST_F(SqliteQueueTest, TheMessageIsASpoolFile) {
  auto id = run_sync(q_->enqueue(sample()));
  ASSERT_TRUE(id) << id.error().message;
  ASSERT_TRUE(fs::exists(q_->spool_path(*id)));
  std::ifstream in(q_->spool_path(*id), std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), sample().message);
  ASSERT_TRUE(run_sync(q_->remove(*id)));
  EXPECT_FALSE(fs::exists(q_->spool_path(*id)));
}

TEST_F(SqliteQueueTest, OrphanSpoolFilesAreRemovedOnOpen) {
  auto id = run_sync(q_->enqueue(sample()));
  ASSERT_TRUE(id);
  std::ofstream(dir_ / "queue" / "00000000deadbeef") << "orphan";
  std::ofstream(dir_ / "queue" / "tmp" / "half-written") << "x";
  reopen();
  EXPECT_FALSE(fs::exists(dir_ / "queue" / "00000000deadbeef"));
  EXPECT_FALSE(fs::exists(dir_ / "queue" / "tmp" / "half-written"));
  EXPECT_TRUE(fs::exists(q_->spool_path(*id)));
}

// A queue.db written before delay_notified and reported existed (and before the file kept a schema
// version) gets the columns on open.
TEST_F(SqliteQueueTest, OlderQueueFileGainsTheNewColumns) {
  auto id = run_sync(q_->enqueue(sample()));
  ASSERT_TRUE(id);
  q_.reset();
  {
    auto db = Db::open(dir_ / "queue.db", DbOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("ALTER TABLE queue_entries DROP COLUMN delay_notified"));
    ASSERT_TRUE(db->exec("ALTER TABLE queue_recipients DROP COLUMN reported"));
    ASSERT_TRUE(db->exec("DROP TABLE schema_version"));
  }
  reopen();
  auto e = run_sync(q_->get(*id));
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_FALSE(e->delay_notified);
  ASSERT_TRUE(run_sync(q_->set_delay_notified(*id)));
  ASSERT_TRUE(run_sync(q_->mark_reported(*id, {"a@remote.example"})));
  EXPECT_TRUE(run_sync(q_->get(*id))->recipients[0].reported);
}

}  // namespace
}  // namespace posthorn::store::sqlite
