// Tests of dns/: the MX helpers, the table resolver, and UnboundResolver against a real unbound
// server on loopback (LocalDnsServer) with test zones: MX order, null MX, A/AAAA, NXDOMAIN, no data,
// SERVFAIL, REFUSED, timeout, and many lookups at once.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <set>

#include "dns/local_dns_server.hpp"
#include "dns/table_resolver.hpp"
#include "dns/unbound_resolver.hpp"

namespace posthorn::dns {
namespace {

namespace asio = boost::asio;

template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  auto f = asio::co_spawn(io, std::move(task), asio::use_future);
  io.restart();
  io.run();
  return f.get();
}

TEST(WireName, ReadsLabelsAndRejectsMalformed) {
  std::string out;
  size_t pos = 0;
  const std::string wire("\x02Mx\x07" "example\x04test\x00", 17);
  ASSERT_TRUE(read_wire_name(wire, pos, out));
  EXPECT_EQ(out, "mx.example.test");
  EXPECT_EQ(pos, wire.size());
  pos = 0;
  ASSERT_TRUE(read_wire_name(std::string_view("\0", 1), pos, out));
  EXPECT_EQ(out, "");
  pos = 0;
  EXPECT_FALSE(read_wire_name(std::string_view("\x05" "ab", 3), pos, out));  // label runs past the end
  pos = 0;
  EXPECT_FALSE(read_wire_name(std::string_view("\xc0\x0c", 2), pos, out));  // compression pointer
  pos = 0;
  EXPECT_FALSE(read_wire_name(std::string_view("\x02" "ab", 3), pos, out));  // no root label
}

TEST(FinishMx, SortsStablyAndDetectsNullMx) {
  MxAnswer a{Status::kOk, {{20, "b"}, {10, "a1"}, {20, "c"}, {10, "a2"}}, false, false, ""};
  finish_mx(a);
  ASSERT_EQ(a.records.size(), 4u);
  EXPECT_EQ(a.records[0].host, "a1");
  EXPECT_EQ(a.records[1].host, "a2");
  EXPECT_EQ(a.records[2].host, "b");
  EXPECT_FALSE(a.null_mx);

  MxAnswer n{Status::kOk, {{0, ""}}, false, false, ""};
  finish_mx(n);
  EXPECT_TRUE(n.null_mx);

  // A null MX beside a real one is ignored [RFC 7505 §4.3]; preference 10 to "." alone is not null MX.
  MxAnswer mixed{Status::kOk, {{0, ""}, {10, "mx"}}, false, false, ""};
  finish_mx(mixed);
  EXPECT_FALSE(mixed.null_mx);
  ASSERT_EQ(mixed.records.size(), 1u);
  MxAnswer odd{Status::kOk, {{10, ""}}, false, false, ""};
  finish_mx(odd);
  EXPECT_FALSE(odd.null_mx);
  EXPECT_EQ(odd.status, Status::kNoData);
}

TEST(TableResolver, AnswersLikeDns) {
  asio::io_context io;
  TableResolver t;
  t.add_mx("Example.TEST.", 20, "mx2.example.test");
  t.add_mx("example.test", 10, "mx1.example.test.");
  t.add_address("mx1.example.test", "127.0.0.1");
  t.add_address("mx1.example.test", "::1");
  t.add_null_mx("null.test");
  t.fail("broken.test", Status::kTempFail);

  auto mx = run(io, t.mx("example.test"));
  ASSERT_EQ(mx.status, Status::kOk);
  ASSERT_EQ(mx.records.size(), 2u);
  EXPECT_EQ(mx.records[0], (Mx{10, "mx1.example.test"}));
  EXPECT_TRUE(run(io, t.mx("null.test")).null_mx);
  EXPECT_EQ(run(io, t.mx("mx1.example.test")).status, Status::kNoData);
  EXPECT_EQ(run(io, t.mx("nothing.test")).status, Status::kNxDomain);
  EXPECT_EQ(run(io, t.mx("broken.test")).status, Status::kTempFail);
  auto v4 = run(io, t.a("mx1.example.test"));
  ASSERT_EQ(v4.addresses.size(), 1u);
  EXPECT_EQ(v4.addresses[0].to_string(), "127.0.0.1");
  auto v6 = run(io, t.aaaa("MX1.example.test"));
  ASSERT_EQ(v6.addresses.size(), 1u);
  EXPECT_EQ(v6.addresses[0].to_string(), "::1");
  EXPECT_EQ(run(io, t.a("example.test")).status, Status::kNoData);
  EXPECT_EQ(t.log().front(), "MX example.test");
}

TEST(TableResolver, TxtPtrTlsaAndSecure) {
  asio::io_context io;
  TableResolver t;
  t.add_txt("example.test", "v=spf1 -all");
  t.add_ptr("192.0.2.7", "Host.Example.TEST.");
  t.add_tlsa("_25._tcp.mx.example.test", Tlsa{3, 1, 1, std::string("\x01\x02", 2)});
  t.mark_secure("_25._tcp.mx.example.test");
  auto txt = run(io, t.txt("EXAMPLE.test"));
  ASSERT_EQ(txt.status, Status::kOk);
  EXPECT_EQ(txt.records, std::vector<std::string>{"v=spf1 -all"});
  EXPECT_FALSE(txt.secure);
  auto ptr = run(io, t.ptr(asio::ip::make_address("192.0.2.7")));
  ASSERT_EQ(ptr.status, Status::kOk);
  EXPECT_EQ(ptr.names, std::vector<std::string>{"host.example.test"});
  EXPECT_EQ(run(io, t.ptr(asio::ip::make_address("192.0.2.8"))).status, Status::kNxDomain);
  auto tlsa = run(io, t.tlsa("_25._tcp.mx.example.test"));
  ASSERT_EQ(tlsa.status, Status::kOk);
  EXPECT_TRUE(tlsa.secure);
  EXPECT_EQ(tlsa.records.at(0), (Tlsa{3, 1, 1, std::string("\x01\x02", 2)}));
  EXPECT_EQ(run(io, t.mx("example.test")).status, Status::kNoData);
  EXPECT_EQ(t.log().back(), "MX example.test");
}

TEST(ReverseName, V4AndV6) {
  EXPECT_EQ(reverse_name(asio::ip::make_address("192.0.2.7")), "7.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_name(asio::ip::make_address("2001:db8::cb01")),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(TxtRdata, JoinsStringsAndRejectsOverrun) {
  std::string out;
  EXPECT_TRUE(read_txt_rdata(std::string_view("\x03" "abc\x00\x02" "de", 8), out));
  EXPECT_EQ(out, "abcde");
  EXPECT_FALSE(read_txt_rdata(std::string_view("\x05" "abc", 4), out));
  EXPECT_TRUE(read_txt_rdata("", out));
  EXPECT_EQ(out, "");
}

class UnboundTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::LocalDnsServer(
        {"example.test.", "nullmx.test.", "v6only.test.", "many.test.", "3.2.1.in-addr.arpa."},
        {"example.test. MX 20 mx2.example.test.", "example.test. MX 10 mx1.example.test.",
         "example.test. MX 10 mx1b.example.test.", "mx1.example.test. A 127.0.0.1",
         "mx1.example.test. A 127.0.0.2", "mx1.example.test. AAAA ::1", "mx2.example.test. A 127.0.0.3",
         "nullmx.test. MX 0 .", "v6only.test. AAAA 2001:db8::25", "many.test. A 192.0.2.1",
         "example.test. TXT \"v=spf1 \" \"ip4:192.0.2.0/24 -all\"", "4.3.2.1.in-addr.arpa. PTR Host.Example.Test.",
         "_25._tcp.mx1.example.test. TLSA 3 1 1 0102abcd"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  std::shared_ptr<UnboundResolver> resolver(std::chrono::seconds timeout = std::chrono::seconds(10)) {
    config::Dns settings;
    settings.resolver = "127.0.0.1";
    settings.resolver_port = server_->port();
    settings.timeout = timeout;
    auto r = UnboundResolver::create(io_.get_executor(), settings);
    EXPECT_TRUE(r) << r.error().message;
    return *r;
  }

  asio::io_context io_;
  static testing::LocalDnsServer* server_;
};
testing::LocalDnsServer* UnboundTest::server_ = nullptr;

TEST_F(UnboundTest, MxInPreferenceOrder) {
  auto r = resolver();
  auto mx = run(io_, r->mx("Example.Test."));
  ASSERT_EQ(mx.status, Status::kOk) << mx.why;
  ASSERT_EQ(mx.records.size(), 3u);
  EXPECT_EQ(mx.records[0].preference, 10);
  EXPECT_EQ(mx.records[1].preference, 10);
  EXPECT_EQ(mx.records[2], (Mx{20, "mx2.example.test"}));
  EXPECT_FALSE(mx.null_mx);
  EXPECT_FALSE(mx.secure);
}

TEST_F(UnboundTest, NullMx) {
  auto r = resolver();
  auto mx = run(io_, r->mx("nullmx.test"));
  EXPECT_EQ(mx.status, Status::kOk);
  EXPECT_TRUE(mx.null_mx);
}

TEST_F(UnboundTest, AddressesAndNoData) {
  auto r = resolver();
  auto a = run(io_, r->a("mx1.example.test"));
  ASSERT_EQ(a.status, Status::kOk);
  ASSERT_EQ(a.addresses.size(), 2u);
  std::set<std::string> got{a.addresses[0].to_string(), a.addresses[1].to_string()};  // servers rotate RRsets
  EXPECT_EQ(got, (std::set<std::string>{"127.0.0.1", "127.0.0.2"}));
  auto aaaa = run(io_, r->aaaa("mx1.example.test"));
  ASSERT_EQ(aaaa.status, Status::kOk);
  EXPECT_EQ(aaaa.addresses.at(0).to_string(), "::1");
  EXPECT_EQ(run(io_, r->aaaa("mx2.example.test")).status, Status::kNoData);
  EXPECT_EQ(run(io_, r->a("v6only.test")).status, Status::kNoData);
  EXPECT_EQ(run(io_, r->mx("many.test")).status, Status::kNoData);  // no MX: the caller uses A/AAAA
}

TEST_F(UnboundTest, TxtPtrAndTlsa) {
  auto r = resolver();
  auto txt = run(io_, r->txt("example.test"));
  ASSERT_EQ(txt.status, Status::kOk) << txt.why;
  EXPECT_EQ(txt.records, std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all"});  // strings joined
  EXPECT_EQ(run(io_, r->txt("mx1.example.test")).status, Status::kNoData);
  // (libunbound answers the RFC 5737 test networks' reverse zones itself, so a public address here.)
  auto ptr = run(io_, r->ptr(asio::ip::make_address("1.2.3.4")));
  ASSERT_EQ(ptr.status, Status::kOk) << ptr.why;
  EXPECT_EQ(ptr.names, std::vector<std::string>{"host.example.test"});
  EXPECT_EQ(run(io_, r->ptr(asio::ip::make_address("1.2.3.5"))).status, Status::kNxDomain);
  auto tlsa = run(io_, r->tlsa("_25._tcp.mx1.example.test"));
  ASSERT_EQ(tlsa.status, Status::kOk) << tlsa.why;
  EXPECT_EQ(tlsa.records.at(0), (Tlsa{3, 1, 1, std::string("\x01\x02\xab\xcd", 4)}));
  EXPECT_FALSE(tlsa.secure);  // no trust anchor here
}

TEST_F(UnboundTest, NxDomain) {
  auto r = resolver();
  EXPECT_EQ(run(io_, r->mx("nosuch.example.test")).status, Status::kNxDomain);
  EXPECT_EQ(run(io_, r->a("nowhere.test")).status, Status::kNxDomain);
  // Outside every test zone: the static root zone answers, nothing goes to the Internet.
  EXPECT_EQ(run(io_, r->mx("example.com")).status, Status::kNxDomain);
}

TEST_F(UnboundTest, ServfailAndRefusedAreTemporary) {
  auto r = resolver();
  auto s = run(io_, r->mx("servfail.test"));
  EXPECT_EQ(s.status, Status::kTempFail);
  EXPECT_EQ(s.why, "SERVFAIL");
  auto refused = run(io_, r->a("refused.test"));
  EXPECT_EQ(refused.status, Status::kTempFail);
}

TEST_F(UnboundTest, TimeoutIsTemporary) {
  auto r = resolver(std::chrono::seconds(1));
  const auto start = std::chrono::steady_clock::now();
  auto t = run(io_, r->mx("timeout.test"));
  EXPECT_EQ(t.status, Status::kTempFail);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The resolver still works after a cancelled lookup.
  EXPECT_EQ(run(io_, r->mx("example.test")).status, Status::kOk);
}

TEST_F(UnboundTest, ManyConcurrentLookupsOnSeveralThreads) {
  auto r = resolver();
  std::vector<std::future<AddressAnswer>> futures;
  for (int i = 0; i < 200; ++i) {
    futures.push_back(asio::co_spawn(io_, r->a(i % 2 ? "mx1.example.test" : "mx2.example.test"), asio::use_future));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io_.run(); });
  int ok = 0;
  for (auto& f : futures) ok += f.get().status == Status::kOk;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 200);
}

TEST(UnboundCreate, BadSettingsAreErrors) {
  asio::io_context io;
  config::Dns settings;
  settings.trust_anchor_file = "/nonexistent/root.key";
  auto r = UnboundResolver::create(io.get_executor(), settings);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalid);
  // The system resolver configuration is accepted (nothing is queried).
  EXPECT_TRUE(UnboundResolver::create(io.get_executor(), config::Dns{}));
}

}  // namespace
}  // namespace posthorn::dns
