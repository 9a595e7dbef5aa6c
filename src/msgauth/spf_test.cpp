// Tests of msgauth/spf: the RFC 7208 test suite scenarios (openspf.org release 2014.04, as shipped
// with pyspf as rfc7208-tests.yml) re-encoded as tables over dns::TableResolver, the macro examples
// of RFC 7208 §7.4, the limits at N and N+1, and a few checks over a real unbound (LocalDnsServer).
// Zone lines are "name|TYPE|data": TXT (a backslash-zero in the data is a NUL byte), A, AAAA,
// MX ("pref host", host empty for a null MX), PTR (name is the address), TIMEOUT (every lookup of
// the name fails temporarily). Where the suite allows two results, both are accepted.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "base/ascii.hpp"
#include "dns/local_dns_server.hpp"
#include "dns/table_resolver.hpp"
#include "dns/unbound_resolver.hpp"
#include "msgauth/spf.hpp"
#include "msgauth/spf_test_util.hpp"

namespace posthorn::msgauth {
namespace {

namespace asio = boost::asio;
using R = SpfResult;

using testing::run;

void load_zone(dns::TableResolver& t, std::string_view zone) {
  for (auto line : ascii::split(zone, '\n')) {
    if (line.empty()) continue;
    const size_t a = line.find('|');
    const size_t b = line.find('|', a + 1);
    ASSERT_NE(a, std::string_view::npos) << line;
    const std::string name(line.substr(0, a));
    const std::string type(line.substr(a + 1, b == std::string_view::npos ? std::string_view::npos : b - a - 1));
    std::string data = b == std::string_view::npos ? std::string() : std::string(line.substr(b + 1));
    if (type == "TXT") {
      for (size_t p; (p = data.find("\\0")) != std::string::npos;) data.replace(p, 2, std::string(1, '\0'));
      t.add_txt(name, data);
    } else if (type == "A" || type == "AAAA") {
      t.add_address(name, data);
    } else if (type == "MX") {
      const size_t sp = data.find(' ');
      const std::string host = data.substr(sp + 1);
      if (host.empty()) {
        t.add_null_mx(name);
      } else {
        t.add_mx(name, uint16_t(std::stoi(data.substr(0, sp))), host);
      }
    } else if (type == "PTR") {
      t.add_ptr(name, data);
    } else if (type == "TIMEOUT") {
      t.fail(name, dns::Status::kTempFail);
    } else {
      FAIL() << "bad zone line " << line;
    }
  }
}

struct Scenario {
  const char* name;
  const char* helo;
  const char* host;
  const char* mailfrom;
  std::vector<R> results;
  const char* explanation = nullptr;  // nullptr: not checked; "": no explanation from the domain
};

void run_suite(std::string_view zone, const std::vector<Scenario>& scenarios) {
  for (const auto& s : scenarios) {
    SCOPED_TRACE(s.name);
    dns::TableResolver resolver;
    load_zone(resolver, zone);
    auto outcome = run(spf_check(resolver, asio::ip::make_address(s.host), s.mailfrom, s.helo, "mx.receiver.test"));
    bool ok = false;
    for (R r : s.results) ok = ok || r == outcome.result;
    EXPECT_TRUE(ok) << s.name << ": got " << spf_result_name(outcome.result) << " (" << outcome.reason << ")";
    if (s.explanation != nullptr) {
      EXPECT_TRUE(ascii::iequals(outcome.explanation, s.explanation)) << s.name << ": explanation '"
                                                                       << outcome.explanation << "'";
    }
  }
}

// ---- RFC 7208 test suite: initial processing, record lookup, record selection ----

TEST(SpfSuite, InitialProcessing) {
  const std::string zone = std::string(R"(example.com|TIMEOUT
example.net|TXT|v=spf1 -all exp=exp.example.net
a.example.net|TXT|v=spf1 -all exp=exp.example.net
exp.example.net|TXT|%{l}
a12345678901234567890123456789012345678901234567890123456789012.example.com|TXT|v=spf1 -all
)") + "hosed.example.com|TXT|v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all\n" +
                           "hosed2.example.com|TXT|v=spf1 \x80" "a:example.net -all\n" +
                           "hosed3.example.com|TXT|v=spf1 a:example.net \x96" "all\n" +
                           "nothosed.example.com|TXT|v=spf1 a:example.net -all\n" +
                           "nothosed.example.com|TXT|\x96\n" +
                           "ctrl.example.com|TXT|v=spf1 a:ctrl.example.com\rptr -all\n" + R"(ctrl.example.com|A|192.0.2.3
fine.example.com|TXT|v=spf1 a  -all
)";
  run_suite(zone, {
      {"toolonglabel", "mail.example.net", "1.2.3.5",
       "lyme.eater@A123456789012345678901234567890123456789012345678901234567890123.example.com", {R::kNone}},
      {"longlabel", "mail.example.net", "1.2.3.5",
       "lyme.eater@A12345678901234567890123456789012345678901234567890123456789012.example.com", {R::kFail}},
      {"emptylabel", "mail.example.net", "1.2.3.5", "lyme.eater@A...example.com", {R::kNone}},
      {"helo-not-fqdn", "A2345678", "1.2.3.5", "", {R::kNone}},
      {"helo-domain-literal", "[1.2.3.5]", "1.2.3.5", "", {R::kNone}},
      {"nolocalpart", "mail.example.net", "1.2.3.4", "@example.net", {R::kFail}, "postmaster"},
      {"domain-literal", "OEMCOMPUTER", "1.2.3.5", "foo@[1.2.3.5]", {R::kNone}},
      {"non-ascii-policy", "hosed", "1.2.3.4", "foobar@hosed.example.com", {R::kPermError}},
      {"non-ascii-mech", "hosed", "1.2.3.4", "foobar@hosed2.example.com", {R::kPermError}},
      {"non-ascii-result", "hosed", "1.2.3.4", "foobar@hosed3.example.com", {R::kPermError}},
      {"non-ascii-non-spf", "hosed", "1.2.3.4", "foobar@nothosed.example.com", {R::kFail}, ""},
      {"control-char-policy", "hosed", "192.0.2.3", "foobar@ctrl.example.com", {R::kPermError}},
      {"two-spaces", "hosed", "1.2.3.4", "actually@fine.example.com", {R::kFail}},
  });
}

TEST(SpfSuite, RecordLookup) {
  // Type SPF records are not looked up (RFC 7208 §3.1); only the TXT side of the suite matters.
  const char* zone = R"(both.example.net|TXT|v=spf1 -all
txtonly.example.net|TXT|v=spf1 -all
spftimeout.example.net|TXT|v=spf1 -all
txttimeout.example.net|TIMEOUT
nospftxttimeout.example.net|TIMEOUT
alltimeout.example.net|TIMEOUT
)";
  run_suite(zone, {
      {"both", "mail.example.net", "1.2.3.4", "foo@both.example.net", {R::kFail}},
      {"txtonly", "mail.example.net", "1.2.3.4", "foo@txtonly.example.net", {R::kFail}},
      {"spfonly", "mail.example.net", "1.2.3.4", "foo@spfonly.example.net", {R::kNone}},
      {"spftimeout", "mail.example.net", "1.2.3.4", "foo@spftimeout.example.net", {R::kFail}},
      {"txttimeout", "mail.example.net", "1.2.3.4", "foo@txttimeout.example.net", {R::kTempError}},
      {"nospftxttimeout", "mail.example.net", "1.2.3.4", "foo@nospftxttimeout.example.net", {R::kTempError}},
      {"alltimeout", "mail.example.net", "1.2.3.4", "foo@alltimeout.example.net", {R::kTempError}},
  });
}

TEST(SpfSuite, SelectingRecords) {
  const char* zone = R"(example3.com|TXT|v=spf10
example3.com|TXT|v=spf1 mx
example3.com|MX|0 mail.example1.com
example1.com|TXT|v=spf1
example2.com|TXT|v=spf1mx
mail.example1.com|A|1.2.3.4
example4.com|TXT|v=spf1 -all
example5.com|TXT|v=spf1 -all
example5.com|TXT|v=spf1 +all
example6.com|TXT|v=spf1 -all
example6.com|TXT|V=sPf1 +all
example7.com|TXT|v=spf1 -all
example7.com|TXT|v=spf1 -all
example8.com|TXT|v=spf1 +all
example9.com|TXT|v=SpF1 ~all
)";
  run_suite(zone, {
      {"nospace1", "mail.example1.com", "1.2.3.4", "foo@example2.com", {R::kNone}},
      {"empty", "mail1.example1.com", "1.2.3.4", "foo@example1.com", {R::kNeutral}},
      {"nospace2", "mail.example1.com", "1.2.3.4", "foo@example3.com", {R::kPass}},
      {"spfoverride", "mail.example1.com", "1.2.3.4", "foo@example4.com", {R::kFail}},
      {"multitxt1", "mail.example1.com", "1.2.3.4", "foo@example5.com", {R::kPermError}},
      {"multitxt2", "mail.example1.com", "1.2.3.4", "foo@example6.com", {R::kPermError}},
      {"multispf1", "mail.example1.com", "1.2.3.4", "foo@example7.com", {R::kPermError, R::kFail}},
      {"multispf2", "mail.example1.com", "1.2.3.4", "foo@example8.com", {R::kPass}},
      {"nospf", "mail.example1.com", "1.2.3.4", "foo@mail.example1.com", {R::kNone}},
      {"case-insensitive", "mail.example1.com", "1.2.3.4", "foo@example9.com", {R::kSoftFail}},
  });
}

TEST(SpfSuite, RecordEvaluation) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
t1.example.com|TXT|v=spf1 ip4:1.2.3.4 -all moo
t2.example.com|TXT|v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all
t3.example.com|TXT|v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all
t4.example.com|TXT|v=spf1 moo.cow:far_out=man:dog/cat ip4:1.2.3.4 -all
t5.example.com|TXT|v=spf1 redirect=t5.example.com ~all
t6.example.com|TXT|v=spf1 ip4:1.2.3.4 redirect=t2.example.com
t7.example.com|TXT|v=spf1 ip4:1.2.3.4
t8.example.com|TXT|v=spf1 ip4:1.2.3.4 redirect:t2.example.com
t9.example.com|TXT|v=spf1 a:foo-bar -all
t10.example.com|TXT|v=spf1 a:mail.example...com -all
t11.example.com|TXT|v=spf1 a:a123456789012345678901234567890123456789012345678901234567890123.example.com -all
t12.example.com|TXT|v=spf1 a:%{H}.bar -all
)";
  run_suite(zone, {
      {"detect-errors-anywhere", "mail.example.com", "1.2.3.4", "foo@t1.example.com", {R::kPermError}},
      {"modifier-charset-good", "mail.example.com", "1.2.3.4", "foo@t2.example.com", {R::kPass}},
      {"modifier-charset-bad1", "mail.example.com", "1.2.3.4", "foo@t3.example.com", {R::kPermError}},
      {"modifier-charset-bad2", "mail.example.com", "1.2.3.4", "foo@t4.example.com", {R::kPermError}},
      {"redirect-after-mechanisms1", "mail.example.com", "1.2.3.4", "foo@t5.example.com", {R::kSoftFail}},
      {"redirect-after-mechanisms2", "mail.example.com", "1.2.3.5", "foo@t6.example.com", {R::kFail}},
      {"default-result", "mail.example.com", "1.2.3.5", "foo@t7.example.com", {R::kNeutral}},
      {"redirect-is-modifier", "mail.example.com", "1.2.3.4", "foo@t8.example.com", {R::kPermError}},
      {"invalid-domain", "mail.example.com", "1.2.3.4", "foo@t9.example.com", {R::kPermError}},
      {"invalid-domain-empty-label", "mail.example.com", "1.2.3.4", "foo@t10.example.com", {R::kFail, R::kPermError}},
      {"invalid-domain-long", "mail.example.com", "1.2.3.4", "foo@t11.example.com", {R::kFail, R::kPermError}},
      {"invalid-domain-long-via-macro", "%%%%%%%%%%%%%%%%%%%%%%", "1.2.3.4", "foo@t12.example.com",
       {R::kFail, R::kPermError}},
  });
}

TEST(SpfSuite, AllMechanism) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
e1.example.com|TXT|v=spf1 -all.
e2.example.com|TXT|v=spf1 -all:foobar
e3.example.com|TXT|v=spf1 -all/8
e4.example.com|TXT|v=spf1 ?all
e5.example.com|TXT|v=spf1 all -all
)";
  run_suite(zone, {
      {"all-dot", "mail.example.com", "1.2.3.4", "foo@e1.example.com", {R::kPermError}},
      {"all-arg", "mail.example.com", "1.2.3.4", "foo@e2.example.com", {R::kPermError}},
      {"all-cidr", "mail.example.com", "1.2.3.4", "foo@e3.example.com", {R::kPermError}},
      {"all-neutral", "mail.example.com", "1.2.3.4", "foo@e4.example.com", {R::kNeutral}},
      {"all-double", "mail.example.com", "1.2.3.4", "foo@e5.example.com", {R::kPass}},
  });
}

TEST(SpfSuite, PtrMechanism) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
mail.example.com|AAAA|2001:db8::1
e1.example.com|TXT|v=spf1 ptr/0 -all
e2.example.com|TXT|v=spf1 ptr:example.com -all
1.2.3.4|PTR|e3.example.com
1.2.3.4|PTR|e4.example.com
1.2.3.4|PTR|mail.example.com
cafe:babe::1|PTR|e3.example.com
2001:db8::1|PTR|mail.Example.com
e3.example.com|TXT|v=spf1 ptr -all
e3.example.com|A|1.2.3.4
e3.example.com|AAAA|CAFE:BABE::1
e4.example.com|TXT|v=spf1 ptr -all
e5.example.com|TXT|v=spf1 ptr:
e6.example.com|TXT|v=spf1 ptr:example.Com -all
)";
  run_suite(zone, {
      {"ptr-cidr", "mail.example.com", "1.2.3.4", "foo@e1.example.com", {R::kPermError}},
      {"ptr-match-target", "mail.example.com", "1.2.3.4", "foo@e2.example.com", {R::kPass}},
      {"ptr-match-implicit", "mail.example.com", "1.2.3.4", "foo@e3.example.com", {R::kPass}},
      {"ptr-nomatch-invalid", "mail.example.com", "1.2.3.4", "foo@e4.example.com", {R::kFail}},
      {"ptr-match-ip6", "mail.example.com", "CAFE:BABE::1", "foo@e3.example.com", {R::kPass}},
      {"ptr-empty-domain", "mail.example.com", "1.2.3.4", "foo@e5.example.com", {R::kPermError}},
      {"ptr-case-change", "mail.example.com", "2001:db8::1", "bar@e6.example.com", {R::kPass}},
  });
}

// ---- RFC 7208 test suite: a, include, mx, exists, ip4, ip6 ----

TEST(SpfSuite, AMechanism) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
e1.example.com|TXT|v=spf1 a/0 -all
e2.example.com|A|1.1.1.1
e2.example.com|AAAA|1234::2
e2.example.com|TXT|v=spf1 a/0 -all
e2a.example.com|AAAA|1234::1
e2a.example.com|TXT|v=spf1 a//0 -all
e2b.example.com|A|1.1.1.1
e2b.example.com|TXT|v=spf1 a//0 -all
ipv6.example.com|AAAA|1234::1
ipv6.example.com|A|1.1.1.1
ipv6.example.com|TXT|v=spf1 a -all
e3.example.com|TXT|v=spf1 a:foo.example.com\0
e4.example.com|TXT|v=spf1 a:111.222.33.44
e5.example.com|TXT|v=spf1 a:abc.123
e5a.example.com|TXT|v=spf1 a:museum
e5b.example.com|TXT|v=spf1 a:museum.
e6.example.com|TXT|v=spf1 a//33 -all
e6a.example.com|TXT|v=spf1 a/33 -all
e7.example.com|TXT|v=spf1 a//129 -all
e8.example.com|A|1.2.3.5
e8.example.com|AAAA|2001:db8:1234::dead:beef
e8.example.com|TXT|v=spf1 a/24//64 -all
e8e.example.com|A|1.2.3.5
e8e.example.com|AAAA|2001:db8:1234::dead:beef
e8e.example.com|TXT|v=spf1 a/24/64 -all
e8a.example.com|A|1.2.3.5
e8a.example.com|AAAA|2001:db8:1234::dead:beef
e8a.example.com|TXT|v=spf1 a/24 -all
e8b.example.com|A|1.2.3.5
e8b.example.com|AAAA|2001:db8:1234::dead:beef
e8b.example.com|TXT|v=spf1 a//64 -all
e9.example.com|TXT|v=spf1 a:example.com:8080
e10.example.com|TXT|v=spf1 a:foo.example.com/24
foo.example.com|A|1.1.1.1
foo.example.com|A|1.2.3.5
e11.example.com|TXT|v=spf1 a:foo:bar/baz.example.com
foo:bar/baz.example.com|A|1.2.3.4
e12.example.com|TXT|v=spf1 a:example.-com
e13.example.com|TXT|v=spf1 a:
e14.example.com|TXT|v=spf1 a:foo.example.xn--zckzah -all
foo.example.xn--zckzah|A|1.2.3.4
)";
  const char* h = "mail.example.com";
  run_suite(zone, {
      {"a-cidr6", h, "1.2.3.4", "foo@e6.example.com", {R::kFail}},
      {"a-bad-cidr4", h, "1.2.3.4", "foo@e6a.example.com", {R::kPermError}},
      {"a-bad-cidr6", h, "1.2.3.4", "foo@e7.example.com", {R::kPermError}},
      {"a-dual-cidr-ip4-match", h, "1.2.3.4", "foo@e8.example.com", {R::kPass}},
      {"a-dual-cidr-ip4-err", h, "1.2.3.4", "foo@e8e.example.com", {R::kPermError}},
      {"a-dual-cidr-ip6-match", h, "2001:db8:1234::cafe:babe", "foo@e8.example.com", {R::kPass}},
      {"a-dual-cidr-ip4-default", h, "1.2.3.4", "foo@e8b.example.com", {R::kFail}},
      {"a-dual-cidr-ip6-default", h, "2001:db8:1234::cafe:babe", "foo@e8a.example.com", {R::kFail}},
      {"a-multi-ip1", h, "1.2.3.4", "foo@e10.example.com", {R::kPass}},
      {"a-bad-domain", h, "1.2.3.4", "foo@e9.example.com", {R::kPermError}},
      {"a-nxdomain", h, "1.2.3.4", "foo@e1.example.com", {R::kFail}},
      {"a-cidr4-0", h, "1.2.3.4", "foo@e2.example.com", {R::kPass}},
      {"a-cidr4-0-ip6", h, "1234::1", "foo@e2.example.com", {R::kFail}},
      {"a-cidr6-0-ip4", h, "1.2.3.4", "foo@e2a.example.com", {R::kFail}},
      {"a-cidr6-0-ip4mapped", h, "::FFFF:1.2.3.4", "foo@e2a.example.com", {R::kFail}},
      {"a-cidr6-0-ip6", h, "1234::1", "foo@e2a.example.com", {R::kPass}},
      {"a-ip6-dualstack", h, "1234::1", "foo@ipv6.example.com", {R::kPass}},
      {"a-cidr6-0-nxdomain", h, "1234::1", "foo@e2b.example.com", {R::kFail}},
      {"a-null", h, "1.2.3.5", "foo@e3.example.com", {R::kPermError}},
      {"a-numeric", h, "1.2.3.4", "foo@e4.example.com", {R::kPermError}},
      {"a-numeric-toplabel", h, "1.2.3.4", "foo@e5.example.com", {R::kPermError}},
      {"a-dash-in-toplabel", h, "1.2.3.4", "foo@e14.example.com", {R::kPass}},
      {"a-bad-toplabel", h, "1.2.3.4", "foo@e12.example.com", {R::kPermError}},
      {"a-only-toplabel", h, "1.2.3.4", "foo@e5a.example.com", {R::kPermError}},
      {"a-only-toplabel-trailing-dot", h, "1.2.3.4", "foo@e5b.example.com", {R::kPermError}},
      {"a-colon-domain", h, "1.2.3.4", "foo@e11.example.com", {R::kPass}},
      {"a-colon-domain-ip4mapped", h, "::FFFF:1.2.3.4", "foo@e11.example.com", {R::kPass}},
      {"a-empty-domain", h, "1.2.3.4", "foo@e13.example.com", {R::kPermError}},
  });
}

TEST(SpfSuite, IncludeMechanism) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
ip5.example.com|TXT|v=spf1 ip4:1.2.3.5 -all
ip6.example.com|TXT|v=spf1 ip4:1.2.3.6 ~all
ip7.example.com|TXT|v=spf1 ip4:1.2.3.7 ?all
ip8.example.com|TIMEOUT
erehwon.example.com|TXT|v=spfl am not an SPF record
e1.example.com|TXT|v=spf1 include:ip5.example.com ~all
e2.example.com|TXT|v=spf1 include:ip6.example.com all
e3.example.com|TXT|v=spf1 include:ip7.example.com -all
e4.example.com|TXT|v=spf1 include:ip8.example.com -all
e5.example.com|TXT|v=spf1 include:e6.example.com -all
e6.example.com|TXT|v=spf1 include +all
e7.example.com|TXT|v=spf1 include:erehwon.example.com -all
e8.example.com|TXT|v=spf1 include: -all
e9.example.com|TXT|v=spf1 include:ip5.example.com/24 -all
)";
  const char* h = "mail.example.com";
  run_suite(zone, {
      {"include-fail", h, "1.2.3.4", "foo@e1.example.com", {R::kSoftFail}},
      {"include-softfail", h, "1.2.3.4", "foo@e2.example.com", {R::kPass}},
      {"include-neutral", h, "1.2.3.4", "foo@e3.example.com", {R::kFail}},
      {"include-temperror", h, "1.2.3.4", "foo@e4.example.com", {R::kTempError}},
      {"include-permerror", h, "1.2.3.4", "foo@e5.example.com", {R::kPermError}},
      {"include-syntax-error", h, "1.2.3.4", "foo@e6.example.com", {R::kPermError}},
      {"include-cidr", h, "1.2.3.4", "foo@e9.example.com", {R::kPermError}},
      {"include-none", h, "1.2.3.4", "foo@e7.example.com", {R::kPermError}},
      {"include-empty-domain", h, "1.2.3.4", "foo@e8.example.com", {R::kPermError}},
  });
}

TEST(SpfSuite, MxMechanism) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
mail.example.com|MX|0 
mail.example.com|TXT|v=spf1 mx
e1.example.com|TXT|v=spf1 mx/0 -all
e1.example.com|MX|0 e1.example.com
e2.example.com|A|1.1.1.1
e2.example.com|AAAA|1234::2
e2.example.com|MX|0 e2.example.com
e2.example.com|TXT|v=spf1 mx/0 -all
e2a.example.com|AAAA|1234::1
e2a.example.com|MX|0 e2a.example.com
e2a.example.com|TXT|v=spf1 mx//0 -all
e2b.example.com|A|1.1.1.1
e2b.example.com|MX|0 e2b.example.com
e2b.example.com|TXT|v=spf1 mx//0 -all
e3.example.com|TXT|v=spf1 mx:foo.example.com\0
e4.example.com|TXT|v=spf1 mx
e4.example.com|A|1.2.3.4
e5.example.com|TXT|v=spf1 mx:abc.123
e6.example.com|TXT|v=spf1 mx//33 -all
e6a.example.com|TXT|v=spf1 mx/33 -all
e7.example.com|TXT|v=spf1 mx//129 -all
e9.example.com|TXT|v=spf1 mx:example.com:8080
e10.example.com|TXT|v=spf1 mx:foo.example.com/24
foo.example.com|MX|0 foo1.example.com
foo1.example.com|A|1.1.1.1
foo1.example.com|A|1.2.3.5
e11.example.com|TXT|v=spf1 mx:foo:bar/baz.example.com
foo:bar/baz.example.com|MX|0 foo:bar/baz.example.com
foo:bar/baz.example.com|A|1.2.3.4
e12.example.com|TXT|v=spf1 mx:example.-com
e13.example.com|TXT|v=spf1 mx: -all
)";
  const char* h = "mail.example.com";
  run_suite(zone, {
      {"mx-cidr6", h, "1.2.3.4", "foo@e6.example.com", {R::kFail}},
      {"mx-bad-cidr4", h, "1.2.3.4", "foo@e6a.example.com", {R::kPermError}},
      {"mx-bad-cidr6", h, "1.2.3.4", "foo@e7.example.com", {R::kPermError}},
      {"mx-multi-ip1", h, "1.2.3.4", "foo@e10.example.com", {R::kPass}},
      {"mx-bad-domain", h, "1.2.3.4", "foo@e9.example.com", {R::kPermError}},
      {"mx-nxdomain", h, "1.2.3.4", "foo@e1.example.com", {R::kFail}},
      {"mx-cidr4-0", h, "1.2.3.4", "foo@e2.example.com", {R::kPass}},
      {"mx-cidr4-0-ip6", h, "1234::1", "foo@e2.example.com", {R::kFail}},
      {"mx-cidr6-0-ip4", h, "1.2.3.4", "foo@e2a.example.com", {R::kFail}},
      {"mx-cidr6-0-ip4mapped", h, "::FFFF:1.2.3.4", "foo@e2a.example.com", {R::kFail}},
      {"mx-cidr6-0-ip6", h, "1234::1", "foo@e2a.example.com", {R::kPass}},
      {"mx-cidr6-0-nxdomain", h, "1234::1", "foo@e2b.example.com", {R::kFail}},
      {"mx-null", h, "1.2.3.5", "foo@e3.example.com", {R::kPermError}},
      {"mx-numeric-top-label", h, "1.2.3.4", "foo@e5.example.com", {R::kPermError}},
      {"mx-colon-domain", h, "1.2.3.4", "foo@e11.example.com", {R::kPass}},
      {"mx-colon-domain-ip4mapped", h, "::FFFF:1.2.3.4", "foo@e11.example.com", {R::kPass}},
      {"mx-bad-toplab", h, "1.2.3.4", "foo@e12.example.com", {R::kPermError}},
      {"mx-empty", h, "1.2.3.4", "", {R::kNeutral}},
      {"mx-implicit", h, "1.2.3.4", "foo@e4.example.com", {R::kNeutral}},
      {"mx-empty-domain", h, "1.2.3.4", "foo@e13.example.com", {R::kPermError}},
  });
}

TEST(SpfSuite, ExistsMechanism) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
mail6.example.com|AAAA|CAFE:BABE::4
err.example.com|TIMEOUT
e1.example.com|TXT|v=spf1 exists:
e2.example.com|TXT|v=spf1 exists
e3.example.com|TXT|v=spf1 exists:mail.example.com/24
e4.example.com|TXT|v=spf1 exists:mail.example.com
e5.example.com|TXT|v=spf1 exists:mail6.example.com -all
e6.example.com|TXT|v=spf1 exists:err.example.com -all
)";
  const char* h = "mail.example.com";
  run_suite(zone, {
      {"exists-empty-domain", h, "1.2.3.4", "foo@e1.example.com", {R::kPermError}},
      {"exists-implicit", h, "1.2.3.4", "foo@e2.example.com", {R::kPermError}},
      {"exists-cidr", h, "1.2.3.4", "foo@e3.example.com", {R::kPermError}},
      {"exists-ip4", h, "1.2.3.4", "foo@e4.example.com", {R::kPass}},
      {"exists-ip6", h, "CAFE:BABE::3", "foo@e4.example.com", {R::kPass}},
      {"exists-ip6only", h, "CAFE:BABE::3", "foo@e5.example.com", {R::kFail}},
      {"exists-dnserr", h, "CAFE:BABE::3", "foo@e6.example.com", {R::kTempError}},
  });
}

TEST(SpfSuite, Ip4Mechanism) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
e1.example.com|TXT|v=spf1 ip4:1.1.1.1/0 -all
e2.example.com|TXT|v=spf1 ip4:1.2.3.4/32 -all
e3.example.com|TXT|v=spf1 ip4:1.2.3.4/33 -all
e4.example.com|TXT|v=spf1 ip4:1.2.3.4/032 -all
e5.example.com|TXT|v=spf1 ip4
e6.example.com|TXT|v=spf1 ip4:1.2.3.4//32
e7.example.com|TXT|v=spf1 -ip4:1.2.3.4 ip6:::FFFF:1.2.3.4
e8.example.com|TXT|v=spf1 ip4:1.2.3.4:8080
e9.example.com|TXT|v=spf1 ip4:1.2.3
)";
  const char* h = "mail.example.com";
  run_suite(zone, {
      {"cidr4-0", h, "1.2.3.4", "foo@e1.example.com", {R::kPass}},
      {"cidr4-32", h, "1.2.3.4", "foo@e2.example.com", {R::kPass}},
      {"cidr4-33", h, "1.2.3.4", "foo@e3.example.com", {R::kPermError}},
      {"cidr4-032", h, "1.2.3.4", "foo@e4.example.com", {R::kPermError}},
      {"bare-ip4", h, "1.2.3.4", "foo@e5.example.com", {R::kPermError}},
      {"bad-ip4-port", h, "1.2.3.4", "foo@e8.example.com", {R::kPermError}},
      {"bad-ip4-short", h, "1.2.3.4", "foo@e9.example.com", {R::kPermError}},
      {"ip4-dual-cidr", h, "1.2.3.4", "foo@e6.example.com", {R::kPermError}},
      {"ip4-mapped-ip6", h, "::FFFF:1.2.3.4", "foo@e7.example.com", {R::kFail}},
  });
}

TEST(SpfSuite, Ip6Mechanism) {
  const char* zone = R"(mail.example.com|A|1.2.3.4
e1.example.com|TXT|v=spf1 -all ip6
e2.example.com|TXT|v=spf1 ip6:::1.1.1.1/0
e3.example.com|TXT|v=spf1 ip6:::1.1.1.1/129
e4.example.com|TXT|v=spf1 ip6:::1.1.1.1//33
e5.example.com|TXT|v=spf1 ip6:Cafe:Babe:8000::/33
e6.example.com|TXT|v=spf1 ip6::CAFE::BABE
)";
  const char* h = "mail.example.com";
  run_suite(zone, {
      {"bare-ip6", h, "1.2.3.4", "foo@e1.example.com", {R::kPermError}},
      {"cidr6-0-ip4", h, "1.2.3.4", "foo@e2.example.com", {R::kNeutral}},
      {"cidr6-ip4", h, "::FFFF:1.2.3.4", "foo@e2.example.com", {R::kNeutral}},
      {"cidr6-0", h, "DEAF:BABE::CAB:FEE", "foo@e2.example.com", {R::kPass}},
      {"cidr6-129", h, "1.2.3.4", "foo@e3.example.com", {R::kPermError}},
      {"cidr6-bad", h, "1.2.3.4", "foo@e4.example.com", {R::kPermError}},
      {"cidr6-33", h, "CAFE:BABE:8000::", "foo@e5.example.com", {R::kPass}},
      {"cidr6-33-ip4", h, "1.2.3.4", "foo@e5.example.com", {R::kNeutral}},
      {"ip6-bad1", h, "1.2.3.4", "foo@e6.example.com", {R::kPermError}},
  });
}

// ---- RFC 7208 test suite: modifiers and explanations, macros, processing limits ----

TEST(SpfSuite, ModifiersAndExplanations) {
  const std::string zone = std::string(R"(mail.example.com|A|1.2.3.4
e1.example.com|TXT|v=spf1 exp=exp1.example.com redirect=e2.example.com
e2.example.com|TXT|v=spf1 -all
e3.example.com|TXT|v=spf1 exp=exp1.example.com redirect=e4.example.com
e4.example.com|TXT|v=spf1 -all exp=exp2.example.com
exp1.example.com|TXT|No-see-um
exp2.example.com|TXT|See me.
exp3.example.com|TXT|Correct!
exp4.example.com|TXT|%{l} in implementation
e5.example.com|TXT|v=spf1 1up=foo
e6.example.com|TXT|v=spf1 =all
e7.example.com|TXT|v=spf1 include:e3.example.com -all exp=exp3.example.com
e8.example.com|TXT|v=spf1 -all exp=exp4.example.com
e9.example.com|TXT|v=spf1 -all foo=%abc
e10.example.com|TXT|v=spf1 redirect=erehwon.example.com
e11.example.com|TXT|v=spf1 -all exp=e11msg.example.com
e11msg.example.com|TXT|Answer a fool according to his folly.
e11msg.example.com|TXT|Do not answer a fool according to his folly.
e12.example.com|TXT|v=spf1 exp= -all
e13.example.com|TXT|v=spf1 exp=e13msg.example.com -all
e13msg.example.com|TXT|The %{x}-files.
e14.example.com|TXT|v=spf1 exp=e13msg.example.com -all exp=e11msg.example.com
e15.example.com|TXT|v=spf1 redirect=e12.example.com -all redirect=e12.example.com
e16.example.com|TXT|v=spf1 exp=-all
e17.example.com|TXT|v=spf1 redirect=-all ?all
e18.example.com|TXT|v=spf1 ?all redirect=
e19.example.com|TXT|v=spf1 default=pass
e20.example.com|TXT|v=spf1 default=+
e21.example.com|TXT|v=spf1 exp=e21msg.example.com -all
e21msg.example.com|TIMEOUT
e22.example.com|TXT|v=spf1 exp=mail.example.com -all
nonascii.example.com|TXT|v=spf1 exp=badexp.example.com -all
)") + "badexp.example.com|TXT|\xEF\xBB\xBF" "Explanation\n" + R"(tworecs.example.com|TXT|v=spf1 exp=twoexp.example.com -all
twoexp.example.com|TXT|one
twoexp.example.com|TXT|two
e23.example.com|TXT|v=spf1 a:erehwon.example.com a:foobar.com exp=nxdomain.com -all
e24.example.com|TXT|v=spf1 redirect=testimplicit.example.com
e24.example.com|A|192.0.2.1
testimplicit.example.com|TXT|v=spf1 a -all
testimplicit.example.com|A|192.0.2.2
)";
  const char* h = "mail.example.com";
  run_suite(zone, {
      {"redirect-none", h, "1.2.3.4", "foo@e10.example.com", {R::kPermError}},
      {"redirect-cancels-exp", h, "1.2.3.4", "foo@e1.example.com", {R::kFail}, ""},
      {"redirect-syntax-error", h, "1.2.3.4", "foo@e17.example.com", {R::kPermError}},
      {"include-ignores-exp", h, "1.2.3.4", "foo@e7.example.com", {R::kFail}, "Correct!"},
      {"redirect-cancels-prior-exp", h, "1.2.3.4", "foo@e3.example.com", {R::kFail}, "See me."},
      {"invalid-modifier", h, "1.2.3.4", "foo@e5.example.com", {R::kPermError}},
      {"empty-modifier-name", h, "1.2.3.4", "foo@e6.example.com", {R::kPermError}},
      {"dorky-sentinel", h, "1.2.3.4", "Macro Error@e8.example.com", {R::kFail}, "Macro Error in implementation"},
      {"exp-multiple-txt", h, "1.2.3.4", "foo@e11.example.com", {R::kFail}, ""},
      {"exp-no-txt", h, "1.2.3.4", "foo@e22.example.com", {R::kFail}, ""},
      {"exp-dns-error", h, "1.2.3.4", "foo@e21.example.com", {R::kFail}, ""},
      {"exp-empty-domain", h, "1.2.3.4", "foo@e12.example.com", {R::kPermError}},
      {"explanation-syntax-error", h, "1.2.3.4", "foo@e13.example.com", {R::kFail}, ""},
      {"exp-syntax-error", h, "1.2.3.4", "foo@e16.example.com", {R::kPermError}},
      {"exp-twice", h, "1.2.3.4", "foo@e14.example.com", {R::kPermError}},
      {"redirect-empty-domain", h, "1.2.3.4", "foo@e18.example.com", {R::kPermError}},
      {"redirect-twice", h, "1.2.3.4", "foo@e15.example.com", {R::kPermError}},
      {"unknown-modifier-syntax", h, "1.2.3.4", "foo@e9.example.com", {R::kPermError}},
      {"default-modifier-obsolete", h, "1.2.3.4", "foo@e19.example.com", {R::kNeutral}},
      {"default-modifier-obsolete2", h, "1.2.3.4", "foo@e20.example.com", {R::kNeutral}},
      {"non-ascii-exp", "hosed", "1.2.3.4", "foobar@nonascii.example.com", {R::kFail}, ""},
      {"two-exp-records", "hosed", "1.2.3.4", "foobar@tworecs.example.com", {R::kFail}, ""},
      {"exp-void", h, "1.2.3.4", "foo@e23.example.com", {R::kFail}},
      {"redirect-implicit", "e24.example.com", "192.0.2.2", "bar@e24.example.com", {R::kPass}},
  });
}

TEST(SpfSuite, MacroExpansion) {
  const char* zone = R"(example.com.d.spf.example.com|TXT|v=spf1 redirect=a.spf.example.com
a.spf.example.com|TXT|v=spf1 include:o.spf.example.com. ~all
o.spf.example.com|TXT|v=spf1 ip4:192.168.218.40
msgbas2x.cos.example.com|A|192.168.218.40
example.com|A|192.168.90.76
example.com|TXT|v=spf1 redirect=%{d}.d.spf.example.com.
exp.example.com|TXT|v=spf1 exp=msg.example.com. -all
msg.example.com|TXT|This is a test.
e1.example.com|TXT|v=spf1 -exists:%(ir).sbl.example.com ?all
e1e.example.com|TXT|v=spf1 exists:foo%(ir).sbl.example.com ?all
e1t.example.com|TXT|v=spf1 exists:foo%.sbl.example.com ?all
e1a.example.com|TXT|v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all
macro%percent  space%20url-space.example.com|A|1.2.3.4
e2.example.com|TXT|v=spf1 -all exp=%{r}.example.com
e3.example.com|TXT|v=spf1 -all exp=%{ir}.example.com
40.218.168.192.example.com|TXT|Connections from %{c} not authorized.
somewhat.long.exp.example.com|TXT|v=spf1 -all exp=foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com
somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.example.com|TXT|Congratulations!  That was tricky.
e4.example.com|TXT|v=spf1 -all exp=e4msg.example.com
e4msg.example.com|TXT|%{c} is queried as %{ir}.%{v}.arpa
e5.example.com|TXT|v=spf1 a:%{a}.example.com -all
e6.example.com|TXT|v=spf1 -all exp=e6msg.example.com
e6msg.example.com|TXT|connect from %{p}
mx.example.com|A|192.168.218.41
mx.example.com|A|192.168.218.42
mx.example.com|AAAA|CAFE:BABE::2
mx.example.com|AAAA|CAFE:BABE::3
192.168.218.40|PTR|mx.example.com
192.168.218.41|PTR|mx.example.com
192.168.218.42|PTR|mx.example.com
192.168.218.42|PTR|mx.e7.example.com
cafe:babe::1|PTR|mx.example.com
cafe:babe::3|PTR|mx.example.com
mx.e7.example.com|A|192.168.218.42
mx.e7.example.com.should.example.com|A|127.0.0.2
mx.example.com.ok.example.com|A|127.0.0.2
e7.example.com|TXT|v=spf1 exists:%{p}.should.example.com ~exists:%{p}.ok.example.com
e8.example.com|TXT|v=spf1 -all exp=msg8.%{D2}
msg8.example.com|TXT|http://example.com/why.html?l=%{L}
e9.example.com|TXT|v=spf1 a:%{H} -all
e10.example.com|TXT|v=spf1 -include:_spfh.%{d2} ip4:1.2.3.0/24 -all
_spfh.example.com|TXT|v=spf1 -a:%{h} +all
e11.example.com|TXT|v=spf1 exists:%{i}.%{l2r-}.user.%{d2}
1.2.3.4.gladstone.philip.user.example.com|A|127.0.0.2
e12.example.com|TXT|v=spf1 exists:%{l2r+-}.user.%{d2}
bar.foo.user.example.com|A|127.0.0.2
)";
  const char* h = "msgbas2x.cos.example.com";
  run_suite(zone, {
      {"trailing-dot-domain", h, "192.168.218.40", "test@example.com", {R::kPass}},
      {"trailing-dot-exp", h, "192.168.218.40", "test@exp.example.com", {R::kFail}, "This is a test."},
      {"exp-only-macro-char", h, "192.168.218.40", "test@e2.example.com", {R::kPermError}},
      {"invalid-macro-char", h, "192.168.218.40", "test@e1.example.com", {R::kPermError}},
      {"invalid-embedded-macro-char", h, "192.168.218.40", "test@e1e.example.com", {R::kPermError}},
      {"invalid-trailing-macro-char", h, "192.168.218.40", "test@e1t.example.com", {R::kPermError}},
      {"macro-mania-in-domain", "mail.example.com", "1.2.3.4", "test@e1a.example.com", {R::kPass}},
      {"exp-txt-macro-char", h, "192.168.218.40", "test@e3.example.com", {R::kFail},
       "Connections from 192.168.218.40 not authorized."},
      {"domain-name-truncation", h, "192.168.218.40", "test@somewhat.long.exp.example.com", {R::kFail},
       "Congratulations!  That was tricky."},
      {"v-macro-ip4", h, "192.168.218.40", "test@e4.example.com", {R::kFail},
       "192.168.218.40 is queried as 40.218.168.192.in-addr.arpa"},
      {"v-macro-ip6", h, "CAFE:BABE::1", "test@e4.example.com", {R::kFail},
       "cafe:babe::1 is queried as 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa"},
      {"undef-macro", h, "CAFE:BABE::192.168.218.40", "test@e5.example.com", {R::kPermError}},
      {"p-macro-ip4-novalid", h, "192.168.218.40", "test@e6.example.com", {R::kFail}, "connect from unknown"},
      {"p-macro-ip4-valid", h, "192.168.218.41", "test@e6.example.com", {R::kFail}, "connect from mx.example.com"},
      {"p-macro-ip6-novalid", h, "CAFE:BABE::1", "test@e6.example.com", {R::kFail}, "connect from unknown"},
      {"p-macro-ip6-valid", h, "CAFE:BABE::3", "test@e6.example.com", {R::kFail}, "connect from mx.example.com"},
      {"p-macro-multiple", h, "192.168.218.42", "test@e7.example.com", {R::kPass, R::kSoftFail}},
      {"upper-macro", h, "192.168.218.42", "~jack&jill=up-a_b3.c@e8.example.com", {R::kFail},
       "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c"},
      {"hello-macro", h, "192.168.218.40", "test@e9.example.com", {R::kPass}},
      {"invalid-hello-macro", "JUMPIN' JUPITER", "192.168.218.40", "test@e9.example.com", {R::kFail}},
      {"hello-domain-literal", "[192.168.218.40]", "192.168.218.40", "test@e9.example.com", {R::kFail}},
      {"require-valid-helo", "OEMCOMPUTER", "1.2.3.4", "test@e10.example.com", {R::kFail}},
      {"macro-reverse-split-on-dash", "mail.example.com", "1.2.3.4", "philip-gladstone-test@e11.example.com",
       {R::kPass}},
      {"macro-multiple-delimiters", "mail.example.com", "1.2.3.4", "foo-bar+zip+quux@e12.example.com", {R::kPass}},
  });
}

constexpr const char* kLimitsZone = R"(mail.example.com|A|1.2.3.4
e1.example.com|TXT|v=spf1 ip4:1.1.1.1 redirect=e1.example.com
e1.example.com|A|1.2.3.6
e2.example.com|TXT|v=spf1 include:e3.example.com
e2.example.com|A|1.2.3.7
e3.example.com|TXT|v=spf1 include:e2.example.com
e3.example.com|A|1.2.3.8
e4.example.com|TXT|v=spf1 mx
e4.example.com|MX|0 mail.example.com
e4.example.com|MX|1 mail.example.com
e4.example.com|MX|2 mail.example.com
e4.example.com|MX|3 mail.example.com
e4.example.com|MX|4 mail.example.com
e4.example.com|MX|5 mail.example.com
e4.example.com|MX|6 mail.example.com
e4.example.com|MX|7 mail.example.com
e4.example.com|MX|8 mail.example.com
e4.example.com|MX|9 mail.example.com
e4.example.com|MX|10 e4.example.com
e4.example.com|A|1.2.3.5
e5.example.com|TXT|v=spf1 ptr
e5.example.com|A|1.2.3.5
1.2.3.5|PTR|e1.example.com.
1.2.3.5|PTR|e2.example.com.
1.2.3.5|PTR|e3.example.com.
1.2.3.5|PTR|e4.example.com.
1.2.3.5|PTR|example.com.
1.2.3.5|PTR|e6.example.com.
1.2.3.5|PTR|e7.example.com.
1.2.3.5|PTR|e8.example.com.
1.2.3.5|PTR|e9.example.com.
1.2.3.5|PTR|e10.example.com.
1.2.3.5|PTR|e5.example.com.
e6.example.com|TXT|v=spf1 a mx a mx a mx a mx a ptr ip4:1.2.3.4 -all
e6.example.com|A|1.2.3.8
e6.example.com|MX|10 e6.example.com
e7.example.com|TXT|v=spf1 a mx a mx a mx a mx a ptr a ip4:1.2.3.4 -all
e7.example.com|A|1.2.3.20
e8.example.com|TXT|v=spf1 a include:inc.example.com ip4:1.2.3.4 mx -all
e8.example.com|A|1.2.3.4
inc.example.com|TXT|v=spf1 a a a a a a a a
inc.example.com|A|1.2.3.10
e9.example.com|TXT|v=spf1 a include:inc.example.com a ip4:1.2.3.4 -all
e9.example.com|A|1.2.3.21
e10.example.com|TXT|v=spf1 a -all
e10.example.com|A|1.2.3.1
e10.example.com|A|1.2.3.2
e10.example.com|A|1.2.3.3
e10.example.com|A|1.2.3.4
e10.example.com|A|1.2.3.5
e10.example.com|A|1.2.3.6
e10.example.com|A|1.2.3.7
e10.example.com|A|1.2.3.8
e10.example.com|A|1.2.3.9
e10.example.com|A|1.2.3.10
e10.example.com|A|1.2.3.11
e10.example.com|A|1.2.3.12
e11.example.com|TXT|v=spf1 a:err.example.com a:err1.example.com a:err2.example.com ?all
e12.example.com|TXT|v=spf1 a:err.example.com a:err1.example.com ?all
)";

TEST(SpfSuite, ProcessingLimits) {
  const char* h = "mail.example.com";
  run_suite(kLimitsZone, {
      {"redirect-loop", h, "1.2.3.4", "foo@e1.example.com", {R::kPermError}},
      {"include-loop", h, "1.2.3.4", "foo@e2.example.com", {R::kPermError}},
      {"mx-limit", h, "1.2.3.5", "foo@e4.example.com", {R::kPermError}},
      {"ptr-limit", h, "1.2.3.5", "foo@e5.example.com", {R::kNeutral, R::kPass}},
      {"false-a-limit", h, "1.2.3.12", "foo@e10.example.com", {R::kPass}},
      {"mech-at-limit", h, "1.2.3.4", "foo@e6.example.com", {R::kPass}},
      {"mech-over-limit", h, "1.2.3.4", "foo@e7.example.com", {R::kPermError}},
      {"include-at-limit", h, "1.2.3.4", "foo@e8.example.com", {R::kPass}},
      {"include-over-limit", h, "1.2.3.4", "foo@e9.example.com", {R::kPermError}},
      {"void-at-limit", h, "1.2.3.4", "foo@e12.example.com", {R::kNeutral}},
      {"void-over-limit", h, "1.2.3.4", "foo@e11.example.com", {R::kPermError}},
  });
}

TEST(SpfSuite, ImplementationBugs) {
  const char* zone = R"(example.org|TXT|v=spf1 mx redirect=_spf.example.com
example.org|MX|10 smtp.example.org
example.org|MX|10 smtp1.example.com
smtp.example.org|A|198.51.100.2
smtp.example.org|AAAA|2001:db8:ff0:100::3
smtp1.example.com|A|192.0.2.26
smtp1.example.com|AAAA|2001:db8:ff0:200::2
2001:db8:ff0:100::2|PTR|smtp6-v.fe.example.org
smtp6-v.fe.example.org|AAAA|2001:db8:ff0:100::2
_spf.example.com|TXT|v=spf1 ptr:fe.example.org ptr:sgp.example.com exp=_expspf.example.org -all
_expspf.example.org|TXT|Sender domain not allowed from this host. Please see http://www.openspf.org/Why?s=mfrom&id=%{S}&ip=%{C}&r=%{R}
)";
  run_suite(zone, {{"bytes-bug", "example.org", "2001:db8:ff0:100::2", "test@example.org", {R::kPass}}});
}

// ---- our own cases: RFC 7208 §7.4 macro examples, limits at N and N+1, outcome fields ----

TEST(SpfMacros, Rfc7208Examples) {
  SpfMacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  v.ip = asio::ip::make_address("192.0.2.3");
  const std::pair<const char*, const char*> cases[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
      {"%%%_%-", "% %20"},
      {"%{S}", "strong-bad%40email.example.com"},
      {"%{d999}", "email.example.com"},
  };
  for (const auto& [in, want] : cases) {
    auto got = spf_expand_macros(in, v, false);
    ASSERT_TRUE(got) << in;
    EXPECT_EQ(*got, want) << in;
  }
  v.ip = asio::ip::make_address("2001:db8::cb01");
  EXPECT_EQ(*spf_expand_macros("%{ir}.%{v}._spf.%{d2}", v, false),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
  // c, r, t are explanation-only; syntax errors are reported.
  EXPECT_FALSE(spf_expand_macros("%{c}", v, false));
  EXPECT_EQ(*spf_expand_macros("%{c}", v, true), "2001:db8::cb01");
  for (const char* bad : {"%", "%x", "%{", "%{d", "%{}", "%{d0}", "%{dx}", "%{q}", "a b"}) {
    EXPECT_FALSE(spf_expand_macros(bad, v, false)) << bad;
  }
}

TEST(SpfMacros, ExpansionIsBounded) {
  SpfMacroValues v;
  v.sender = std::string(1000, 'a');
  std::string many;
  for (int i = 0; i < 20; ++i) many += "%{s}";
  EXPECT_FALSE(spf_expand_macros(many, v, false));  // 20 000 bytes > 8 KiB
  many.resize(8 * 4);
  EXPECT_TRUE(spf_expand_macros(many, v, false));  // 8 000 bytes
}

SpfOutcome check(const std::string& zone, const std::string& ip, const std::string& from,
                 const std::string& helo = "mail.example.com") {
  dns::TableResolver resolver;
  load_zone(resolver, zone);
  return run(spf_check(resolver, asio::ip::make_address(ip), from, helo, "mx.receiver.test"));
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(SpfLimits, DnsMechanismsAtTenAndEleven) {
  const std::string zone = "a.test|A|192.0.2.9\nten.test|TXT|v=spf1" + repeat(" a:a.test", 10) +
                           " ip4:192.0.2.1 -all\neleven.test|TXT|v=spf1" + repeat(" a:a.test", 11) +
                           " ip4:192.0.2.1 -all\n";
  EXPECT_EQ(check(zone, "192.0.2.1", "x@ten.test").result, R::kPass);
  auto over = check(zone, "192.0.2.1", "x@eleven.test");
  EXPECT_EQ(over.result, R::kPermError);
  EXPECT_NE(over.reason.find("more than 10 DNS lookups"), std::string::npos) << over.reason;
}

TEST(SpfLimits, VoidLookupsAtTwoAndThree) {
  const std::string zone = "two.test|TXT|v=spf1 exists:n1.test mx:n2.test ip4:192.0.2.1\n"
                           "three.test|TXT|v=spf1 exists:n1.test mx:n2.test a:n3.test ip4:192.0.2.1\n";
  EXPECT_EQ(check(zone, "192.0.2.1", "x@two.test").result, R::kPass);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@three.test").result, R::kPermError);
}

TEST(SpfLimits, MxNamesAtTenAndEleven) {
  std::string zone = "ten.test|TXT|v=spf1 mx -all\neleven.test|TXT|v=spf1 mx -all\nmx.test|A|192.0.2.1\n";
  for (int i = 0; i < 10; ++i) zone += "ten.test|MX|" + std::to_string(i) + " mx.test\n";
  for (int i = 0; i < 11; ++i) zone += "eleven.test|MX|" + std::to_string(i) + " mx.test\n";
  EXPECT_EQ(check(zone, "192.0.2.1", "x@ten.test").result, R::kPass);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@eleven.test").result, R::kPermError);
}

TEST(SpfLimits, PtrNamesTenthCountsEleventhIsIgnored) {
  // The client's PTR names n1..n11 all validate; only the first 10 are compared with the target.
  std::string zone = "p10.test|TXT|v=spf1 ptr:n10.test -all\np11.test|TXT|v=spf1 ptr:n11.test -all\n";
  for (int i = 1; i <= 11; ++i) {
    zone += "192.0.2.1|PTR|n" + std::to_string(i) + ".test\n";
    zone += "n" + std::to_string(i) + ".test|A|192.0.2.1\n";
  }
  EXPECT_EQ(check(zone, "192.0.2.1", "x@p10.test").result, R::kPass);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@p11.test").result, R::kFail);
}

TEST(SpfLimits, RecordLengthAtLimitAndOver) {
  // "v=spf1 ip4:192.0.2.1" padded with unknown modifiers "x=yyyy" up to exactly N bytes.
  auto record = [](size_t n) {
    std::string r = "v=spf1 ip4:192.0.2.1";
    while (r.size() + 7 <= n) r += " x=yyyy";
    r += std::string(n - r.size(), 'y');  // lengthens the last modifier's value
    return r;
  };
  ASSERT_EQ(record(kSpfMaxRecord).size(), kSpfMaxRecord);
  const std::string zone = "ok.test|TXT|" + record(kSpfMaxRecord) + "\nlong.test|TXT|" + record(kSpfMaxRecord + 1) + "\n";
  EXPECT_EQ(check(zone, "192.0.2.1", "x@ok.test").result, R::kPass);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@long.test").result, R::kPermError);
}

TEST(SpfOutcomeFields, MailFromHeloAndReason) {
  const std::string zone = "example.test|TXT|v=spf1 ip4:192.0.2.0/24 -all exp=why.example.test\n"
                           "why.example.test|TXT|%{i} may not send for %{d} (%{s}, via %{r})\n"
                           "helo.example.test|TXT|v=spf1 a -all\nhelo.example.test|A|192.0.2.7\n";
  auto pass = check(zone, "192.0.2.77", "<Alice@Example.Test>");
  EXPECT_EQ(pass.result, R::kPass);
  EXPECT_EQ(pass.domain, "Example.Test");
  EXPECT_FALSE(pass.helo_identity);
  EXPECT_EQ(pass.sender, "Alice@Example.Test");
  EXPECT_NE(pass.reason.find("ip4:192.0.2.0/24"), std::string::npos) << pass.reason;
  EXPECT_TRUE(pass.explanation.empty());

  auto fail = check(zone, "198.51.100.1", "bob@example.test");
  EXPECT_EQ(fail.result, R::kFail);
  EXPECT_EQ(fail.explanation, "198.51.100.1 may not send for example.test (bob@example.test, via mx.receiver.test)");

  auto helo = check(zone, "192.0.2.7", "", "helo.example.test");
  EXPECT_EQ(helo.result, R::kPass);
  EXPECT_TRUE(helo.helo_identity);
  EXPECT_EQ(helo.domain, "helo.example.test");
  EXPECT_EQ(helo.sender, "postmaster@helo.example.test");
  EXPECT_EQ(spf_result_name(R::kSoftFail), "softfail");
}

TEST(SpfHostile, RandomRecordsNeverCrashOrLoop) {
  // Records assembled from SPF fragments and stray bytes; every name has a record built the same
  // way, so includes and redirects chain at random. Each check must end with a valid result.
  const char* pieces[] = {" a", " mx", " ptr", " -all", " ~all", " include:%{d}", " include:x.test", " redirect=y.test",
                          " exists:%{i}.%{l1r-}.z.test", " ip4:192.0.2.0/24", " ip6:2001:db8::/32", " a:%{p}.test//64",
                          " exp=%{o}", " %", "%{", "/", ":", "=", "\x80", " a/33", " mx:%{h}.test/0", " ptr:%{d2}"};
  uint32_t seed = 12345;
  auto record = [&] { return "v=spf1" + testing::random_fragments(seed, pieces, seed % 12); };
  for (int round = 0; round < 200; ++round) {
    dns::TableResolver resolver;
    for (const char* name : {"x.test", "y.test", "example.test"}) resolver.add_txt(name, record());
    resolver.add_address("x.test", "192.0.2.9");
    resolver.add_mx("y.test", 10, "x.test");
    resolver.add_ptr("192.0.2.9", "x.test");
    auto outcome = run(spf_check(resolver, asio::ip::make_address("192.0.2.9"), "a-b@example.test", "x.test", "r"));
    EXPECT_LE(int(outcome.result), int(R::kPermError));
    EXPECT_LE(resolver.log().size(), 200u);  // bounded work whatever the records say
  }
}

// A resolver that answers from a table after a delay, to test the time limit.
class SlowResolver final : public dns::Resolver {
 public:
  explicit SlowResolver(std::chrono::milliseconds delay) : delay_(delay) {}
  dns::TableResolver table;

  asio::awaitable<dns::MxAnswer> mx(std::string name) override {
    co_await wait();
    auto r = co_await table.mx(std::move(name));
    co_return r;
  }
  asio::awaitable<dns::AddressAnswer> a(std::string name) override {
    co_await wait();
    auto r = co_await table.a(std::move(name));
    co_return r;
  }
  asio::awaitable<dns::AddressAnswer> aaaa(std::string name) override {
    co_await wait();
    auto r = co_await table.aaaa(std::move(name));
    co_return r;
  }
  asio::awaitable<dns::TxtAnswer> txt(std::string name) override {
    co_await wait();
    auto r = co_await table.txt(std::move(name));
    co_return r;
  }
  asio::awaitable<dns::NameAnswer> ptr(asio::ip::address ip) override {
    co_await wait();
    auto r = co_await table.ptr(ip);
    co_return r;
  }
  asio::awaitable<dns::TlsaAnswer> tlsa(std::string name) override {
    auto r = co_await table.tlsa(std::move(name));
    co_return r;
  }

 private:
  asio::awaitable<void> wait() {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay_);
    co_await timer.async_wait(asio::use_awaitable);
  }
  std::chrono::milliseconds delay_;
};

TEST(SpfLimits, TimeLimitGivesTempError) {
  SlowResolver slow(std::chrono::milliseconds(20));
  slow.table.add_txt("slow.test", "v=spf1 a:h.test a:h.test a:h.test a:h.test a:h.test a:h.test a:h.test a:h.test -all");
  slow.table.add_address("h.test", "192.0.2.9");
  const auto ip = asio::ip::make_address("192.0.2.1");
  // Nine lookups of 20 ms: within a 5 s limit the record is evaluated to the end ...
  auto within = run(spf_check(slow, ip, "x@slow.test", "h", "r", SpfOptions{std::chrono::seconds(5)}));
  EXPECT_EQ(within.result, R::kFail);
  // ... and a 50 ms limit stops it after a few.
  auto over = run(spf_check(slow, ip, "x@slow.test", "h", "r", SpfOptions{std::chrono::milliseconds(50)}));
  EXPECT_EQ(over.result, R::kTempError);
  EXPECT_NE(over.reason.find("time limit"), std::string::npos) << over.reason;
}

// ---- over a real unbound ----

// spf_check() through UnboundResolver against a LocalDnsServer with the given zones and records.
class UnboundSpf {
 public:
  UnboundSpf(const std::vector<std::string>& zones, const std::vector<std::string>& records)
      : server_(zones, records) {
    config::Dns settings;
    settings.resolver = "127.0.0.1";
    settings.resolver_port = server_.port();
    settings.timeout = std::chrono::seconds(5);
    auto created = dns::UnboundResolver::create(io_.get_executor(), settings);
    EXPECT_TRUE(created);
    if (created) resolver_ = *created;
  }
  SpfOutcome check(const char* ip, const char* from) {
    if (!resolver_) return {};
    auto f = asio::co_spawn(io_, spf_check(*resolver_, asio::ip::make_address(ip), from, "helo.test", "mx.test"),
                            asio::use_future);
    io_.restart();
    io_.run();
    return f.get();
  }

 private:
  dns::testing::LocalDnsServer server_;
  asio::io_context io_;
  std::shared_ptr<dns::UnboundResolver> resolver_;
};

TEST(SpfUnbound, ChecksAgainstRealDns) {
  UnboundSpf dns(
      {"spf.test."},
      {"spf.test. TXT \"v=spf1 ip4:192.0.2.0/24 include:inc.spf.test \" \"mx -all\"",
       "inc.spf.test. TXT \"v=spf1 a:host.spf.test -all\"", "host.spf.test. A 198.51.100.5",
       "spf.test. MX 10 mx.spf.test.", "mx.spf.test. A 203.0.113.9", "other.spf.test. TXT \"unrelated\"",
       "two.spf.test. TXT \"v=spf1 -all\"", "two.spf.test. TXT \"v=spf1 +all\""});
  EXPECT_EQ(dns.check("192.0.2.200", "a@spf.test").result, R::kPass);
  EXPECT_EQ(dns.check("198.51.100.5", "a@spf.test").result, R::kPass);   // via include
  EXPECT_EQ(dns.check("203.0.113.9", "a@spf.test").result, R::kPass);    // via mx (strings joined)
  EXPECT_EQ(dns.check("203.0.113.10", "a@spf.test").result, R::kFail);
  EXPECT_EQ(dns.check("192.0.2.1", "a@other.spf.test").result, R::kNone);
  EXPECT_EQ(dns.check("192.0.2.1", "a@two.spf.test").result, R::kPermError);
  EXPECT_EQ(dns.check("192.0.2.1", "a@nowhere.spf.test").result, R::kNone);
  EXPECT_EQ(dns.check("192.0.2.1", "a@servfail.test").result, R::kTempError);
}

TEST(SpfUnbound, PtrAndMacrosAgainstRealDns) {
  // 1.2.3.x, not 192.0.2.x: unbound keeps the reverse zones of the documentation ranges among its
  // default local zones, and our local-data there was not answered.
  UnboundSpf dns(
      {"ptr.test.", "3.2.1.in-addr.arpa."},
      {"ptr.test. TXT \"v=spf1 ptr exists:%{l}.%{ir}.bl.ptr.test -all exp=why.ptr.test\"",
       "why.ptr.test. TXT \"%{i} is not %{p}\"", "7.3.2.1.in-addr.arpa. PTR mail.ptr.test.",
       "mail.ptr.test. A 1.2.3.7", "8.3.2.1.in-addr.arpa. PTR mail.ptr.test.",
       "ok.9.3.2.1.bl.ptr.test. A 127.0.0.2"});
  EXPECT_EQ(dns.check("1.2.3.7", "a@ptr.test").result, R::kPass);  // PTR validated by its A record
  EXPECT_EQ(dns.check("1.2.3.9", "ok@ptr.test").result, R::kPass);  // exists: with macros
  auto fail = dns.check("1.2.3.8", "a@ptr.test");                    // PTR does not validate
  EXPECT_EQ(fail.result, R::kFail);
  EXPECT_EQ(fail.explanation, "1.2.3.8 is not unknown");
  // A hostile local part turns into odd query names; they are plain non-existent names, not errors.
  EXPECT_EQ(dns.check("1.2.3.9", "a b\\\"(;@ptr.test").result, R::kFail);
}

}  // namespace
}  // namespace posthorn::msgauth
