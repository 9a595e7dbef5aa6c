#include "auth/scram.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/base64.hpp"

namespace posthorn::auth {
namespace {

// RFC 7677 §3 test vector.
constexpr const char* kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr const char* kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr const char* kFullNonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr const char* kSaltB64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr const char* kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr const char* kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr const char* kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// The client side of the proof, written independently of the server code [RFC 5802 §3].
std::string client_proof(std::string_view password, std::string_view salt, uint32_t iterations,
                         std::string_view auth_message) {
  unsigned char salted[32];
  PKCS5_PBKDF2_HMAC(password.data(), int(password.size()), reinterpret_cast<const unsigned char*>(salt.data()),
                    int(salt.size()), int(iterations), EVP_sha256(), sizeof(salted), salted);
  const std::string client_key = hmac(std::string_view(reinterpret_cast<char*>(salted), 32), "Client Key");
  unsigned char stored[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(client_key.data()), client_key.size(), stored);
  const std::string signature = hmac(std::string_view(reinterpret_cast<char*>(stored), 32), auth_message);
  std::string proof(32, '\0');
  for (size_t i = 0; i < 32; ++i) proof[i] = char(client_key[i] ^ signature[i]);
  return base64::encode(proof);
}

ScramCredentials rfc_credentials() {
  return make_scram_credentials("pencil", *base64::decode(kSaltB64), 4096);
}

ScramServer::Options fixed_nonce() {
  ScramServer::Options o;
  o.nonce = [] { return std::string(kServerNonce); };
  return o;
}

TEST(Scram, Rfc7677TestVector) {
  ScramServer server(fixed_nonce());
  auto user = server.client_first(kClientFirst);
  ASSERT_TRUE(user) << user.error().message;
  EXPECT_EQ(*user, "user");
  EXPECT_EQ(server.authzid(), "");
  EXPECT_EQ(server.server_first(rfc_credentials()), kServerFirst);
  auto final_message = server.client_final(kClientFinal);
  ASSERT_TRUE(final_message) << final_message.error().message;
  EXPECT_EQ(*final_message, kServerFinal);
}

TEST(Scram, IndependentClientProofMatchesRfc) {
  const std::string auth_message =
      std::string("n=user,r=rOprNGfwEbeRWgbNEkqO,") + kServerFirst + ",c=biws,r=" + kFullNonce;
  EXPECT_EQ("p=" + client_proof("pencil", *base64::decode(kSaltB64), 4096, auth_message),
            std::string_view(kClientFinal).substr(std::string_view(kClientFinal).find("p=")));
}

TEST(Scram, CredentialsSerializeRoundTrip) {
  const ScramCredentials c = rfc_credentials();
  const std::string text = c.serialize();
  EXPECT_TRUE(text.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")) << text;
  auto parsed = ScramCredentials::parse(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->iterations, 4096u);
  EXPECT_EQ(parsed->salt, c.salt);
  EXPECT_EQ(parsed->stored_key, c.stored_key);
  EXPECT_EQ(parsed->server_key, c.server_key);
  EXPECT_EQ(parsed->stored_key.size(), 32u);

  for (const char* bad : {"", "SCRAM-SHA-256$", "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
                          "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
                          "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
                          "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==", "SCRAM-SHA-256$x:AA==$AA==:AA=="}) {
    EXPECT_FALSE(ScramCredentials::parse(bad)) << bad;
  }
  // Truncating any part breaks it.
  EXPECT_FALSE(ScramCredentials::parse(text.substr(0, text.size() - 4)));
}

TEST(Scram, WrongProofIsDenied) {
  ScramServer server(fixed_nonce());
  ASSERT_TRUE(server.client_first(kClientFirst));
  server.server_first(rfc_credentials());
  std::string tampered = kClientFinal;
  tampered[tampered.size() - 6] = tampered[tampered.size() - 6] == 'A' ? 'B' : 'A';
  auto r = server.client_final(tampered);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kDenied);
}

TEST(Scram, WrongPasswordIsDenied) {
  ScramServer server(fixed_nonce());
  ASSERT_TRUE(server.client_first(kClientFirst));
  const std::string server_first = server.server_first(rfc_credentials());
  const std::string without_proof = std::string("c=biws,r=") + kFullNonce;
  const std::string auth_message = std::string("n=user,r=rOprNGfwEbeRWgbNEkqO,") + server_first + "," + without_proof;
  auto r = server.client_final(without_proof + ",p=" +
                               client_proof("pencil2", *base64::decode(kSaltB64), 4096, auth_message));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kDenied);
}

TEST(Scram, BadNonceIsInvalid) {
  ScramServer server(fixed_nonce());
  ASSERT_TRUE(server.client_first(kClientFirst));
  server.server_first(rfc_credentials());
  auto r = server.client_final(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalid);
}

TEST(Scram, OnlyOneFinalAttempt) {
  ScramServer server(fixed_nonce());
  ASSERT_TRUE(server.client_first(kClientFirst));
  server.server_first(rfc_credentials());
  ASSERT_FALSE(server.client_final("c=biws,r=x,p=AAAA"));
  auto again = server.client_final(kClientFinal);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kInvalid);
}

TEST(Scram, ClientFirstParsing) {
  {
    ScramServer s({});
    auto user = s.client_first("n,a=us=2Cer,n=us=2Cer=3Dx,r=abc,x=ext");
    ASSERT_TRUE(user) << user.error().message;
    EXPECT_EQ(*user, "us,er=x");
    EXPECT_EQ(s.authzid(), "us,er");
  }
  for (const char* bad : {"", "n", "n,", "n,,", "x,,n=user,r=abc", "n,,m=ext,n=user,r=abc", "n,,n=us=2cer,r=abc",
                          "n,,n=us=er,r=abc", "n,,n=,r=abc", "n,,r=abc,n=user", "n,,n=user", "n,,n=user,r=",
                          "n,b=x,n=user,r=abc", "n,,n=user,r=abc,1=bad", "n,,n=user,r=a\x7f"}) {
    ScramServer s({});
    auto r = s.client_first(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalid) << bad;
  }
}

TEST(Scram, DefaultServerNonceIsRandomAndPrintable) {
  ScramServer a({});
  ScramServer b({});
  ASSERT_TRUE(a.client_first(kClientFirst));
  ASSERT_TRUE(b.client_first(kClientFirst));
  const std::string fa = a.server_first(rfc_credentials());
  const std::string fb = b.server_first(rfc_credentials());
  EXPECT_NE(fa, fb);
  EXPECT_TRUE(fa.starts_with("r=rOprNGfwEbeRWgbNEkqO"));
  EXPECT_GT(fa.find(",s="), std::string("r=rOprNGfwEbeRWgbNEkqO").size() + 20);
}

TEST(Scram, ChannelBindingDowngradeIsRefused) {
  ScramServer::Options o = fixed_nonce();
  o.channel_binding_available = true;  // TLS is up, so -PLUS was advertised
  o.tls_exporter = std::string(32, 'x');
  ScramServer server(o);
  auto r = server.client_first("y,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalid);

  // Without TLS the same "y" flag is fine: the client just could not use binding.
  ScramServer plain(fixed_nonce());
  ASSERT_TRUE(plain.client_first("y,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  plain.server_first(rfc_credentials());
  // c= must then carry "y,," (base64 "eSws"), not "n,,".
  const std::string without_proof = std::string("c=eSws,r=") + kFullNonce;
  const std::string auth_message = std::string("n=user,r=rOprNGfwEbeRWgbNEkqO,") + kServerFirst + "," + without_proof;
  auto ok = plain.client_final(without_proof + ",p=" +
                               client_proof("pencil", *base64::decode(kSaltB64), 4096, auth_message));
  EXPECT_TRUE(ok) << ok.error().message;
}

TEST(Scram, BindingFlagsMustFitTheMechanism) {
  ScramServer::Options non_plus = fixed_nonce();
  non_plus.channel_binding_available = true;
  non_plus.tls_exporter = std::string(32, 'x');
  EXPECT_FALSE(ScramServer(non_plus).client_first("p=tls-exporter,,n=user,r=abc"));
  EXPECT_TRUE(ScramServer(non_plus).client_first("n,,n=user,r=abc"));

  ScramServer::Options plus = non_plus;
  plus.plus = true;
  EXPECT_FALSE(ScramServer(plus).client_first("n,,n=user,r=abc"));
  EXPECT_FALSE(ScramServer(plus).client_first("y,,n=user,r=abc"));
  EXPECT_FALSE(ScramServer(plus).client_first("p=tls-unique,,n=user,r=abc"));  // TLS 1.3: no tls-unique
  EXPECT_FALSE(ScramServer(plus).client_first("p=tls-server-end-point,,n=user,r=abc"));
  EXPECT_TRUE(ScramServer(plus).client_first("p=tls-exporter,,n=user,r=abc"));

  plus.tls_exporter.clear();
  EXPECT_FALSE(ScramServer(plus).client_first("p=tls-exporter,,n=user,r=abc"));
}

class ScramPlus : public ::testing::Test {
 protected:
  void SetUp() override {
    exporter_ = std::string(32, '\0');
    for (size_t i = 0; i < exporter_.size(); ++i) exporter_[i] = char(i * 7 + 1);
    ScramServer::Options o = fixed_nonce();
    o.plus = true;
    o.channel_binding_available = true;
    o.tls_exporter = exporter_;
    server_ = std::make_unique<ScramServer>(o);
    ASSERT_TRUE(server_->client_first("p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    server_first_ = server_->server_first(rfc_credentials());
  }
  std::string final_with_binding(std::string_view cbind_data) {
    const std::string without_proof = "c=" + base64::encode(cbind_data) + ",r=" + kFullNonce;
    const std::string auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO," + server_first_ + "," + without_proof;
    return without_proof + ",p=" + client_proof("pencil", *base64::decode(kSaltB64), 4096, auth_message);
  }
  std::string exporter_;
  std::unique_ptr<ScramServer> server_;
  std::string server_first_;
};

TEST_F(ScramPlus, CorrectBindingSucceeds) {
  auto r = server_->client_final(final_with_binding("p=tls-exporter,," + exporter_));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->starts_with("v="));
}

TEST_F(ScramPlus, OtherConnectionsExporterIsDenied) {
  std::string other = exporter_;
  other[0] ^= 1;
  auto r = server_->client_final(final_with_binding("p=tls-exporter,," + other));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kDenied);
}

TEST_F(ScramPlus, MissingBindingDataIsDenied) {
  auto r = server_->client_final(final_with_binding("p=tls-exporter,,"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kDenied);
}

// RFC 5802 §6 / RFC 5929: under TLS 1.2 a client may bind with tls-unique (GNU SASL does); the
// data checked is then the Finished message, not the exporter value [issue 28].
TEST(Scram, TlsUniqueUnderTls12IsChecked) {
  ScramServer::Options o = fixed_nonce();
  o.plus = true;
  o.channel_binding_available = true;
  o.tls_exporter = std::string(32, 'x');
  o.tls_unique = std::string(12, 'u');
  for (const std::string& data : {o.tls_unique, o.tls_exporter}) {
    ScramServer server(o);
    ASSERT_TRUE(server.client_first("p=tls-unique,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    const std::string server_first = server.server_first(rfc_credentials());
    const std::string without_proof = "c=" + base64::encode("p=tls-unique,," + data) + ",r=" + kFullNonce;
    const std::string auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO," + server_first + "," + without_proof;
    auto r = server.client_final(without_proof + ",p=" +
                                 client_proof("pencil", *base64::decode(kSaltB64), 4096, auth_message));
    if (data == o.tls_unique) {
      EXPECT_TRUE(r) << r.error().message;
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, Errc::kDenied);
    }
  }
}

}  // namespace
}  // namespace posthorn::auth
