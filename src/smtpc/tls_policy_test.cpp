// Tests of the outbound TLS policy: DANE [RFC 7672] and MTA-STS [RFC 8461]. The delivery agent runs
// against real TLS receivers (testdata/smtp_sink.py) and a real HTTPS policy server
// (testdata/sts_server.py) whose certificates come from a test CA made by testdata/make_certs.py;
// MX, A, TXT and TLSA records come from a TableResolver that marks answers DNSSEC-secure or not.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>

#include "dns/table_resolver.hpp"
#include "smtpc/agent.hpp"
#include "smtpc/dane.hpp"
#include "smtpc/mta_sts.hpp"
#include "smtpc/test_sink.hpp"

namespace posthorn::smtpc {
namespace {

using posthorn::smtpc::testing::Sink;
namespace asio = boost::asio;
namespace fs = std::filesystem;

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += char(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

class TlsPolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/posthorn-dane-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    certs_ = new fs::path(tmpl);
    const std::string cmd = "/usr/bin/python3 " POSTHORN_SMTPC_TESTDATA "/make_certs.py " + certs_->string() +
                            " --name mx.dane.test --name mx2.dane.test --name mx.sts.test --name mta-sts.sts.test";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::ifstream f(*certs_ / "digests.json");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto v = boost::json::parse(text).as_object();
    digests_ = new std::map<std::string, std::string>;
    for (auto& [k, d] : v) (*digests_)[std::string(k)] = unhex(std::string(d.as_string()));
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*certs_, ignored);
    delete certs_;
    delete digests_;
  }

  void SetUp() override {
    char tmpl[] = "/tmp/posthorn-dane-run-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    reset();
  }
  // Fresh DNS (dane.test MX 10 mx.dane.test, 127.0.0.1, all secure) and settings.
  void reset() {
    resolver_ = std::make_shared<dns::TableResolver>();
    resolver_->add_mx("dane.test", 10, "mx.dane.test");
    resolver_->add_address("mx.dane.test", "127.0.0.1");
    resolver_->mark_secure("dane.test");
    resolver_->mark_secure("mx.dane.test");
    // sts.test: MTA-STS, no DNSSEC.
    resolver_->add_mx("sts.test", 10, "mx.sts.test");
    resolver_->add_address("mx.sts.test", "127.0.0.1");
    resolver_->add_address("mta-sts.sts.test", "127.0.0.1");
    settings_ = config::Delivery{};
    settings_.hostname = "client.posthorn.test";
    settings_.ipv6 = false;
    settings_.connect_timeout = std::chrono::seconds(5);
    settings_.command_timeout = std::chrono::seconds(10);
    settings_.greeting_timeout = std::chrono::seconds(10);
    settings_.connection_idle = std::chrono::seconds(0);
    settings_.tls_ca_file = *certs_ / "ca.pem";
    settings_.mta_sts_timeout = std::chrono::seconds(5);
  }

  // Starts an HTTPS policy server for sts.test serving `body` with certificate `cert`; points the
  // agent at its port and publishes "_mta-sts.sts.test TXT v=STSv1; id=<id>".
  std::unique_ptr<Sink> policy_server(const std::string& body, const std::string& id = "1",
                                      std::string cert = "good", std::vector<std::string> extra = {}) {
    static int n = 0;
    const fs::path policy = dir_ / ("policy" + std::to_string(++n) + ".txt");
    write_policy(policy, body);
    const fs::path log = dir_ / ("https" + std::to_string(n) + ".jsonl");
    std::vector<std::string> args = {"/usr/bin/python3", POSTHORN_SMTPC_TESTDATA "/sts_server.py", "--cert",
                                     (*certs_ / (cert + ".pem")).string(), "--key", (*certs_ / (cert + ".key")).string(),
                                     "--policy", policy.string(), "--log", log.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<Sink>(args, log);
    settings_.mta_sts_port = server->port();
    resolver_->add_txt("_mta-sts.sts.test", "v=STSv1; id=" + id);
    policy_file_ = policy;
    return server;
  }
  static void write_policy(const fs::path& file, const std::string& body) {
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f << body;
  }
  // Requests the policy server logged.
  static size_t requests(const Sink& server) { return server.events().size(); }

  static std::string policy(std::string mode, std::string mx = "mx.sts.test", std::string max_age = "86400") {
    return "version: STSv1\r\nmode: " + mode + "\r\nmx: " + mx + "\r\nmax_age: " + max_age + "\r\n";
  }
  void TearDown() override {
    agent_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // A receiver presenting certificate `cert` ("good", "wrong", "expired"; "" = no STARTTLS).
  std::unique_ptr<Sink> sink(std::string cert, std::string host = "127.0.0.1", uint16_t port = 0,
                             std::vector<std::string> extra = {}) {
    if (!cert.empty()) {
      extra.insert(extra.end(), {"--cert", (*certs_ / (cert + ".pem")).string(), "--key",
                                 (*certs_ / (cert + ".key")).string()});
    }
    return std::make_unique<Sink>(dir_, std::move(host), port, std::move(extra));
  }
  // A TLSA record for host with `usage` 2 or 3, SPKI SHA2-256 of `which` ("ca", "good", ...).
  void tlsa(const std::string& host, uint16_t port, uint8_t usage, const std::string& which, bool secure = true) {
    const std::string name = tlsa_name(port, host);
    resolver_->add_tlsa(name, dns::Tlsa{usage, 1, 1, digests_->at(which)});
    if (secure) resolver_->mark_secure(name);
  }

  DeliveryOutcome deliver(uint16_t port, std::string domain = "dane.test") {
    settings_.port = port;
    auto a = DeliveryAgent::create(io_.get_executor(), resolver_, settings_, dir_ / "data");
    EXPECT_TRUE(a) << a.error().message;
    agent_ = *a;
    DeliveryJob j;
    j.domain = domain;
    j.mail.sender = "alice@here.test";
    j.recipients.push_back(Recipient{"bob@" + domain, {}, ""});
    j.message = StringReader::opener("Subject: hi\r\n\r\nhello\r\n");
    auto f = asio::co_spawn(io_, agent_->deliver(std::move(j)), asio::use_future);
    io_.restart();
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io_.run_one();
    return f.get();
  }

  static bool saw_mail(const Sink& s) {
    for (auto& c : s.commands()) {
      if (c.starts_with("MAIL")) return true;
    }
    return false;
  }

  static fs::path* certs_;
  static std::map<std::string, std::string>* digests_;
  asio::io_context io_;
  fs::path dir_;
  std::shared_ptr<dns::TableResolver> resolver_;
  config::Delivery settings_;
  std::shared_ptr<DeliveryAgent> agent_;
  fs::path policy_file_;
};
fs::path* TlsPolicyTest::certs_ = nullptr;
std::map<std::string, std::string>* TlsPolicyTest::digests_ = nullptr;

TEST(DaneRecords, OnlyDaneTaAndDaneEeWithWellFormedDataAreUsable) {
  const std::string d32(32, 'x');
  const std::string d64(64, 'x');
  std::vector<dns::Tlsa> all = {
      {0, 1, 1, d32}, {1, 1, 1, d32},  // PKIX-TA, PKIX-EE: unusable for SMTP
      {2, 1, 1, d32}, {3, 0, 2, d64}, {3, 1, 0, "der"},
      {3, 1, 1, std::string(31, 'x')}, {3, 1, 1, std::string(33, 'x')},  // SHA2-256 is 32 bytes, not 31 or 33
      {3, 2, 1, d32}, {3, 1, 3, d32}, {4, 1, 1, d32}, {3, 1, 0, ""},
  };
  auto usable = usable_tlsa(all);
  ASSERT_EQ(usable.size(), 3u);
  EXPECT_EQ(usable[0], (dns::Tlsa{2, 1, 1, d32}));
  EXPECT_EQ(usable[1], (dns::Tlsa{3, 0, 2, d64}));
  EXPECT_EQ(usable[2], (dns::Tlsa{3, 1, 0, "der"}));
  EXPECT_EQ(tlsa_name(25, "mx.example.com"), "_25._tcp.mx.example.com");
}

TEST_F(TlsPolicyTest, DaneEeMatchDeliversOverAuthenticatedTls) {
  auto s = sink("good");
  tlsa("mx.dane.test", s->port(), 3, "good");
  auto out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_TRUE(out.tls);
  for (auto& e : s->events()) {
    if (e.contains("cmd") && e.at("cmd").as_string().starts_with("MAIL")) {
      EXPECT_TRUE(e.at("tls").as_bool());
    }
  }
}

TEST_F(TlsPolicyTest, DaneEeIgnoresNamesAndDates) {
  // RFC 7672 §3.1.1: a DANE-EE match authenticates the key; the name and the expiry do not matter.
  auto s = sink("expired");
  tlsa("mx.dane.test", s->port(), 3, "expired");
  auto out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  auto w = sink("wrong");
  reset();
  tlsa("mx.dane.test", w->port(), 3, "wrong");
  out = deliver(w->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
}

TEST_F(TlsPolicyTest, DaneEeMismatchIsATemporaryFailureAndNothingIsSent) {
  auto s = sink("good");
  tlsa("mx.dane.test", s->port(), 3, "wrong");
  auto out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kTemporary);
  EXPECT_EQ(out.recipients[0].status, "4.7.5");
  EXPECT_NE(out.recipients[0].text.find("DANE authentication of mx.dane.test[127.0.0.1]"), std::string::npos)
      << out.recipients[0].text;
  EXPECT_FALSE(saw_mail(*s));
}

TEST_F(TlsPolicyTest, DaneTaChecksTheChainAndTheMxName) {
  auto s = sink("good");
  tlsa("mx.dane.test", s->port(), 2, "ca");
  auto out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_TRUE(out.tls);

  // Same CA, but the certificate names another host: refused.
  auto w = sink("wrong");
  reset();
  tlsa("mx.dane.test", w->port(), 2, "ca");
  out = deliver(w->port());
  EXPECT_EQ(out.recipients[0].status, "4.7.5") << out.recipients[0].text;
  EXPECT_NE(out.recipients[0].text.find("hostname mismatch"), std::string::npos) << out.recipients[0].text;
  EXPECT_FALSE(saw_mail(*w));

  // An expired leaf under a DANE-TA anchor is refused too (only DANE-EE ignores dates).
  auto x = sink("expired");
  reset();
  tlsa("mx.dane.test", x->port(), 2, "ca");
  out = deliver(x->port());
  EXPECT_EQ(out.recipients[0].status, "4.7.5") << out.recipients[0].text;
  EXPECT_NE(out.recipients[0].text.find("expired"), std::string::npos) << out.recipients[0].text;
  EXPECT_FALSE(saw_mail(*x));
}

TEST_F(TlsPolicyTest, NoPlaintextWhenDaneApplies) {
  // No STARTTLS offered.
  auto s = sink("");
  tlsa("mx.dane.test", s->port(), 3, "good");
  settings_.tls_fallback_plaintext = true;
  auto out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].status, "4.7.5");
  EXPECT_NE(out.recipients[0].text.find("does not offer STARTTLS"), std::string::npos) << out.recipients[0].text;
  EXPECT_FALSE(saw_mail(*s));

  // A broken handshake is not retried in the clear, even with tls_fallback_plaintext.
  auto b = sink("good", "127.0.0.1", 0, {"--broken-tls"});
  reset();
  settings_.tls_fallback_plaintext = true;
  tlsa("mx.dane.test", b->port(), 3, "good");
  out = deliver(b->port());
  EXPECT_EQ(out.recipients[0].status, "4.7.5") << out.recipients[0].text;
  EXPECT_EQ(b->connections(), 1);
  EXPECT_FALSE(saw_mail(*b));
}

TEST_F(TlsPolicyTest, OnlyUnusableRecordsMeanMandatoryUnauthenticatedTls) {
  auto s = sink("wrong");
  const std::string name = tlsa_name(s->port(), "mx.dane.test");
  resolver_->add_tlsa(name, dns::Tlsa{1, 1, 1, digests_->at("good")});  // PKIX-EE: unusable
  resolver_->mark_secure(name);
  auto out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_TRUE(out.tls);

  auto p = sink("");
  reset();
  const std::string pname = tlsa_name(p->port(), "mx.dane.test");
  resolver_->add_tlsa(pname, dns::Tlsa{1, 1, 1, digests_->at("good")});
  resolver_->mark_secure(pname);
  out = deliver(p->port());
  EXPECT_EQ(out.recipients[0].status, "4.7.5") << out.recipients[0].text;
  EXPECT_FALSE(saw_mail(*p));
}

TEST_F(TlsPolicyTest, InsecureTlsaOrInsecureMxMeansNoDane) {
  auto s = sink("good");
  tlsa("mx.dane.test", s->port(), 3, "wrong", /*secure=*/false);
  auto out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;

  // An insecure MX answer: the TLSA records are not even looked up.
  resolver_ = std::make_shared<dns::TableResolver>();
  resolver_->add_mx("dane.test", 10, "mx.dane.test");
  resolver_->add_address("mx.dane.test", "127.0.0.1");
  resolver_->mark_secure("mx.dane.test");
  tlsa("mx.dane.test", s->port(), 3, "wrong");
  out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  for (auto& l : resolver_->log()) EXPECT_FALSE(l.starts_with("TLSA")) << l;

  // dane = false turns it off.
  reset();
  settings_.dane = false;
  tlsa("mx.dane.test", s->port(), 3, "wrong");
  out = deliver(s->port());
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
}

TEST_F(TlsPolicyTest, FailedTlsaLookupMakesTheHostUnusableAndAuthFailureTriesTheNextMx) {
  auto s1 = sink("good");
  auto s2 = sink("good", "127.0.0.2", s1->port());
  const uint16_t port = s1->port();
  resolver_->add_mx("dane.test", 20, "mx2.dane.test");
  resolver_->add_address("mx2.dane.test", "127.0.0.2");
  resolver_->mark_secure("mx2.dane.test");
  // mx.dane.test: bogus TLSA (a validation failure is a temporary failure of the lookup).
  resolver_->fail(tlsa_name(port, "mx.dane.test"), dns::Status::kTempFail);
  tlsa("mx2.dane.test", port, 3, "good");
  auto out = deliver(port);
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_EQ(out.mx_host, "mx2.dane.test");
  EXPECT_EQ(s1->connections(), 0);  // never connected to the host with the bogus TLSA

  // mx.dane.test fails authentication: the next MX host is tried.
  reset();
  resolver_->add_mx("dane.test", 20, "mx2.dane.test");
  resolver_->add_address("mx2.dane.test", "127.0.0.2");
  resolver_->mark_secure("mx2.dane.test");
  tlsa("mx.dane.test", port, 3, "wrong");
  tlsa("mx2.dane.test", port, 3, "good");
  out = deliver(port);
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_EQ(out.mx_host, "mx2.dane.test");
  EXPECT_EQ(s1->connections(), 1);
  EXPECT_FALSE(saw_mail(*s1));

  // Only the bogus host: 4.7.5, no connection at all.
  reset();
  resolver_->fail(tlsa_name(port, "mx.dane.test"), dns::Status::kTempFail);
  out = deliver(port);
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kTemporary);
  EXPECT_EQ(out.recipients[0].status, "4.7.5");
  EXPECT_NE(out.recipients[0].text.find("TLSA"), std::string::npos) << out.recipients[0].text;
  EXPECT_EQ(s1->connections(), 1);
}

// --- MTA-STS ---

TEST(MtaStsPolicy, ParsesFieldsAndCapsMaxAgeAtNAndNPlusOne) {
  auto p = mta_sts::parse_policy("version: STSv1\r\nmode: enforce\r\nmx: MX1.example.com\r\nmx: *.example.net.\r\n"
                                 "max_age: 31557600\r\nextension: ignored\r\n");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->mode, mta_sts::Mode::kEnforce);
  EXPECT_EQ(p->mx, (std::vector<std::string>{"mx1.example.com", "*.example.net"}));
  EXPECT_EQ(p->max_age, std::chrono::seconds(31557600));
  p = mta_sts::parse_policy("version: STSv1\nmode: testing\nmx: a.test\nmax_age: 31557601\n");  // LF only
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->max_age, mta_sts::kMaxAge);  // capped
  EXPECT_EQ(p->mode, mta_sts::Mode::kTesting);
  p = mta_sts::parse_policy("version: STSv1\nmode: none\nmax_age: 0\n");
  ASSERT_TRUE(p);  // none needs no mx
  EXPECT_EQ(p->mode, mta_sts::Mode::kNone);

  EXPECT_FALSE(mta_sts::parse_policy("mode: enforce\nmx: a.test\nmax_age: 1\n"));                    // no version
  EXPECT_FALSE(mta_sts::parse_policy("version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n"));    // wrong version
  EXPECT_FALSE(mta_sts::parse_policy("version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n"));     // bad mode
  EXPECT_FALSE(mta_sts::parse_policy("version: STSv1\nmode: enforce\nmx: a.test\n"));                // no max_age
  EXPECT_FALSE(mta_sts::parse_policy("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n"));   // negative
  EXPECT_FALSE(mta_sts::parse_policy("version: STSv1\nmode: enforce\nmax_age: 1\n"));                // no mx
  EXPECT_FALSE(mta_sts::parse_policy("version: STSv1\nmode enforce\nmx: a.test\nmax_age: 1\n"));     // no colon
}

TEST(MtaStsPolicy, TxtRecordAndMxPatterns) {
  EXPECT_EQ(mta_sts::parse_txt({"v=STSv1; id=20260101T000000;"}), "20260101T000000");
  EXPECT_EQ(mta_sts::parse_txt({"spf stuff", "v=STSv1;id=abc"}), "abc");
  EXPECT_EQ(mta_sts::parse_txt({"v=STSv1; id=a", "v=STSv1; id=b"}), std::nullopt);  // two records: none
  EXPECT_EQ(mta_sts::parse_txt({"v=STSv1; id=" + std::string(32, 'a')}), std::string(32, 'a'));  // N
  EXPECT_EQ(mta_sts::parse_txt({"v=STSv1; id=" + std::string(33, 'a')}), std::nullopt);          // N+1
  EXPECT_EQ(mta_sts::parse_txt({"v=STSv1; id=a-b"}), std::nullopt);
  EXPECT_EQ(mta_sts::parse_txt({"v=STSv2; id=a"}), std::nullopt);
  EXPECT_EQ(mta_sts::parse_txt({}), std::nullopt);

  EXPECT_TRUE(mta_sts::mx_matches("mx.example.com", "MX.Example.com."));
  EXPECT_TRUE(mta_sts::mx_matches("*.example.com", "mx1.example.com"));
  EXPECT_FALSE(mta_sts::mx_matches("*.example.com", "a.b.example.com"));  // one label only
  EXPECT_FALSE(mta_sts::mx_matches("*.example.com", "example.com"));
  EXPECT_FALSE(mta_sts::mx_matches("mx.example.com", "mx.example.com.evil.test"));
  mta_sts::Policy p;
  p.mx = {"a.test", "*.b.test"};
  EXPECT_TRUE(mta_sts::policy_allows(p, "x.b.test"));
  EXPECT_FALSE(mta_sts::policy_allows(p, "c.test"));
}

TEST_F(TlsPolicyTest, StsEnforceDeliversOverVerifiedTls) {
  auto https = policy_server(policy("enforce"));
  auto s = sink("good");
  auto out = deliver(s->port(), "sts.test");
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_TRUE(out.tls);
  EXPECT_EQ(requests(*https), 1u);
  auto events = https->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("path").as_string(), "/.well-known/mta-sts.txt");
  EXPECT_TRUE(events[0].at("host").as_string().starts_with("mta-sts.sts.test"));
  // Cached on disk, so it survives a restart.
  EXPECT_TRUE(fs::exists(dir_ / "data" / "mta-sts" / "sts.test.policy"));
}

TEST_F(TlsPolicyTest, StsEnforceRefusesBadCertificatesAndPlaintext) {
  auto https = policy_server(policy("enforce"));
  for (std::string cert : {"wrong", "expired", ""}) {
    auto s = sink(cert);
    auto out = deliver(s->port(), "sts.test");
    EXPECT_EQ(out.recipients[0].disposition, Disposition::kTemporary) << cert;
    EXPECT_EQ(out.recipients[0].status, "4.7.5") << cert;
    const std::string expect = cert == "wrong" ? "hostname mismatch" : cert == "expired" ? "expired" : "STARTTLS";
    EXPECT_NE(out.recipients[0].text.find(expect), std::string::npos) << out.recipients[0].text;
    EXPECT_FALSE(saw_mail(*s)) << cert;
  }
  // tls_fallback_plaintext does not apply either.
  auto b = sink("good", "127.0.0.1", 0, {"--broken-tls"});
  settings_.tls_fallback_plaintext = true;
  auto out = deliver(b->port(), "sts.test");
  EXPECT_EQ(out.recipients[0].status, "4.7.5");
  EXPECT_EQ(b->connections(), 1);
  EXPECT_FALSE(saw_mail(*b));
}

TEST_F(TlsPolicyTest, StsEnforceOnlyUsesListedMxHosts) {
  auto https = policy_server(policy("enforce", "*.other.test"));
  auto s = sink("good");
  auto out = deliver(s->port(), "sts.test");
  EXPECT_EQ(out.recipients[0].status, "4.7.5");
  EXPECT_NE(out.recipients[0].text.find("not listed in the MTA-STS policy"), std::string::npos)
      << out.recipients[0].text;
  EXPECT_EQ(s->connections(), 0);

  // A wildcard that matches.
  reset();
  auto https2 = policy_server(policy("enforce", "*.sts.test"), "2");
  out = deliver(s->port(), "sts.test");
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
}

TEST_F(TlsPolicyTest, StsTestingModeDeliversAsBefore) {
  auto https = policy_server(policy("testing", "*.other.test"));
  auto s = sink("wrong");
  auto out = deliver(s->port(), "sts.test");
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_TRUE(out.tls);
  auto p = sink("");
  out = deliver(p->port(), "sts.test");
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  EXPECT_FALSE(out.tls);
}

TEST_F(TlsPolicyTest, DaneTakesPrecedenceOverSts) {
  // mx.sts.test has secure DANE-EE records for its "wrong" certificate: DANE decides, not MTA-STS.
  auto https = policy_server(policy("enforce"));
  resolver_->mark_secure("sts.test");
  resolver_->mark_secure("mx.sts.test");
  auto s = sink("wrong");
  tlsa("mx.sts.test", s->port(), 3, "wrong");
  auto out = deliver(s->port(), "sts.test");
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
}

TEST_F(TlsPolicyTest, StsPolicyIsCachedRefetchedOnIdChangeAndKeptWhenARefreshFails) {
  auto https = policy_server(policy("enforce"), "1");
  auto s = sink("good");
  auto w = sink("wrong");
  EXPECT_EQ(deliver(s->port(), "sts.test").recipients[0].disposition, Disposition::kDelivered);
  EXPECT_EQ(deliver(s->port(), "sts.test").recipients[0].disposition, Disposition::kDelivered);
  EXPECT_EQ(requests(*https), 1u);  // the second delivery (a new agent: from the file) did not fetch

  // The id changes and the new policy is "testing": fetched again and used.
  reset();
  settings_.mta_sts_port = https->port();
  resolver_->add_txt("_mta-sts.sts.test", "v=STSv1; id=2");
  write_policy(policy_file_, policy("testing"));
  EXPECT_EQ(deliver(w->port(), "sts.test").recipients[0].disposition, Disposition::kDelivered);
  EXPECT_EQ(requests(*https), 2u);

  // The id changes again to enforce, but the server is gone: the cached (testing) policy stays.
  reset();
  settings_.mta_sts_port = https->port();
  https.reset();
  resolver_->add_txt("_mta-sts.sts.test", "v=STSv1; id=3");
  EXPECT_EQ(deliver(w->port(), "sts.test").recipients[0].disposition, Disposition::kDelivered);

  // No TXT record at all: the cached policy still applies while valid.
  reset();
  auto https3 = policy_server(policy("enforce"), "4");
  EXPECT_EQ(deliver(w->port(), "sts.test").recipients[0].status, "4.7.5");  // id 4: enforce now
  reset();
  EXPECT_EQ(deliver(w->port(), "sts.test").recipients[0].status, "4.7.5");  // no TXT: cached enforce
}

// --- TLS-RPT sessions in the outcome ---

TEST_F(TlsPolicyTest, OutcomeListsTlsSessionsForTlsRpt) {
  auto good = sink("good");
  auto wrong = sink("wrong");
  auto plain = sink("");
  // No policy: nothing listed.
  auto out = deliver(good->port(), "dane.test");
  EXPECT_TRUE(out.tls_sessions.empty());

  // DANE success, then a DANE mismatch.
  tlsa("mx.dane.test", good->port(), 3, "good");
  out = deliver(good->port());
  ASSERT_EQ(out.tls_sessions.size(), 1u);
  EXPECT_EQ(out.tls_sessions[0].policy.type, "tlsa");
  EXPECT_EQ(out.tls_sessions[0].policy.domain, "dane.test");
  ASSERT_EQ(out.tls_sessions[0].policy.strings.size(), 1u);
  EXPECT_TRUE(out.tls_sessions[0].policy.strings[0].starts_with("3 1 1 ")) << out.tls_sessions[0].policy.strings[0];
  EXPECT_EQ(out.tls_sessions[0].result_type, "");
  EXPECT_EQ(out.tls_sessions[0].mx_host, "mx.dane.test");
  EXPECT_EQ(out.tls_sessions[0].receiving_ip, "127.0.0.1");
  reset();
  tlsa("mx.dane.test", wrong->port(), 3, "good");
  out = deliver(wrong->port());
  ASSERT_EQ(out.tls_sessions.size(), 1u);
  EXPECT_EQ(out.tls_sessions[0].result_type, "validation-failure");
  // A failed TLSA lookup.
  reset();
  resolver_->fail(tlsa_name(good->port(), "mx.dane.test"), dns::Status::kTempFail);
  out = deliver(good->port());
  ASSERT_EQ(out.tls_sessions.size(), 1u);
  EXPECT_EQ(out.tls_sessions[0].result_type, "dnssec-invalid");

  // MTA-STS: a wrong name, then no STARTTLS, then success.
  reset();
  auto https = policy_server(policy("enforce"));
  out = deliver(wrong->port(), "sts.test");
  ASSERT_EQ(out.tls_sessions.size(), 1u);
  EXPECT_EQ(out.tls_sessions[0].policy.type, "sts");
  EXPECT_EQ(out.tls_sessions[0].policy.mx, std::vector<std::string>{"mx.sts.test"});
  EXPECT_EQ(out.tls_sessions[0].policy.strings,
            (std::vector<std::string>{"version: STSv1", "mode: enforce", "mx: mx.sts.test", "max_age: 86400"}));
  EXPECT_EQ(out.tls_sessions[0].result_type, "certificate-host-mismatch");
  out = deliver(plain->port(), "sts.test");
  ASSERT_EQ(out.tls_sessions.size(), 1u);
  EXPECT_EQ(out.tls_sessions[0].result_type, "starttls-not-supported");
  out = deliver(good->port(), "sts.test");
  ASSERT_EQ(out.tls_sessions.size(), 1u);
  EXPECT_EQ(out.tls_sessions[0].result_type, "");

  // Testing mode: delivered, and the certificate problem is reported.
  reset();
  auto https2 = policy_server(policy("testing"), "2");
  auto expired = sink("expired");
  out = deliver(expired->port(), "sts.test");
  EXPECT_EQ(out.recipients[0].disposition, Disposition::kDelivered) << out.recipients[0].text;
  ASSERT_EQ(out.tls_sessions.size(), 1u);
  EXPECT_EQ(out.tls_sessions[0].result_type, "certificate-expired");

  // A policy fetch failure (the server answers 404) is listed once, without an MX host.
  reset();
  std::error_code ignored;
  fs::remove_all(dir_ / "data", ignored);
  auto https3 = policy_server(policy("enforce"), "3", "good", {"--status", "404"});
  out = deliver(good->port(), "sts.test");
  ASSERT_EQ(out.tls_sessions.size(), 1u);
  EXPECT_EQ(out.tls_sessions[0].result_type, "sts-policy-fetch-error");
  EXPECT_EQ(out.tls_sessions[0].mx_host, "");
}

// PolicyStore and the HTTPS fetcher on their own, with an injected clock.
class PolicyStoreTest : public TlsPolicyTest {
 protected:
  mta_sts::Lookup lookup(const std::string& domain) {
    if (!store_) {
      auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
      ctx->load_verify_file((*certs_ / "ca.pem").string());
      auto fetcher = std::make_shared<mta_sts::HttpsPolicyFetcher>(resolver_, ctx, settings_.mta_sts_port,
                                                                   std::chrono::seconds(5), false);
      store_ = std::make_shared<mta_sts::PolicyStore>(resolver_, fetcher, dir_ / "sts", [this] { return now_; });
    }
    auto f = asio::co_spawn(io_, store_->lookup(domain), asio::use_future);
    io_.restart();
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io_.run_one();
    return f.get();
  }
  std::shared_ptr<mta_sts::PolicyStore> store_;
  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::now();
};

TEST_F(PolicyStoreTest, MaxAgeExpiryRefetches) {
  auto https = policy_server(policy("enforce", "mx.sts.test", "3600"));
  auto l = lookup("sts.test");
  ASSERT_TRUE(l.policy) << l.why;
  EXPECT_EQ(l.policy->max_age, std::chrono::seconds(3600));
  now_ += std::chrono::seconds(3599);
  ASSERT_TRUE(lookup("sts.test").policy);
  EXPECT_EQ(store_->fetches(), 1u);
  now_ += std::chrono::seconds(1);  // max_age reached: fetched again
  ASSERT_TRUE(lookup("sts.test").policy);
  EXPECT_EQ(store_->fetches(), 2u);
  EXPECT_EQ(requests(*https), 2u);
}

TEST_F(PolicyStoreTest, BodyLimitAtNAndNPlusOne) {
  std::string body = policy("enforce");
  body += "x: ";
  body += std::string(mta_sts::kMaxBody - body.size() - 1, 'a');
  body += "\n";
  ASSERT_EQ(body.size(), mta_sts::kMaxBody);
  auto https = policy_server(body);
  auto l = lookup("sts.test");
  EXPECT_TRUE(l.policy) << l.why;

  reset();
  store_.reset();
  write_policy(policy_file_, body + "\n");  // 64 KiB + 1
  resolver_->add_txt("_mta-sts.sts.test", "v=STSv1; id=2");
  settings_.mta_sts_port = https->port();
  l = lookup("sts.test");
  EXPECT_EQ(l.failure, "sts-policy-fetch-error");
  EXPECT_NE(l.why.find("larger than 64 KiB"), std::string::npos) << l.why;
  EXPECT_EQ(l.policy->id, "1");  // the cached policy stays
}

TEST_F(PolicyStoreTest, FetchFailures) {
  struct Case {
    std::vector<std::string> extra;
    std::string cert;
    std::string failure;
    std::string why;
  };
  const std::vector<Case> cases = {
      {{"--redirect", "https://elsewhere.test/"}, "good", "sts-policy-fetch-error", "HTTP 301"},
      {{"--status", "404"}, "good", "sts-policy-fetch-error", "HTTP 404"},
      {{"--content-type", "text/html"}, "good", "sts-policy-fetch-error", "not text/plain"},
      {{}, "wrong", "sts-webpki-invalid", "hostname mismatch"},
      {{}, "expired", "sts-webpki-invalid", "expired"},
  };
  for (const auto& c : cases) {
    reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_ / "sts", ignored);
    auto https = policy_server(policy("enforce"), "1", c.cert, c.extra);
    auto l = lookup("sts.test");
    EXPECT_FALSE(l.policy) << c.why;
    EXPECT_EQ(l.failure, c.failure) << c.why;
    EXPECT_NE(l.why.find(c.why), std::string::npos) << l.why;
  }
  // An invalid policy body.
  reset();
  store_.reset();
  auto https = policy_server("version: STSv1\nmode: enforce\n", "9");
  auto l = lookup("sts.test");
  EXPECT_FALSE(l.policy);
  EXPECT_EQ(l.failure, "sts-policy-invalid");
}

}  // namespace
}  // namespace posthorn::smtpc
