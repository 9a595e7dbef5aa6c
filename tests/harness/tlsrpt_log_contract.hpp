// The behavioural suite of a queue::TlsReportLog, run on every backend (issue 20: one
// parameterised suite, not a copy): counts per policy and failure per UTC day, due() before a day,
// durable across reopening, mark_sent() and a report started again after it, policies of one
// domain kept apart, long policies. A backend's test file defines a TlsRptLogBackend and
// instantiates the suite:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, TlsRptLogContract,
//                            (backend_values<TlsRptLogBackend, SqliteTlsRptLogBackend>("sqlite")),
//                            backend_name<TlsRptLogParam>);
// Include this header in exactly one source file of a test binary (it defines the tests).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/blocking_pool.hpp"
#include "queue/tls_report.hpp"
#include "tests/harness/backend_context.hpp"
#include "tests/harness/drive.hpp"

namespace posthorn::queue::contract {

// One backend's data (a file, a database) for one test.
class TlsRptLogBackend {
 public:
  virtual ~TlsRptLogBackend() = default;
  // Opens a log on this data; after the previous log was destroyed, the same data again.
  virtual Result<std::unique_ptr<TlsReportLog>> open() = 0;
};

using TlsRptLogParam = posthorn::testing::BackendParamOf<TlsRptLogBackend>;

inline constexpr int64_t kTlsDay = 86400;
inline constexpr int64_t kTlsDay0 = 1795737600;  // 2026-11-27 00:00 UTC

// A session under `domain`'s STS policy: a success when `result` is empty.
inline TlsSession tls_session(std::string domain, std::string result = "", std::string mx = "mx.a.test") {
  TlsSession s;
  s.policy = TlsPolicyRef{domain, "sts", {"version: STSv1", "mode: enforce"}, {"mx.a.test"}};
  s.result_type = std::move(result);
  s.mx_host = std::move(mx);
  s.receiving_ip = "192.0.2.1";
  return s;
}

// The log with every call run to completion, so a check reads as one line.
class TlsRptLogContract : public posthorn::testing::OpenedSuite<TlsRptLogBackend, TlsReportLog> {
 protected:
  Result<void> record(TlsSession s, int64_t now) { return run(object_->record(std::move(s), now)); }
  Result<void> mark_sent(std::string domain, int64_t day) { return run(object_->mark_sent(std::move(domain), day)); }
  Result<std::vector<TlsReport>> due(int64_t before) { return run(object_->due(before)); }
};

TEST_P(TlsRptLogContract, CountsSessionsPerPolicyAndFailure) {
  ASSERT_TRUE(record(tls_session("a.test"), kTlsDay0 + 10));
  ASSERT_TRUE(record(tls_session("a.test"), kTlsDay0 + 20));
  ASSERT_TRUE(record(tls_session("a.test", "certificate-expired"), kTlsDay0 + 30));
  ASSERT_TRUE(record(tls_session("a.test", "certificate-expired"), kTlsDay0 + kTlsDay - 1));  // last second of the day
  ASSERT_TRUE(record(tls_session("a.test", "starttls-not-supported", "mx2.a.test"), kTlsDay0 + 40));
  ASSERT_TRUE(record(tls_session("a.test"), kTlsDay0 + kTlsDay));  // the next day
  ASSERT_TRUE(record(tls_session("b.test"), kTlsDay0 + 50));

  auto none = due(kTlsDay0);  // nothing before day 0
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  reopen();  // durable
  auto reports = due(kTlsDay0 + kTlsDay);
  ASSERT_TRUE(reports) << reports.error().message;
  ASSERT_EQ(reports->size(), 2u);
  const auto& a = (*reports)[0];
  EXPECT_EQ(a.domain, "a.test");
  EXPECT_EQ(a.day, kTlsDay0);
  ASSERT_EQ(a.policies.size(), 1u);
  EXPECT_EQ(a.policies[0].policy, tls_session("a.test").policy);
  EXPECT_EQ(a.policies[0].successes, 2u);
  EXPECT_EQ(a.policies[0].failures, 3u);
  ASSERT_EQ(a.policies[0].details.size(), 2u);
  EXPECT_EQ(a.policies[0].details[0], (TlsFailureCount{"certificate-expired", "mx.a.test", "192.0.2.1", 2}));
  EXPECT_EQ(a.policies[0].details[1], (TlsFailureCount{"starttls-not-supported", "mx2.a.test", "192.0.2.1", 1}));
  EXPECT_EQ((*reports)[1].domain, "b.test");

  ASSERT_TRUE(mark_sent("a.test", kTlsDay0));
  reports = due(kTlsDay0 + 2 * kTlsDay);
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 2u);  // b.test day 0 and a.test day 1
  EXPECT_EQ((*reports)[0].domain, "b.test");
  EXPECT_EQ((*reports)[1].domain, "a.test");
  EXPECT_EQ((*reports)[1].day, kTlsDay0 + kTlsDay);
}

TEST_P(TlsRptLogContract, ASessionAfterMarkSentStartsANewReport) {
  ASSERT_TRUE(record(tls_session("a.test", "validation-failure"), kTlsDay0 + 10));
  ASSERT_TRUE(mark_sent("a.test", kTlsDay0));
  ASSERT_TRUE(mark_sent("nothing.test", kTlsDay0));  // nothing to drop: no error
  EXPECT_TRUE(due(kTlsDay0 + kTlsDay)->empty());
  ASSERT_TRUE(record(tls_session("a.test"), kTlsDay0 + 20));
  auto reports = due(kTlsDay0 + kTlsDay);
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 1u);
  ASSERT_EQ((*reports)[0].policies.size(), 1u);
  EXPECT_EQ((*reports)[0].policies[0].successes, 1u);
  EXPECT_EQ((*reports)[0].policies[0].failures, 0u);
  EXPECT_TRUE((*reports)[0].policies[0].details.empty());
}

TEST_P(TlsRptLogContract, PoliciesOfOneDomainAreCountedApart) {
  auto sts = tls_session("a.test");
  auto tlsa = tls_session("a.test", "dane-required");
  tlsa.policy.type = "tlsa";
  tlsa.policy.strings = {"3 1 1 " + std::string(64, 'a')};
  tlsa.policy.mx.clear();
  // A long STS policy (several kilobytes of mx patterns).
  auto long_sts = tls_session("a.test");
  for (int i = 0; i < 200; ++i) long_sts.policy.mx.push_back("mx" + std::to_string(i) + ".a-long-name.a.test");
  ASSERT_TRUE(record(sts, kTlsDay0));
  ASSERT_TRUE(record(tlsa, kTlsDay0 + 1));
  ASSERT_TRUE(record(long_sts, kTlsDay0 + 2));
  ASSERT_TRUE(record(tlsa, kTlsDay0 + 3));
  auto reports = due(kTlsDay0 + kTlsDay);
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 1u);
  const auto& p = (*reports)[0].policies;
  ASSERT_EQ(p.size(), 3u);  // in the order first counted
  EXPECT_EQ(p[0].policy, sts.policy);
  EXPECT_EQ(p[0].successes, 1u);
  EXPECT_EQ(p[1].policy, tlsa.policy);
  EXPECT_EQ(p[1].failures, 2u);
  ASSERT_EQ(p[1].details.size(), 1u);
  EXPECT_EQ(p[1].details[0].count, 2u);
  EXPECT_EQ(p[2].policy, long_sts.policy);
  EXPECT_EQ(p[2].successes, 1u);
}

}  // namespace posthorn::queue::contract
