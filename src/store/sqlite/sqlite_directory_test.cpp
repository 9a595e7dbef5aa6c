// SqliteDirectory: the shared behavioural suite (tests/harness/directory_contract.hpp) on a
// directory.db in a temp folder, and what only this backend has: the Db wrapper, the schema version
// in the file, an in-memory directory, calls from several threads on the blocking pool.
#include "store/sqlite/sqlite_directory.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include "tests/harness/directory_contract.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;
using auth::contract::DirectoryContract;
using auth::contract::SyncDirectory;
using posthorn::testing::TempDir;

// The shared suite on <temp folder>/directory.db.
class SqliteDirectoryBackend final : public auth::contract::DirectoryBackend {
 public:
  explicit SqliteDirectoryBackend(posthorn::testing::BackendContext& context)
      : file_(context.dir / "directory.db"), pool_(context.pool) {}
  Result<std::unique_ptr<auth::Directory>> open() override {
    auto d = SqliteDirectory::open(file_, pool_);
    if (!d) return d.error();
    return std::unique_ptr<auth::Directory>(std::move(*d));
  }

 private:
  fs::path file_;
  BlockingPool& pool_;
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, DirectoryContract,
                         ::testing::Values(auth::contract::DirectoryParam{
                             "sqlite",
                             [](posthorn::testing::BackendContext& c) -> std::unique_ptr<auth::contract::DirectoryBackend> {
                               return std::make_unique<SqliteDirectoryBackend>(c);
                             }}),
                         auth::contract::directory_backend_name);

namespace {

// ---- Db wrapper ----

TEST(SqliteDb, TransactionRollsBackUnlessCommitted) {
  auto db = Db::open(":memory:", DbOptions{});
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("CREATE TABLE t (v INTEGER)"));
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)"));
  }
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx);
    auto st = db->prepare("INSERT INTO t VALUES (?1)");
    ASSERT_TRUE(st);
    st->bind(1, int64_t{2});
    ASSERT_TRUE(st->run());
    ASSERT_TRUE(tx->commit());
  }
  auto st = db->prepare("SELECT v FROM t");
  ASSERT_TRUE(st);
  auto row = st->step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(st->column_int(0), 2);
  EXPECT_FALSE(*st->step());
}

TEST(SqliteDb, ErrorsAreMapped) {
  auto db = Db::open(":memory:", DbOptions{});
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("CREATE TABLE t (v INTEGER UNIQUE)"));
  ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)"));
  auto dup = db->exec("INSERT INTO t VALUES (1)");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::kConflict);
  EXPECT_EQ(dup.error().message.find("UNIQUE"), std::string::npos);  // SQLite text is logged, not returned
  auto bad = db->prepare("SELEC 1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInternal);
  auto st = db->prepare("SELECT ?1");
  ASSERT_TRUE(st);
  st->bind(2, int64_t{1});  // no such parameter: reported by step
  EXPECT_FALSE(st->step());
}

TEST(SqliteDb, OpenUsesWalAndForeignKeys) {
  TempDir tmp("posthorn_dir_test");
  auto db = Db::open(tmp.path() / "x.db", DbOptions{});
  ASSERT_TRUE(db);
  auto st = db->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(st && *st->step());
  EXPECT_EQ(st->column_text(0), "wal");
  auto fk = db->prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk && *fk->step());
  EXPECT_EQ(fk->column_int(0), 1);
  auto sync = db->prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync && *sync->step());
  EXPECT_EQ(sync->column_int(0), 2);  // FULL
}

TEST(SqliteDb, NotADatabaseIsUnavailable) {
  TempDir tmp("posthorn_dir_test");
  const fs::path file = tmp.path() / "junk.db";
  { std::FILE* f = std::fopen(file.c_str(), "w"); std::fputs(std::string(4096, 'x').c_str(), f); std::fclose(f); }
  auto db = Db::open(file, DbOptions{});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, Errc::kUnavailable);
}

TEST(SqliteDirectoryFile, RefusesNewerSchema) {
  TempDir tmp("posthorn_dir_test");
  BlockingPool pool(1);
  ASSERT_TRUE(SqliteDirectory::open(tmp.path() / "directory.db", pool));
  {
    auto db = Db::open(tmp.path() / "directory.db", DbOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("UPDATE schema_version SET version = 99"));
  }
  auto again = SqliteDirectory::open(tmp.path() / "directory.db", pool);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kInvalid);
}

TEST(SqliteDirectoryMemory, InMemoryDatabaseWorks) {
  boost::asio::io_context io;
  BlockingPool pool(1);
  auto opened = SqliteDirectory::open(":memory:", pool);
  ASSERT_TRUE(opened);
  SyncDirectory d(io, **opened);
  ASSERT_TRUE(d.add_domain("example.test"));
  ASSERT_TRUE(d.add_account("u@example.test", "h", "", 0));
  EXPECT_TRUE(d.find_account("u@example.test"));
}

// Four threads call one directory at once; the blocking bodies run side by side on the pool's threads.
TEST(SqliteDirectoryThreads, ConcurrentCallsAreSafe) {
  TempDir tmp("posthorn_dir_test");
  // The context the calls resume on is declared before the pool, so the pool (joined when it is
  // destroyed) is done with it first.
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  std::atomic<int> failures{0};
  std::size_t accounts = 0;
  {
    BlockingPool pool(4);
    auto opened = SqliteDirectory::open(tmp.path() / "directory.db", pool);
    EXPECT_TRUE(opened);
    if (opened) {
      SqliteDirectory* dir = opened->get();
      auto call = [&io](auto task) { return boost::asio::co_spawn(io, std::move(task), boost::asio::use_future).get(); };
      EXPECT_TRUE(call(dir->add_domain("example.test")));
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 25; ++i) {
            const std::string address = "u" + std::to_string(t) + "_" + std::to_string(i) + "@example.test";
            if (!call(dir->add_account(address, "h", "", 0))) failures++;
            if (!call(dir->resolve(address))) failures++;
          }
        });
      }
      for (auto& th : threads) th.join();
      auto all = call(dir->list_accounts());
      if (all) accounts = all->size();
      opened->reset();
    }
  }
  work.reset();
  runner.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(accounts, 100u);
}

}  // namespace
}  // namespace posthorn::store::sqlite
