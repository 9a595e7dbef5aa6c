// ARC [RFC 8617]: seal-then-verify round trips over 1, 2, 3 and 50 hops (a message modified by a
// list between hops still passes ARC while its DKIM signature fails), tampered sets failing, the
// structural rules (missing, duplicated, incomplete instances, 51 sets, cv= values), seal refusals,
// DNS failures and the Authentication-Results method text.
#include <gtest/gtest.h>

#include <random>


#include "dns/table_resolver.hpp"
#include "msgauth/arc.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dkim_test_keys.hpp"
#include "msgauth/msgauth_test_util.hpp"
#include "msgauth/spf_test_util.hpp"

namespace posthorn::msgauth {
namespace {

using test_keys::ed25519_pem;
using test_keys::rsa2048_pem;

constexpr int64_t kNow = 1'800'000'000;

const std::string kMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: list@lists.example.net\r\n"
    "Subject: Meeting notes\r\n"
    "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <arc-test@example.org>\r\n"
    "\r\n"
    "Notes of the meeting.\r\n";

ArcResult verify(const std::string& message, dns::Resolver& resolver) {
  return testing::run(arc_verify(message, resolver, kNow));
}

std::vector<DkimResult> dkim(const std::string& message, dns::Resolver& resolver) {
  return testing::run(dkim_verify(message, resolver, kNow));
}

class Arc : public ::testing::Test {
 protected:
  Arc() {
    // Every hop seals with the same RSA test key under its own domain; an Ed25519 key as well shows
    // that sealing picks the RSA one.
    for (std::string domain : {"example.org", "forwarder.test", "lists.example.net", "relay.test"}) {
      EXPECT_TRUE(keys_.add_key(domain, "arc", rsa2048_pem()));
      dns_.add_txt("arc._domainkey." + domain, dkim_txt_record(rsa2048_pem()).value());
    }
    EXPECT_TRUE(keys_.add_key("example.org", "ed", ed25519_pem()));
    EXPECT_TRUE(ed_only_.add_key("ed.test", "ed", ed25519_pem()));
  }

  // The message with one more ARC set, sealed by `domain` with chain status `cv`.
  std::string seal(const std::string& message, const std::string& domain, ArcChainStatus cv) {
    auto set = arc_seal(message, keys_, domain, "mx." + domain, "spf=pass smtp.mailfrom=alice@example.org", cv, kNow);
    EXPECT_FALSE(set.empty()) << domain;
    return set + message;
  }

  // A message through hops hop1..hopN, each verifying and then sealing with what it found.
  std::string chain(int hops) {
    std::string m = kMessage;
    for (int i = 0; i < hops; ++i) {
      auto status = verify(m, dns_).status;
      m = seal(m, i % 2 ? "relay.test" : "forwarder.test", status);
    }
    return m;
  }

  static std::string replace(std::string s, const std::string& from, const std::string& to) {
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos) s.replace(pos, from.size(), to);
    return s;
  }

  DkimSigner keys_;
  DkimSigner ed_only_;
  dns::TableResolver dns_;
};

TEST_F(Arc, NoArcFieldsIsNone) {
  auto r = verify(kMessage, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kNone);
  EXPECT_EQ(r.instances, 0);
  EXPECT_EQ(arc_auth_results_method(r, ""), "arc=none");
}

TEST_F(Arc, OneHopRoundTrip) {
  auto set = arc_seal(kMessage, keys_, "forwarder.test", "mx.forwarder.test", "spf=pass smtp.mailfrom=a@example.org",
                      ArcChainStatus::kNone, kNow);
  ASSERT_TRUE(set.starts_with("ARC-Seal: i=1; a=rsa-sha256; cv=none; d=forwarder.test; s=arc;")) << set;
  EXPECT_NE(set.find("\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;"),
            std::string::npos)
      << set;
  EXPECT_NE(set.find("\r\nARC-Authentication-Results: i=1; mx.forwarder.test; spf=pass\r\n smtp.mailfrom=a@example.org\r\n"),
            std::string::npos)
      << set;
  EXPECT_TRUE(set.ends_with("\r\n"));
  // The AMS signs the message headers, never ARC fields.
  auto h_at = set.find(" h=");
  ASSERT_NE(h_at, std::string::npos);
  auto h = set.substr(h_at, set.find(';', h_at) - h_at);
  EXPECT_NE(h.find("from:"), std::string::npos) << h;
  EXPECT_EQ(h.find("arc-"), std::string::npos) << h;
  for (std::size_t pos = 0, end; (end = set.find("\r\n", pos)) != std::string::npos; pos = end + 2)
    EXPECT_LE(end - pos, 78u) << set.substr(pos, end - pos);

  auto r = verify(set + kMessage, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
  EXPECT_EQ(r.instances, 1);
  EXPECT_EQ(r.oldest_pass, 0);
  EXPECT_EQ(r.failed_instance, 0);
  EXPECT_EQ(arc_auth_results_method(r, "192.0.2.7"), "arc=pass header.oldest-pass=0 smtp.remote-ip=192.0.2.7");
}

TEST_F(Arc, TwoAndThreeHopsPass) {
  for (int hops : {2, 3}) {
    auto m = chain(hops);
    auto r = verify(m, dns_);
    EXPECT_EQ(r.status, ArcChainStatus::kPass) << hops << ": " << r.reason;
    EXPECT_EQ(r.instances, hops);
    EXPECT_EQ(r.oldest_pass, 0);
    EXPECT_NE(m.find("ARC-Seal: i=" + std::to_string(hops) + "; a=rsa-sha256; cv=pass;"), std::string::npos);
  }
}

// The case ARC exists for: the origin DKIM-signs, a forwarder seals, a mailing list verifies the
// chain, changes the subject and adds a footer (breaking DKIM and the first AMS) and seals; a third
// hop seals on. The final receiver sees DKIM fail but ARC pass, with oldest-pass naming the list.
TEST_F(Arc, ModifiedBetweenHopsPassesArcWhileDkimFails) {
  DkimSigner origin;
  ASSERT_TRUE(origin.add_key("example.org", "dk", rsa2048_pem()));
  dns_.add_txt("dk._domainkey.example.org", dkim_txt_record(rsa2048_pem()).value());
  auto m = origin.sign(kMessage, "example.org", kNow) + kMessage;
  ASSERT_EQ(dkim(m, dns_).at(0).status, DkimStatus::kPass);

  m = seal(m, "forwarder.test", verify(m, dns_).status);  // i=1, cv=none
  ASSERT_EQ(verify(m, dns_).status, ArcChainStatus::kPass);
  m = replace(m, "Subject: Meeting notes", "Subject: [list] Meeting notes");
  m += "-- \r\nTo unsubscribe, write to list-leave@lists.example.net\r\n";
  EXPECT_EQ(verify(m, dns_).status, ArcChainStatus::kFail);  // modified after the last seal
  m = seal(m, "lists.example.net", ArcChainStatus::kPass);   // the list saw a passing chain
  m = seal(m, "relay.test", verify(m, dns_).status);

  EXPECT_EQ(dkim(m, dns_).at(0).status, DkimStatus::kFail);
  auto r = verify(m, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
  EXPECT_EQ(r.instances, 3);
  EXPECT_EQ(r.oldest_pass, 2);  // the AMS of i=1 no longer verifies: the list changed the message
  EXPECT_EQ(arc_auth_results_method(r, "2001:db8::1"), "arc=pass header.oldest-pass=2 smtp.remote-ip=\"2001:db8::1\"");
}

TEST_F(Arc, TamperedSetsFail) {
  auto m = chain(2);
  struct Case {
    std::string from, to;
    int failed_instance;
    std::string reason;
  };
  for (const auto& c : std::vector<Case>{
           // The body after the last seal: the newest AMS fails.
           {"Notes of the meeting.", "Notes of the meating.", 2, "body hash mismatch"},
           {"Subject: Meeting", "Subject: Changed", 2, "ARC-Message-Signature did not verify"},
           // The AAR of i=1 (covered by both seals): the seal of i=2 is checked first.
           {"i=1; mx.forwarder.test; spf=pass", "i=1; mx.forwarder.test; spf=fail", 2, "ARC-Seal did not verify"},
           // The AAR of i=2: covered by its own seal.
           {"i=2; mx.relay.test; spf=pass", "i=2; mx.relay.test; spf=fail", 2, "ARC-Seal did not verify"},
           // A tag of the newest seal and of the newest AMS.
           {"ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=relay.test; s=arc; t=1800000000",
            "ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=relay.test; s=arc; t=1800000001", 2, "ARC-Seal did not verify"},
       }) {
    auto r = verify(replace(m, c.from, c.to), dns_);
    EXPECT_EQ(r.status, ArcChainStatus::kFail) << c.to;
    EXPECT_EQ(r.failed_instance, c.failed_instance) << c.to;
    EXPECT_NE(r.reason.find(c.reason), std::string::npos) << c.to << ": " << r.reason;
  }
  // A tag of the AMS of i=1 (covered by both seals): the seal of i=2 fails first.
  auto ams1 = m.find("ARC-Message-Signature: i=1;");
  auto t = m.find(" t=18", ams1) + 4;
  auto changed = m;
  changed[t] = changed[t] == '0' ? '1' : '0';
  auto r = verify(changed, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kFail);
  EXPECT_EQ(r.failed_instance, 2);
  EXPECT_EQ(r.reason, "ARC-Seal did not verify");
  // Only the seal of i=1 broken (its b= changed): the seal of i=2 covers it, so it fails first.
  auto as1 = m.find("ARC-Seal: i=1;");
  auto b = m.find(" b=", as1) + 3;
  auto tampered = m;
  tampered[b] = tampered[b] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verify(tampered, dns_).failed_instance, 2);
  EXPECT_EQ(arc_auth_results_method(verify(tampered, dns_), ""), "arc=fail reason=\"ARC-Seal did not verify\"");
}

TEST_F(Arc, StructuralErrors) {
  auto m = chain(2);
  auto cut_field = [](std::string s, const std::string& start) {
    auto pos = s.find(start);
    EXPECT_NE(pos, std::string::npos) << start;
    auto end = pos;
    do end = s.find("\r\n", end) + 2;
    while (s[end] == ' ' || s[end] == '\t');
    s.erase(pos, end - pos);
    return s;
  };
  auto field = [](const std::string& s, const std::string& start) {
    auto pos = s.find(start);
    auto end = pos;
    do end = s.find("\r\n", end) + 2;
    while (s[end] == ' ' || s[end] == '\t');
    return s.substr(pos, end - pos);
  };
  struct Case {
    std::string name, message, reason;
    int failed_instance;
  };
  auto no_set1 = cut_field(cut_field(cut_field(m, "ARC-Seal: i=1;"), "ARC-Message-Signature: i=1;"),
                           "ARC-Authentication-Results: i=1;");
  for (const auto& c : std::vector<Case>{
           {"missing instance", no_set1, "ARC set i=1 is missing", 0},
           {"incomplete set", cut_field(m, "ARC-Message-Signature: i=1;"), "ARC set i=1 is incomplete", 1},
           {"duplicate AAR", field(m, "ARC-Authentication-Results: i=2;") + m,
            "more than one ARC-Authentication-Results with i=2", 2},
           {"duplicate AS", field(m, "ARC-Seal: i=1;") + m, "more than one ARC-Seal with i=1", 1},
           {"i=0", replace(m, "ARC-Seal: i=2;", "ARC-Seal: i=0;"), "ARC-Seal without a valid i=", 0},
           {"no i=", replace(m, "ARC-Authentication-Results: i=2;", "ARC-Authentication-Results: x=2;"),
            "ARC-Authentication-Results without a valid i=", 0},
           {"cv=none at i=2", replace(m, "i=2; a=rsa-sha256; cv=pass;", "i=2; a=rsa-sha256; cv=none;"),
            "ARC-Seal i=2 has cv=none, not pass", 2},
           {"cv=pass at i=1", replace(m, "i=1; a=rsa-sha256; cv=none;", "i=1; a=rsa-sha256; cv=pass;"),
            "ARC-Seal i=1 has cv=pass, not none", 1},
           {"cv=fail newest", replace(m, "i=2; a=rsa-sha256; cv=pass;", "i=2; a=rsa-sha256; cv=fail;"),
            "the chain was marked failed at i=2", 2},
           {"AMS signs ARC-Seal", replace(m, "h=from:", "h=arc-seal:from:"), "signs ARC-Seal", 2},
           {"AS with h=", replace(m, "ARC-Seal: i=2;", "ARC-Seal: h=from; i=2;"), "ARC-Seal with h=", 2},
           {"AS without cv=", replace(m, "i=2; a=rsa-sha256; cv=pass;", "i=2; a=rsa-sha256;"),
            "ARC-Seal i=2 has cv=, not pass", 2},
           {"AMS rsa-sha1", replace(m, "ARC-Message-Signature: i=2; a=rsa-sha256;", "ARC-Message-Signature: i=2; a=rsa-sha1;"),
            "unsupported algorithm a=rsa-sha1", 2},
       }) {
    auto r = verify(c.message, dns_);
    EXPECT_EQ(r.status, ArcChainStatus::kFail) << c.name;
    EXPECT_NE(r.reason.find(c.reason), std::string::npos) << c.name << ": " << r.reason;
    EXPECT_EQ(r.failed_instance, c.failed_instance) << c.name;
  }
}

// The limit of 50 sets at N and N+1: a chain of 50 verifies and takes no 51st seal; an ARC field
// with i=51 is a failed chain before any signature is checked.
TEST_F(Arc, FiftySetsAndNotFiftyOne) {
  auto m = chain(kMaxArcSets);
  auto r = verify(m, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
  EXPECT_EQ(r.instances, kMaxArcSets);
  EXPECT_EQ(arc_seal(m, keys_, "relay.test", "mx.relay.test", "arc=pass", ArcChainStatus::kPass, kNow), "");

  auto with51 = "ARC-Authentication-Results: i=51; mx.relay.test; arc=pass\r\n" + m;
  r = verify(with51, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kFail);
  EXPECT_EQ(r.reason, "more than 50 ARC sets (i=51)");
}

TEST_F(Arc, SealRefusals) {
  // No RSA key for the domain (Ed25519 only, or none at all).
  EXPECT_EQ(arc_seal(kMessage, ed_only_, "ed.test", "mx", "", ArcChainStatus::kNone, kNow), "");
  EXPECT_EQ(arc_seal(kMessage, keys_, "unknown.test", "mx", "", ArcChainStatus::kNone, kNow), "");
  auto m = chain(1);
  // cv=none on a message that has sets is a caller error.
  EXPECT_EQ(arc_seal(m, keys_, "relay.test", "mx", "", ArcChainStatus::kNone, kNow), "");
  // A chain we would seal on as passing must be whole.
  auto broken = replace(m, "ARC-Seal: i=1;", "ARC-Seal: i=3;");
  EXPECT_EQ(arc_seal(broken, keys_, "relay.test", "mx", "", ArcChainStatus::kPass, kNow), "");
  // On a message without sets any status is sealed as cv=none.
  auto first = arc_seal(kMessage, keys_, "relay.test", "mx", "", ArcChainStatus::kPass, kNow);
  EXPECT_TRUE(first.starts_with("ARC-Seal: i=1; a=rsa-sha256; cv=none;")) << first;
  EXPECT_NE(first.find("ARC-Authentication-Results: i=1; mx; none\r\n"), std::string::npos) << first;
}

// cv=fail: the seal covers its own set only and ends the chain: it verifies as
// fail downstream and is never sealed on.
TEST_F(Arc, FailedChainSealedWithCvFail) {
  auto m = chain(2);
  m = replace(m, "Notes of the meeting.", "Modified.");  // the chain now fails
  auto r = verify(m, dns_);
  ASSERT_EQ(r.status, ArcChainStatus::kFail);
  auto sealed = arc_seal(m, keys_, "relay.test", "mx.relay.test", "arc=fail", ArcChainStatus::kFail, kNow);
  ASSERT_TRUE(sealed.starts_with("ARC-Seal: i=3; a=rsa-sha256; cv=fail;")) << sealed;
  m = sealed + m;
  r = verify(m, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kFail);
  EXPECT_EQ(r.reason, "the chain was marked failed at i=3");
  for (auto cv : {ArcChainStatus::kPass, ArcChainStatus::kFail})
    EXPECT_EQ(arc_seal(m, keys_, "relay.test", "mx.relay.test", "arc=fail", cv, kNow), "");
}

TEST_F(Arc, KeyProblemsFail) {
  auto m = chain(1);
  dns::TableResolver no_key;
  auto r = verify(m, no_key);
  EXPECT_EQ(r.status, ArcChainStatus::kFail);
  EXPECT_EQ(r.reason, "no key record at arc._domainkey.forwarder.test");
  dns::TableResolver temp;
  temp.fail("arc._domainkey.forwarder.test", dns::Status::kTempFail);
  r = verify(m, temp);
  EXPECT_EQ(r.status, ArcChainStatus::kFail);
  EXPECT_NE(r.reason.find("(temporary)"), std::string::npos) << r.reason;
  dns::TableResolver wrong;
  wrong.add_txt("arc._domainkey.forwarder.test", dkim_txt_record(ed25519_pem()).value());
  EXPECT_EQ(verify(m, wrong).status, ArcChainStatus::kFail);
  // One lookup per key name, however many seals use it.
  dns::TableResolver counting;
  counting.add_txt("arc._domainkey.forwarder.test", dkim_txt_record(rsa2048_pem()).value());
  counting.add_txt("arc._domainkey.relay.test", dkim_txt_record(rsa2048_pem()).value());
  EXPECT_EQ(verify(chain(4), counting).status, ArcChainStatus::kPass);
  EXPECT_EQ(counting.log().size(), 2u);
}

TEST_F(Arc, ExpiredAmsFails) {
  // x= is not written by our sealer; an AMS carrying one is checked against now. The tag is added
  // to the newest AMS, so it fails either on expiry (checked first) or on its signature.
  auto m = replace(chain(1), "ARC-Message-Signature: i=1;", "ARC-Message-Signature: i=1; x=1700000000;");
  auto r = verify(m, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kFail);
  EXPECT_EQ(r.reason, "ARC-Message-Signature expired");
}

TEST_F(Arc, LfLineEndsVerify) {
  auto m = chain(2);
  std::string lf;
  for (std::size_t i = 0; i < m.size(); ++i)
    if (!(m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n')) lf += m[i];
  auto r = verify(lf, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
}

// kMaxSignatureField (bytes of an AMS or AS field) at N and N+1: a seal padded with spaces (which
// relaxed canonicalisation folds away, so its signature still holds) verifies at the limit and is
// refused one byte above it.
TEST_F(Arc, SealFieldSizeLimit) {
  auto m = chain(1);
  auto start = m.find("ARC-Seal: i=1;");
  auto end = m.find("\r\nARC-Message-Signature:") + 2;
  auto size = end - start;
  ASSERT_LT(size, kMaxSignatureField);
  auto at_limit = m;
  at_limit.insert(start + 14, std::string(kMaxSignatureField - size, ' '));
  auto r = verify(at_limit, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
  auto above = m;
  above.insert(start + 14, std::string(kMaxSignatureField - size + 1, ' '));
  r = verify(above, dns_);
  EXPECT_EQ(r.status, ArcChainStatus::kFail);
  EXPECT_EQ(r.reason, "malformed ARC-Seal: field is too long");
}

// kMaxSignedHeaders (h= entries of an AMS) at N and N+1: our seal lists every Cc, so 58 extra Cc
// fields make h= 64 names long (from twice, to, subject, date, message-id, 58 cc) and 59 make 65.
TEST_F(Arc, AmsSignedHeadersLimit) {
  for (std::size_t extra : {std::size_t(58), std::size_t(59)}) {
    std::string cc;
    for (std::size_t i = 0; i < extra; ++i) cc += "Cc: reader" + std::to_string(i) + "@example.net\r\n";
    auto m = seal(cc + kMessage, "forwarder.test", ArcChainStatus::kNone);
    auto r = verify(m, dns_);
    if (extra + 6 <= kMaxSignedHeaders) {
      EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
    } else {
      EXPECT_EQ(r.status, ArcChainStatus::kFail);
      EXPECT_EQ(r.reason, "ARC-Message-Signature h= is too long");
    }
  }
}

// Random edits of a two-hop chain (mostly inside its ARC fields): verification answers every time
// without crashing or throwing (ASan build), and almost never passes.
TEST_F(Arc, RandomMutationsNeverCrash) {
  const auto original = chain(2);
  const auto arc_end = original.find("From: Alice");
  std::mt19937 rng(20261127);
  int passes = 0;
  for (int i = 0; i < 300; ++i) {
    auto m = test_util::mutate(original, arc_end, rng);
    ArcResult r;
    ASSERT_NO_THROW(r = verify(m, dns_)) << i;
    passes += r.status == ArcChainStatus::kPass;
    if (r.status == ArcChainStatus::kFail) {
      EXPECT_FALSE(r.reason.empty()) << i;
    }
  }
  EXPECT_LT(passes, 150);  // only edits that relaxed canonicalisation folds away keep a pass
}

TEST_F(Arc, AuthResultsMethodQuotesReason) {
  ArcResult r;
  r.status = ArcChainStatus::kFail;
  r.reason = "ARC set i=1 is missing";
  EXPECT_EQ(arc_auth_results_method(r, "192.0.2.1"), "arc=fail reason=\"ARC set i=1 is missing\" smtp.remote-ip=192.0.2.1");
}

}  // namespace
}  // namespace posthorn::msgauth
