// TLS-RPT values: the policy key round trip, the RFC 8460 §4.4 JSON, the §5.3 file name and the
// "_smtp._tls" TXT record's mailto: addresses.
#include <gtest/gtest.h>

#include "base/base64.hpp"
#include "base/gzip.hpp"

#include "queue/tls_report.hpp"

namespace posthorn::queue {
namespace {

TlsPolicyRef sts_policy() {
  return TlsPolicyRef{"example.test", "sts", {"version: STSv1", "mode: enforce", "mx: *.example.test", "max_age: 86400"},
                      {"*.example.test"}};
}

TEST(TlsReport, PolicyKeyRoundTrip) {
  for (const auto& p : {sts_policy(), TlsPolicyRef{"d.test", "tlsa", {"3 1 1 abcd", "2 1 1 ef01"}, {}},
                        TlsPolicyRef{"d.test", "no-policy-found", {}, {}}}) {
    auto back = parse_policy_key(serialize_policy(p));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, p);
  }
  EXPECT_FALSE(parse_policy_key("sts\nd.test\n"));
  EXPECT_FALSE(parse_policy_key("sts\nd.test\n5\na\n"));  // fewer mx lines than announced
  EXPECT_FALSE(parse_policy_key("sts\nd.test\nx\n"));
}

TEST(TlsReport, JsonHasTheRfc8460Fields) {
  TlsReport r;
  r.domain = "example.test";
  r.day = 1795737600;  // 2026-11-27 00:00:00 UTC
  r.policies.push_back(TlsPolicyCounts{sts_policy(), 5, 2,
                                       {{"certificate-host-mismatch", "mx1.example.test", "192.0.2.1", 1},
                                        {"sts-policy-fetch-error", "", "", 1}}});
  r.policies.push_back(TlsPolicyCounts{TlsPolicyRef{"example.test", "tlsa", {"3 1 1 ab\"cd"}, {}}, 1, 0, {}});
  const std::string json = tlsrpt_json(r, TlsReportMetadata{"mail.here.test", "tlsrpt@here.test", "rid-1"});
  for (const char* want : {
           "\"organization-name\": \"mail.here.test\"",
           "\"date-range\": {\"start-datetime\": \"2026-11-27T00:00:00Z\", \"end-datetime\": \"2026-11-27T23:59:59Z\"}",
           "\"contact-info\": \"tlsrpt@here.test\"", "\"report-id\": \"rid-1\"",
           "\"policy-type\": \"sts\"", "\"policy-string\": [\"version: STSv1\", \"mode: enforce\"",
           "\"policy-domain\": \"example.test\"", "\"mx-host\": [\"*.example.test\"]",
           "\"total-successful-session-count\": 5", "\"total-failure-session-count\": 2",
           "{\"result-type\": \"certificate-host-mismatch\", \"receiving-ip\": \"192.0.2.1\", "
           "\"receiving-mx-hostname\": \"mx1.example.test\", \"failed-session-count\": 1}",
           "{\"result-type\": \"sts-policy-fetch-error\", \"failed-session-count\": 1}",
           "\"policy-string\": [\"3 1 1 ab\\\"cd\"]"}) {
    EXPECT_NE(json.find(want), std::string::npos) << want << "\n" << json;
  }
  EXPECT_EQ(tlsrpt_filename("mail.here.test", r, "rid-1"),
            "mail.here.test!example.test!1795737600!1795823999!rid-1.json.gz");
}

TEST(TlsReport, MessageCarriesTheGzippedJson) {
  TlsReport r;
  r.domain = "example.test";
  r.day = 1795737600;
  r.policies.push_back(TlsPolicyCounts{sts_policy(), 3, 0, {}});
  const TlsReportMetadata meta{"mail.here.test", "postmaster@mail.here.test", "tlsrpt-1@mail.here.test"};
  const std::string m = tlsrpt_message(r, meta, {"tls@example.test", "b@example.test"}, 1795800000);
  for (const char* want : {"From: <postmaster@mail.here.test>\r\n", "To: <tls@example.test>, <b@example.test>\r\n",
                           "Subject: Report Domain: example.test Submitter: mail.here.test Report-ID: "
                           "<tlsrpt-1@mail.here.test>\r\n",
                           "TLS-Report-Domain: example.test\r\n", "TLS-Report-Submitter: mail.here.test\r\n",
                           "Content-Type: multipart/report; report-type=\"tlsrpt\";",
                           "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n",
                           "filename=\"mail.here.test!example.test!1795737600!1795823999!tlsrpt-1@mail.here.test.json.gz\"",
                           "Date: Fri, 27 Nov 2026 "}) {
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n" << m;
  }
  // The attachment: base64 lines of at most 76 characters, decoding to gzip of the JSON.
  const size_t start = m.find("\r\n\r\n", m.find("application/tlsrpt+gzip")) + 4;
  const size_t end = m.find("\r\n\r\n--", start);
  std::string b64;
  for (size_t i = start; i < end;) {
    const size_t nl = m.find("\r\n", i);
    const size_t stop = nl == std::string::npos || nl > end ? end : nl;
    EXPECT_LE(stop - i, 76u);
    b64 += m.substr(i, stop - i);
    i = stop + 2;
  }
  auto gz = base64::decode(b64);
  ASSERT_TRUE(gz);
  auto json = gzip::decompress(*gz, 1 << 20);
  ASSERT_TRUE(json);
  EXPECT_EQ(*json, tlsrpt_json(r, meta));
}

TEST(TlsReport, RuaMailtoAddresses) {
  EXPECT_EQ(tlsrpt_mailto({"v=TLSRPTv1; rua=mailto:tls@example.test"}), std::vector<std::string>{"tls@example.test"});
  EXPECT_EQ(tlsrpt_mailto({"v=TLSRPTv1;rua=mailto:a@x.test,https://r.x.test/v1, mailto:b@x.test"}),
            (std::vector<std::string>{"a@x.test", "b@x.test"}));
  EXPECT_TRUE(tlsrpt_mailto({"v=TLSRPTv1; rua=mailto:a@x.test", "v=TLSRPTv1; rua=mailto:b@x.test"}).empty());
  EXPECT_TRUE(tlsrpt_mailto({"v=spf1 -all"}).empty());
  EXPECT_TRUE(tlsrpt_mailto({"v=TLSRPTv1; rua=https://r.x.test/"}).empty());
}

}  // namespace
}  // namespace posthorn::queue
