// Tests of DMARC aggregate reports: rows from an evaluation, the flat text forms, the Appendix C XML
// (compared to an expected document), gzip round trips and limits, the report message, rua= parsing
// and the external destination check of RFC 7489 §7.1 over dns::TableResolver.
#include "base/gzip.hpp"
#include "msgauth/dmarc_report.hpp"

#include <gtest/gtest.h>

#include "base/base64.hpp"
#include "dns/table_resolver.hpp"
#include "msgauth/spf_test_util.hpp"

namespace posthorn::msgauth {
namespace {

using testing::run;

const PublicSuffixList& psl() {
  static const PublicSuffixList list("com\nco.uk\nuk\norg\n");
  return list;
}

DmarcOutcome failing_outcome() {
  DmarcOutcome o;
  o.result = DmarcResult::kFail;
  o.from_domain = "Example.com";
  o.org_domain = "example.com";
  o.record_domain = "example.com";
  o.record = DmarcRecord{};
  o.record->policy = DmarcPolicy::kReject;
  o.record->subdomain_policy = DmarcPolicy::kQuarantine;
  o.record->adkim = DmarcAlignment::kStrict;
  o.record->pct = 50;
  o.record->rua = {"mailto:dmarc@example.com"};
  o.dkim_aligned = false;
  o.spf_aligned = true;
  return o;
}

DmarcAggregate sample_report() {
  DmarcAggregate a;
  a.domain = "example.com";
  a.day = 1795737600;  // 2026-11-27 00:00 UTC
  a.policy = {"example.com", "s", "r", "reject", "quarantine", 50, {"mailto:dmarc@example.com"}};
  DmarcReportRow r{"192.0.2.1", "example.com", "example.com", "reject", "fail", "pass",
                   {{"example.com", "sel", "fail"}}, "example.com", "mfrom", "pass"};
  a.rows.push_back({r, 3});
  DmarcReportRow r2 = r;
  r2.source_ip = "2001:db8::1";
  r2.envelope_from = "";
  r2.dkim.clear();
  r2.spf_domain = "mx.example.net";
  r2.spf_scope = "helo";
  r2.spf_result = "none";
  a.rows.push_back({r2, 1});
  return a;
}

TEST(DmarcReportEntry, FromAnEvaluationWithRua) {
  SpfOutcome spf;
  spf.result = SpfResult::kPass;
  spf.domain = "Example.com";
  std::vector<DkimResult> dkim(2);
  dkim[0].status = DkimStatus::kFail;
  dkim[0].domain = "example.com";
  dkim[0].selector = "sel";
  dkim[1].status = DkimStatus::kNone;  // no signature: not reported
  auto e = dmarc_report_entry("192.0.2.1", spf, dkim, failing_outcome(), "reject");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->policy, (DmarcPublished{"example.com", "s", "r", "reject", "quarantine", 50, {"mailto:dmarc@example.com"}}));
  EXPECT_EQ(e->row, (DmarcReportRow{"192.0.2.1", "example.com", "example.com", "reject", "fail", "pass",
                                    {{"example.com", "sel", "fail"}}, "example.com", "mfrom", "pass"}));
}

TEST(DmarcReportEntry, HeloIdentityHasNoEnvelopeFrom) {
  SpfOutcome spf;
  spf.result = SpfResult::kNone;
  spf.domain = "mx.example.net";
  spf.helo_identity = true;
  auto e = dmarc_report_entry("192.0.2.1", spf, {}, failing_outcome(), "none");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->row.envelope_from, "");
  EXPECT_EQ(e->row.spf_scope, "helo");
  EXPECT_TRUE(e->row.dkim.empty());
}

TEST(DmarcReportEntry, NothingWithoutRecordOrRua) {
  DmarcOutcome o = failing_outcome();
  o.record->rua.clear();
  EXPECT_FALSE(dmarc_report_entry("192.0.2.1", {}, {}, o, "none"));
  o.record.reset();
  EXPECT_FALSE(dmarc_report_entry("192.0.2.1", {}, {}, o, "none"));
}

TEST(DmarcReportEntry, DkimResultsAreBounded) {
  std::vector<DkimResult> dkim(kDmarcReportMaxDkim + 1);
  for (auto& d : dkim) d.status = DkimStatus::kPass;
  auto e = dmarc_report_entry("192.0.2.1", {}, dkim, failing_outcome(), "none");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->row.dkim.size(), kDmarcReportMaxDkim);
  dkim.pop_back();
  e = dmarc_report_entry("192.0.2.1", {}, dkim, failing_outcome(), "none");
  EXPECT_EQ(e->row.dkim.size(), kDmarcReportMaxDkim);
}

TEST(DmarcReportText, RoundTrips) {
  const DmarcAggregate a = sample_report();
  for (const auto& [row, count] : a.rows) {
    auto back = parse_row(serialize_row(row));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, row);
  }
  auto p = parse_published(serialize_published(a.policy));
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, a.policy);
  EXPECT_FALSE(parse_row("a\x1f" "b"));
  EXPECT_FALSE(parse_published("example.com\x1fr\x1fr\x1fnone\x1f\x1fx"));
}

TEST(DmarcReportText, ControlCharactersCannotSplitFields) {
  DmarcReportRow r = sample_report().rows[0].first;
  r.header_from = "evil\x1f" "example.com";
  const std::string text = serialize_row(r);
  auto back = parse_row(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->header_from, "evil?example.com");
  EXPECT_EQ(back->spf_result, "pass");
}

TEST(DmarcReportXml, MatchesAppendixC) {
  DmarcAggregate a = sample_report();
  a.rows.pop_back();
  a.rows[0].first.header_from = "a<b&c";
  const std::string xml = dmarc_report_xml(a, {"mx.example.org", "noreply-dmarc@mx.example.org", "r1"});
  const std::string expected =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<feedback>\n"
      "  <version>1.0</version>\n"
      "  <report_metadata>\n"
      "    <org_name>mx.example.org</org_name>\n"
      "    <email>noreply-dmarc@mx.example.org</email>\n"
      "    <report_id>r1</report_id>\n"
      "    <date_range>\n"
      "      <begin>1795737600</begin>\n"
      "      <end>1795823999</end>\n"
      "    </date_range>\n"
      "  </report_metadata>\n"
      "  <policy_published>\n"
      "    <domain>example.com</domain>\n"
      "    <adkim>s</adkim>\n"
      "    <aspf>r</aspf>\n"
      "    <p>reject</p>\n"
      "    <sp>quarantine</sp>\n"
      "    <pct>50</pct>\n"
      "  </policy_published>\n"
      "  <record>\n"
      "    <row>\n"
      "      <source_ip>192.0.2.1</source_ip>\n"
      "      <count>3</count>\n"
      "      <policy_evaluated>\n"
      "        <disposition>reject</disposition>\n"
      "        <dkim>fail</dkim>\n"
      "        <spf>pass</spf>\n"
      "      </policy_evaluated>\n"
      "    </row>\n"
      "    <identifiers>\n"
      "      <envelope_from>example.com</envelope_from>\n"
      "      <header_from>a&lt;b&amp;c</header_from>\n"
      "    </identifiers>\n"
      "    <auth_results>\n"
      "      <dkim>\n"
      "        <domain>example.com</domain>\n"
      "        <selector>sel</selector>\n"
      "        <result>fail</result>\n"
      "      </dkim>\n"
      "      <spf>\n"
      "        <domain>example.com</domain>\n"
      "        <scope>mfrom</scope>\n"
      "        <result>pass</result>\n"
      "      </spf>\n"
      "    </auth_results>\n"
      "  </record>\n"
      "</feedback>\n";
  EXPECT_EQ(xml, expected);
}

TEST(DmarcReportXml, OverflowIsReportedAsError) {
  DmarcAggregate a = sample_report();
  EXPECT_EQ(dmarc_report_xml(a, {}).find("<error>"), std::string::npos);
  a.overflow = 7;
  const std::string xml = dmarc_report_xml(a, {});
  EXPECT_NE(xml.find("<error>7 further evaluations not itemised (row limit)</error>"), std::string::npos);
  EXPECT_LT(xml.find("</date_range>"), xml.find("<error>"));
  // Two records, and the HELO row has no envelope_from and no dkim.
  std::size_t records = 0;
  for (std::size_t p = xml.find("<record>"); p != std::string::npos; p = xml.find("<record>", p + 1)) ++records;
  EXPECT_EQ(records, 2u);
  EXPECT_EQ(xml.find("<envelope_from>", xml.find("2001:db8::1")), std::string::npos);
}

TEST(DmarcReportGzip, RoundTripAndLimits) {
  const std::string xml = dmarc_report_xml(sample_report(), {"o", "e", "id"});
  const std::string gz = gzip::compress(xml);
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  auto back = gzip::decompress(gz, xml.size());  // exactly at the limit
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, xml);
  EXPECT_FALSE(gzip::decompress(gz, xml.size() - 1));  // one byte over
  EXPECT_FALSE(gzip::decompress(gz.substr(0, gz.size() - 4), xml.size()));  // truncated
  EXPECT_FALSE(gzip::decompress("not gzip at all", 1000));
  auto empty = gzip::decompress(gzip::compress(""), 0);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
  // Larger than one zlib step in both directions.
  std::string big;
  for (int i = 0; i < 20000; ++i) big += std::to_string(i * 7919) + ",";
  auto big_back = gzip::decompress(gzip::compress(big), big.size());
  ASSERT_TRUE(big_back);
  EXPECT_EQ(*big_back, big);
}

TEST(DmarcReportMessage, Format) {
  const DmarcAggregate a = sample_report();
  const ReportMetadata meta{"mx.example.org", "noreply-dmarc@mx.example.org", "example.com.1795737600.ab12"};
  ReportMessageInput in{"noreply-dmarc@mx.example.org", {"dmarc@example.com", "agg@example.com"},
                        "Fri, 27 Nov 2026 05:15:11 +0000", "mx.example.org", "ab12@mx.example.org"};
  const std::string m = dmarc_report_message(a, meta, in);
  EXPECT_TRUE(m.starts_with("From: noreply-dmarc@mx.example.org\r\nTo: dmarc@example.com,\r\n agg@example.com\r\n"));
  EXPECT_NE(m.find("\r\nSubject: Report Domain: example.com\r\n Submitter: mx.example.org\r\n Report-ID: "
                   "<example.com.1795737600.ab12@mx.example.org>\r\n"),
            std::string::npos);
  EXPECT_NE(m.find("\r\nContent-Type: multipart/mixed; boundary=\"=_dmarc_example.com.1795737600.ab12\"\r\n"),
            std::string::npos);
  EXPECT_NE(m.find("Content-Type: text/plain; charset=us-ascii\r\n\r\nThis is a DMARC aggregate report"),
            std::string::npos);
  const std::string disposition =
      "Content-Disposition: attachment; filename=\"mx.example.org!example.com!1795737600!1795823999.xml.gz\"\r\n\r\n";
  const std::size_t body = m.find(disposition);
  ASSERT_NE(body, std::string::npos);
  EXPECT_NE(m.find("Content-Type: application/gzip"), std::string::npos);
  const std::size_t end = m.find("\r\n--=_dmarc_example.com.1795737600.ab12--\r\n");
  ASSERT_NE(end, std::string::npos);
  EXPECT_TRUE(m.ends_with("--\r\n"));
  std::string b64 = m.substr(body + disposition.size(), end - body - disposition.size());
  for (std::size_t p = 0; (p = b64.find("\r\n", p)) != std::string::npos;) {
    EXPECT_LE(p % 78, 76u);
    b64.erase(p, 2);
  }
  auto gz = base64::decode(b64);
  ASSERT_TRUE(gz);
  auto xml = gzip::decompress(*gz, 1 << 20);
  ASSERT_TRUE(xml);
  EXPECT_EQ(*xml, dmarc_report_xml(a, meta));
  for (std::size_t p = 0; (p = m.find('\n', p + 1)) != std::string::npos;) ASSERT_EQ(m[p - 1], '\r');
}

TEST(DmarcRua, Parse) {
  EXPECT_EQ(parse_rua("mailto:dmarc@Example.COM"), (RuaTarget{"dmarc@example.com", 0}));
  EXPECT_EQ(parse_rua(" MAILTO:a%21b@example.com!10m "), (RuaTarget{"a!b@example.com", 10ull << 20}));
  EXPECT_EQ(parse_rua("mailto:a@example.com!512"), (RuaTarget{"a@example.com", 512}));
  EXPECT_EQ(parse_rua("mailto:a@example.com!2k"), (RuaTarget{"a@example.com", 2048}));
  EXPECT_EQ(parse_rua("mailto:a@example.com!1g"), (RuaTarget{"a@example.com", 1ull << 30}));
  EXPECT_EQ(parse_rua("mailto:a@example.com!1t"), (RuaTarget{"a@example.com", 1ull << 40}));
  EXPECT_FALSE(parse_rua("https://example.com/report"));
  EXPECT_FALSE(parse_rua("mailto:nobody"));
  EXPECT_FALSE(parse_rua("mailto:@example.com"));
  EXPECT_FALSE(parse_rua("mailto:a@"));
  EXPECT_FALSE(parse_rua("mailto:a@example.com!"));
  EXPECT_FALSE(parse_rua("mailto:a@example.com!10x"));
  EXPECT_FALSE(parse_rua("mailto:a@example.com!0"));
  EXPECT_FALSE(parse_rua("mailto:a%2@example.com"));
  EXPECT_FALSE(parse_rua("mailto:a%2"));
  EXPECT_FALSE(parse_rua("mailto:a@example.com!99999999999999999999t"));
  EXPECT_FALSE(parse_rua("mailto:a b@example.com"));
}

TEST(DmarcRua, ExternalDestinationsNeedTheirConsent) {
  dns::TableResolver dns;
  dns.add_txt("example.com._report._dmarc.reports.example.net", "v=DMARC1;");
  dns.add_txt("example.com._report._dmarc.other.example.org", "v=spf1 -all");
  DmarcPublished p;
  p.domain = "example.com";
  p.rua = {"mailto:dmarc@mail.example.com!1m",           // same organizational domain
           "mailto:agg@reports.example.net",              // external, consents
           "mailto:agg2@reports.example.net",             // external, same domain: one lookup
           "mailto:x@other.example.org",                  // external, no v=DMARC1 record
           "mailto:y@silent.example.co.uk",               // external, no record at all
           "https://example.com/dmarc",                   // not mailto
           "mailto:dmarc@mail.example.com"};              // duplicate
  auto targets = run(dmarc_report_targets(dns, psl(), p));
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0], (RuaTarget{"dmarc@mail.example.com", 1u << 20}));
  EXPECT_EQ(targets[1], (RuaTarget{"agg@reports.example.net", 0}));
  EXPECT_EQ(targets[2], (RuaTarget{"agg2@reports.example.net", 0}));
}

TEST(DmarcRua, TemporaryFailureMeansNoExternalReport) {
  dns::TableResolver dns;
  dns.fail("example.com._report._dmarc.reports.example.net", dns::Status::kTempFail);
  DmarcPublished p;
  p.domain = "example.com";
  p.rua = {"mailto:agg@reports.example.net"};
  EXPECT_TRUE(run(dmarc_report_targets(dns, psl(), p)).empty());
}

TEST(DmarcReportDay, StartOfUtcDay) {
  EXPECT_EQ(day_start(1795737600), 1795737600);
  EXPECT_EQ(day_start(1795737600 + kDaySeconds - 1), 1795737600);
  EXPECT_EQ(day_start(1795737600 + kDaySeconds), 1795737600 + kDaySeconds);
  EXPECT_EQ(day_start(-1), -kDaySeconds);
}

}  // namespace
}  // namespace posthorn::msgauth
