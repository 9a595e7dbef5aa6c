// The behavioural suite of a msgauth::DmarcReportLog, run on every backend (issue 20: one
// parameterised suite, not a copy): counting identical rows per domain and day, durable across
// reopening, the distinct-row bound at N and N+1 (overflow), due/mark_sent, a report restarted
// after it was sent, the 7-day prune, the latest published policy, long and non-ASCII rows. A
// backend's test file defines a DmarcLogBackend and instantiates the suite:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, DmarcLogContract,
//                            (backend_values<DmarcLogBackend, SqliteDmarcLogBackend>("sqlite")),
//                            backend_name<DmarcLogParam>);
// Include this header in exactly one source file of a test binary (it defines the tests).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/blocking_pool.hpp"
#include "msgauth/dmarc_report.hpp"
#include "tests/harness/backend_context.hpp"
#include "tests/harness/drive.hpp"

namespace posthorn::msgauth::contract {

// One backend's data (a file, a database) for one test.
class DmarcLogBackend {
 public:
  virtual ~DmarcLogBackend() = default;
  // Opens a log keeping at most `max_rows` distinct rows per report; after the previous log was
  // destroyed, on the same data again.
  virtual Result<std::unique_ptr<DmarcReportLog>> open(std::size_t max_rows) = 0;
};

using DmarcLogParam = posthorn::testing::BackendParamOf<DmarcLogBackend>;

inline constexpr int64_t kContractDay = 1795737600;  // 2026-11-27 00:00 UTC

// One evaluation of `domain`'s policy from `ip` (distinct ips give distinct rows).
inline DmarcReportEntry dmarc_entry(std::string domain, std::string ip) {
  DmarcReportEntry e;
  e.policy = {domain, "r", "r", "reject", "", 100, {"mailto:dmarc@" + domain}};
  e.row = {ip, domain, domain, "none", "pass", "pass", {{domain, "s1", "pass"}}, domain, "mfrom", "pass"};
  return e;
}

// The log with every call run to completion, so a check reads as one line.
class DmarcLogContract : public ::testing::TestWithParam<DmarcLogParam> {
 protected:
  void SetUp() override {
    posthorn::testing::BackendContext context{io_, pool_, tmp_.path()};
    backend_ = GetParam().make(context);
    ASSERT_TRUE(backend_);
    reopen(3);
  }
  void TearDown() override {
    log_.reset();
    backend_.reset();
  }
  void reopen(std::size_t max_rows) {
    log_.reset();
    auto l = backend_->open(max_rows);
    ASSERT_TRUE(l) << l.error().message;
    log_ = std::move(*l);
  }

  template <class T>
  T run(boost::asio::awaitable<T> op) {
    return posthorn::testing::drive_each(io_, std::move(op));
  }
  Result<void> record(DmarcReportEntry e, int64_t now) { return run(log_->record(std::move(e), now)); }
  Result<void> mark_sent(std::string domain, int64_t day) { return run(log_->mark_sent(std::move(domain), day)); }
  Result<std::size_t> prune(int64_t now) { return run(log_->prune(now)); }
  std::vector<DmarcAggregate> due(int64_t before) {
    auto d = run(log_->due(before));
    EXPECT_TRUE(d) << d.error().message;
    return d ? *d : std::vector<DmarcAggregate>{};
  }

  posthorn::testing::TempDir tmp_{"posthorn_dmarc_contract"};
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  boost::asio::io_context io_;
  BlockingPool pool_{2};
  std::unique_ptr<DmarcLogBackend> backend_;
  std::unique_ptr<DmarcReportLog> log_;
};

TEST_P(DmarcLogContract, CountsIdenticalRowsPerDomainAndDay) {
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.1"), kContractDay + 10));
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.1"), kContractDay + 20));
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.2"), kContractDay + 30));
  ASSERT_TRUE(record(dmarc_entry("example.org", "192.0.2.1"), kContractDay + 40));
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.1"), kContractDay + kDaySeconds));  // next day
  EXPECT_TRUE(due(kContractDay).empty());  // nothing before the day
  auto reports = due(kContractDay + kDaySeconds);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].domain, "example.com");
  EXPECT_EQ(reports[0].day, kContractDay);
  EXPECT_EQ(reports[0].policy, dmarc_entry("example.com", "x").policy);
  ASSERT_EQ(reports[0].rows.size(), 2u);
  EXPECT_EQ(reports[0].rows[0].first, dmarc_entry("example.com", "192.0.2.1").row);
  EXPECT_EQ(reports[0].rows[0].second, 2u);
  EXPECT_EQ(reports[0].rows[1].first, dmarc_entry("example.com", "192.0.2.2").row);
  EXPECT_EQ(reports[0].rows[1].second, 1u);
  EXPECT_EQ(reports[0].overflow, 0u);
  EXPECT_EQ(reports[1].domain, "example.org");
  EXPECT_EQ(due(kContractDay + 2 * kDaySeconds).size(), 3u);
  reopen(3);  // durable
  auto again = due(kContractDay + 2 * kDaySeconds);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].rows, reports[0].rows);
  EXPECT_EQ(again[2].day, kContractDay + kDaySeconds);
}

TEST_P(DmarcLogContract, DistinctRowsBoundedAtNThenOverflow) {
  // N = 3 distinct rows are kept; the 4th distinct row only counts as overflow, while an already
  // kept row still counts normally.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2." + std::to_string(i)), kContractDay));
  }
  auto at_n = due(kContractDay + kDaySeconds);
  ASSERT_EQ(at_n.size(), 1u);
  EXPECT_EQ(at_n[0].rows.size(), 3u);
  EXPECT_EQ(at_n[0].overflow, 0u);
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.9"), kContractDay));
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.9"), kContractDay));
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.0"), kContractDay));
  auto over = due(kContractDay + kDaySeconds);
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].rows.size(), 3u);
  EXPECT_EQ(over[0].overflow, 2u);
  EXPECT_EQ(over[0].rows[0].second, 2u);
  // The bound is per domain: another domain still gets its rows.
  ASSERT_TRUE(record(dmarc_entry("example.org", "192.0.2.9"), kContractDay));
  auto both = due(kContractDay + kDaySeconds);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1].rows.size(), 1u);
}

TEST_P(DmarcLogContract, MarkSentThenPrune) {
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.1"), kContractDay));
  ASSERT_TRUE(record(dmarc_entry("example.org", "192.0.2.1"), kContractDay));
  ASSERT_TRUE(mark_sent("example.com", kContractDay));
  auto missing = mark_sent("example.net", kContractDay);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  auto left = due(kContractDay + kDaySeconds);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].domain, "example.org");
  auto pruned = prune(kContractDay + kDaySeconds);
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(*pruned, 1u);  // the sent one; the unsent one is kept
  EXPECT_EQ(due(kContractDay + kDaySeconds).size(), 1u);
  auto pruned_report = mark_sent("example.com", kContractDay);  // pruned: gone
  ASSERT_FALSE(pruned_report);
  EXPECT_EQ(pruned_report.error().code, Errc::kNotFound);
}

TEST_P(DmarcLogContract, RecordAfterSentStartsANewReport) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2." + std::to_string(i)), kContractDay));
  }
  ASSERT_EQ(due(kContractDay + kDaySeconds).at(0).overflow, 1u);
  ASSERT_TRUE(mark_sent("example.com", kContractDay));
  EXPECT_TRUE(due(kContractDay + kDaySeconds).empty());
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.1"), kContractDay + 100));
  auto again = due(kContractDay + kDaySeconds);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_EQ(again[0].rows.size(), 1u);  // the old rows and overflow are gone
  EXPECT_EQ(again[0].rows[0].second, 1u);
  EXPECT_EQ(again[0].overflow, 0u);
  // The restarted report has the whole bound again.
  for (int i = 5; i < 9; ++i) {
    ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2." + std::to_string(i)), kContractDay + 200));
  }
  auto full = due(kContractDay + kDaySeconds);
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full[0].rows.size(), 3u);
  EXPECT_EQ(full[0].overflow, 2u);
}

TEST_P(DmarcLogContract, PrunesAfterSevenDays) {
  ASSERT_TRUE(record(dmarc_entry("example.com", "192.0.2.1"), kContractDay));
  ASSERT_TRUE(record(dmarc_entry("example.org", "192.0.2.1"), kContractDay + kDaySeconds));
  // At 7 days the oldest is kept; one day later it goes.
  auto kept = prune(kContractDay + 7 * kDaySeconds);
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, 0u);
  auto gone = prune(kContractDay + 8 * kDaySeconds);
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, 1u);
  auto left = due(kContractDay + 10 * kDaySeconds);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].domain, "example.org");
  EXPECT_EQ(left[0].rows.size(), 1u);
}

TEST_P(DmarcLogContract, TheLatestPublishedPolicyIsReported) {
  auto first = dmarc_entry("example.com", "192.0.2.1");
  ASSERT_TRUE(record(first, kContractDay));
  auto changed = first;
  changed.policy.p = "none";
  changed.policy.rua = {"mailto:other@example.com"};
  ASSERT_TRUE(record(changed, kContractDay + 60));
  auto reports = due(kContractDay + kDaySeconds);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].policy, changed.policy);
  ASSERT_EQ(reports[0].rows.size(), 1u);
  EXPECT_EQ(reports[0].rows[0].second, 2u);  // the row is the same
}

TEST_P(DmarcLogContract, LongAndNonAsciiRowsRoundTrip) {
  // Ten DKIM results with long domains (a row text of several kilobytes) and UTF-8 identifiers.
  auto e = dmarc_entry("bücher.example", "2001:db8::1");
  e.row.dkim.clear();
  for (int i = 0; i < 10; ++i) {
    e.row.dkim.push_back({std::string(240, char('a' + i)) + ".example", "sel" + std::to_string(i), "fail"});
  }
  e.row.envelope_from = "straße.example";
  ASSERT_TRUE(record(e, kContractDay));
  ASSERT_TRUE(record(e, kContractDay + 1));
  auto other = e;
  other.row.dkim.back().result = "pass";  // differs only at the end
  ASSERT_TRUE(record(other, kContractDay + 2));
  auto reports = due(kContractDay + kDaySeconds);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].domain, "bücher.example");
  ASSERT_EQ(reports[0].rows.size(), 2u);
  EXPECT_EQ(reports[0].rows[0].first, e.row);
  EXPECT_EQ(reports[0].rows[0].second, 2u);
  EXPECT_EQ(reports[0].rows[1].first, other.row);
}

}  // namespace posthorn::msgauth::contract
