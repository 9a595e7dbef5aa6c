// Tests of the queue runner with real parts only: SqliteQueue and SqliteMailStore in a temporary
// folder, the in-memory Directory of the harness, a private unbound (LocalDnsServer) with MX records
// for the test domains, the real DeliveryAgent, and smtpc's scripted receiver (smtp_sink.py) that
// accepts, rejects (5xx) or defers (4xx) each recipient as told. The clock is the `now` passed to
// process(), so expiry and the delay notice are tested without waiting; the loop test uses the real
// clock.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/src.hpp>

#include "dns/local_dns_server.hpp"
#include "dns/unbound_resolver.hpp"
#include "mime/message.hpp"
#include "delivery/queue_runner.hpp"
#include "smtpc/test_sink.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "store/sqlite/sqlite_queue.hpp"
#include "base/run_sync.hpp"
#include "tests/harness/harness.hpp"

namespace posthorn::delivery {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using posthorn::smtpc::testing::Sink;
using queue::RecipientState;
using namespace std::chrono_literals;

constexpr const char* kUser = "demo@example.test";

class QueueRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dns_ = new dns::testing::LocalDnsServer(
        {"ok.test.", "down.test.", "nullmx.test."},
        {"ok.test. MX 10 mx.ok.test.", "mx.ok.test. A 127.0.0.1", "down.test. MX 10 mx.down.test.",
         "mx.down.test. A 127.0.0.3", "nullmx.test. MX 0 ."});
  }
  static void TearDownTestSuite() {
    delete dns_;
    dns_ = nullptr;
  }

  QueueRunnerTest() {
    harness_.add_user(kUser, "secret password");
    auto store = store::sqlite::SqliteMailStore::open(harness_.config()->data_dir, harness_.pool());
    if (!store) throw std::runtime_error(store.error().message);
    store_ = std::move(*store);
    auto q = store::sqlite::SqliteQueue::open(harness_.config()->data_dir, harness_.pool());
    if (!q) throw std::runtime_error(q.error().message);
    queue_ = std::move(*q);
    dir_ = harness_.config()->data_dir.parent_path();
  }

  ~QueueRunnerTest() override {
    if (agent_) run(agent_->close_idle());
  }

  // The sink on 127.0.0.1 (mx.ok.test); extra: its options ("--rcpt", "bad@ok.test=550 5.1.1 no").
  void start_sink(std::vector<std::string> extra = {}) { sink_ = std::make_unique<Sink>(dir_, "127.0.0.1", 0, extra); }

  QueueRunner& runner(config::Delivery delivery = {}) {
    auto cfg = std::make_shared<config::Config>(*harness_.config());
    delivery.hostname = "out.example.test";
    delivery.port = sink_ ? sink_->port() : 9;
    delivery.ipv6 = false;
    delivery.connect_timeout = 5s;
    delivery.connection_idle = 0s;
    cfg->delivery = delivery;
    config_ = cfg;
    config::Dns d;
    d.resolver = "127.0.0.1";
    d.resolver_port = dns_->port();
    d.timeout = 5s;
    auto resolver = dns::UnboundResolver::create(harness_.io().get_executor(), d);
    EXPECT_TRUE(resolver);
    auto agent = smtpc::DeliveryAgent::create(harness_.io().get_executor(), *resolver, cfg->delivery);
    EXPECT_TRUE(agent);
    agent_ = *agent;
    RunnerContext ctx;
    ctx.config = [cfg] { return std::shared_ptr<const config::Config>(cfg); };
    ctx.queue = queue_.get();
    ctx.agent = agent_;
    ctx.store = store_.get();
    ctx.directory = &harness_.directory();
    runner_ = QueueRunner::create(harness_.io().get_executor(), std::move(ctx), RunnerOptions{200ms, 100});
    return *runner_;
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    return asio::co_spawn(harness_.io(), std::move(op), asio::use_future).get();
  }
  void run(asio::awaitable<void> op) { asio::co_spawn(harness_.io(), std::move(op), asio::use_future).get(); }

  std::string enqueue(std::string sender, std::vector<std::string> rcpts, bool is_bounce = false) {
    queue::NewEntry e;
    e.sender = std::move(sender);
    for (auto& r : rcpts) e.recipients.push_back({r, RecipientState::kPending, "", 0, 0, ""});
    e.message = message_;
    e.is_bounce = is_bounce;
    e.envid = "env-42";
    auto id = run_sync(queue_->enqueue(std::move(e)));
    EXPECT_TRUE(id);
    return *id;
  }

  queue::Entry entry(const std::string& id) {
    auto e = run_sync(queue_->get(id));
    EXPECT_TRUE(e) << id;
    return *e;
  }

  EntryReport process(const std::string& id, SysTime now) { return run(runner_->process(entry(id), now)); }

  std::vector<std::string> inbox() {
    auto account = run_sync(harness_.directory().find_account(kUser));
    auto a = run(store_->account(account->id, store::Limits{}));
    auto box = run((*a)->open("INBOX"));
    auto view = run((*box)->select(false));
    std::vector<std::string> out;
    for (const auto& m : view->messages) {
      auto blob = run((*box)->open_message(m.uid));
      out.push_back(*(*blob)->read_blocking(0, (*blob)->size()));
    }
    return out;
  }

  // The retry schedule of a test.
  static config::Delivery schedule(std::chrono::seconds retry_min, std::chrono::seconds retry_max,
                                   std::chrono::seconds lifetime, std::chrono::seconds delay_notice) {
    config::Delivery d;
    d.retry_min = retry_min;
    d.retry_max = retry_max;
    d.lifetime = lifetime;
    d.delay_notice = delay_notice;
    return d;
  }

  static SysTime at(int64_t unix_seconds) { return SysTime(std::chrono::seconds(unix_seconds)); }

  static dns::testing::LocalDnsServer* dns_;
  posthorn::testing::Harness harness_;
  fs::path dir_;
  std::unique_ptr<store::sqlite::SqliteMailStore> store_;
  std::unique_ptr<store::sqlite::SqliteQueue> queue_;
  std::unique_ptr<Sink> sink_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<smtpc::DeliveryAgent> agent_;
  std::shared_ptr<QueueRunner> runner_;
  std::string message_ =
      "From: demo@example.test\r\nTo: someone@ok.test\r\nSubject: runner test\r\nMessage-ID: <m1@example.test>\r\n"
      "\r\nline one\r\n.leading dot\r\n";
};
dns::testing::LocalDnsServer* QueueRunnerTest::dns_ = nullptr;

// Multipart/report with a delivery-status part naming each address; returns the DSN's text.
std::string dsn_text(const std::string& stored) {
  EXPECT_NE(stored.find("Return-Path: <>"), std::string::npos);
  EXPECT_NE(stored.find("multipart/report"), std::string::npos);
  EXPECT_NE(stored.find("report-type=delivery-status"), std::string::npos);
  EXPECT_NE(stored.find("Auto-Submitted: auto-replied"), std::string::npos);
  return stored;
}

TEST_F(QueueRunnerTest, DeliversEveryRecipientOfADomainInOneTransactionAndRemovesTheEntry) {
  start_sink();
  runner();
  const std::string id = enqueue(kUser, {"a@ok.test", "b@OK.test"});
  auto report = process(id, std::chrono::system_clock::now());
  EXPECT_EQ(report.delivered, 2u);
  EXPECT_EQ(report.failed + report.deferred + report.dsns, 0u);
  EXPECT_TRUE(report.removed);
  EXPECT_EQ(run_sync(queue_->get(id)).error().code, Errc::kNotFound);
  auto messages = sink_->messages();
  ASSERT_EQ(messages.size(), 1u);
  // The bytes arrive as spooled (the receiver logs the wire form: dot-stuffed).
  EXPECT_NE(messages[0].find("line one\r\n..leading dot\r\n"), std::string::npos);
  auto commands = sink_->commands();
  EXPECT_EQ(std::count_if(commands.begin(), commands.end(), [](const std::string& c) { return c.starts_with("RCPT"); }), 2);
  EXPECT_NE(std::find(commands.begin(), commands.end(), "MAIL FROM:<demo@example.test>"),
            commands.end());
  EXPECT_TRUE(inbox().empty());
}

TEST_F(QueueRunnerTest, PermanentFailuresGiveOneBounceInTheLocalSendersInbox) {
  start_sink({"--rcpt", "bad@ok.test=550 5.1.1 no such user", "--rcpt", "worse@ok.test=554 5.7.1 go away"});
  runner();
  const std::string id = enqueue(kUser, {"good@ok.test", "bad@ok.test", "worse@ok.test", "x@nullmx.test"});
  auto report = process(id, std::chrono::system_clock::now());
  EXPECT_EQ(report.delivered, 1u);
  EXPECT_EQ(report.failed, 3u);
  EXPECT_EQ(report.dsns, 1u);
  EXPECT_TRUE(report.removed);
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  const std::string dsn = dsn_text(box[0]);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; bad@ok.test"), std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; worse@ok.test"), std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; x@nullmx.test"), std::string::npos);
  EXPECT_EQ(dsn.find("Final-Recipient: rfc822; good@ok.test"), std::string::npos);
  EXPECT_NE(dsn.find("Status: 5.1.1"), std::string::npos);
  EXPECT_NE(dsn.find("Status: 5.1.10"), std::string::npos);
  EXPECT_NE(dsn.find("Remote-MTA: dns; mx.ok.test"), std::string::npos);
  EXPECT_NE(dsn.find("550 5.1.1 no such user"), std::string::npos);
  EXPECT_NE(dsn.find("Original-Envelope-Id: env-42"), std::string::npos);
  EXPECT_NE(dsn.find("Subject: runner test"), std::string::npos);
  EXPECT_TRUE(run(runner_->run_due(std::chrono::system_clock::now() + 1h)) == 0u);
  EXPECT_EQ(inbox().size(), 1u);
}

TEST_F(QueueRunnerTest, ARemoteSenderGetsTheBounceThroughTheQueueFromTheNullSender) {
  start_sink({"--rcpt", "bad@ok.test=550 5.1.1 no such user"});
  runner();
  const std::string id = enqueue("alice@ok.test", {"bad@ok.test"});
  auto report = process(id, std::chrono::system_clock::now());
  EXPECT_EQ(report.dsns, 1u);
  EXPECT_TRUE(report.removed);
  auto all = run_sync(queue_->list());
  ASSERT_EQ(all->size(), 1u);
  const auto& bounce = all->front();
  EXPECT_EQ(bounce.sender, "");
  EXPECT_TRUE(bounce.is_bounce);
  ASSERT_EQ(bounce.recipients.size(), 1u);
  EXPECT_EQ(bounce.recipients[0].address, "alice@ok.test");
  // It is delivered from <> like any other entry.
  auto sent = process(bounce.id, std::chrono::system_clock::now());
  EXPECT_EQ(sent.delivered, 1u);
  auto commands = sink_->commands();
  EXPECT_NE(std::find(commands.begin(), commands.end(), "MAIL FROM:<>"), commands.end());
}

TEST_F(QueueRunnerTest, ABounceThatFailsIsNeverBounced) {
  start_sink({"--rcpt", "alice@ok.test=550 5.1.1 no such user"});
  runner();
  const std::string id = enqueue("", {"alice@ok.test"}, true);
  auto report = process(id, std::chrono::system_clock::now());
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.dsns, 0u);
  EXPECT_TRUE(report.removed);
  EXPECT_TRUE(run_sync(queue_->list())->empty());
  EXPECT_TRUE(inbox().empty());
}

TEST_F(QueueRunnerTest, TemporaryFailuresBackOffThenExpireWithOneBounce) {
  start_sink({"--rcpt", "later@ok.test=451 4.3.0 try later"});
  runner(schedule(60s, 600s, 3600s, 0s));
  const std::string id = enqueue(kUser, {"later@ok.test", "x@down.test"});
  const int64_t created = entry(id).created;
  auto first = process(id, at(created));
  EXPECT_EQ(first.deferred, 2u);
  EXPECT_EQ(first.dsns, 0u);
  EXPECT_FALSE(first.removed);
  auto e = entry(id);
  EXPECT_EQ(e.next_attempt, created + 60);
  EXPECT_EQ(e.recipients[0].attempts, 1u);
  EXPECT_NE(e.recipients[0].last_error.find("451 4.3.0 try later"), std::string::npos);
  EXPECT_EQ(e.recipients[1].state, RecipientState::kPending);
  // Not due before its time; the second failure doubles the wait.
  EXPECT_EQ(run(runner_->run_due(at(created + 59))), 0u);
  process(id, at(created + 60));
  EXPECT_EQ(entry(id).next_attempt, created + 60 + 120);
  EXPECT_TRUE(inbox().empty());
  // A failure at the end of the lifetime expires it: one bounce for both.
  auto last = process(id, at(created + 3600));
  EXPECT_EQ(last.failed, 2u);
  EXPECT_EQ(last.dsns, 1u);
  EXPECT_TRUE(last.removed);
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  EXPECT_NE(box[0].find("Final-Recipient: rfc822; later@ok.test"), std::string::npos);
  EXPECT_NE(box[0].find("Final-Recipient: rfc822; x@down.test"), std::string::npos);
  EXPECT_NE(box[0].find("Action: failed"), std::string::npos);
  EXPECT_NE(box[0].find("Status: 4.3.0"), std::string::npos);
}

TEST_F(QueueRunnerTest, OneDelayNoticeAfterDelayNoticeThenTheBounce) {
  runner(schedule(60s, 3600s, 86400s, 4 * 3600s));  // no sink: mx.down.test refuses
  const std::string id = enqueue(kUser, {"x@down.test"});
  const int64_t created = entry(id).created;
  // At N - 1 s: no notice yet.
  auto early = process(id, at(created + 4 * 3600 - 1));
  EXPECT_EQ(early.dsns, 0u);
  EXPECT_FALSE(entry(id).delay_notified);
  // At N: the notice.
  auto notice = process(id, at(created + 4 * 3600));
  EXPECT_EQ(notice.dsns, 1u);
  EXPECT_TRUE(entry(id).delay_notified);
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  EXPECT_NE(box[0].find("Action: delayed"), std::string::npos);
  EXPECT_NE(box[0].find("Will-Retry-Until:"), std::string::npos);
  // Never a second one.
  EXPECT_EQ(process(id, at(created + 5 * 3600)).dsns, 0u);
  EXPECT_EQ(inbox().size(), 1u);
  // Then the bounce at expiry.
  auto expired = process(id, at(created + 86400));
  EXPECT_EQ(expired.dsns, 1u);
  EXPECT_TRUE(expired.removed);
  ASSERT_EQ(inbox().size(), 2u);
  EXPECT_NE(inbox()[1].find("Action: failed"), std::string::npos);
}

TEST_F(QueueRunnerTest, APartialFailureIsReportedOnceAndTheRestRetried) {
  start_sink({"--rcpt", "bad@ok.test=550 5.1.1 no such user"});
  runner(schedule(60s, 3600s, 3600s, 0s));
  const std::string id = enqueue(kUser, {"bad@ok.test", "x@down.test"});
  const int64_t created = entry(id).created;
  auto first = process(id, at(created));
  EXPECT_EQ(first.failed, 1u);
  EXPECT_EQ(first.deferred, 1u);
  EXPECT_EQ(first.dsns, 1u);
  auto e = entry(id);
  EXPECT_TRUE(e.recipients[0].reported);
  EXPECT_FALSE(e.bounce_needed);
  // The expiry bounce names only the recipient not reported yet.
  auto last = process(id, at(created + 3600));
  EXPECT_EQ(last.dsns, 1u);
  EXPECT_TRUE(last.removed);
  auto box = inbox();
  ASSERT_EQ(box.size(), 2u);
  EXPECT_NE(box[0].find("rfc822; bad@ok.test"), std::string::npos);
  EXPECT_EQ(box[0].find("rfc822; x@down.test"), std::string::npos);
  EXPECT_EQ(box[1].find("rfc822; bad@ok.test"), std::string::npos);
  EXPECT_NE(box[1].find("rfc822; x@down.test"), std::string::npos);
}

TEST_F(QueueRunnerTest, NotifyNeverAndSuccessOnlyGetNoBounce) {
  start_sink({"--rcpt", "bad@ok.test=550 5.1.1 no such user", "--rcpt", "worse@ok.test=550 5.1.1 no"});
  runner();
  queue::NewEntry e;
  e.sender = kUser;
  e.recipients.push_back({"bad@ok.test", RecipientState::kPending, "", 0, 1, ""});    // NOTIFY=NEVER
  e.recipients.push_back({"worse@ok.test", RecipientState::kPending, "", 0, 2, ""});  // NOTIFY=SUCCESS
  e.message = message_;
  auto id = run_sync(queue_->enqueue(std::move(e)));
  auto report = process(*id, std::chrono::system_clock::now());
  EXPECT_EQ(report.failed, 2u);
  EXPECT_EQ(report.dsns, 0u);
  EXPECT_TRUE(report.removed);
  EXPECT_TRUE(inbox().empty());
}

// NOTIFY=SUCCESS to a server without DSN: a "relayed" notice [RFC 3461 §5.2.2] with the header only;
// the recipient without NOTIFY gets none.
TEST_F(QueueRunnerTest, SuccessToAServerWithoutDsnGivesARelayedNotice) {
  start_sink();  // EHLO: PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES; no DSN
  runner();
  queue::NewEntry e;
  e.sender = kUser;
  e.envid = "env-7";
  e.recipients.push_back({"a@ok.test", RecipientState::kPending, "", 0, 2 | 4, "rfc822;a@ok.test"});  // SUCCESS,FAILURE
  e.recipients.push_back({"b@ok.test", RecipientState::kPending, "", 0, 0, ""});
  e.message = message_;
  auto id = run_sync(queue_->enqueue(std::move(e)));
  auto report = process(*id, std::chrono::system_clock::now());
  EXPECT_EQ(report.delivered, 2u);
  EXPECT_EQ(report.dsns, 1u);
  EXPECT_TRUE(report.removed);
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  const std::string dsn = dsn_text(box[0]);
  EXPECT_NE(dsn.find("Subject: Successful Mail Delivery Report\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Action: relayed\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Status: 2.0.0\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Original-Recipient: rfc822;a@ok.test\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; a@ok.test\r\n"), std::string::npos);
  EXPECT_EQ(dsn.find("b@ok.test"), std::string::npos);
  EXPECT_NE(dsn.find("Original-Envelope-Id: env-7"), std::string::npos);
  EXPECT_NE(dsn.find("text/rfc822-headers"), std::string::npos);  // the header only: RET not FULL
  EXPECT_EQ(dsn.find(".leading dot"), std::string::npos);
}

// A server that offers DSN got NOTIFY=SUCCESS along with the recipient: the notice is its job.
TEST_F(QueueRunnerTest, SuccessToAServerWithDsnIsPassedOn) {
  start_sink({"--ehlo", "PIPELINING,8BITMIME,ENHANCEDSTATUSCODES,DSN"});
  runner();
  queue::NewEntry e;
  e.sender = kUser;
  e.recipients.push_back({"a@ok.test", RecipientState::kPending, "", 0, 2, ""});
  e.message = message_;
  auto id = run_sync(queue_->enqueue(std::move(e)));
  auto report = process(*id, std::chrono::system_clock::now());
  EXPECT_EQ(report.delivered, 1u);
  EXPECT_EQ(report.dsns, 0u);
  EXPECT_TRUE(inbox().empty());
  auto commands = sink_->commands();
  EXPECT_NE(std::find(commands.begin(), commands.end(), "RCPT TO:<a@ok.test> NOTIFY=SUCCESS"), commands.end());
}

// The SMTP session records recipients that failed locally with bounce_needed; the runner sends it.
TEST_F(QueueRunnerTest, BounceNeededAtEnqueueIsSent) {
  runner();
  queue::NewEntry e;
  e.sender = kUser;
  e.recipients.push_back({"full@example.test", RecipientState::kFailed, "552 5.2.2 mailbox full", 1, 0,
                          "rfc822;full@example.test"});
  e.message = message_;
  e.bounce_needed = true;
  auto id = run_sync(queue_->enqueue(std::move(e)));
  EXPECT_EQ(run(runner_->run_due(std::chrono::system_clock::now())), 1u);
  EXPECT_EQ(run_sync(queue_->get(*id)).error().code, Errc::kNotFound);
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  EXPECT_NE(box[0].find("Status: 5.2.2"), std::string::npos);
  EXPECT_NE(box[0].find("Original-Recipient: rfc822;full@example.test"), std::string::npos);
}

// A bounce for a local sender whose mailbox is gone is dropped, never bounced in turn.
TEST_F(QueueRunnerTest, BounceForAnUnknownLocalSenderIsDropped) {
  start_sink({"--rcpt", "bad@ok.test=550 5.1.1 no such user"});
  runner();
  const std::string id = enqueue("ghost@example.test", {"bad@ok.test"});
  auto report = process(id, std::chrono::system_clock::now());
  EXPECT_TRUE(report.removed);
  EXPECT_TRUE(run_sync(queue_->list())->empty());
}

// The sender's mailbox is over quota: the bounce is retried, and given up after the queue lifetime.
TEST_F(QueueRunnerTest, ABounceThatCannotBeStoredIsDroppedAfterTheLifetime) {
  start_sink({"--rcpt", "bad@ok.test=550 5.1.1 no such user"});
  runner(schedule(60s, 60s, 3600s, 600s));
  ASSERT_TRUE(run_sync(harness_.directory().set_quota(kUser, 10)));
  const std::string id = enqueue(kUser, {"bad@ok.test"});
  const SysTime t0 = std::chrono::system_clock::now();
  auto report = process(id, t0);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.dsns, 0u);
  EXPECT_FALSE(report.removed);
  EXPECT_TRUE(entry(id).bounce_needed);
  report = process(id, t0 + 1800s);  // within the lifetime: kept, tried again later
  EXPECT_FALSE(report.removed);
  report = process(id, t0 + 3700s);
  EXPECT_TRUE(report.removed);
  EXPECT_TRUE(run_sync(queue_->list())->empty());
}

TEST_F(QueueRunnerTest, TheLoopSendsOnWakeAndStops) {
  start_sink();
  runner().start();
  enqueue(kUser, {"a@ok.test"});
  runner_->wake();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sink_->messages().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(sink_->messages().size(), 1u);
  while (!run_sync(queue_->list())->empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(run_sync(queue_->list())->empty());
  // A retry made by another process (here: an entry enqueued without wake()) is found by the poll.
  enqueue(kUser, {"b@ok.test"});
  while (sink_->messages().size() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(sink_->messages().size(), 2u);
  run(runner_->stop(1000ms));
  EXPECT_EQ(runner_->in_flight(), 0u);
}

}  // namespace
}  // namespace posthorn::delivery
