// PgDmarcLog and PgTlsRptLog against a real PostgreSQL (fixture pg_server): the shared behavioural
// suites (tests/harness/dmarc_log_contract.hpp, tlsrpt_log_contract.hpp) on this backend, each test
// in a database of its own, and what only this backend has: two logs ("nodes") on one database
// counting into the same reports, concurrent records of one row from both losing no count, the row
// bound kept exactly under concurrent distinct rows, the schema version.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <thread>

#include "store/pg/pg_dmarc_log.hpp"
#include "store/pg/pg_reports_schema.hpp"
#include "store/pg/pg_test_support.hpp"
#include "store/pg/pg_tlsrpt_log.hpp"
#include "tests/harness/dmarc_log_contract.hpp"
#include "tests/harness/drive.hpp"
#include "tests/harness/tlsrpt_log_contract.hpp"

namespace posthorn::store::pg {
namespace {

namespace asio = boost::asio;
using msgauth::contract::dmarc_entry;
using msgauth::contract::kContractDay;
using msgauth::kDaySeconds;
using queue::contract::tls_session;

// A database of its own for one test, dropped at the end.
class PgDmarcLogBackend final : public msgauth::contract::DmarcLogBackend {
 public:
  explicit PgDmarcLogBackend(posthorn::testing::BackendContext& context) : io_(context.io) {}
  Result<std::unique_ptr<msgauth::DmarcReportLog>> open(std::size_t max_rows) override {
    PgDmarcLogOptions options;
    options.pool.connect = db_.options();
    options.pool.size = 2;
    options.max_rows = max_rows;
    auto l = posthorn::testing::drive(io_, PgDmarcLog::open(io_.get_executor(), options));
    if (!l) return l.error();
    return std::unique_ptr<msgauth::DmarcReportLog>(std::move(*l));
  }

 private:
  asio::io_context& io_;
  testing::TestDatabase db_;
};

class PgTlsRptLogBackend final : public queue::contract::TlsRptLogBackend {
 public:
  explicit PgTlsRptLogBackend(posthorn::testing::BackendContext& context) : io_(context.io) {}
  Result<std::unique_ptr<queue::TlsReportLog>> open() override {
    PgTlsRptLogOptions options;
    options.pool.connect = db_.options();
    options.pool.size = 2;
    auto l = posthorn::testing::drive(io_, PgTlsRptLog::open(io_.get_executor(), options));
    if (!l) return l.error();
    return std::unique_ptr<queue::TlsReportLog>(std::move(*l));
  }

 private:
  asio::io_context& io_;
  testing::TestDatabase db_;
};

}  // namespace

using msgauth::contract::DmarcLogContract;
INSTANTIATE_TEST_SUITE_P(Pg, DmarcLogContract,
                         (posthorn::testing::backend_values<msgauth::contract::DmarcLogBackend, PgDmarcLogBackend>("postgresql")),
                         posthorn::testing::backend_name<msgauth::contract::DmarcLogParam>);

using queue::contract::TlsRptLogContract;
INSTANTIATE_TEST_SUITE_P(Pg, TlsRptLogContract,
                         (posthorn::testing::backend_values<queue::contract::TlsRptLogBackend, PgTlsRptLogBackend>("postgresql")),
                         posthorn::testing::backend_name<queue::contract::TlsRptLogParam>);

namespace {

// Two nodes' logs on one database, on an io_context run by two threads (as serve runs it), so that
// their calls overlap.
class PgReportLogNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = std::thread([this] { io_.run(); });
    second_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    guard_.reset();
    first_.join();
    second_.join();
  }

  Result<std::unique_ptr<PgDmarcLog>> open_dmarc(std::size_t max_rows = 10000) {
    PgDmarcLogOptions options;
    options.pool.connect = db_.options();
    options.pool.size = 4;
    options.max_rows = max_rows;
    return call(PgDmarcLog::open(io_.get_executor(), options));
  }
  Result<std::unique_ptr<PgTlsRptLog>> open_tlsrpt() {
    PgTlsRptLogOptions options;
    options.pool.connect = db_.options();
    options.pool.size = 4;
    return call(PgTlsRptLog::open(io_.get_executor(), options));
  }
  template <class T>
  T call(asio::awaitable<T> op) {
    return asio::co_spawn(io_, std::move(op), asio::use_future).get();
  }
  // Starts every operation at once and waits for all; the number that failed.
  int all(std::vector<asio::awaitable<Result<void>>> ops) {
    std::vector<std::future<Result<void>>> done;
    for (auto& op : ops) done.push_back(asio::co_spawn(io_, std::move(op), asio::use_future));
    int failed = 0;
    for (auto& f : done) {
      auto r = f.get();
      if (!r) {
        ADD_FAILURE() << r.error().message;
        ++failed;
      }
    }
    return failed;
  }

  testing::TestDatabase db_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::thread first_;
  std::thread second_;
};

TEST_F(PgReportLogNodesTest, TwoDmarcLogsCountIntoOneReport) {
  auto a = open_dmarc();
  auto b = open_dmarc();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(call((*a)->record(dmarc_entry("example.com", "192.0.2.1"), kContractDay + 1)));
  ASSERT_TRUE(call((*b)->record(dmarc_entry("example.com", "192.0.2.1"), kContractDay + 2)));
  ASSERT_TRUE(call((*b)->record(dmarc_entry("example.com", "192.0.2.2"), kContractDay + 3)));
  auto seen = call((*a)->due(kContractDay + kDaySeconds));
  ASSERT_TRUE(seen) << seen.error().message;
  ASSERT_EQ(seen->size(), 1u);
  ASSERT_EQ((*seen)[0].rows.size(), 2u);
  EXPECT_EQ((*seen)[0].rows[0].second, 2u);
  EXPECT_EQ((*seen)[0].rows[1].second, 1u);
  // Sent by one node: gone for the other.
  ASSERT_TRUE(call((*b)->mark_sent("example.com", kContractDay)));
  EXPECT_TRUE(call((*a)->due(kContractDay + kDaySeconds))->empty());
}

TEST_F(PgReportLogNodesTest, ConcurrentRecordsOfOneDmarcRowLoseNoCount) {
  constexpr int kEach = 200;
  auto a = open_dmarc();
  auto b = open_dmarc();
  ASSERT_TRUE(a && b);
  std::vector<asio::awaitable<Result<void>>> ops;
  for (int i = 0; i < kEach; ++i) {
    ops.push_back((*a)->record(dmarc_entry("example.com", "192.0.2.1"), kContractDay + i));
    ops.push_back((*b)->record(dmarc_entry("example.com", "192.0.2.1"), kContractDay + i));
  }
  EXPECT_EQ(all(std::move(ops)), 0);
  auto due = call((*b)->due(kContractDay + kDaySeconds));
  ASSERT_TRUE(due) << due.error().message;
  ASSERT_EQ(due->size(), 1u);
  ASSERT_EQ((*due)[0].rows.size(), 1u);
  EXPECT_EQ((*due)[0].rows[0].second, uint64_t(2 * kEach));
  EXPECT_EQ((*due)[0].overflow, 0u);
}

TEST_F(PgReportLogNodesTest, ConcurrentDistinctRowsKeepTheBoundExactly) {
  constexpr int kEach = 50;
  constexpr std::size_t kBound = 10;
  auto a = open_dmarc(kBound);
  auto b = open_dmarc(kBound);
  ASSERT_TRUE(a && b);
  std::vector<asio::awaitable<Result<void>>> ops;
  for (int i = 0; i < kEach; ++i) {
    ops.push_back((*a)->record(dmarc_entry("example.com", "192.0.2." + std::to_string(i)), kContractDay));
    ops.push_back((*b)->record(dmarc_entry("example.com", "198.51.100." + std::to_string(i)), kContractDay));
  }
  EXPECT_EQ(all(std::move(ops)), 0);
  auto due = call((*a)->due(kContractDay + kDaySeconds));
  ASSERT_TRUE(due) << due.error().message;
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].rows.size(), kBound);
  uint64_t counted = 0;
  for (const auto& [row, count] : (*due)[0].rows) counted += count;
  EXPECT_EQ(counted, kBound);
  EXPECT_EQ((*due)[0].overflow, uint64_t(2 * kEach) - kBound);
  auto stored = db_.query("SELECT (SELECT count(*) FROM dmarc_row), (SELECT row_count FROM dmarc_report)");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->integer(0, 0), int64_t(kBound));
  EXPECT_EQ(stored->integer(0, 1), int64_t(kBound));
}

TEST_F(PgReportLogNodesTest, TwoTlsRptLogsCountIntoOneReportWithoutLosingCounts) {
  constexpr int kEach = 200;
  auto a = open_tlsrpt();
  auto b = open_tlsrpt();
  ASSERT_TRUE(a && b);
  std::vector<asio::awaitable<Result<void>>> ops;
  for (int i = 0; i < kEach; ++i) {
    ops.push_back((*a)->record(tls_session("a.test"), queue::contract::kTlsDay0 + i));
    ops.push_back((*b)->record(tls_session("a.test", "certificate-expired"), queue::contract::kTlsDay0 + i));
  }
  EXPECT_EQ(all(std::move(ops)), 0);
  auto due = call((*a)->due(queue::contract::kTlsDay0 + queue::contract::kTlsDay));
  ASSERT_TRUE(due) << due.error().message;
  ASSERT_EQ(due->size(), 1u);
  ASSERT_EQ((*due)[0].policies.size(), 1u);
  const auto& p = (*due)[0].policies[0];
  EXPECT_EQ(p.successes, uint64_t(kEach));
  EXPECT_EQ(p.failures, uint64_t(kEach));
  ASSERT_EQ(p.details.size(), 1u);
  EXPECT_EQ(p.details[0].count, uint64_t(kEach));
  ASSERT_TRUE(call((*b)->mark_sent("a.test", queue::contract::kTlsDay0)));
  EXPECT_TRUE(call((*a)->due(queue::contract::kTlsDay0 + queue::contract::kTlsDay))->empty());
}

// The reporters of two nodes passing at once: one claim wins, the other node skips the report
// until the claim runs out (a sender that died) or mark_sent() ends it; claims of the two logs and
// of different reports are apart.
TEST_F(PgReportLogNodesTest, OneNodeAtATimeClaimsAReport) {
  auto a = open_dmarc();
  auto b = open_dmarc();
  auto ta = open_tlsrpt();
  auto tb = open_tlsrpt();
  ASSERT_TRUE(a && b && ta && tb);
  const int64_t day = kContractDay;
  const int64_t now = kContractDay + kDaySeconds + 60;
  ASSERT_TRUE(call((*a)->record(dmarc_entry("example.com", "192.0.2.1"), day + 1)));
  // Both at once: exactly one gets it.
  auto first = asio::co_spawn(io_, (*a)->claim("example.com", day, now), asio::use_future);
  auto second = asio::co_spawn(io_, (*b)->claim("example.com", day, now), asio::use_future);
  auto r1 = first.get();
  auto r2 = second.get();
  ASSERT_TRUE(r1 && r2) << (r1 ? r2.error().message : r1.error().message);
  EXPECT_NE(*r1, *r2);
  auto& winner = *r1 ? *a : *b;
  auto& loser = *r1 ? *b : *a;
  EXPECT_FALSE(*call(loser->claim("example.com", day, now + kReportClaimSeconds - 1)));
  EXPECT_TRUE(*call(loser->claim("example.com", day + kDaySeconds, now)));  // another report
  EXPECT_TRUE(*call((*ta)->claim("example.com", day, now)));               // the other log's report
  EXPECT_FALSE(*call((*tb)->claim("example.com", day, now)));
  // The winner dies: its claim runs out.
  EXPECT_TRUE(*call(loser->claim("example.com", day, now + kReportClaimSeconds)));
  // mark_sent ends the claim: a report counted later that day is free at once.
  ASSERT_TRUE(call(loser->mark_sent("example.com", day)));
  EXPECT_TRUE(*call(winner->claim("example.com", day, now + kReportClaimSeconds + 1)));
  ASSERT_TRUE(call((*ta)->mark_sent("example.com", day)));
  EXPECT_TRUE(*call((*tb)->claim("example.com", day, now + 1)));
}

TEST_F(PgReportLogNodesTest, TheSchemaHasItsVersionAndANewerOneIsRefused) {
  ASSERT_TRUE(open_dmarc());
  testing::expect_newer_schema_refused(db_, "reports", kReportsSchemaVersion, [&] { return open_dmarc(); });
  auto tls = open_tlsrpt();
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().code, Errc::kInvalid);
  EXPECT_NE(tls.error().message.find("version 99"), std::string::npos) << tls.error().message;
}

}  // namespace
}  // namespace posthorn::store::pg
