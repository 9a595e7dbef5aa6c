// Tests of Db::open_with_schema / Db::migrate, the one way every database of the embedded backend gets
// its schema: a new file runs every step in order; a reopen runs only the missing steps; a file newer
// than the program is refused untouched; a failing step leaves the file as it was; the version a file
// kept in PRAGMA user_version (DMARC and TLS-RPT logs before the schema_version table) is honoured.
#include "store/sqlite/sqlite_db.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;

class SchemaTest : public ::testing::Test {
 protected:
  SchemaTest()
      : file_(fs::temp_directory_path() / ("posthorn_schema_test_" + std::to_string(::getpid()) + "_" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                                           ".db")) {
    remove();
  }
  ~SchemaTest() override { remove(); }
  void remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file_.string() + suffix);
  }
  std::vector<std::string> tables(Db& db) {
    auto t = db.column_texts("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't%' ORDER BY name");
    EXPECT_TRUE(t);
    return t ? *t : std::vector<std::string>{};
  }

  fs::path file_;
};

TEST_F(SchemaTest, NewFileRunsEveryStepInOrder) {
  std::vector<int> order;
  const Migration steps[] = {
      {"CREATE TABLE t1(a INTEGER)", [&](Db& db) -> Result<void> {
         order.push_back(1);
         return db.exec("INSERT INTO t1 VALUES (7)");
       }},
      {"ALTER TABLE t1 ADD COLUMN b TEXT; CREATE TABLE t2(c)", [&](Db&) -> Result<void> {
         order.push_back(2);
         return {};
       }},
  };
  auto db = Db::open_with_schema(file_, DbOptions{}, "test.db", steps);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(*db->schema_version(), 2);
  EXPECT_EQ(tables(*db), (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(*db->column_texts("SELECT a FROM t1"), std::vector<std::string>{"7"});
}

TEST_F(SchemaTest, ReopenRunsOnlyTheMissingSteps) {
  int runs_of_first = 0;
  auto first = [&](Db&) -> Result<void> {
    ++runs_of_first;
    return {};
  };
  {
    const Migration v1[] = {{"CREATE TABLE t1(a)", first}};
    ASSERT_TRUE(Db::open_with_schema(file_, DbOptions{}, "test.db", v1));
  }
  {
    const Migration v1[] = {{"CREATE TABLE t1(a)", first}};
    auto db = Db::open_with_schema(file_, DbOptions{}, "test.db", v1);  // CREATE TABLE would fail if run again
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_EQ(*db->schema_version(), 1);
  }
  const Migration v2[] = {{"CREATE TABLE t1(a)", first}, {"CREATE TABLE t2(b)"}};
  auto db = Db::open_with_schema(file_, DbOptions{}, "test.db", v2);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(runs_of_first, 1);
  EXPECT_EQ(*db->schema_version(), 2);
  EXPECT_EQ(tables(*db), (std::vector<std::string>{"t1", "t2"}));
  // One row in schema_version, whatever the number of upgrades.
  EXPECT_EQ(*db->column_texts("SELECT count(*) FROM schema_version"), std::vector<std::string>{"1"});
}

TEST_F(SchemaTest, NewerFileIsRefusedUntouched) {
  {
    const Migration v2[] = {{"CREATE TABLE t1(a)"}, {"CREATE TABLE t2(b)"}};
    ASSERT_TRUE(Db::open_with_schema(file_, DbOptions{}, "test.db", v2));
  }
  const Migration v1[] = {{"CREATE TABLE t1(a)"}};
  auto old = Db::open_with_schema(file_, DbOptions{}, "test.db", v1);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, Errc::kInvalid);
  auto db = Db::open(file_, DbOptions{});
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->schema_version(), 2);
}

TEST_F(SchemaTest, FailingStepRollsBackEveryStep) {
  const Migration steps[] = {
      {"CREATE TABLE t1(a)"},
      {"CREATE TABLE t2(b)", [](Db&) -> Result<void> { return make_error(Errc::kInternal, "planted"); }},
  };
  auto failed = Db::open_with_schema(file_, DbOptions{}, "test.db", steps);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::kInternal);
  auto db = Db::open(file_, DbOptions{});
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->schema_version(), 0);
  EXPECT_TRUE(tables(*db).empty());
}

// The DMARC and TLS-RPT logs kept their version in the file header before schema_version existed.
TEST_F(SchemaTest, VersionInUserVersionIsHonoured) {
  {
    auto db = Db::open(file_, DbOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t1(a); INSERT INTO t1 VALUES (1); PRAGMA user_version = 1"));
  }
  const Migration v2[] = {{"CREATE TABLE t1(a)"}, {"CREATE TABLE t2(b)"}};  // step 1 would fail if rerun
  auto db = Db::open_with_schema(file_, DbOptions{}, "test.db", v2);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(*db->schema_version(), 2);
  EXPECT_EQ(tables(*db), (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(*db->column_texts("SELECT a FROM t1"), std::vector<std::string>{"1"});
}

}  // namespace
}  // namespace posthorn::store::sqlite
