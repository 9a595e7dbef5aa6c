// Tests of msgauth/dmarc: record parsing (every tag, the §6.3 rua rule, errors), alignment, From
// extraction per RFC 7489 §6.6.1, and evaluation over dns::TableResolver: SPF/DKIM alignment
// (relaxed and strict), the Organizational Domain fallback with sp=, DNS failures, several records,
// pct sampling at the boundary, several From domains; discovery over a real unbound.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "dns/local_dns_server.hpp"
#include "dns/table_resolver.hpp"
#include "dns/unbound_resolver.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/spf_test_util.hpp"

namespace posthorn::msgauth {
namespace {

namespace asio = boost::asio;

using testing::run;

const PublicSuffixList& psl() {
  static const PublicSuffixList list("com\nco.uk\nuk\n*.ck\n");
  return list;
}

TEST(DmarcRecord, ParsesEveryTag) {
  std::string error;
  auto r = parse_dmarc_record(
      "v=DMARC1; p=Reject; sp=quarantine; adkim=s; aspf=r; pct=25; "
      "rua=mailto:agg@example.com!10m, https://r.example.com/x; ruf=mailto:f@example.com; fo=1:d; ri=3600; "
      "future=whatever",
      &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->policy, DmarcPolicy::kReject);
  EXPECT_EQ(r->subdomain_policy, DmarcPolicy::kQuarantine);
  EXPECT_EQ(r->adkim, DmarcAlignment::kStrict);
  EXPECT_EQ(r->aspf, DmarcAlignment::kRelaxed);
  EXPECT_EQ(r->pct, 25);
  EXPECT_EQ(r->rua, (std::vector<std::string>{"mailto:agg@example.com!10m", "https://r.example.com/x"}));
  EXPECT_EQ(r->ruf, std::vector<std::string>{"mailto:f@example.com"});
  EXPECT_EQ(r->fo, "1:d");
  EXPECT_EQ(r->ri, 3600u);

  auto d = parse_dmarc_record("v=DMARC1;p=none");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->adkim, DmarcAlignment::kRelaxed);
  EXPECT_EQ(d->pct, 100);
  EXPECT_FALSE(d->subdomain_policy);
  EXPECT_EQ(d->ri, 86400u);
}

TEST(DmarcRecord, ErrorsMeanNoPolicy) {
  for (const char* bad : {"p=reject; v=DMARC1", "v=DMARC2; p=reject", "v=dmarc1; p=reject", "v=DMARC1",
                          "v=DMARC1; p=block", "v=DMARC1; p=reject; p=none", "v=DMARC1; p=reject; adkim=x",
                          "v=DMARC1; p=reject; pct=101", "v=DMARC1; p=reject; pct=-1", "v=DMARC1; p=reject; fo=2",
                          "v=DMARC1; p=reject; ri=x", "v=DMARC1; p=reject; ruf=nota uri", "v=DMARC1; p=reject; sp=x",
                          "v=DMARC1; p=reject; junk", "v=DMARC1; p=reject; v=DMARC1"}) {
    std::string error;
    EXPECT_FALSE(parse_dmarc_record(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  // pct at its bounds.
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; pct=100")->pct, 100);
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; pct=0")->pct, 0);
  // §6.3: a bad or missing p= with a valid rua reads as p=none.
  auto r = parse_dmarc_record("v=DMARC1; p=bogus; sp=reject; rua=mailto:a@example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy, DmarcPolicy::kNone);
  EXPECT_FALSE(r->subdomain_policy);
  EXPECT_TRUE(parse_dmarc_record("v=DMARC1; rua=mailto:a@example.com"));
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1; p=bogus; rua=not-a-uri"));
  // Record length at the limit and over.
  std::string pad = "v=DMARC1; p=reject; x=";
  const std::string at = pad + std::string(kDmarcMaxRecord - pad.size(), 'y');
  EXPECT_TRUE(parse_dmarc_record(at));
  EXPECT_FALSE(parse_dmarc_record(at + "y"));
}

TEST(DmarcAlignment, RelaxedAndStrict) {
  EXPECT_TRUE(dmarc_aligned(psl(), "Example.com.", "example.COM", DmarcAlignment::kStrict));
  EXPECT_FALSE(dmarc_aligned(psl(), "mail.example.com", "example.com", DmarcAlignment::kStrict));
  EXPECT_TRUE(dmarc_aligned(psl(), "mail.example.com", "example.com", DmarcAlignment::kRelaxed));
  EXPECT_TRUE(dmarc_aligned(psl(), "a.example.co.uk", "b.example.co.uk", DmarcAlignment::kRelaxed));
  EXPECT_FALSE(dmarc_aligned(psl(), "example.co.uk", "other.co.uk", DmarcAlignment::kRelaxed));
  EXPECT_FALSE(dmarc_aligned(psl(), "x.a.ck", "y.b.ck", DmarcAlignment::kRelaxed));  // *.ck: a.ck is a suffix
  EXPECT_TRUE(dmarc_aligned(psl(), "x.a.ck", "z.x.a.ck", DmarcAlignment::kRelaxed));
  EXPECT_FALSE(dmarc_aligned(psl(), "", "example.com", DmarcAlignment::kRelaxed));
}

TEST(DmarcFrom, ExtractsPerSection6_6_1) {
  auto one = extract_from_domains("Subject: hi\r\nFrom: \"Alice\" <alice@Example.COM>\r\nTo: b@c.test\r\n\r\nbody\r\n");
  EXPECT_EQ(one.status, FromStatus::kOk);
  EXPECT_EQ(one.domains, std::vector<std::string>{"example.com"});

  auto same = extract_from_domains("From: a@example.com,\r\n b@EXAMPLE.com.\r\n\r\n");
  EXPECT_EQ(same.status, FromStatus::kOk);
  EXPECT_EQ(same.domains.size(), 1u);

  auto two = extract_from_domains("From: a@example.com, b@other.test\r\n\r\n");
  EXPECT_EQ(two.status, FromStatus::kMultipleDomains);
  EXPECT_EQ(two.domains, (std::vector<std::string>{"example.com", "other.test"}));

  auto fields = extract_from_domains("From: a@example.com\r\nFrom: a@example.com\r\n\r\n");
  EXPECT_EQ(fields.status, FromStatus::kMultipleFields);

  EXPECT_EQ(extract_from_domains("To: a@example.com\r\n\r\nFrom: x@y.test\r\n").status, FromStatus::kMissing);
  EXPECT_EQ(extract_from_domains("From: undisclosed\r\n\r\n").status, FromStatus::kMissing);
  EXPECT_EQ(extract_from_domains("From: a@[192.0.2.1]\r\n\r\n").status, FromStatus::kMissing);
  EXPECT_EQ(extract_from_domains("").status, FromStatus::kMissing);
  auto group = extract_from_domains("From: Team: x@team.test;\r\n\r\n");
  EXPECT_EQ(group.domains, std::vector<std::string>{"team.test"});
}

TEST(DmarcRecord, RandomInputNeverThrows) {
  const char* pieces[] = {"v=DMARC1", ";", "p=", "sp=", "reject", "none", "pct=", "999999999999", "50", "rua=",
                          "mailto:a@b", "!", "10m", ",", "=", " ", "\x80", "fo=", "1:d", "ri=", "adkim=s"};
  uint32_t seed = 99;
  for (int round = 0; round < 3000; ++round) {
    const std::string text = testing::random_fragments(seed, pieces, 12);
    auto r = parse_dmarc_record(text);
    if (r) {
      EXPECT_LE(r->pct, 100) << text;
      EXPECT_GE(r->pct, 0) << text;
    }
    (void)extract_from_domains("From: " + text + "\r\n\r\n");
  }
}

struct Fixture {
  dns::TableResolver dns;
  Fixture() {
    dns.add_txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com");
    dns.add_txt("_dmarc.example.com", "some other text");
    dns.add_txt("_dmarc.strict.com", "v=DMARC1; p=reject; adkim=s; aspf=s");
    dns.add_txt("_dmarc.own.example.com", "v=DMARC1; p=none");
    dns.add_txt("_dmarc.half.com", "v=DMARC1; p=reject; pct=50");
    dns.add_txt("_dmarc.two.com", "v=DMARC1; p=reject");
    dns.add_txt("_dmarc.two.com", "v=DMARC1; p=none");
    dns.add_txt("_dmarc.broken.com", "v=DMARC1; p=reject; pct=1000");
    dns.fail("_dmarc.tempfail.com", dns::Status::kTempFail);
    dns.add_txt("_dmarc.relaxed.com", "v=DMARC1; p=quarantine");
  }
  DmarcOutcome check(DmarcInput in, DmarcRandom random = {}) {
    return run(dmarc_check(dns, psl(), std::move(in), std::move(random)));
  }
};

TEST(DmarcCheck, SpfAndDkimAlignment) {
  Fixture f;
  // Relaxed SPF alignment: MAIL FROM bounce.example.com, From example.com.
  auto spf = f.check({"example.com", SpfResult::kPass, "bounce.example.com", {}});
  EXPECT_EQ(spf.result, DmarcResult::kPass);
  EXPECT_TRUE(spf.spf_aligned);
  EXPECT_EQ(spf.policy, DmarcPolicy::kNone);
  EXPECT_EQ(spf.record_domain, "example.com");
  // SPF passed for an unrelated domain; a verified, aligned DKIM signature passes.
  auto dkim = f.check({"example.com", SpfResult::kPass, "esp.test", {{"esp.test", true}, {"mail.example.com", true}}});
  EXPECT_EQ(dkim.result, DmarcResult::kPass);
  EXPECT_FALSE(dkim.spf_aligned);
  EXPECT_TRUE(dkim.dkim_aligned);
  // Aligned but failing: SPF softfail, DKIM not verified.
  auto fail = f.check({"example.com", SpfResult::kSoftFail, "example.com", {{"example.com", false}}});
  EXPECT_EQ(fail.result, DmarcResult::kFail);
  EXPECT_EQ(fail.policy, DmarcPolicy::kReject);
  EXPECT_EQ(fail.requested, DmarcPolicy::kReject);
  // Strict alignment: a subdomain does not align.
  auto strict = f.check({"strict.com", SpfResult::kPass, "mail.strict.com", {{"mail.strict.com", true}}});
  EXPECT_EQ(strict.result, DmarcResult::kFail);
  auto exact = f.check({"strict.com", SpfResult::kNeutral, "x.test", {{"STRICT.com", true}}});
  EXPECT_EQ(exact.result, DmarcResult::kPass);
}

TEST(DmarcCheck, OrganizationalDomainFallbackAndSubdomainPolicy) {
  Fixture f;
  auto sub = f.check({"a.b.example.com", SpfResult::kFail, "a.b.example.com", {}});
  EXPECT_EQ(sub.result, DmarcResult::kFail);
  EXPECT_EQ(sub.org_domain, "example.com");
  EXPECT_EQ(sub.record_domain, "example.com");
  EXPECT_EQ(sub.policy, DmarcPolicy::kQuarantine);  // sp=
  EXPECT_EQ(f.dns.log(), (std::vector<std::string>{"TXT _dmarc.a.b.example.com", "TXT _dmarc.example.com"}));
  // A record at the subdomain itself: its p= applies.
  auto own = f.check({"own.example.com", SpfResult::kFail, "own.example.com", {}});
  EXPECT_EQ(own.record_domain, "own.example.com");
  EXPECT_EQ(own.policy, DmarcPolicy::kNone);
  EXPECT_EQ(own.result, DmarcResult::kFail);
  // No sp=: subdomains get p=.
  auto relaxed = f.check({"x.relaxed.com", SpfResult::kFail, "", {}});
  EXPECT_EQ(relaxed.policy, DmarcPolicy::kQuarantine);
}

TEST(DmarcCheck, NoneTempErrorPermError) {
  Fixture f;
  auto none = f.check({"nodmarc.com", SpfResult::kPass, "nodmarc.com", {}});
  EXPECT_EQ(none.result, DmarcResult::kNone);
  EXPECT_EQ(none.policy, DmarcPolicy::kNone);
  EXPECT_EQ(f.check({"tempfail.com", SpfResult::kPass, "x", {}}).result, DmarcResult::kTempError);
  auto two = f.check({"two.com", SpfResult::kFail, "two.com", {}});
  EXPECT_EQ(two.result, DmarcResult::kPermError);
  EXPECT_EQ(two.policy, DmarcPolicy::kNone);
  EXPECT_EQ(f.check({"broken.com", SpfResult::kFail, "x", {}}).result, DmarcResult::kPermError);
  EXPECT_EQ(f.check({"localhost", SpfResult::kPass, "x", {}}).result, DmarcResult::kNone);
  EXPECT_EQ(f.check({"", SpfResult::kPass, "x", {}}).result, DmarcResult::kNone);
}

TEST(DmarcCheck, PctSamplingAtTheBoundary) {
  Fixture f;
  DmarcInput in{"half.com", SpfResult::kFail, "half.com", {}};
  auto inside = f.check(in, [] { return 49u; });  // 49 < 50: in the sample
  EXPECT_EQ(inside.policy, DmarcPolicy::kReject);
  EXPECT_FALSE(inside.sampled_out);
  auto outside = f.check(in, [] { return 50u; });
  EXPECT_EQ(outside.policy, DmarcPolicy::kQuarantine);  // one step weaker
  EXPECT_TRUE(outside.sampled_out);
  EXPECT_EQ(outside.requested, DmarcPolicy::kReject);
  // pct=100 never consults the random source.
  auto full = f.check({"example.com", SpfResult::kFail, "x", {}}, [] {
    ADD_FAILURE() << "random source used";
    return 99u;
  });
  EXPECT_EQ(full.policy, DmarcPolicy::kReject);
  // The default secure source works.
  EXPECT_EQ(f.check(in).result, DmarcResult::kFail);
}

TEST(DmarcCheck, MessageWithSeveralFromDomainsGetsTheStrictest) {
  Fixture f;
  auto strictest = run(dmarc_check_message(f.dns, psl(), "From: a@own.example.com, b@example.com\r\n\r\nbody",
                                           SpfResult::kFail, "x.test", {}));
  EXPECT_EQ(strictest.from_status, FromStatus::kMultipleDomains);
  EXPECT_EQ(strictest.from_domain, "example.com");
  EXPECT_EQ(strictest.policy, DmarcPolicy::kReject);

  auto missing = run(dmarc_check_message(f.dns, psl(), "Subject: x\r\n\r\n", SpfResult::kPass, "x.test", {}));
  EXPECT_EQ(missing.from_status, FromStatus::kMissing);
  EXPECT_EQ(missing.result, DmarcResult::kNone);

  auto pass = run(dmarc_check_message(f.dns, psl(), "From: <a@example.com>\r\n\r\n", SpfResult::kPass,
                                      "example.com", {}));
  EXPECT_EQ(pass.from_status, FromStatus::kOk);
  EXPECT_EQ(pass.result, DmarcResult::kPass);
  EXPECT_EQ(dmarc_result_name(pass.result), "pass");
  EXPECT_EQ(dmarc_policy_name(DmarcPolicy::kQuarantine), "quarantine");
}

TEST(DmarcUnbound, DiscoversRecordsOverRealDns) {
  dns::testing::LocalDnsServer server(
      {"example.test.", "split.test."},
      {"_dmarc.example.test. TXT \"v=DMARC1; p=reject; sp=quarantine; pct=100\"",
       "_dmarc.split.test. TXT \"v=DMARC1; p=quarantine; \" \"rua=mailto:d@split.test\""});
  asio::io_context io;
  config::Dns settings;
  settings.resolver = "127.0.0.1";
  settings.resolver_port = server.port();
  settings.timeout = std::chrono::seconds(5);
  auto created = dns::UnboundResolver::create(io.get_executor(), settings);
  ASSERT_TRUE(created);
  auto list = PublicSuffixList::load();
  ASSERT_TRUE(list);
  auto check = [&](DmarcInput in) {
    auto f = asio::co_spawn(io, dmarc_check(**created, **list, std::move(in)), asio::use_future);
    io.restart();
    io.run();
    return f.get();
  };
  auto sub = check({"mail.example.test", SpfResult::kPass, "other.test", {{"example.test", false}}});
  EXPECT_EQ(sub.result, DmarcResult::kFail);
  EXPECT_EQ(sub.record_domain, "example.test");
  EXPECT_EQ(sub.policy, DmarcPolicy::kQuarantine);
  auto split = check({"split.test", SpfResult::kPass, "bounce.split.test", {}});  // strings joined
  EXPECT_EQ(split.result, DmarcResult::kPass);
  ASSERT_TRUE(split.record);
  EXPECT_EQ(split.record->rua, std::vector<std::string>{"mailto:d@split.test"});
  EXPECT_EQ(check({"nothing.test", SpfResult::kPass, "nothing.test", {}}).result, DmarcResult::kNone);
  EXPECT_EQ(check({"servfail.test", SpfResult::kPass, "servfail.test", {}}).result, DmarcResult::kTempError);
}

}  // namespace
}  // namespace posthorn::msgauth
