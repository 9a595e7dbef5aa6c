// DKIM interoperability with Debian's python3-dkim (dkimpy), run as /usr/bin/python3 through
// testdata/dkim_interop.py: messages Posthorn signs (RSA and Ed25519) verify in dkimpy, and
// messages dkimpy signs (rsa-sha256 and ed25519-sha256, every simple/relaxed combination, with and
// without l=) verify in Posthorn; tampered messages fail on both sides.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>

#include "base/base64.hpp"
#include "dns/table_resolver.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dkim_test_keys.hpp"
#include "msgauth/msgauth_test_util.hpp"
#include "msgauth/spf_test_util.hpp"

namespace posthorn::msgauth {
namespace {

using test_keys::ed25519_pem;
using test_keys::rsa2048_pem;
using test_util::run_command;

const std::string kScript = std::string(POSTHORN_MSGAUTH_TESTDATA) + "/dkim_interop.py";

const std::string kMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>,\r\n"
    "\tCarol <carol@example.net>\r\n"
    "Subject:  Interop   test \r\n"
    "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <interop@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Line one  with \t spaces \r\n"
    "\r\n"
    "  indented line\r\n"
    "\r\n"
    "\r\n";

class DkimInterop : public ::testing::Test {
 protected:
  DkimInterop() : dir_("dkim_interop") {}

  std::string write(const std::string& name, const std::string& content) { return dir_.write(name, content); }

  // dkimpy's verdicts on `message` with the given TXT records: "pass\n" per good signature.
  std::string python_verify(const std::string& message, const std::vector<std::pair<std::string, std::string>>& txt,
                            int& status) {
    std::string dns;
    for (const auto& [name, record] : txt) dns += name + "\t" + record + "\n";
    auto m = write("verify.eml", message);
    auto d = write("dns.txt", dns);
    std::string out;
    status = run_command("/usr/bin/python3 " + kScript + " verify " + m + " " + d, out);
    return out;
  }

  // The DKIM-Signature field dkimpy makes for `message`.
  std::string python_sign(const std::string& message, const std::string& key_file, const std::string& header_canon,
                          const std::string& body_canon, const std::string& algorithm, bool length = false) {
    auto m = write("sign.eml", message);
    std::string out;
    int status = run_command("/usr/bin/python3 " + kScript + " sign " + m + " sel example.org " + key_file + " " +
                         header_canon + " " + body_canon + " " + algorithm + (length ? " --length" : ""),
                     out);
    EXPECT_EQ(status, 0) << "python3-dkim signing failed (is python3-dkim installed?)";
    return out;
  }

  static std::vector<DkimResult> verify(const std::string& message, dns::Resolver& resolver) {
    return testing::run(dkim_verify(message, resolver, ::time(nullptr)));
  }

  // python3-dkim takes an Ed25519 private key as the base64 of its 32-byte seed.
  std::string ed25519_seed_file() {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(ed25519_pem().data(), -1), &BIO_free);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    std::string seed(32, '\0');
    size_t len = seed.size();
    EVP_PKEY_get_raw_private_key(key, reinterpret_cast<unsigned char*>(seed.data()), &len);
    EVP_PKEY_free(key);
    return write("ed25519.seed", base64::encode(seed));
  }

  test_util::TempDir dir_;
};

TEST_F(DkimInterop, PosthornSignsPythonVerifies) {
  DkimSigner signer;
  ASSERT_TRUE(signer.add_key("example.org", "ph-rsa", rsa2048_pem()));
  ASSERT_TRUE(signer.add_key("example.org", "ph-ed25519", ed25519_pem()));
  std::vector<std::pair<std::string, std::string>> txt = {
      {"ph-rsa._domainkey.example.org", dkim_txt_record(rsa2048_pem()).value()},
      {"ph-ed25519._domainkey.example.org", dkim_txt_record(ed25519_pem()).value()}};
  auto message = signer.sign(kMessage, "example.org", ::time(nullptr)) + kMessage;
  int status = -1;
  EXPECT_EQ(python_verify(message, txt, status), "pass\npass\n");
  EXPECT_EQ(status, 0);

  // The same message tampered with: dkimpy refuses both signatures.
  struct Case {
    std::string from, to;
  };
  for (const auto& c : {Case{"Line one", "Line 1"}, Case{"Subject:  Interop", "Subject:  Changed"},
                        Case{"To: Bob", "From: Mallory <m@evil.test>\r\nTo: Bob"}}) {
    auto tampered = message;
    tampered.replace(tampered.find(c.from), c.from.size(), c.to);
    EXPECT_EQ(python_verify(tampered, txt, status), "fail\nfail\n") << c.to;
    EXPECT_EQ(status, 1);
  }
}

TEST_F(DkimInterop, PythonSignsPosthornVerifies) {
  auto rsa_key = write("rsa.pem", rsa2048_pem());
  auto ed_key = ed25519_seed_file();
  dns::TableResolver dns;
  dns.add_txt("sel._domainkey.example.org", dkim_txt_record(rsa2048_pem()).value());
  dns::TableResolver ed_dns;
  ed_dns.add_txt("sel._domainkey.example.org", dkim_txt_record(ed25519_pem()).value());
  for (std::string algorithm : {"rsa-sha256", "ed25519-sha256"}) {
    bool rsa = algorithm == "rsa-sha256";
    auto& resolver = rsa ? dns : ed_dns;
    for (std::string hc : {"simple", "relaxed"}) {
      for (std::string bc : {"simple", "relaxed"}) {
        auto sig = python_sign(kMessage, rsa ? rsa_key : ed_key, hc, bc, algorithm);
        auto what = algorithm + " " + hc + "/" + bc;
        ASSERT_TRUE(sig.starts_with("DKIM-Signature:")) << what << ": " << sig;
        auto results = verify(sig + kMessage, resolver);
        ASSERT_EQ(results.size(), 1u) << what;
        EXPECT_EQ(results[0].status, DkimStatus::kPass) << what << ": " << results[0].reason;
        EXPECT_EQ(results[0].algorithm, algorithm);
        EXPECT_EQ(results[0].selector, "sel");

        auto tampered = sig + kMessage;
        tampered.replace(tampered.find("indented"), 8, "modified");
        EXPECT_EQ(verify(tampered, resolver).at(0).status, DkimStatus::kFail) << what;
        tampered = sig + kMessage;
        tampered.replace(tampered.find("Interop"), 7, "Changed");
        EXPECT_EQ(verify(tampered, resolver).at(0).status, DkimStatus::kFail) << what;
        tampered = sig + "From: Mallory <m@evil.test>\r\n" + kMessage;
        EXPECT_EQ(verify(tampered, resolver).at(0).status, DkimStatus::kFail) << what;
      }
    }
  }
}

TEST_F(DkimInterop, PythonBodyLengthLimit) {
  auto rsa_key = write("rsa.pem", rsa2048_pem());
  dns::TableResolver dns;
  dns.add_txt("sel._domainkey.example.org", dkim_txt_record(rsa2048_pem()).value());
  for (std::string bc : {"simple", "relaxed"}) {
    auto sig = python_sign(kMessage, rsa_key, "relaxed", bc, "rsa-sha256", true);
    ASSERT_NE(sig.find("l="), std::string::npos) << sig;
    // Text appended after the signed length is not covered: still a pass (l= says so).
    auto results = verify(sig + kMessage + "Appended by a list\r\n", dns);
    EXPECT_EQ(results.at(0).status, DkimStatus::kPass) << bc << ": " << results[0].reason;
    // A change inside the signed length fails.
    auto tampered = sig + kMessage;
    tampered.replace(tampered.find("Line one"), 8, "Line two");
    EXPECT_EQ(verify(tampered, dns).at(0).status, DkimStatus::kFail) << bc;
  }
}

}  // namespace
}  // namespace posthorn::msgauth
