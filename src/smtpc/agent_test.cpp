// Integration tests of SmtpClient and DeliveryAgent: real sockets on loopback, a real DNS server
// (unbound, LocalDnsServer) with MX records for test domains, and a scriptable Python SMTP receiver
// (testdata/smtp_sink.py) that logs what the client sent. Receivers for one test share a port on
// several loopback addresses (127.0.0.1, 127.0.0.2, ::1), because MX targets cannot carry a port:
// [delivery] port points the agent at it.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/src.hpp>
#include <fstream>
#include <sstream>

#include "dns/local_dns_server.hpp"
#include "smtpc/test_sink.hpp"
#include "dns/unbound_resolver.hpp"
#include "net/tls_context.hpp"
#include "smtpc/agent.hpp"

namespace posthorn::smtpc {
namespace {

using posthorn::smtpc::testing::Sink;

namespace asio = boost::asio;
namespace fs = std::filesystem;

class AgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dns_ = new dns::testing::LocalDnsServer(
        {"ok.test.", "backup.test.", "implicit.test.", "nullmx.test.", "v6.test.", "noaddr.test.", "down.test."},
        {"ok.test. MX 10 mx.ok.test.", "mx.ok.test. A 127.0.0.1", "relay.ok.test. A 127.0.0.1",
         "backup.test. MX 10 dead.backup.test.", "backup.test. MX 20 live.backup.test.",
         "dead.backup.test. A 127.0.0.3", "live.backup.test. A 127.0.0.2",
         "implicit.test. A 127.0.0.1", "nullmx.test. MX 0 .", "v6.test. MX 5 mx.v6.test.",
         "mx.v6.test. AAAA ::1", "noaddr.test. MX 10 ghost.noaddr.test.", "down.test. MX 10 mx.down.test.",
         "mx.down.test. A 127.0.0.3"});
  }
  static void TearDownTestSuite() {
    delete dns_;
    dns_ = nullptr;
  }

  void SetUp() override {
    char tmpl[] = "/tmp/posthorn-smtpc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    cert_ = dir_ / "cert.pem";
    key_ = dir_ / "key.pem";
    ASSERT_TRUE(net::write_self_signed("sink.test", cert_, key_));
    config::Dns d;
    d.resolver = "127.0.0.1";
    d.resolver_port = dns_->port();
    d.timeout = std::chrono::seconds(5);
    resolver_ = *dns::UnboundResolver::create(io_.get_executor(), d);
    settings_.hostname = "client.posthorn.test";
    settings_.connect_timeout = std::chrono::seconds(5);
    settings_.command_timeout = std::chrono::seconds(10);
    settings_.greeting_timeout = std::chrono::seconds(10);
    settings_.connection_idle = std::chrono::seconds(2);
  }

  void TearDown() override {
    if (agent_) {
      run(agent_->close_idle());
      io_.restart();
      io_.run();  // QUIT to pooled connections
    }
    agent_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::unique_ptr<Sink> sink(std::string host, uint16_t port, std::vector<std::string> extra = {}) {
    return std::make_unique<Sink>(dir_, std::move(host), port, std::move(extra));
  }
  std::vector<std::string> tls_args() { return {"--cert", cert_.string(), "--key", key_.string()}; }

  DeliveryAgent& agent(uint16_t port) {
    settings_.port = port;
    auto a = DeliveryAgent::create(io_.get_executor(), resolver_, settings_);
    EXPECT_TRUE(a) << a.error().message;
    agent_ = *a;
    return *agent_;
  }

  template <class T>
  T run(asio::awaitable<T> task) {
    auto f = asio::co_spawn(io_, std::move(task), asio::use_future);
    io_.restart();
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io_.run_one();
    return f.get();
  }
  void run(asio::awaitable<void> task) {
    auto f = asio::co_spawn(io_, std::move(task), asio::use_future);
    io_.restart();
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io_.run_one();
    f.get();
  }

  static DeliveryJob job(std::string domain, std::vector<std::string> rcpts,
                         std::string message = "Subject: hi\r\n\r\nhello\r\n") {
    DeliveryJob j;
    j.domain = domain;
    j.mail.sender = "alice@here.test";
    j.mail.size = message.size();
    for (auto& r : rcpts) j.recipients.push_back(Recipient{r, {}, ""});
    j.message = StringReader::opener(std::move(message), 7);
    return j;
  }

  static dns::testing::LocalDnsServer* dns_;
  asio::io_context io_;
  fs::path dir_;
  fs::path cert_;
  fs::path key_;
  std::shared_ptr<dns::Resolver> resolver_;
  config::Delivery settings_;
  std::shared_ptr<DeliveryAgent> agent_;
};
dns::testing::LocalDnsServer* AgentTest::dns_ = nullptr;

TEST_F(AgentTest, PipelinedStartTlsDeliveryWithDsnParametersAndPerRecipientOutcomes) {
  auto s = sink("127.0.0.1", 0,
                {"--ehlo", "PIPELINING,8BITMIME,DSN,SIZE 100000,ENHANCEDSTATUSCODES", "--rcpt",
                 "nobody@ok.test=550 5.1.1 <nobody@ok.test>: no such user", "--cert", cert_.string(), "--key",
                 key_.string()});
  auto& a = agent(s->port());
  DeliveryJob j = job("ok.test", {"bob@ok.test", "nobody@ok.test"},
                      "Subject: x\r\n\r\n.leading dot\nbare LF\r\nend");
  j.mail.envid = "Q1";
  const uint64_t size = j.mail.size;
  j.mail.ret = queue::Ret::kHeaders;
  j.recipients[0].notify.failure = true;
  j.recipients[0].orcpt = "rfc822;Bob@ok.test";
  DeliveryOutcome out = run(a.deliver(std::move(j)));
  ASSERT_EQ(out.recipients.size(), 2u);
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_EQ(out.recipients[0].code, 250);
  EXPECT_EQ(out.recipients[0].mx_host, "mx.ok.test");
  EXPECT_EQ(out.recipients[1].disposition, Disposition::kPermanent);
  EXPECT_EQ(out.recipients[1].status, "5.1.1");
  EXPECT_EQ(out.recipients[1].text, "550 5.1.1 <nobody@ok.test>: no such user");
  EXPECT_TRUE(out.tls);
  EXPECT_EQ(out.mx_host, "mx.ok.test");

  auto events = s->events();
  // After STARTTLS: EHLO again, then MAIL with the RCPTs and DATA pipelined behind it.
  bool saw_mail = false;
  for (auto& e : events) {
    if (!e.contains("cmd")) continue;
    const std::string cmd(e.at("cmd").as_string());
    if (cmd.starts_with("MAIL")) {
      saw_mail = true;
      EXPECT_TRUE(e.at("tls").as_bool());
      EXPECT_TRUE(e.at("buffered").as_bool()) << "RCPT/DATA were not pipelined behind MAIL";
      EXPECT_EQ(cmd, "MAIL FROM:<alice@here.test> SIZE=" + std::to_string(size) + " RET=HDRS ENVID=Q1");
    }
  }
  EXPECT_TRUE(saw_mail);
  auto cmds = s->commands();
  EXPECT_NE(std::find(cmds.begin(), cmds.end(), "RCPT TO:<bob@ok.test> NOTIFY=FAILURE ORCPT=rfc822;Bob@ok.test"),
            cmds.end());
  ASSERT_EQ(s->messages().size(), 1u);
  EXPECT_EQ(s->messages()[0], "Subject: x\r\n\r\n..leading dot\r\nbare LF\r\nend\r\n");
}

TEST_F(AgentTest, NoPipeliningNoTlsAndHeloFallback) {
  auto s = sink("127.0.0.1", 0, {"--ehlo", "", "--no-ehlo"});
  auto& a = agent(s->port());
  DeliveryOutcome out = run(a.deliver(job("ok.test", {"bob@ok.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_FALSE(out.tls);
  auto cmds = s->commands();
  ASSERT_GE(cmds.size(), 4u);
  EXPECT_EQ(cmds[0], "EHLO client.posthorn.test");
  EXPECT_EQ(cmds[1], "HELO client.posthorn.test");
  EXPECT_EQ(cmds[2], "MAIL FROM:<alice@here.test>");  // no SIZE without EHLO
  for (auto& e : s->events()) {
    if (e.contains("cmd") && e.at("cmd").as_string().starts_with("MAIL")) {
      EXPECT_FALSE(e.at("buffered").as_bool());
    }
  }
}

TEST_F(AgentTest, ChunkingUsesBdat) {
  auto s = sink("127.0.0.1", 0, {"--ehlo", "PIPELINING,CHUNKING"});
  auto& a = agent(s->port());
  std::string big = "Subject: big\r\n\r\n";
  for (int i = 0; i < 20000; ++i) big += ".line " + std::to_string(i) + "\n";
  DeliveryOutcome out = run(a.deliver(job("ok.test", {"bob@ok.test"}, big)));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  ASSERT_EQ(s->messages().size(), 1u);
  const std::string got = s->messages()[0];
  EXPECT_EQ(got.substr(0, 30), "Subject: big\r\n\r\n.line 0\r\n.line");  // BDAT: no dot-stuffing
  EXPECT_TRUE(got.ends_with(".line 19999\r\n"));
  EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 20002);
  EXPECT_EQ(std::count(got.begin(), got.end(), '\r'), 20002);
}

TEST_F(AgentTest, BackupMxWhenThePrimaryIsDownAndIpv6) {
  auto live = sink("127.0.0.2", 0);
  auto v6 = sink("::1", live->port());
  auto& a = agent(live->port());
  DeliveryOutcome out = run(a.deliver(job("backup.test", {"bob@backup.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_EQ(out.mx_host, "live.backup.test");
  EXPECT_EQ(out.remote_ip, "127.0.0.2");
  DeliveryOutcome six = run(a.deliver(job("v6.test", {"bob@v6.test"})));
  EXPECT_EQ(six.recipients[0].disposition, Disposition::kDelivered) << six.recipients[0].text;
  EXPECT_EQ(six.remote_ip, "::1");
  EXPECT_EQ(v6->messages().size(), 1u);
}

TEST_F(AgentTest, ImplicitMxFromTheDomainsAddress) {
  auto s = sink("127.0.0.1", 0);
  auto& a = agent(s->port());
  DeliveryOutcome out = run(a.deliver(job("implicit.test", {"bob@implicit.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_EQ(out.mx_host, "implicit.test");
}

TEST_F(AgentTest, DnsOutcomes) {
  auto& a = agent(1);
  struct Case {
    const char* domain;
    Disposition disposition;
    const char* status;
  } cases[] = {{"nullmx.test", Disposition::kPermanent, "5.1.10"},
               {"nosuch.test", Disposition::kPermanent, "5.1.2"},
               {"servfail.test", Disposition::kTemporary, "4.4.3"},
               {"noaddr.test", Disposition::kPermanent, "5.4.4"},
               {"down.test", Disposition::kTemporary, "4.4.1"}};
  for (const auto& c : cases) {
    DeliveryOutcome out = run(a.deliver(job(c.domain, {std::string("bob@") + c.domain, "carol@x"})));
    ASSERT_EQ(out.recipients.size(), 2u);
    for (auto& r : out.recipients) {
      EXPECT_EQ(r.disposition, c.disposition) << c.domain << ": " << r.text;
      EXPECT_EQ(r.status, c.status) << c.domain << ": " << r.text;
    }
  }
}

TEST_F(AgentTest, TemporaryAndPermanentReplies) {
  auto s = sink("127.0.0.1", 0, {"--data-reply", "451 4.3.0 try later", "--rcpt", "full@ok.test=452 4.2.2 over quota"});
  auto& a = agent(s->port());
  DeliveryOutcome out = run(a.deliver(job("ok.test", {"bob@ok.test", "full@ok.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kTemporary);
  EXPECT_EQ(out.recipients[0].text, "451 4.3.0 try later");
  EXPECT_EQ(out.recipients[1].disposition, Disposition::kTemporary);
  EXPECT_EQ(out.recipients[1].status, "4.2.2");

  auto refusing = sink("127.0.0.2", 0, {"--greeting", "554 5.7.1 go away"});
  settings_.port = refusing->port();
  auto b = *DeliveryAgent::create(io_.get_executor(), resolver_, settings_);
  DeliveryOutcome refused = run(b->deliver(job("backup.test", {"bob@backup.test"})));
  // dead.backup.test refuses the connection (temporary), live.backup.test says 554: temporary overall.
  EXPECT_EQ(refused.recipients[0].disposition, Disposition::kTemporary) << refused.recipients[0].text;
  EXPECT_EQ(refused.recipients[0].status, "4.4.1");
  EXPECT_NE(refused.recipients[0].text.find("554 5.7.1 go away"), std::string::npos) << refused.recipients[0].text;
}

TEST_F(AgentTest, AllRecipientsRejectedMeansNoData) {
  auto s = sink("127.0.0.1", 0, {"--rcpt", "a@ok.test=550 5.1.1 no", "--rcpt", "b@ok.test=550 5.1.1 no"});
  auto& a = agent(s->port());
  DeliveryOutcome out = run(a.deliver(job("ok.test", {"a@ok.test", "b@ok.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kPermanent);
  EXPECT_EQ(out.recipients[1].disposition, Disposition::kPermanent);
  EXPECT_TRUE(s->messages().empty());
  auto cmds = s->commands();
  EXPECT_NE(std::find(cmds.begin(), cmds.end(), "RSET"), cmds.end());
}

TEST_F(AgentTest, SizeLimitAtNAndNPlusOne) {
  const std::string msg = "Subject: s\r\n\r\n0123456789\r\n";  // 26 bytes
  auto s = sink("127.0.0.1", 0, {"--ehlo", "SIZE " + std::to_string(msg.size())});
  auto& a = agent(s->port());
  DeliveryOutcome fits = run(a.deliver(job("ok.test", {"bob@ok.test"}, msg)));
  EXPECT_EQ(fits.recipients[0].disposition, Disposition::kDelivered) << fits.recipients[0].text;
  DeliveryOutcome too_big = run(a.deliver(job("ok.test", {"bob@ok.test"}, msg + "x")));
  EXPECT_EQ(too_big.recipients[0].disposition, Disposition::kPermanent);
  EXPECT_EQ(too_big.recipients[0].status, "5.3.4");
}

TEST_F(AgentTest, Smtputf8NeededButNotOffered) {
  auto s = sink("127.0.0.1", 0);
  auto& a = agent(s->port());
  DeliveryOutcome out = run(a.deliver(job("ok.test", {"j\xc3\xb6rg@ok.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kPermanent);
  EXPECT_EQ(out.recipients[0].status, "5.6.7");
}

TEST_F(AgentTest, ConnectionReuseUpToMaxMessagesPerConnection) {
  auto s = sink("127.0.0.1", 0);
  settings_.max_messages_per_connection = 2;
  auto& a = agent(s->port());
  // N = 2 messages: one connection.
  for (int i = 0; i < 2; ++i) {
    auto out = run(a.deliver(job("ok.test", {"bob@ok.test"})));
    EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered);
    EXPECT_EQ(out.reused_connection, i == 1);
  }
  EXPECT_EQ(s->connections(), 1);
  // N + 1: a second connection.
  auto out = run(a.deliver(job("ok.test", {"bob@ok.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered);
  EXPECT_FALSE(out.reused_connection);
  EXPECT_EQ(s->connections(), 2);
  EXPECT_EQ(s->messages().size(), 3u);
  EXPECT_EQ(a.stats().messages_sent, 3u);
  EXPECT_EQ(a.stats().connections_reused, 1u);
}

asio::awaitable<void> deliver_many(DeliveryAgent& a, int n, int* delivered) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::future<DeliveryOutcome>> futures;
  for (int i = 0; i < n; ++i) {
    DeliveryJob j;
    j.domain = "ok.test";
    j.mail.sender = "alice@here.test";
    j.recipients.push_back(Recipient{"bob@ok.test", {}, ""});
    j.message = StringReader::opener("Subject: c\r\n\r\nhi\r\n");
    futures.push_back(asio::co_spawn(ex, a.deliver(std::move(j)), asio::use_future));
  }
  asio::steady_timer t(ex);
  for (auto& f : futures) {
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      t.expires_after(std::chrono::milliseconds(10));
      co_await t.async_wait(asio::use_awaitable);
    }
    *delivered += f.get().recipients[0].disposition == Disposition::kDelivered;
  }
}

TEST_F(AgentTest, ConcurrencyLimitPerDestination) {
  auto s = sink("127.0.0.1", 0);
  settings_.max_connections_per_destination = 2;
  settings_.connection_idle = std::chrono::seconds(0);  // no pooling: every job connects
  auto& a = agent(s->port());
  int delivered = 0;
  run(deliver_many(a, 6, &delivered));
  EXPECT_EQ(delivered, 6);
  EXPECT_EQ(s->connections(), 6);
  EXPECT_EQ(s->max_open(), 2);  // N = 2 at once, never N + 1
}

TEST_F(AgentTest, FailedStartTlsHandshakeMovesOnOrFallsBack) {
  auto s = sink("127.0.0.1", 0, {"--cert", cert_.string(), "--key", key_.string(), "--broken-tls"});
  auto& a = agent(s->port());
  DeliveryOutcome out = run(a.deliver(job("ok.test", {"bob@ok.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kTemporary);
  EXPECT_EQ(out.recipients[0].status, "4.7.5") << out.recipients[0].text;
  EXPECT_TRUE(s->messages().empty());

  settings_.tls_fallback_plaintext = true;
  auto& b = agent(s->port());
  DeliveryOutcome fallback = run(b.deliver(job("ok.test", {"bob@ok.test"})));
  EXPECT_EQ(fallback.recipients[0].disposition, Disposition::kDelivered) << fallback.recipients[0].text;
  EXPECT_FALSE(fallback.tls);
  EXPECT_EQ(s->messages().size(), 1u);
}

TEST_F(AgentTest, SmarthostImplicitTlsWithAuth) {
  auto s = sink("127.0.0.1", 0,
                {"--implicit-tls", "--cert", cert_.string(), "--key", key_.string(), "--auth", "relay:s3cret"});
  settings_.smarthost.host = "127.0.0.1";
  settings_.smarthost.port = s->port();
  settings_.smarthost.tls = config::SmarthostTls::kImplicit;
  settings_.smarthost.username = "relay";
  settings_.smarthost.password = "s3cret";
  settings_.smarthost.verify_certificate = false;
  auto& a = agent(1);
  DeliveryOutcome out = run(a.deliver(job("anywhere.example", {"x@anywhere.example"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_TRUE(out.tls);
  ASSERT_EQ(s->messages().size(), 1u);

  settings_.smarthost.password = "wrong";
  auto& b = agent(1);
  DeliveryOutcome denied = run(b.deliver(job("anywhere.example", {"x@anywhere.example"})));
  EXPECT_EQ(denied.recipients[0].disposition, Disposition::kTemporary) << denied.recipients[0].text;
  EXPECT_EQ(denied.recipients[0].status, "4.7.0");
}

TEST_F(AgentTest, SmarthostStartTlsVerifiesTheCertificate) {
  auto s = sink("127.0.0.1", 0, {"--cert", cert_.string(), "--key", key_.string(), "--auth", "u:p"});
  settings_.smarthost.port = s->port();
  settings_.smarthost.tls = config::SmarthostTls::kStartTls;
  settings_.smarthost.username = "u";
  settings_.smarthost.password = "p";
  settings_.smarthost.ca_file = cert_;  // trusted, and it names sink.test, localhost, 127.0.0.1 and ::1
  // The name relay.ok.test is not in the certificate: the handshake fails, nothing is sent.
  settings_.smarthost.host = "relay.ok.test";
  auto& a = agent(1);
  DeliveryOutcome out = run(a.deliver(job("anywhere.example", {"x@anywhere.example"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kTemporary) << out.recipients[0].text;
  EXPECT_EQ(out.recipients[0].status, "4.7.5") << out.recipients[0].text;
  EXPECT_TRUE(s->messages().empty());
  // 127.0.0.1 is in the certificate: verified, delivered over TLS with AUTH.
  settings_.smarthost.host = "127.0.0.1";
  auto& b = agent(1);
  DeliveryOutcome ok = run(b.deliver(job("anywhere.example", {"x@anywhere.example"})));
  EXPECT_EQ(ok.recipients[0].disposition, Disposition::kDelivered) << ok.recipients[0].text;
  EXPECT_TRUE(ok.tls);
  // Without verification the name does not matter.
  settings_.smarthost.host = "relay.ok.test";
  settings_.smarthost.verify_certificate = false;
  auto& c = agent(1);
  DeliveryOutcome unverified = run(c.deliver(job("anywhere.example", {"x@anywhere.example"})));
  EXPECT_EQ(unverified.recipients[0].disposition, Disposition::kDelivered) << unverified.recipients[0].text;
  EXPECT_EQ(s->messages().size(), 2u);
  for (auto& e : s->events()) {
    if (e.contains("cmd") && e.at("cmd").as_string().starts_with("AUTH")) {
      EXPECT_TRUE(e.at("tls").as_bool());  // credentials never in the clear
    }
  }
}

TEST_F(AgentTest, SmarthostWithoutStartTlsIsRefused) {
  auto s = sink("127.0.0.1", 0);
  settings_.smarthost.host = "127.0.0.1";
  settings_.smarthost.port = s->port();
  auto& a = agent(1);
  DeliveryOutcome out = run(a.deliver(job("anywhere.example", {"x@anywhere.example"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kTemporary);
  EXPECT_EQ(out.recipients[0].status, "4.7.4") << out.recipients[0].text;
  EXPECT_TRUE(s->messages().empty());
}

TEST_F(AgentTest, InteroperatesWithAiosmtpdRequiringStartTls) {
  const fs::path out = dir_ / "aiosmtpd.jsonl";
  Sink s({"/usr/bin/python3", POSTHORN_SMTPC_TESTDATA "/aiosmtpd_sink.py", "--cert", cert_.string(), "--key",
          key_.string(), "--out", out.string()},
         out);
  auto& a = agent(s.port());
  DeliveryOutcome o = run(a.deliver(job("ok.test", {"bob@ok.test", "carol@ok.test"}, "Subject: interop\r\n\r\n.dot\r\n")));
  ASSERT_EQ(o.recipients.size(), 2u);
  EXPECT_EQ(o.recipients[0].disposition, Disposition::kDelivered) << o.recipients[0].text;
  EXPECT_EQ(o.recipients[1].disposition, Disposition::kDelivered) << o.recipients[1].text;
  EXPECT_TRUE(o.tls);
  auto events = s.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].at("tls").as_bool());
  EXPECT_EQ(events[0].at("from").as_string(), "alice@here.test");
  EXPECT_EQ(events[0].at("to").as_array().size(), 2u);
  EXPECT_EQ(events[0].at("data").as_string(), "Subject: interop\r\n\r\n.dot\r\n");  // un-stuffed by the server
}

TEST_F(AgentTest, IdlePooledConnectionIsClosedWithQuit) {
  auto s = sink("127.0.0.1", 0);
  settings_.connection_idle = std::chrono::seconds(1);
  auto& a = agent(s->port());
  auto out = run(a.deliver(job("ok.test", {"bob@ok.test"})));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered);
  ASSERT_FALSE(s->commands().empty());
  EXPECT_NE(s->commands().back(), "QUIT");  // kept in the pool after the delivery
  // Past connection_idle the pool says goodbye: run the loop until the QUIT arrives (at most 10 s).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (s->commands().back() != "QUIT" && std::chrono::steady_clock::now() < deadline) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
  }
  auto cmds = s->commands();
  EXPECT_EQ(cmds.back(), "QUIT");
  EXPECT_EQ(s->max_open(), 1);
  // The sink logs the close just after the QUIT reply: wait for it (up to 3 s).
  bool closed = false;
  for (int i = 0; i < 30 && !closed; ++i) {
    auto events = s->events();
    closed = events.back().contains("event") && events.back().at("event").as_string() == "close";
    if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(closed);
}

// A reader that fails after the first chunk.
class FailingReader final : public MessageReader {
 public:
  asio::awaitable<Result<std::string>> read() override {
    if (calls_++ == 0) co_return std::string("Subject: partial\r\n\r\nfirst part\r\n");
    co_return make_error(Errc::kInternal, "disk read failed");
  }

 private:
  int calls_ = 0;
};

TEST_F(AgentTest, UnreadableMessageIsNeverEndedWithADot) {
  auto s = sink("127.0.0.1", 0);
  auto& a = agent(s->port());
  DeliveryJob j = job("ok.test", {"bob@ok.test"});
  j.message = []() -> Result<std::unique_ptr<MessageReader>> { return std::unique_ptr<MessageReader>(new FailingReader); };
  auto out = run(a.deliver(std::move(j)));
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kTemporary);
  EXPECT_EQ(out.recipients[0].status, "4.3.0") << out.recipients[0].text;
  io_.restart();
  io_.run_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(s->messages().empty());  // the server saw the connection drop, not a message
}

TEST_F(AgentTest, GlobalConnectionLimit) {
  auto s = sink("127.0.0.1", 0);
  settings_.max_connections = 1;
  settings_.max_connections_per_destination = 5;
  settings_.connection_idle = std::chrono::seconds(0);
  auto& a = agent(s->port());
  int delivered = 0;
  run(deliver_many(a, 3, &delivered));
  EXPECT_EQ(delivered, 3);
  EXPECT_EQ(s->max_open(), 1);
}

}  // namespace
}  // namespace posthorn::smtpc
