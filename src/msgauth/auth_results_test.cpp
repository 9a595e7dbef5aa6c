// Tests of msgauth/auth_results: the formatted field (the brief's example byte for byte, folding at
// 78 columns, quoting, "none", HELO identity, DMARC policy comment), and the scan for our own
// authserv-id (folded fields, comments before the id, quoted ids, other ids kept, body ignored).
#include <gtest/gtest.h>

#include "base/ascii.hpp"
#include "msgauth/auth_results.hpp"
#include "msgauth/spf_test_util.hpp"

namespace posthorn::msgauth {
namespace {

SpfOutcome spf(SpfResult r, std::string domain, bool helo = false) {
  SpfOutcome o;
  o.result = r;
  o.domain = std::move(domain);
  o.helo_identity = helo;
  return o;
}

DmarcOutcome dmarc(DmarcResult r, std::string from) {
  DmarcOutcome o;
  o.result = r;
  o.from_domain = std::move(from);
  return o;
}

TEST(AuthResults, FormatsTheExample) {
  AuthResultsInput in;
  in.authserv_id = "mx.example.org";
  in.spf = spf(SpfResult::kPass, "example.com");
  in.dkim = std::vector<DkimMethodResult>{{"pass", "example.com", "s1", "AbCdEfGh", "", ""}};
  in.dmarc = dmarc(DmarcResult::kPass, "example.com");
  EXPECT_EQ(format_authentication_results(in),
            "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.com;\r\n"
            "\tdkim=pass header.d=example.com header.s=s1 header.b=AbCdEfGh;\r\n"
            "\tdmarc=pass header.from=example.com\r\n");
}

TEST(AuthResults, FoldsAtColumn78AndQuotes) {
  AuthResultsInput in;
  in.authserv_id = "mx.example.org";
  in.spf = spf(SpfResult::kSoftFail, "helo.example.net", true);
  in.dkim = std::vector<DkimMethodResult>{
      {"fail", "example.com", "sel", "ab/+Cd==", "rsa-sha256", "signature did not verify"},
      {"pass", "a-very-long-signing-domain-name.example.com", "selector-2026", "XyZ0123456", "ed25519-sha256", ""}};
  DmarcOutcome d = dmarc(DmarcResult::kFail, "example.com");
  d.requested = DmarcPolicy::kReject;
  d.policy = DmarcPolicy::kQuarantine;
  in.dmarc = d;
  const std::string field = format_authentication_results(in);
  EXPECT_NE(field.find("spf=softfail smtp.helo=helo.example.net;"), std::string::npos) << field;
  EXPECT_NE(field.find("reason=\"signature did not verify\""), std::string::npos) << field;
  EXPECT_NE(field.find("header.b=\"ab/+Cd==\""), std::string::npos) << field;  // '/' and '=' are tspecials
  EXPECT_NE(field.find("header.a=rsa-sha256"), std::string::npos) << field;
  EXPECT_NE(field.find("dmarc=fail (p=reject dis=quarantine) header.from=example.com\r\n"), std::string::npos) << field;
  ASSERT_TRUE(field.ends_with("\r\n"));
  for (auto line : ascii::split(std::string_view(field).substr(0, field.size() - 2), '\n')) {
    if (line.ends_with('\r')) line.remove_suffix(1);
    EXPECT_LE(line.size(), 78u) << line;
  }
  // Every continuation line starts with a tab; no bare CR or LF.
  EXPECT_LT(field.find('\n'), field.size() - 1);  // it was folded
  for (size_t p = field.find('\n'); p != std::string::npos && p + 1 < field.size(); p = field.find('\n', p + 1)) {
    EXPECT_EQ(field[p + 1], '\t');
    EXPECT_EQ(field[p - 1], '\r');
  }
}

TEST(AuthResults, NoneAndEmptyDkim) {
  AuthResultsInput in;
  in.authserv_id = "mx.example.org";
  EXPECT_EQ(format_authentication_results(in), "Authentication-Results: mx.example.org; none\r\n");
  in.dkim = std::vector<DkimMethodResult>{};
  EXPECT_EQ(format_authentication_results(in), "Authentication-Results: mx.example.org; dkim=none\r\n");
}

TEST(AuthResults, Pvalues) {
  EXPECT_EQ(auth_results_pvalue("example.com"), "example.com");
  EXPECT_EQ(auth_results_pvalue("user@example.com"), "user@example.com");
  EXPECT_EQ(auth_results_pvalue("first.last+tag@example.com"), "first.last+tag@example.com");
  EXPECT_EQ(auth_results_pvalue("@example.com"), "@example.com");
  EXPECT_EQ(auth_results_pvalue("a b"), "\"a b\"");
  EXPECT_EQ(auth_results_pvalue("we\"ird\\"), "\"we\\\"ird\\\\\"");
  EXPECT_EQ(auth_results_pvalue("x\r\ny"), "\"xy\"");
  EXPECT_EQ(auth_results_pvalue("bad..local@example.com"), "\"bad..local@example.com\"");
  EXPECT_EQ(auth_results_pvalue(""), "\"\"");
}

TEST(AuthResults, FindsOurOwnFieldsOnly) {
  const std::string msg =
      "Received: from x\r\n"
      "Authentication-Results: MX.Example.ORG; spf=pass\r\n"              // ours (case differs): forged
      "Authentication-Results: other.example.net;\r\n\tdkim=pass\r\n"     // someone else's: kept
      "authentication-results : (comment (nested)) mx.example.org 1;\r\n"  // ours after a comment
      "  dkim=fail header.d=x.test\r\n"
      "Authentication-Results: \"mx.example.org\"; none\r\n"               // ours, quoted
      "Authentication-Results: mx.example.org.evil; none\r\n"              // not ours
      "Subject: hi\r\n"
      "\r\n"
      "Authentication-Results: mx.example.org; in the body\r\n";
  const auto ranges = find_own_authentication_results(msg, "mx.example.org");
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(msg.substr(ranges[0].begin, ranges[0].end - ranges[0].begin),
            "Authentication-Results: MX.Example.ORG; spf=pass\r\n");
  EXPECT_EQ(msg.substr(ranges[1].begin, ranges[1].end - ranges[1].begin),
            "authentication-results : (comment (nested)) mx.example.org 1;\r\n  dkim=fail header.d=x.test\r\n");
  EXPECT_EQ(msg.substr(ranges[2].begin, ranges[2].end - ranges[2].begin),
            "Authentication-Results: \"mx.example.org\"; none\r\n");
  EXPECT_EQ(drop_ranges(msg, ranges),
            "Received: from x\r\n"
            "Authentication-Results: other.example.net;\r\n\tdkim=pass\r\n"
            "Authentication-Results: mx.example.org.evil; none\r\n"
            "Subject: hi\r\n"
            "\r\n"
            "Authentication-Results: mx.example.org; in the body\r\n");
}

TEST(AuthResults, FindHandlesBareLfAndNoBody) {
  const std::string msg = "Authentication-Results: mx.test; none\nX: y\n";
  const auto ranges = find_own_authentication_results(msg, "mx.test");
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0], (ByteRange{0, 38}));
  EXPECT_EQ(drop_ranges(msg, ranges), "X: y\n");
  EXPECT_TRUE(find_own_authentication_results("", "mx.test").empty());
  EXPECT_TRUE(find_own_authentication_results("Authentication-Results:", "mx.test").empty());
  // A continuation line before the first field is not a field.
  EXPECT_TRUE(find_own_authentication_results(" Authentication-Results: mx.test; none\r\nX: y\r\n", "mx.test").empty());
}

TEST(AuthResults, RandomHeadersGiveSaneRanges) {
  const char* pieces[] = {"Authentication-Results:", " mx.test", ";", "\r\n", "\n", " ", "\t", "(", ")", "\"",
                          "\\", "x", "From: a@b\r\n", "\r\n\r\n", ":"};
  uint32_t seed = 7;
  for (int round = 0; round < 2000; ++round) {
    const std::string msg = testing::random_fragments(seed, pieces, 20);
    const auto ranges = find_own_authentication_results(msg, "mx.test");
    size_t last = 0;
    for (const auto& r : ranges) {
      ASSERT_LE(last, r.begin) << msg;
      ASSERT_LT(r.begin, r.end) << msg;
      ASSERT_LE(r.end, msg.size()) << msg;
      EXPECT_TRUE(msg.compare(r.begin, 22, "Authentication-Results") == 0) << msg;
      last = r.end;
    }
    EXPECT_LE(drop_ranges(msg, ranges).size(), msg.size());
  }
}

}  // namespace
}  // namespace posthorn::msgauth
