// Tests of DKIM signing and verification (dkim.hpp) against a dns::TableResolver: round trips with
// RSA and Ed25519, RFC 8463 Appendix A's signed example, tampering (body, signed header, added
// From), every tag and key record check, and the limits at N and N+1 (signatures, h= entries,
// RSA key sizes).
#include "msgauth/dkim.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <random>

#include "base/base64.hpp"
#include "dns/table_resolver.hpp"
#include "mime/header.hpp"
#include "msgauth/canon.hpp"
#include "msgauth/dkim_test_keys.hpp"
#include "msgauth/msgauth_test_util.hpp"

namespace posthorn::msgauth {
namespace {

namespace asio = boost::asio;
using test_keys::ed25519_pem;
using test_keys::rsa2048_pem;

constexpr int64_t kNow = 1'800'000'000;

std::vector<DkimResult> verify(const std::string& message, dns::Resolver& resolver, int64_t now = kNow) {
  asio::io_context io;
  auto f = asio::co_spawn(io, dkim_verify(message, resolver, now), asio::use_future);
  io.run();
  return f.get();
}

const std::string kMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Lunch\r\n"
    " tomorrow?\r\n"
    "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "X-Unsigned: yes\r\n"
    "List-Id: <team.example.org>\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "are you free?  \r\n"
    "\r\n"
    "\r\n";

// A signer with one RSA and one Ed25519 key for example.org, and a resolver publishing both.
struct Fixture {
  DkimSigner signer;
  dns::TableResolver dns;
  Fixture() {
    EXPECT_TRUE(signer.add_key("example.org", "r1", rsa2048_pem()));
    EXPECT_TRUE(signer.add_key("Example.ORG", "e1", ed25519_pem()));
    dns.add_txt("r1._domainkey.example.org", dkim_txt_record(rsa2048_pem()).value());
    dns.add_txt("e1._domainkey.example.org", dkim_txt_record(ed25519_pem()).value());
  }
  std::string signed_message(const std::string& m = kMessage) { return signer.sign(m, "example.org", kNow) + m; }
};

std::string replace(std::string s, std::string_view from, std::string_view to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

TEST(DkimSign, TwoSignaturesFoldedAndVerifying) {
  Fixture fx;
  auto sigs = fx.signer.sign(kMessage, "EXAMPLE.org", kNow);
  auto fields = split_raw_fields(sigs);
  ASSERT_EQ(fields.size(), 2u);
  for (const auto& f : fields) EXPECT_EQ(f.name, "DKIM-Signature");
  EXPECT_TRUE(sigs.ends_with("\r\n"));
  // Folded: every line at most 78 characters, continuation lines start with a space.
  std::size_t start = 0;
  while (start < sigs.size()) {
    auto end = sigs.find("\r\n", start);
    EXPECT_LE(end - start, 78u) << sigs.substr(start, end - start);
    start = end + 2;
  }
  EXPECT_NE(sigs.find("a=rsa-sha256;"), std::string::npos);
  EXPECT_NE(sigs.find("a=ed25519-sha256;"), std::string::npos);
  EXPECT_NE(sigs.find("c=relaxed/relaxed;"), std::string::npos);
  EXPECT_NE(sigs.find("t=1800000000;"), std::string::npos);
  EXPECT_NE(sigs.find("h=from:from:to:subject:date:message-id:list-id;"), std::string::npos) << sigs;
  EXPECT_EQ(sigs.find("x-unsigned"), std::string::npos);

  auto results = verify(sigs + kMessage, fx.dns);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_EQ(r.status, DkimStatus::kPass) << r.reason;
    EXPECT_EQ(r.domain, "example.org");
    EXPECT_EQ(r.identity, "@example.org");
    EXPECT_EQ(r.b_prefix.size(), 12u);
  }
  // One signature per key, in the order the keys were added.
  EXPECT_EQ(results[0].selector, "r1");
  EXPECT_EQ(results[0].algorithm, "rsa-sha256");
  EXPECT_EQ(results[1].selector, "e1");
  EXPECT_EQ(results[1].algorithm, "ed25519-sha256");
}

TEST(DkimSign, NoKeyForDomain) {
  Fixture fx;
  EXPECT_EQ(fx.signer.sign(kMessage, "example.com", kNow), "");
  EXPECT_TRUE(fx.signer.has_domain("EXAMPLE.ORG"));
  EXPECT_FALSE(fx.signer.has_domain("example.com"));
  EXPECT_EQ(fx.signer.key_count(), 2u);
}

TEST(DkimSign, GeneratedKeysSignAndVerify) {
  auto ed = generate_dkim_key(DkimAlgorithm::kEd25519Sha256);
  auto rsa = generate_dkim_key(DkimAlgorithm::kRsaSha256, 1024);  // the smallest allowed, for speed
  ASSERT_TRUE(ed && rsa);
  EXPECT_TRUE(ed->starts_with("-----BEGIN PRIVATE KEY-----"));
  DkimSigner signer;
  ASSERT_TRUE(signer.add_key("example.org", "g-ed", *ed));
  ASSERT_TRUE(signer.add_key("example.org", "g-rsa", *rsa));
  dns::TableResolver d;
  d.add_txt("g-ed._domainkey.example.org", dkim_txt_record(*ed).value());
  d.add_txt("g-rsa._domainkey.example.org", dkim_txt_record(*rsa).value());
  EXPECT_TRUE(dkim_txt_record(*rsa)->starts_with("v=DKIM1; k=rsa; p=MI"));
  auto results = verify(signer.sign(kMessage, "example.org", kNow) + kMessage, d);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, DkimStatus::kPass);
  EXPECT_EQ(results[1].status, DkimStatus::kPass);
  // RSA sizes outside 1024..8192 are refused (1024 and 2048 are generated above and by the fixture).
  EXPECT_FALSE(generate_dkim_key(DkimAlgorithm::kRsaSha256, 1023));
  EXPECT_FALSE(generate_dkim_key(DkimAlgorithm::kRsaSha256, 8193));
  // A signer refuses an RSA key below 1024 bits (RFC 8301 §3.2): 512 bits.
  EVP_PKEY* small = EVP_RSA_gen(512);
  ASSERT_NE(small, nullptr);
  EXPECT_FALSE(signer.add_key("example.org", "small", test_keys::to_pem(small)));
}

TEST(DkimSign, RejectsBadKeys) {
  DkimSigner s;
  EXPECT_FALSE(s.add_key("example.org", "x", "not a key"));
  EXPECT_FALSE(s.add_key("bad domain", "x", ed25519_pem()));
  EXPECT_FALSE(s.add_key("example.org", "a/b", ed25519_pem()));
  EXPECT_FALSE(dkim_txt_record("nope"));
}

TEST(DkimVerify, TamperingFails) {
  Fixture fx;
  auto m = fx.signed_message();
  struct Case {
    std::string name, message;
    DkimStatus want;
  };
  std::vector<Case> cases = {
      {"body changed", replace(m, "are you free?", "are you busy?"), DkimStatus::kFail},
      {"signed header changed", replace(m, "Subject: Lunch", "Subject: Dinner"), DkimStatus::kFail},
      {"From added", replace(m, "To: Bob", "From: Mallory <m@evil.test>\r\nTo: Bob"), DkimStatus::kFail},
      {"From added at the end", replace(m, "X-Unsigned", "From: m@evil.test\r\nX-Unsigned"), DkimStatus::kFail},
      {"unsigned header added", replace(m, "X-Unsigned", "X-Other: 1\r\nX-Unsigned"), DkimStatus::kPass},
      {"unsigned header changed", replace(m, "X-Unsigned: yes", "X-Unsigned: no"), DkimStatus::kPass},
      {"whitespace changed (relaxed)", replace(m, "Subject: Lunch", "Subject:   Lunch "), DkimStatus::kPass},
      {"trailing empty lines added", m + "\r\n\r\n", DkimStatus::kPass},
  };
  for (const auto& c : cases) {
    auto results = verify(c.message, fx.dns);
    ASSERT_EQ(results.size(), 2u) << c.name;
    for (const auto& r : results) EXPECT_EQ(r.status, c.want) << c.name << ": " << r.algorithm << " " << r.reason;
  }
  auto body = verify(replace(m, "are you free?", "are you busy?"), fx.dns);
  EXPECT_EQ(body[0].reason, "body hash mismatch");
  auto header = verify(replace(m, "Subject: Lunch", "Subject: Dinner"), fx.dns);
  EXPECT_EQ(header[0].reason, "signature did not verify");
}

TEST(DkimVerify, BareLfMessageVerifiesAsCrlf) {
  // A signed message stored with LF line ends verifies: canonicalisation reads LF as CRLF.
  Fixture fx;
  auto m = fx.signed_message();
  std::string lf;
  for (char c : m)
    if (c != '\r') lf += c;
  auto results = verify(lf, fx.dns);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) EXPECT_EQ(r.status, DkimStatus::kPass) << r.reason;
}

TEST(DkimVerify, NoSignature) {
  dns::TableResolver dns;
  auto results = verify(kMessage, dns);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, DkimStatus::kNone);
  EXPECT_EQ(status_word(results[0].status), "none");
}

// RFC 8463 Appendix A: the Ed25519 and RSA signatures of RFC 6376's example message.
TEST(DkimVerify, Rfc8463Example) {
  const std::string message =
      "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
      " d=football.example.com; i=@football.example.com;\r\n"
      " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
      " subject : date : message-id : from : subject : date;\r\n"
      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
      " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
      " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
      "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
      " d=football.example.com; i=@football.example.com;\r\n"
      " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
      " date : message-id : from : subject : date;\r\n"
      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
      " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
      " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
      " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
      "From: Joe SixPack <joe@football.example.com>\r\n"
      "To: Suzie Q <suzie@shopping.example.net>\r\n"
      "Subject: Is dinner ready?\r\n"
      "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
      "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
      "\r\n"
      "Hi.\r\n"
      "\r\n"
      "We lost the game.  Are you hungry yet?\r\n"
      "\r\n"
      "Joe.\r\n";
  dns::TableResolver dns;
  dns.add_txt("brisbane._domainkey.football.example.com",
              "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  dns.add_txt("test._domainkey.football.example.com",
              "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
              "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
              "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
              "Ip3G+2kryOTIKT+l/K4w3QIDAQAB");
  auto results = verify(message, dns);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, DkimStatus::kPass) << results[0].reason;
  EXPECT_EQ(results[0].algorithm, "ed25519-sha256");
  EXPECT_EQ(results[0].selector, "brisbane");
  EXPECT_EQ(results[0].domain, "football.example.com");
  EXPECT_EQ(results[0].b_prefix, "/gCrinpcQOoI");
  EXPECT_EQ(results[1].status, DkimStatus::kPass) << results[1].reason;
  EXPECT_EQ(results[1].algorithm, "rsa-sha256");

  auto tampered = verify(replace(message, "hungry yet?", "hungry now?"), dns);
  EXPECT_EQ(tampered[0].status, DkimStatus::kFail);
  EXPECT_EQ(tampered[1].status, DkimStatus::kFail);
  // The key published under the private key of RFC 8032 §7.1 test 1 (as RFC 8463 uses).
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
      "-----END PRIVATE KEY-----\n";
  EXPECT_EQ(dkim_txt_record(pem).value(), "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
}

// A message signed once with the Ed25519 key, its signature field with one tag replaced.
struct TagCase {
  std::string from, to;
  DkimStatus want;
  std::string reason;
};

class DkimTags : public ::testing::Test {
 protected:
  DkimTags() {
    EXPECT_TRUE(signer.add_key("example.org", "e1", ed25519_pem()));
    dns.add_txt("e1._domainkey.example.org", dkim_txt_record(ed25519_pem()).value());
    message = signer.sign(kMessage, "example.org", kNow) + kMessage;
  }
  DkimResult check(const std::string& m, int64_t now = kNow) {
    auto r = verify(m, dns, now);
    EXPECT_EQ(r.size(), 1u);
    return r.at(0);
  }
  DkimSigner signer;
  dns::TableResolver dns;
  std::string message;
};

TEST_F(DkimTags, SignatureTagChecks) {
  std::vector<TagCase> cases = {
      {"v=1;", "v=2;", DkimStatus::kPermError, "unsupported version v=2"},
      {"v=1;", "", DkimStatus::kPermError, "missing required tag v="},
      {"d=example.org;", "", DkimStatus::kPermError, "missing required tag d="},
      {"a=ed25519-sha256;", "a=rsa-sha1;", DkimStatus::kPermError, "rsa-sha1 signatures are not accepted (RFC 8301)"},
      {"a=ed25519-sha256;", "a=ed448-sha256;", DkimStatus::kPermError, "unknown algorithm a=ed448-sha256"},
      {"a=ed25519-sha256;", "a=rsa-sha256;", DkimStatus::kPermError, "key type k=ed25519 does not match a="},
      {"c=relaxed/relaxed;", "c=relaxed/bogus;", DkimStatus::kPermError, "unknown canonicalization c=relaxed/bogus"},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; q=dns/txt;", DkimStatus::kPass, ""},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; q=http;", DkimStatus::kPermError, "unsupported query method q="},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; i=bob@mail.example.org;", DkimStatus::kPass, ""},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; i=bob@example.com;", DkimStatus::kPermError, "i= is not within d="},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; i=bob@badexample.org;", DkimStatus::kPermError, "i= is not within d="},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; i=nobody;", DkimStatus::kPermError, "malformed i="},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; zz=unknown; z=From:x;", DkimStatus::kPass, ""},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; c=simple;", DkimStatus::kPermError, "duplicate tag c="},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; 9x=1;", DkimStatus::kPermError, "malformed tag name"},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; x=1900000000;", DkimStatus::kPass, ""},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; x=1799999999;", DkimStatus::kPermError, "x= is before t="},
      {"c=relaxed/relaxed;", "c=relaxed/relaxed; x=1800000000;", DkimStatus::kPass, ""},
      {"t=1800000000;", "t=1900000001; x=1900000000;", DkimStatus::kPermError, "x= is before t="},
      {"t=1800000000;", "t=abc;", DkimStatus::kPermError, "malformed t="},
      {"h=from:from:", "h=to:", DkimStatus::kPermError, "h= does not include From"},
      {"h=from:from:", "h=from::from:", DkimStatus::kPermError, "empty header name in h="},
      {"s=e1;", "s=nokey;", DkimStatus::kPermError, "no key record at nokey._domainkey.example.org"},
      {"s=e1;", "s=bad/sel;", DkimStatus::kPermError, "malformed d= or s="},
      {"bh=", "bh=!!", DkimStatus::kPermError, "malformed b= or bh="},
  };
  for (auto c : cases) {
    // A case that passes every check still fails the signature: the edited field is signed.
    if (c.want == DkimStatus::kPass && c.from != c.to) {
      c.want = DkimStatus::kFail;
      c.reason = "signature did not verify";
    }
    auto r = check(replace(message, c.from, c.to));
    EXPECT_EQ(r.status, c.want) << c.to << ": " << r.reason;
    EXPECT_EQ(r.reason, c.reason) << c.to;
  }
  // Expiry: x= at `now` is still valid, one second later it has expired.
  auto expiring = replace(message, "c=relaxed/relaxed;", "c=relaxed/relaxed; x=1900000000;");
  EXPECT_EQ(check(expiring, 1'900'000'000).reason, "signature did not verify");
  EXPECT_EQ(check(expiring, 1'900'000'001).reason, "signature expired");
}

TEST_F(DkimTags, BodyLength) {
  // The message body canonicalises (relaxed) to "Hello Bob,\r\n\r\nare you free?\r\n": 29 bytes.
  // The signer sets no l=; a signature with l= that passes is in the python3-dkim interop tests.
  // Here l= is added after signing, so the header signature fails, but only after the l= checks:
  // l=29 (the body length) passes them, l=30 is longer than the body.
  std::string body = kMessage.substr(mime::split_header(kMessage).body_start);
  EXPECT_EQ(canon_body(body, Canon::kRelaxed).size(), 29u);
  auto r = check(replace(message, "c=relaxed/relaxed;", "c=relaxed/relaxed; l=29;"));
  EXPECT_EQ(r.status, DkimStatus::kFail);
  r = check(replace(message, "c=relaxed/relaxed;", "c=relaxed/relaxed; l=30;"));
  EXPECT_EQ(r.status, DkimStatus::kPermError);
  EXPECT_EQ(r.reason, "l= is longer than the body");
  r = check(replace(message, "c=relaxed/relaxed;", "c=relaxed/relaxed; l=1234567890123456789;"));
  EXPECT_EQ(r.reason, "malformed or oversized l=");
}

TEST_F(DkimTags, KeyRecordChecks) {
  auto p = dkim_txt_record(ed25519_pem()).value().substr(std::string("v=DKIM1; k=ed25519; ").size());
  std::vector<std::pair<std::string, std::string>> cases = {
      {"v=DKIM1; k=ed25519; " + p, ""},
      {"k=ed25519; " + p, ""},
      {"k=ed25519; v=DKIM1; " + p, "key record v= is not DKIM1 first"},
      {"v=DKIM2; k=ed25519; " + p, "key record v= is not DKIM1 first"},
      {"v=DKIM1; " + p, "key type k=rsa does not match a="},
      {"v=DKIM1; k=ed25519; h=sha1; " + p, "key record h= does not allow sha256"},
      {"v=DKIM1; k=ed25519; h=sha1:sha256; " + p, ""},
      {"v=DKIM1; k=ed25519; s=email; " + p, ""},
      {"v=DKIM1; k=ed25519; s=*; " + p, ""},
      {"v=DKIM1; k=ed25519; s=other; " + p, "key record is not for email (s=)"},
      {"v=DKIM1; k=ed25519; p=", "key revoked (empty p=)"},
      {"v=DKIM1; k=ed25519", "key record without p="},
      {"v=DKIM1; k=ed25519; p=AAAA", "Ed25519 key is not 32 bytes"},
      {"v=DKIM1; k=ed25519; p=@@", "malformed p= in key record"},
      {"v=DKIM1; k=ed25519; bogus", "malformed key record: tag without '='"},
      {"v=DKIM1; k=ed25519; t=s; " + p, ""},
  };
  for (const auto& [record, reason] : cases) {
    dns::TableResolver d;
    d.add_txt("e1._domainkey.example.org", record);
    auto r = verify(message, d).at(0);
    EXPECT_EQ(r.reason, reason) << record;
    EXPECT_EQ(r.status, reason.empty() ? DkimStatus::kPass : DkimStatus::kPermError) << record;
  }
  // t=s with i= in a subdomain.
  dns::TableResolver strict;
  strict.add_txt("e1._domainkey.example.org", "v=DKIM1; k=ed25519; t=s; " + p);
  auto r = verify(replace(message, "c=relaxed/relaxed;", "c=relaxed/relaxed; i=@sub.example.org;"), strict).at(0);
  EXPECT_EQ(r.reason, "key has t=s but i= is a subdomain of d=");
  // t=y: a failure is neutral.
  dns::TableResolver testing;
  testing.add_txt("e1._domainkey.example.org", "v=DKIM1; k=ed25519; t=y; " + p);
  r = verify(replace(message, "are you free?", "are you busy?"), testing).at(0);
  EXPECT_EQ(r.status, DkimStatus::kNeutral);
  // Two records: permerror. DNS failure: temperror.
  dns::TableResolver two;
  two.add_txt("e1._domainkey.example.org", "v=DKIM1; k=ed25519; " + p);
  two.add_txt("e1._domainkey.example.org", "v=DKIM1; k=ed25519; " + p);
  r = verify(message, two).at(0);
  EXPECT_EQ(r.status, DkimStatus::kPermError);
  EXPECT_EQ(r.reason, "more than one key record at e1._domainkey.example.org");
  dns::TableResolver down;
  down.fail("e1._domainkey.example.org", dns::Status::kTempFail);
  r = verify(message, down).at(0);
  EXPECT_EQ(r.status, DkimStatus::kTempError);
  EXPECT_EQ(status_word(r.status), "temperror");
}

// An RSA public key record with a modulus of exactly `bits` bits (not a real key: the size check
// comes before any signature check).
std::string rsa_record_of_bits(int bits) {
  std::string nbytes((bits + 7) / 8, '\x55');
  int top = bits % 8 == 0 ? 8 : bits % 8;
  nbytes[0] = char((1 << (top - 1)) | 1);
  nbytes.back() = char(nbytes.back() | 1);
  BIGNUM* n = BN_bin2bn(reinterpret_cast<const unsigned char*>(nbytes.data()), int(nbytes.size()), nullptr);
  BIGNUM* e = BN_new();
  BN_set_word(e, 65537);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EXPECT_EQ(EVP_PKEY_get_bits(pkey), bits);
  int len = i2d_PUBKEY(pkey, nullptr);
  std::string der(std::size_t(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_PUBKEY(pkey, &p);
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return "v=DKIM1; k=rsa; p=" + base64::encode(der);
}

TEST(DkimVerify, RsaKeySizeLimits) {
  DkimSigner signer;
  ASSERT_TRUE(signer.add_key("example.org", "r1", rsa2048_pem()));
  auto m = signer.sign(kMessage, "example.org", kNow) + kMessage;
  for (auto [bits, status, reason] : std::vector<std::tuple<int, DkimStatus, std::string>>{
           {1023, DkimStatus::kPermError, "RSA key of 1023 bits is below 1024 (RFC 8301)"},
           {1024, DkimStatus::kFail, "signature did not verify"},
           {8192, DkimStatus::kFail, "signature did not verify"},
           {8193, DkimStatus::kPermError, "RSA key of 8193 bits is above 8192"}}) {
    dns::TableResolver d;
    d.add_txt("r1._domainkey.example.org", rsa_record_of_bits(bits));
    auto r = verify(m, d).at(0);
    EXPECT_EQ(r.status, status) << bits;
    EXPECT_EQ(r.reason, reason) << bits;
  }
}

TEST(DkimVerify, PkcsOneRsaPublicKeyAccepted) {
  DkimSigner signer;
  ASSERT_TRUE(signer.add_key("example.org", "r1", rsa2048_pem()));
  auto m = signer.sign(kMessage, "example.org", kNow) + kMessage;
  // The same key as a bare RSAPublicKey (PKCS#1), as some signers publish it.
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(rsa2048_pem().data(), -1), &BIO_free);
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  ASSERT_NE(pkey, nullptr);
  int len = i2d_PublicKey(pkey, nullptr);
  std::string der(std::size_t(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_PublicKey(pkey, &p);
  EVP_PKEY_free(pkey);
  dns::TableResolver d;
  d.add_txt("r1._domainkey.example.org", "v=DKIM1; k=rsa; p=" + base64::encode(der));
  EXPECT_EQ(verify(m, d).at(0).status, DkimStatus::kPass);
}

TEST(DkimVerify, AtMostTenSignatures) {
  DkimSigner signer;
  ASSERT_TRUE(signer.add_key("example.org", "e1", ed25519_pem()));
  dns::TableResolver d;
  d.add_txt("e1._domainkey.example.org", dkim_txt_record(ed25519_pem()).value());
  auto sig = signer.sign(kMessage, "example.org", kNow);
  for (std::size_t n : {kMaxVerifiedSignatures, kMaxVerifiedSignatures + 1}) {
    std::string m;
    for (std::size_t i = 0; i < n; ++i) m += sig;
    m += kMessage;
    auto results = verify(m, d);
    ASSERT_EQ(results.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(results[i].status, i < kMaxVerifiedSignatures ? DkimStatus::kPass : DkimStatus::kPolicy) << i;
    }
    EXPECT_EQ(results.back().domain, "example.org");
    if (n > kMaxVerifiedSignatures) {
      EXPECT_EQ(results.back().reason, "more than 10 signatures; not verified");
    }
  }
}

TEST_F(DkimTags, SignedHeaderLimit) {
  auto with_h = [&](std::size_t count) {
    std::string h = "h=from";
    for (std::size_t i = 1; i < count; ++i) h += ":x-a";
    return replace(message, "h=from:from:to:subject:date:message-id:list-id;", h + ";");
  };
  // 64 entries are accepted (the signature then fails: h= is signed); 65 are refused.
  auto r = check(with_h(kMaxSignedHeaders));
  EXPECT_EQ(r.status, DkimStatus::kFail) << r.reason;
  r = check(with_h(kMaxSignedHeaders + 1));
  EXPECT_EQ(r.status, DkimStatus::kPermError);
  EXPECT_EQ(r.reason, "h= lists more than 64 headers");
}

TEST(DkimVerify, HostileInputDoesNotThrow) {
  static const char kBinary[] = "DKIM-Signature: v=1\0; \xff\xfe=\x01\r\n\r\n";
  dns::TableResolver d;
  d.add_txt("s._domainkey.example.org", "v=DKIM1; k=rsa; p=" + std::string(5000, 'A'));
  std::vector<std::string> inputs = {
      "DKIM-Signature:\r\n\r\n",
      "DKIM-Signature: ;;;;\r\n\r\n",
      "DKIM-Signature: =\r\n\r\n",
      "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=AAAA; b=AAAA\r\n\r\n",
      "DKIM-Signature: v=1; b=" + std::string(5000, 'A') + "\r\n\r\n",
      "DKIM-Signature: v=1; a=rsa-sha256; d=" + std::string(300, 'a') + "; s=s; h=from; bh=AAAA; b=AAAA\r\n\r\n",
      "DKIM-Signature: " + std::string(kMaxSignatureField, 'x') + "\r\n\r\n",
      std::string(kBinary, sizeof kBinary - 1),
  };
  for (const auto& in : inputs) {
    auto r = verify(in, d);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, DkimStatus::kPermError) << in.substr(0, 60) << " " << r[0].reason;
  }
  // The field size limit at N (parsed: "missing tag") and N+1 (refused as too long).
  std::string at_limit = "DKIM-Signature: v=1;";
  at_limit += std::string(kMaxSignatureField - at_limit.size() - 2, ' ') + "\r\n";
  EXPECT_EQ(verify(at_limit + "\r\n", d).at(0).reason, "missing required tag a=");
  std::string over = "DKIM-Signature: v=1;" + std::string(kMaxSignatureField - 21, ' ') + "\r\n";
  EXPECT_EQ(verify(over + "\r\n", d).at(0).reason, "DKIM-Signature field is too long");
}

TEST_F(DkimTags, TagAndRecordSizeLimits) {
  // A tag value of 4096 bytes is read (then its key is missing); 4097 bytes are refused.
  auto with_b = [&](std::size_t n) {
    return "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=nokey; h=from; bh=AAAA; b=" + std::string(n, 'A') +
           "\r\n\r\n";
  };
  EXPECT_EQ(check(with_b(4096)).reason, "no key record at nokey._domainkey.example.org");
  EXPECT_EQ(check(with_b(4097)).reason, "tag b= is too long");
  // 64 tags are read, 65 are refused (the signature has 9: v a c d s t h bh b).
  auto with_tags = [&](std::size_t n) {
    std::string extra;
    for (std::size_t i = 0; i < n - 9; ++i) extra += "; z" + std::to_string(i) + "=1";
    return replace(message, "DKIM-Signature: v=1;", "DKIM-Signature: v=1" + extra + ";");
  };
  EXPECT_EQ(check(with_tags(64)).reason, "signature did not verify");
  EXPECT_EQ(check(with_tags(65)).reason, "too many tags");
  // A key record of 8192 bytes is read, 8193 bytes are refused.
  auto p = dkim_txt_record(ed25519_pem()).value();
  auto record_of = [&](std::size_t size) {
    std::string r = p;
    for (int i = 0; r.size() + 8 < size; ++i) {
      std::string tag = "; n" + std::to_string(i) + "=";
      r += tag + std::string(std::min<std::size_t>(4000, size - r.size() - tag.size()), 'x');
    }
    EXPECT_EQ(r.size(), size);
    return r;
  };
  for (auto [size, reason] : std::vector<std::pair<std::size_t, std::string>>{
           {8192, ""}, {8193, "key record is too long"}}) {
    dns::TableResolver d;
    d.add_txt("e1._domainkey.example.org", record_of(size));
    EXPECT_EQ(verify(message, d).at(0).reason, reason) << size;
  }
}

// Random byte edits, insertions and cuts of a signed message (mostly inside its signature fields
// and key record): verification answers every time, without crashing or throwing (ASan build).
TEST(DkimVerify, RandomMutationsNeverCrash) {
  Fixture fx;
  const auto original = fx.signed_message();
  const auto header_end = original.find("From: Alice");
  std::mt19937 rng(20261127);
  std::size_t passes = 0;
  for (int i = 0; i < 400; ++i) {
    auto m = test_util::mutate(original, header_end, rng);
    std::vector<DkimResult> results;
    ASSERT_NO_THROW(results = verify(m, fx.dns)) << i;
    ASSERT_FALSE(results.empty());
    for (const auto& r : results) passes += r.status == DkimStatus::kPass;
  }
  EXPECT_LT(passes, 800u);  // most edits break a signature
}

}  // namespace
}  // namespace posthorn::msgauth
