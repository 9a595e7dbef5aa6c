#include "base/spool.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace posthorn {
namespace {

namespace fs = std::filesystem;

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spool_test." + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SpoolTest, SmallMessageStaysInMemory) {
  MemoryBudget budget(1 << 20);
  Spool spool(dir_, 1024, &budget);
  ASSERT_TRUE(spool.append("Subject: hi\r\n"));
  ASSERT_TRUE(spool.append("\r\nbody\r\n"));
  EXPECT_FALSE(spool.on_disk());
  EXPECT_EQ(spool.size(), 21u);
  EXPECT_EQ(budget.used(), 21u);
  MemoryLease lease;
  auto out = spool.take(lease);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(lease.size(), 21u);  // the bytes are still in RAM, now the caller's
  EXPECT_EQ(budget.used(), 21u);
  lease.release();
  EXPECT_EQ(budget.used(), 0u);
}

// read() hands the bytes out a piece at a time, from memory or from the file, and leaves the spool
// as it was (the store copies a spooled APPEND into its blob this way, issue 28 item 2).
TEST_F(SpoolTest, ReadInPiecesFromMemoryAndFromTheFile) {
  MemoryBudget budget(1 << 20);
  for (const std::size_t keep : {std::size_t{1} << 16, std::size_t{16}}) {
    Spool spool(dir_, keep, &budget);
    std::string expected;
    for (int i = 0; i < 100; ++i) expected += "piece " + std::to_string(i) + std::string(1, '\0') + "\n";
    ASSERT_TRUE(spool.append(expected.substr(0, 10)));
    ASSERT_TRUE(spool.append(expected.substr(10)));
    EXPECT_EQ(spool.on_disk(), keep == 16);
    std::string got;
    char buf[7];
    for (uint64_t offset = 0;;) {
      auto n = spool.read(offset, buf, sizeof buf);
      ASSERT_TRUE(n);
      if (*n == 0) break;
      got.append(buf, *n);
      offset += *n;
    }
    EXPECT_EQ(got, expected);
    auto tail = spool.read(expected.size() - 3, buf, sizeof buf);
    ASSERT_TRUE(tail);
    EXPECT_EQ(*tail, 3u);
    EXPECT_EQ(spool.size(), expected.size());  // unchanged by reads
  }
}

TEST_F(SpoolTest, PastItsLimitGoesToAnAnonymousFileAndComesBackByteForByte) {
  MemoryBudget budget(1 << 20);
  std::string expected;
  {
    Spool spool(dir_, 4096, &budget);
    for (int i = 0; i < 1000; ++i) {
      std::string line = "line " + std::to_string(i) + std::string(i % 50, 'x') + "\r\n";
      line += '\0';  // binary data survives too
      expected += line;
      ASSERT_TRUE(spool.append(line));
    }
    EXPECT_TRUE(spool.on_disk());
    EXPECT_EQ(spool.in_memory(), 0u);
    EXPECT_EQ(budget.used(), 0u);  // nothing held in RAM once on disk
    EXPECT_EQ(spool.size(), expected.size());
    // The file has no name: the folder stays empty.
    EXPECT_TRUE(fs::is_empty(dir_));
    MemoryLease lease;
    auto out = spool.take(lease);
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, expected);
    EXPECT_EQ(lease.size(), 0u);
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(SpoolTest, ASpentBudgetSendsEveryNewSpoolToDisk) {
  MemoryBudget budget(100);
  Spool first(dir_, 1024, &budget);
  ASSERT_TRUE(first.append(std::string(80, 'a')));
  EXPECT_FALSE(first.on_disk());
  Spool second(dir_, 1024, &budget);
  ASSERT_TRUE(second.append(std::string(30, 'b')));  // 80 + 30 > 100
  EXPECT_TRUE(second.on_disk());
  EXPECT_EQ(budget.used(), 80u);
  MemoryLease lease;
  EXPECT_EQ(*second.take(lease), std::string(30, 'b'));
  EXPECT_EQ(*first.take(lease), std::string(80, 'a'));
  EXPECT_EQ(budget.used(), 80u);
  lease = MemoryLease();
  EXPECT_EQ(budget.used(), 0u);
}

TEST_F(SpoolTest, DestroyingAnUnfinishedSpoolGivesItsBudgetBack) {
  MemoryBudget budget(1000);
  {
    Spool spool(dir_, 1024, &budget);
    ASSERT_TRUE(spool.append(std::string(500, 'a')));
    EXPECT_EQ(budget.used(), 500u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST_F(SpoolTest, AMissingFolderIsAnErrorNotACrash) {
  Spool spool(dir_ / "missing", 8, nullptr);
  EXPECT_TRUE(spool.append("1234"));
  auto r = spool.append("more than eight bytes");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
  EXPECT_FALSE(spool.append("x"));
  MemoryLease lease;
  EXPECT_FALSE(spool.take(lease));
}

}  // namespace
}  // namespace posthorn
