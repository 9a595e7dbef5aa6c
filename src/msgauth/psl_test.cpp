// Tests of msgauth/psl: the publicsuffix.org checkPublicSuffix() test list (a large part of it,
// run against Debian's installed list), rules from a small inline list (wildcards, exceptions,
// sections), RFC 3492 sample strings for the Punycode encoder, and organizational_domain().
#include <gtest/gtest.h>

#include "msgauth/psl.hpp"

namespace posthorn::msgauth {
namespace {

const PublicSuffixList& debian_list() {
  static const auto list = PublicSuffixList::load();
  EXPECT_TRUE(list) << "publicsuffix package missing";
  return **list;
}

// checkPublicSuffix(input, expected registrable domain or null), from publicsuffix.org's test list.
TEST(Psl, PublicSuffixOrgTestList) {
  const PublicSuffixList& psl = debian_list();
  EXPECT_GT(psl.rule_count(), 9000u);
  const std::pair<const char*, const char*> cases[] = {
      {"COM", nullptr},
      {"example.COM", "example.com"},
      {"WwW.example.COM", "example.com"},
      {".com", nullptr},
      {".example", nullptr},
      {".example.com", nullptr},
      {".example.example", nullptr},
      {"example", nullptr},
      {"example.example", "example.example"},
      {"b.example.example", "example.example"},
      {"a.b.example.example", "example.example"},
      {"biz", nullptr},
      {"domain.biz", "domain.biz"},
      {"b.domain.biz", "domain.biz"},
      {"a.b.domain.biz", "domain.biz"},
      {"com", nullptr},
      {"example.com", "example.com"},
      {"b.example.com", "example.com"},
      {"a.b.example.com", "example.com"},
      {"uk.com", nullptr},
      {"example.uk.com", "example.uk.com"},
      {"b.example.uk.com", "example.uk.com"},
      {"a.b.example.uk.com", "example.uk.com"},
      {"test.ac", "test.ac"},
      {"mm", nullptr},
      {"c.mm", nullptr},
      {"b.c.mm", "b.c.mm"},
      {"a.b.c.mm", "b.c.mm"},
      {"jp", nullptr},
      {"test.jp", "test.jp"},
      {"www.test.jp", "test.jp"},
      {"ac.jp", nullptr},
      {"test.ac.jp", "test.ac.jp"},
      {"www.test.ac.jp", "test.ac.jp"},
      {"kyoto.jp", nullptr},
      {"test.kyoto.jp", "test.kyoto.jp"},
      {"ide.kyoto.jp", nullptr},
      {"b.ide.kyoto.jp", "b.ide.kyoto.jp"},
      {"a.b.ide.kyoto.jp", "b.ide.kyoto.jp"},
      {"c.kobe.jp", nullptr},
      {"b.c.kobe.jp", "b.c.kobe.jp"},
      {"a.b.c.kobe.jp", "b.c.kobe.jp"},
      {"city.kobe.jp", "city.kobe.jp"},
      {"www.city.kobe.jp", "city.kobe.jp"},
      {"ck", nullptr},
      {"test.ck", nullptr},
      {"b.test.ck", "b.test.ck"},
      {"a.b.test.ck", "b.test.ck"},
      {"www.ck", "www.ck"},
      {"www.www.ck", "www.ck"},
      {"us", nullptr},
      {"test.us", "test.us"},
      {"www.test.us", "test.us"},
      {"ak.us", nullptr},
      {"test.ak.us", "test.ak.us"},
      {"www.test.ak.us", "test.ak.us"},
      {"k12.ak.us", nullptr},
      {"test.k12.ak.us", "test.k12.ak.us"},
      {"www.test.k12.ak.us", "test.k12.ak.us"},
      // IDN labels: the answer is in A-labels.
      {"食狮.com.cn", "xn--85x722f.com.cn"},
      {"食狮.公司.cn", "xn--85x722f.xn--55qx5d.cn"},
      {"www.食狮.公司.cn", "xn--85x722f.xn--55qx5d.cn"},
      {"shishi.公司.cn", "shishi.xn--55qx5d.cn"},
      {"公司.cn", nullptr},
      {"食狮.中国", "xn--85x722f.xn--fiqs8s"},
      {"www.食狮.中国", "xn--85x722f.xn--fiqs8s"},
      {"shishi.中国", "shishi.xn--fiqs8s"},
      {"中国", nullptr},
      {"xn--85x722f.com.cn", "xn--85x722f.com.cn"},
      {"xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"},
      {"www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"},
      {"shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn"},
      {"xn--55qx5d.cn", nullptr},
      {"xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"},
      {"www.xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"},
      {"shishi.xn--fiqs8s", "shishi.xn--fiqs8s"},
      {"xn--fiqs8s", nullptr},
  };
  for (const auto& [in, want] : cases) {
    auto got = psl.registrable_domain(in);
    if (want == nullptr) {
      EXPECT_FALSE(got) << in << " -> " << got.value_or("");
    } else {
      EXPECT_EQ(got.value_or("(null)"), want) << in;
    }
  }
}

TEST(Psl, InlineRulesSectionsAndOrganizationalDomain) {
  const char* text =
      "// ===BEGIN ICANN DOMAINS===\n"
      "com\n*.ck\n!www.ck\nuk\nco.uk\n  // comment\nbad..rule\n"
      "// ===END ICANN DOMAINS===\n"
      "// ===BEGIN PRIVATE DOMAINS===\n"
      "blogspot.com trailing words are ignored\n"
      "// ===END PRIVATE DOMAINS===\n";
  const PublicSuffixList all(text);
  const PublicSuffixList icann(text, false);
  EXPECT_EQ(all.rule_count(), 6u);  // com, *.ck, !www.ck, uk, co.uk, blogspot.com; "bad..rule" skipped
  EXPECT_EQ(icann.rule_count(), 5u);
  EXPECT_EQ(all.public_suffix("a.b.blogspot.com"), "blogspot.com");
  EXPECT_EQ(icann.public_suffix("a.b.blogspot.com"), "com");
  EXPECT_EQ(all.organizational_domain("a.b.blogspot.com"), "b.blogspot.com");
  EXPECT_EQ(icann.organizational_domain("a.b.blogspot.com"), "blogspot.com");
  EXPECT_EQ(all.organizational_domain("Mail.Example.CO.UK."), "example.co.uk");
  EXPECT_EQ(all.organizational_domain("co.uk"), "co.uk");  // a public suffix is its own
  EXPECT_EQ(all.organizational_domain("x.y.test.ck"), "y.test.ck");
  EXPECT_EQ(all.organizational_domain("a.www.ck"), "www.ck");
  EXPECT_EQ(all.organizational_domain("example.unlisted"), "example.unlisted");
  EXPECT_EQ(all.organizational_domain("a..b.com"), "");
  EXPECT_EQ(all.public_suffix(""), "");
  EXPECT_EQ(all.public_suffix(std::string(64, 'a') + ".com"), "");
  EXPECT_EQ(all.public_suffix(std::string(63, 'a') + ".com"), "com");
  EXPECT_EQ(all.public_suffix("\xff.com"), "");  // invalid UTF-8
}

TEST(Psl, PunycodeRfc3492Samples) {
  // RFC 3492 §7.1 samples (as single labels) and well-known IDN names.
  EXPECT_EQ(domain_to_ascii("\xd9\x84\xd9\x8a\xd9\x87\xd9\x85\xd8\xa7\xd8\xa8\xd8\xaa\xd9\x83\xd9\x84\xd9\x85\xd9\x88"
                            "\xd8\xb4\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\x9f"),
            "xn--egbpdaj6bu4bxfgehfvwxn");  // (A) Arabic (Egyptian)
  EXPECT_EQ(domain_to_ascii("\xe4\xbb\x96\xe4\xbb\xac\xe4\xb8\xba\xe4\xbb\x80\xe4\xb9\x88\xe4\xb8\x8d\xe8\xaf\xb4"
                            "\xe4\xb8\xad\xe6\x96\x87"),
            "xn--ihqwcrb4cv8a8dqg056pqjye");  // (B) Chinese (simplified)
  EXPECT_EQ(domain_to_ascii("b\xc3\xbc" "cher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(domain_to_ascii("B\xc3\xbc" "cher.Example."), "xn--bcher-kva.example");
  EXPECT_EQ(domain_to_ascii("m\xc3\xbcnchen.de"), "xn--mnchen-3ya.de");
  EXPECT_EQ(domain_to_ascii("\xe4\xb8\xad\xe5\x9b\xbd"), "xn--fiqs8s");
  EXPECT_FALSE(domain_to_ascii("a\xc3"));     // truncated sequence
  EXPECT_FALSE(domain_to_ascii("\xc0\xaf"));  // overlong
  EXPECT_FALSE(domain_to_ascii(".a"));
}

}  // namespace
}  // namespace posthorn::msgauth
