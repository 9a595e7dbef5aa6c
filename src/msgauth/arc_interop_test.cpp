// ARC interoperability with Debian's python3-dkim (dkim.arc_sign / dkim.arc_verify), run as
// /usr/bin/python3 through testdata/arc_interop.py: chains that python seals verify in Posthorn,
// chains Posthorn seals verify in python, mixed chains (python, then Posthorn, then python) verify
// on both sides, and tampering fails on both sides.
#include <gtest/gtest.h>

#include <ctime>

#include "dns/table_resolver.hpp"
#include "msgauth/arc.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dkim_test_keys.hpp"
#include "msgauth/msgauth_test_util.hpp"
#include "msgauth/spf_test_util.hpp"

namespace posthorn::msgauth {
namespace {

using test_keys::rsa2048_pem;
using test_util::run_command;

const std::string kScript = std::string(POSTHORN_MSGAUTH_TESTDATA) + "/arc_interop.py";

const std::string kMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject:  ARC  interop \r\n"
    "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <arc-interop@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Line one  with \t spaces \r\n"
    "\r\n"
    "  indented line\r\n"
    "\r\n";

class ArcInterop : public ::testing::Test {
 protected:
  ArcInterop() : dir_("arc_interop") {
    key_file_ = dir_.write("rsa.pem", rsa2048_pem());
    for (std::string domain : {"py1.test", "py2.test", "ph.test"}) {
      dns_.add_txt("arc._domainkey." + domain, dkim_txt_record(rsa2048_pem()).value());
      dns_file_ += "arc._domainkey." + domain + "\t" + dkim_txt_record(rsa2048_pem()).value() + "\n";
    }
    EXPECT_TRUE(keys_.add_key("ph.test", "arc", rsa2048_pem()));
  }
  // The message with python's next ARC set (and its Authentication-Results) on top.
  std::string python_seal(const std::string& message, const std::string& domain, const std::string& cv) {
    auto m = dir_.write("seal.eml", message);
    std::string out;
    int status = run_command("/usr/bin/python3 " + kScript + " seal " + m + " arc " + domain + " " + key_file_ + " mx." +
                         domain + " " + cv,
                     out);
    EXPECT_EQ(status, 0) << "python3-dkim sealing failed (are python3-dkim and python3-authres installed?)";
    return out;
  }

  // python's chain status for `message`: "pass", "fail" or "none".
  std::string python_verify(const std::string& message) {
    auto m = dir_.write("verify.eml", message);
    auto d = dir_.write("dns.txt", dns_file_);
    std::string out;
    run_command("/usr/bin/python3 " + kScript + " verify " + m + " " + d, out);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  ArcResult verify(const std::string& message) { return testing::run(arc_verify(message, dns_, ::time(nullptr))); }

  std::string posthorn_seal(const std::string& message) {
    auto status = verify(message).status;
    auto set = arc_seal(message, keys_, "ph.test", "mx.ph.test", "spf=pass smtp.mailfrom=alice@example.org", status,
                        ::time(nullptr));
    EXPECT_FALSE(set.empty());
    return set + message;
  }

  test_util::TempDir dir_;
  std::string key_file_;
  std::string dns_file_;
  dns::TableResolver dns_;
  DkimSigner keys_;
};

TEST_F(ArcInterop, PythonSealsPosthornVerifies) {
  auto m = python_seal(kMessage, "py1.test", "none");
  ASSERT_TRUE(m.starts_with("ARC-Seal:")) << m;
  auto r = verify(m);
  EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
  EXPECT_EQ(r.instances, 1);
  m = python_seal(m, "py2.test", "pass");
  r = verify(m);
  EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
  EXPECT_EQ(r.instances, 2);
  EXPECT_EQ(python_verify(m), "pass");

  auto tampered = m;
  tampered.replace(tampered.find("indented"), 8, "modified");
  EXPECT_EQ(verify(tampered).status, ArcChainStatus::kFail);
  EXPECT_EQ(python_verify(tampered), "fail");
}

TEST_F(ArcInterop, PosthornSealsPythonVerifies) {
  auto m = posthorn_seal(kMessage);
  EXPECT_EQ(python_verify(m), "pass");
  m = posthorn_seal(m);
  EXPECT_EQ(python_verify(m), "pass");
  EXPECT_EQ(verify(m).status, ArcChainStatus::kPass);

  for (std::string from : {"indented", "ARC  interop", "mx.ph.test; spf=pass"}) {
    auto tampered = m;
    tampered.replace(tampered.find(from), 3, "XYZ");
    EXPECT_EQ(python_verify(tampered), "fail") << from;
    EXPECT_EQ(verify(tampered).status, ArcChainStatus::kFail) << from;
  }
}

// A chain of both: python seals i=1, Posthorn i=2, python i=3; each side verifies every stage.
TEST_F(ArcInterop, MixedChain) {
  auto m = python_seal(kMessage, "py1.test", "none");
  m = posthorn_seal(m);
  EXPECT_EQ(python_verify(m), "pass");
  m = python_seal(m, "py2.test", "pass");
  EXPECT_EQ(python_verify(m), "pass");
  auto r = verify(m);
  EXPECT_EQ(r.status, ArcChainStatus::kPass) << r.reason;
  EXPECT_EQ(r.instances, 3);
}

}  // namespace
}  // namespace posthorn::msgauth
