// Tests of the retry schedule and the RFC 3464 DSN builder (parsed back with mime/ to check its shape).
#include <gtest/gtest.h>

#include "mime/message.hpp"
#include "queue/dsn.hpp"
#include "queue/retry.hpp"

namespace posthorn::queue {
namespace {

using namespace std::chrono_literals;

TEST(Retry, BackoffDoublesToTheCap) {
  RetryPolicy p;  // 5 min doubling to 4 h
  EXPECT_EQ(backoff(p, 1), 300s);
  EXPECT_EQ(backoff(p, 2), 600s);
  EXPECT_EQ(backoff(p, 3), 1200s);
  EXPECT_EQ(backoff(p, 6), 9600s);
  EXPECT_EQ(backoff(p, 7), 4h);  // 19200 s capped at 14400 s
  EXPECT_EQ(backoff(p, 1000), 4h);
  EXPECT_EQ(backoff(p, 0), 300s);
}

TEST(Retry, FromConfig) {
  config::Delivery d;
  d.retry_min = 60s;
  d.retry_max = 120s;
  d.lifetime = 3600s;
  d.delay_notice = 0s;
  RetryPolicy p = RetryPolicy::from(d);
  EXPECT_EQ(backoff(p, 1), 60s);
  EXPECT_EQ(backoff(p, 2), 120s);
  EXPECT_EQ(backoff(p, 3), 120s);
}

TEST(Retry, LifetimeAtNAndNPlusOne) {
  RetryPolicy p;
  const SysTime arrival = std::chrono::system_clock::from_time_t(1'700'000'000);
  // One second before the lifetime ends: retried, and the next attempt is clamped to the expiry.
  auto d = after_temporary_failure(p, arrival, 30, arrival + p.lifetime - 1s, true);
  EXPECT_FALSE(d.expired);
  EXPECT_EQ(d.next_attempt, arrival + p.lifetime);
  EXPECT_EQ(d.retry_until, arrival + p.lifetime);
  // At the lifetime: expired.
  EXPECT_TRUE(after_temporary_failure(p, arrival, 31, arrival + p.lifetime, true).expired);
  // Early failure: next attempt after the first backoff.
  auto first = after_temporary_failure(p, arrival, 1, arrival + 10s, false);
  EXPECT_FALSE(first.expired);
  EXPECT_EQ(first.next_attempt, arrival + 10s + 300s);
}

TEST(Retry, DelayNoticeOnceAfterFourHours) {
  RetryPolicy p;
  const SysTime arrival = std::chrono::system_clock::from_time_t(1'700'000'000);
  EXPECT_FALSE(after_temporary_failure(p, arrival, 5, arrival + 4h - 1s, false).send_delay_notice);
  EXPECT_TRUE(after_temporary_failure(p, arrival, 6, arrival + 4h, false).send_delay_notice);
  EXPECT_FALSE(after_temporary_failure(p, arrival, 7, arrival + 5h, true).send_delay_notice);  // already sent
  p.delay_notice = 0s;
  EXPECT_FALSE(after_temporary_failure(p, arrival, 7, arrival + 5h, false).send_delay_notice);  // disabled
}

TEST(Dsn, NoticesAreNeverSentForBounces) {
  EXPECT_TRUE(is_bounce(""));
  EXPECT_FALSE(is_bounce("a@b.test"));
  Notify none;
  EXPECT_FALSE(wants_notice("", none, Action::kFailed));
  EXPECT_TRUE(wants_notice("a@b.test", none, Action::kFailed));
  EXPECT_TRUE(wants_notice("a@b.test", none, Action::kDelayed));
  EXPECT_FALSE(wants_notice("a@b.test", none, Action::kDelivered));
  Notify never;
  never.never = true;
  EXPECT_FALSE(wants_notice("a@b.test", never, Action::kFailed));
  Notify success;
  success.success = true;
  EXPECT_TRUE(wants_notice("a@b.test", success, Action::kRelayed));
  EXPECT_FALSE(wants_notice("a@b.test", success, Action::kFailed));
  EXPECT_FALSE(wants_notice("a@b.test", success, Action::kDelayed));
}

const std::string kOriginal =
    "From: alice@here.test\r\nTo: bob@there.test\r\nSubject: hello\r\nMessage-ID: <m1@here.test>\r\n\r\n"
    "Body line one\r\nBody line two with bare LF\nend\r\n";

DsnInput failed_input() {
  DsnInput in;
  in.reporting_mta = "mail.here.test";
  in.to = "alice@here.test";
  in.envelope_id = "QQ314159";
  in.arrival = std::chrono::system_clock::from_time_t(1'795'700'000);
  in.now = std::chrono::system_clock::from_time_t(1'795'756'511);
  DsnRecipient r;
  r.final_recipient = "bob@there.test";
  r.original_recipient = "rfc822;Bob@There.test";
  r.action = Action::kFailed;
  r.status = "5.1.1";
  r.remote_mta = "mx.there.test";
  r.diagnostic = "550 5.1.1 <bob@there.test>: no such user\r\n";
  r.last_attempt = in.now;
  in.recipients.push_back(r);
  in.original = kOriginal;
  return in;
}

std::string body_of(const std::string& msg, const mime::Part& p) { return msg.substr(p.body_offset, p.body_size); }

TEST(Dsn, FailureReportWithFullMessage) {
  DsnInput in = failed_input();
  Dsn d = build_dsn(in);
  EXPECT_EQ(d.envelope_from, "");
  EXPECT_EQ(d.envelope_to, "alice@here.test");
  EXPECT_FALSE(d.eight_bit);
  const std::string& m = d.message;
  EXPECT_NE(m.find("Auto-Submitted: auto-replied\r\n"), std::string::npos);
  EXPECT_NE(m.find("Subject: Undelivered Mail Returned to Sender\r\n"), std::string::npos);
  EXPECT_NE(m.find("From: Mail Delivery System <MAILER-DAEMON@mail.here.test>\r\n"), std::string::npos);
  // No bare CR or LF anywhere (the original had a bare LF; the diagnostic had a CRLF).
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n') {
      ASSERT_TRUE(i > 0 && m[i - 1] == '\r') << i;
    }
    if (m[i] == '\r') {
      ASSERT_TRUE(i + 1 < m.size() && m[i + 1] == '\n') << i;
    }
  }
  mime::Part root = mime::parse_message(m);
  ASSERT_EQ(root.content_type.type, "multipart");
  EXPECT_EQ(root.content_type.subtype, "report");
  ASSERT_NE(root.content_type.param("report-type"), nullptr);
  EXPECT_EQ(*root.content_type.param("report-type"), "delivery-status");
  ASSERT_EQ(root.children.size(), 3u);
  EXPECT_EQ(root.children[0].content_type.subtype, "plain");
  EXPECT_EQ(root.children[1].content_type.type + "/" + root.children[1].content_type.subtype,
            "message/delivery-status");
  EXPECT_EQ(root.children[2].content_type.type + "/" + root.children[2].content_type.subtype, "message/rfc822");
  const std::string status = body_of(m, root.children[1]);
  EXPECT_NE(status.find("Reporting-MTA: dns; mail.here.test\r\n"), std::string::npos);
  EXPECT_NE(status.find("Original-Envelope-Id: QQ314159\r\n"), std::string::npos);
  EXPECT_NE(status.find("Arrival-Date: "), std::string::npos);
  EXPECT_NE(status.find("\r\n\r\nOriginal-Recipient: rfc822;Bob@There.test\r\n"
                        "Final-Recipient: rfc822; bob@there.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                        "Remote-MTA: dns; mx.there.test\r\n"
                        "Diagnostic-Code: smtp; 550 5.1.1 <bob@there.test>: no such user\r\n"
                        "Last-Attempt-Date: Fri, 27 Nov 2026 05:15:11 +0000\r\n"),
            std::string::npos)
      << status;
  EXPECT_NE(body_of(m, root.children[2]).find("Body line two with bare LF\r\nend\r\n"), std::string::npos);
}

void check_headers_only(const Dsn& d) {
  mime::Part root = mime::parse_message(d.message);
  ASSERT_EQ(root.children.size(), 3u);
  EXPECT_EQ(root.children[2].content_type.subtype, "rfc822-headers");
  EXPECT_EQ(d.message.find("Body line one"), std::string::npos);
  EXPECT_NE(d.message.find("Subject: hello\r\n"), std::string::npos);
}

TEST(Dsn, HeadersOnlyForRetHdrsDelaysAndLargeMessages) {
  DsnInput in = failed_input();
  in.ret = Ret::kHeaders;
  check_headers_only(build_dsn(in));

  DsnInput delayed = failed_input();
  delayed.ret = Ret::kFull;
  delayed.recipients[0].action = Action::kDelayed;
  delayed.recipients[0].status = "4.4.1";
  delayed.recipients[0].will_retry_until = delayed.arrival + std::chrono::hours(120);
  Dsn d = build_dsn(delayed);
  check_headers_only(d);
  EXPECT_NE(d.message.find("Subject: Delayed Mail (still being retried)\r\n"), std::string::npos);
  EXPECT_NE(d.message.find("Action: delayed\r\n"), std::string::npos);
  EXPECT_NE(d.message.find("Will-Retry-Until: "), std::string::npos);

  // max_returned_bytes at N (the whole message goes back) and N-1 (headers only).
  DsnInput big = failed_input();
  big.max_returned_bytes = kOriginal.size();
  EXPECT_NE(build_dsn(big).message.find("Body line one"), std::string::npos);
  big.max_returned_bytes = kOriginal.size() - 1;
  Dsn trimmed = build_dsn(big);
  check_headers_only(trimmed);
  EXPECT_NE(trimmed.message.find("too large to return in full"), std::string::npos);
}

TEST(Dsn, EightBitOriginalIsMarked) {
  DsnInput in = failed_input();
  const std::string original = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
  in.original = original;
  Dsn d = build_dsn(in);
  EXPECT_TRUE(d.eight_bit);
  EXPECT_NE(d.message.find("Content-Transfer-Encoding: 8bit\r\n"), std::string::npos);
}

TEST(Dsn, SuccessReport) {
  DsnInput in = failed_input();
  in.recipients[0].action = Action::kRelayed;
  in.recipients[0].status = "2.0.0";
  Dsn d = build_dsn(in);
  EXPECT_NE(d.message.find("Subject: Successful Mail Delivery Report\r\n"), std::string::npos);
  EXPECT_NE(d.message.find("Action: relayed\r\n"), std::string::npos);
  check_headers_only(d);  // a success report returns the header unless RET=FULL
  in.ret = Ret::kFull;
  EXPECT_NE(build_dsn(in).message.find("Body line one"), std::string::npos);
}

}  // namespace
}  // namespace posthorn::queue

namespace posthorn::queue {
namespace {

TEST(Dsn, NotifyBitsAndRetAsTheQueueStoresThem) {
  EXPECT_FALSE(notify_from_bits(0).given());
  EXPECT_TRUE(notify_from_bits(1).never);
  EXPECT_EQ(notify_from_bits(2 | 8), (Notify{false, true, false, true}));
  EXPECT_EQ(notify_from_bits(4), (Notify{false, false, true, false}));
  EXPECT_EQ(ret_from("FULL"), Ret::kFull);
  EXPECT_EQ(ret_from("HDRS"), Ret::kHeaders);
  EXPECT_EQ(ret_from(""), Ret::kUnspecified);
}

}  // namespace
}  // namespace posthorn::queue
