// SqliteTlsRptLog: counts per policy and failure, per UTC day; due() before a day; mark_sent();
// durable across reopen.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/sqlite/sqlite_tlsrpt_log.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDay = 86400;
constexpr int64_t kDay0 = 1795737600;  // 2026-11-27 00:00 UTC

queue::TlsSession session(std::string domain, std::string result = "", std::string mx = "mx.a.test") {
  queue::TlsSession s;
  s.policy = queue::TlsPolicyRef{domain, "sts", {"version: STSv1", "mode: enforce"}, {"mx.a.test"}};
  s.result_type = std::move(result);
  s.mx_host = std::move(mx);
  s.receiving_ip = "192.0.2.1";
  return s;
}

class SqliteTlsRptLogTest : public ::testing::Test {
 protected:
  SqliteTlsRptLogTest()
      : dir_(fs::temp_directory_path() / ("posthorn_tlsrpt_test_" + std::to_string(::getpid()) + "_" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    reopen();
  }
  ~SqliteTlsRptLogTest() override {
    log_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    log_.reset();
    auto l = SqliteTlsRptLog::open(dir_);
    ASSERT_TRUE(l) << l.error().message;
    log_ = std::move(*l);
  }
  fs::path dir_;
  std::unique_ptr<SqliteTlsRptLog> log_;
};

TEST_F(SqliteTlsRptLogTest, CountsSessionsPerPolicyAndFailure) {
  ASSERT_TRUE(log_->record(session("a.test"), kDay0 + 10));
  ASSERT_TRUE(log_->record(session("a.test"), kDay0 + 20));
  ASSERT_TRUE(log_->record(session("a.test", "certificate-expired"), kDay0 + 30));
  ASSERT_TRUE(log_->record(session("a.test", "certificate-expired"), kDay0 + kDay - 1));  // last second of the day
  ASSERT_TRUE(log_->record(session("a.test", "starttls-not-supported", "mx2.a.test"), kDay0 + 40));
  ASSERT_TRUE(log_->record(session("a.test"), kDay0 + kDay));  // the next day
  ASSERT_TRUE(log_->record(session("b.test"), kDay0 + 50));

  auto none = log_->due(kDay0);  // nothing before day 0
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  reopen();  // durable
  auto due = log_->due(kDay0 + kDay);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  const auto& a = (*due)[0];
  EXPECT_EQ(a.domain, "a.test");
  EXPECT_EQ(a.day, kDay0);
  ASSERT_EQ(a.policies.size(), 1u);
  EXPECT_EQ(a.policies[0].policy, session("a.test").policy);
  EXPECT_EQ(a.policies[0].successes, 2u);
  EXPECT_EQ(a.policies[0].failures, 3u);
  ASSERT_EQ(a.policies[0].details.size(), 2u);
  EXPECT_EQ(a.policies[0].details[0], (queue::TlsFailureCount{"certificate-expired", "mx.a.test", "192.0.2.1", 2}));
  EXPECT_EQ(a.policies[0].details[1],
            (queue::TlsFailureCount{"starttls-not-supported", "mx2.a.test", "192.0.2.1", 1}));
  EXPECT_EQ((*due)[1].domain, "b.test");

  ASSERT_TRUE(log_->mark_sent("a.test", kDay0));
  due = log_->due(kDay0 + 2 * kDay);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);  // b.test day 0 and a.test day 1
  EXPECT_EQ((*due)[0].domain, "b.test");
  EXPECT_EQ((*due)[1].domain, "a.test");
  EXPECT_EQ((*due)[1].day, kDay0 + kDay);
}

}  // namespace
}  // namespace posthorn::store::sqlite
