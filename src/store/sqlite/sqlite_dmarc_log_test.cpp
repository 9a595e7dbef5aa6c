// Tests of SqliteDmarcLog: counting identical rows, distinct rows per domain and day, the row bound
// at N and N+1 (overflow), due/mark_sent, a report restarted after it was sent, pruning, reopening,
// and a newer schema refused.
#include "store/sqlite/sqlite_dmarc_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;
using msgauth::DmarcReportEntry;
using msgauth::kDaySeconds;

constexpr int64_t kDay = 1795737600;  // 2026-11-27 00:00 UTC

DmarcReportEntry entry(std::string domain, std::string ip) {
  DmarcReportEntry e;
  e.policy = {domain, "r", "r", "reject", "", 100, {"mailto:dmarc@" + domain}};
  e.row = {ip, domain, domain, "none", "pass", "pass", {{domain, "s1", "pass"}}, domain, "mfrom", "pass"};
  return e;
}

class SqliteDmarcLogTest : public ::testing::Test {
 protected:
  SqliteDmarcLogTest()
      : dir_(fs::temp_directory_path() / ("posthorn_dmarc_test_" + std::to_string(::getpid()) + "_" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    reopen(3);
  }
  ~SqliteDmarcLogTest() override {
    log_.reset();
    fs::remove_all(dir_);
  }
  void reopen(std::size_t max_rows) {
    log_.reset();
    auto l = SqliteDmarcLog::open(dir_, max_rows);
    if (!l) throw std::runtime_error(l.error().message);
    log_ = std::move(*l);
  }
  std::vector<msgauth::DmarcAggregate> due(int64_t before) {
    auto d = log_->due(before);
    EXPECT_TRUE(d) << d.error().message;
    return d ? *d : std::vector<msgauth::DmarcAggregate>{};
  }

  fs::path dir_;
  std::unique_ptr<SqliteDmarcLog> log_;
};

TEST_F(SqliteDmarcLogTest, CountsIdenticalRowsPerDomainAndDay) {
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.1"), kDay + 10));
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.1"), kDay + 20));
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.2"), kDay + 30));
  ASSERT_TRUE(log_->record(entry("example.org", "192.0.2.1"), kDay + 40));
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.1"), kDay + kDaySeconds));  // next day
  EXPECT_TRUE(due(kDay).empty());  // nothing before the day
  auto reports = due(kDay + kDaySeconds);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].domain, "example.com");
  EXPECT_EQ(reports[0].day, kDay);
  EXPECT_EQ(reports[0].policy, entry("example.com", "x").policy);
  ASSERT_EQ(reports[0].rows.size(), 2u);
  EXPECT_EQ(reports[0].rows[0].first, entry("example.com", "192.0.2.1").row);
  EXPECT_EQ(reports[0].rows[0].second, 2u);
  EXPECT_EQ(reports[0].rows[1].second, 1u);
  EXPECT_EQ(reports[0].overflow, 0u);
  EXPECT_EQ(reports[1].domain, "example.org");
  EXPECT_EQ(due(kDay + 2 * kDaySeconds).size(), 3u);
  reopen(3);  // durable
  EXPECT_EQ(due(kDay + 2 * kDaySeconds).size(), 3u);
}

TEST_F(SqliteDmarcLogTest, DistinctRowsBoundedAtNThenOverflow) {
  // N = 3 distinct rows are kept; the 4th distinct row only counts as overflow, while an already
  // kept row still counts normally.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log_->record(entry("example.com", "192.0.2." + std::to_string(i)), kDay));
  auto at_n = due(kDay + kDaySeconds);
  ASSERT_EQ(at_n.size(), 1u);
  EXPECT_EQ(at_n[0].rows.size(), 3u);
  EXPECT_EQ(at_n[0].overflow, 0u);
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.9"), kDay));
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.9"), kDay));
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.0"), kDay));
  auto over = due(kDay + kDaySeconds);
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].rows.size(), 3u);
  EXPECT_EQ(over[0].overflow, 2u);
  EXPECT_EQ(over[0].rows[0].second, 2u);
  // The bound is per domain: another domain still gets its rows.
  ASSERT_TRUE(log_->record(entry("example.org", "192.0.2.9"), kDay));
  auto both = due(kDay + kDaySeconds);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1].rows.size(), 1u);
}

TEST_F(SqliteDmarcLogTest, MarkSentThenPrune) {
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.1"), kDay));
  ASSERT_TRUE(log_->record(entry("example.org", "192.0.2.1"), kDay));
  ASSERT_TRUE(log_->mark_sent("example.com", kDay));
  EXPECT_EQ(log_->mark_sent("example.net", kDay).error().code, Errc::kNotFound);
  auto left = due(kDay + kDaySeconds);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].domain, "example.org");
  auto pruned = log_->prune(kDay + kDaySeconds);
  ASSERT_TRUE(pruned);
  EXPECT_EQ(*pruned, 1u);  // the sent one; the unsent one is kept
  EXPECT_EQ(due(kDay + kDaySeconds).size(), 1u);
}

TEST_F(SqliteDmarcLogTest, RecordAfterSentStartsANewReport) {
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.1"), kDay));
  ASSERT_TRUE(log_->mark_sent("example.com", kDay));
  EXPECT_TRUE(due(kDay + kDaySeconds).empty());
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.1"), kDay + 100));
  auto again = due(kDay + kDaySeconds);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_EQ(again[0].rows.size(), 1u);
  EXPECT_EQ(again[0].rows[0].second, 1u);
}

TEST_F(SqliteDmarcLogTest, PrunesAfterSevenDays) {
  ASSERT_TRUE(log_->record(entry("example.com", "192.0.2.1"), kDay));
  ASSERT_TRUE(log_->record(entry("example.org", "192.0.2.1"), kDay + kDaySeconds));
  // At 7 days the oldest is kept; one day later it goes.
  auto kept = log_->prune(kDay + 7 * kDaySeconds);
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, 0u);
  auto gone = log_->prune(kDay + 8 * kDaySeconds);
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, 1u);
  auto left = due(kDay + 10 * kDaySeconds);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].domain, "example.org");
  EXPECT_EQ(left[0].rows.size(), 1u);
}

TEST_F(SqliteDmarcLogTest, NewerSchemaIsRefused) {
  {
    auto db = Db::open(dir_ / "dmarc.db", DbOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA user_version = 2"));
  }
  log_.reset();
  auto l = SqliteDmarcLog::open(dir_);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, Errc::kInvalid);
}

}  // namespace
}  // namespace posthorn::store::sqlite
