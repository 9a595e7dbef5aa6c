// In-process SMTP session tests: the real session over real sockets via the test harness.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/base64.hpp"
#include "harness/harness.hpp"
#include "server/smtp/smtp_session.hpp"

namespace posthorn::server::smtp {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUser = "demo@example.test";
constexpr const char* kPassword = "correct horse battery";

std::string b64(std::string_view s) { return base64::encode(s); }
std::string plain_response(std::string_view user, std::string_view password) {
  std::string raw;
  raw += '\0';
  raw += user;
  raw += '\0';
  raw += password;
  return b64(raw);
}

bool contains(const std::vector<std::string>& lines, std::string_view needle) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

struct ListenerSetup {
  Proto protocol = Proto::kSubmission;
  config::TlsMode tls = config::TlsMode::kStartTls;
  std::chrono::seconds timeout{0};  // 0: the harness config's
};

class SmtpSessionTest : public ::testing::Test {
 protected:
  explicit SmtpSessionTest(posthorn::testing::Harness::Options options = {}) : harness_(options) {
    harness_.add_user(kUser, kPassword);
  }

  uint16_t listen(ListenerSetup setup = {}) {
    auto cfg = std::make_shared<config::Config>(*harness_.config());
    if (setup.timeout.count() > 0) cfg->timeouts.smtp = setup.timeout;
    config::Listener listener;
    listener.name = std::string(proto_name(setup.protocol));
    listener.protocol = setup.protocol;
    listener.address = "127.0.0.1";
    listener.tls = setup.tls;
    SmtpContext ctx{cfg, listener, &harness_.authenticator(), harness_.tls()};
    return harness_.listen(setup.protocol, setup.tls,
                           [ctx](net::Accepted accepted) { return run_session(std::move(accepted), ctx); });
  }

  std::string hostname() const { return harness_.config()->hostname; }

  // Connects, checks the greeting, sends EHLO and returns the EHLO reply lines.
  std::vector<std::string> ehlo(posthorn::testing::Client& c, std::string_view verb = "EHLO") {
    c.send_line(std::string(verb) + " client.example");
    return c.read_until("250 ");
  }

  posthorn::testing::Harness harness_;
};

TEST_F(SmtpSessionTest, GreetsWithHostname) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  EXPECT_EQ(c.read_line(), "220 " + hostname() + " ESMTP Posthorn");
  c.send_line("QUIT");
  EXPECT_EQ(c.read_line(), "221 2.0.0 Bye");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(SmtpSessionTest, EhloOnSubmissionBeforeAndAfterStartTls) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  auto lines = ehlo(c);
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines.front(), "250-" + hostname());
  EXPECT_TRUE(contains(lines, "PIPELINING"));
  EXPECT_TRUE(contains(lines, "ENHANCEDSTATUSCODES"));
  EXPECT_TRUE(contains(lines, "STARTTLS"));
  EXPECT_TRUE(contains(lines, "AUTH "));
  EXPECT_TRUE(contains(lines, "PLAIN"));  // loopback with allow_plaintext_on_loopback
  for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].substr(0, 4), "250-");
  EXPECT_EQ(lines.back().substr(0, 4), "250 ");

  c.send_line("STARTTLS");
  EXPECT_EQ(c.read_line(), "220 2.0.0 Ready to start TLS");
  c.start_tls();
  // The EHLO state is gone after TLS: AUTH needs a new EHLO.
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 9), "503 5.5.1");
  lines = ehlo(c);
  EXPECT_FALSE(contains(lines, "STARTTLS"));
  EXPECT_TRUE(contains(lines, "AUTH "));
  EXPECT_TRUE(contains(lines, "SCRAM-SHA-256"));
  c.send_line("STARTTLS");
  EXPECT_EQ(c.read_line().substr(0, 9), "503 5.5.1");
}

TEST_F(SmtpSessionTest, MxOffersNoAuth) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kStartTls});
  posthorn::testing::Client c(port);
  EXPECT_EQ(c.read_line(), "220 " + hostname() + " ESMTP Posthorn");
  auto lines = ehlo(c);
  EXPECT_TRUE(contains(lines, "STARTTLS"));
  EXPECT_FALSE(contains(lines, "AUTH"));
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 9), "502 5.5.1");
  c.send_line("LHLO client.example");
  EXPECT_EQ(c.read_line().substr(0, 4), "500 ");
  c.send_line("MAIL FROM:<a@example.org>");
  EXPECT_EQ(c.read_line().substr(0, 9), "502 5.5.1");
}

TEST_F(SmtpSessionTest, NoStartTlsWithoutTlsMode) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  c.read_line();
  auto lines = ehlo(c);
  EXPECT_FALSE(contains(lines, "STARTTLS"));
  c.send_line("STARTTLS");
  EXPECT_EQ(c.read_line().substr(0, 9), "502 5.5.1");
}

TEST_F(SmtpSessionTest, HeloIsOneLineWithoutExtensions) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  c.send_line("HELO client.example");
  EXPECT_EQ(c.read_line(), "250 " + hostname());
  // AUTH belongs to ESMTP [RFC 4954 §4].
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 9), "503 5.5.1");
  c.send_line("NOOP");
  EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
}

TEST_F(SmtpSessionTest, LmtpWantsLhlo) {
  uint16_t port = listen({Proto::kLmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  EXPECT_EQ(c.read_line(), "220 " + hostname() + " LMTP Posthorn");
  c.send_line("EHLO client.example");
  EXPECT_EQ(c.read_line().substr(0, 4), "500 ");
  c.send_line("HELO client.example");
  EXPECT_EQ(c.read_line().substr(0, 4), "500 ");
  auto lines = ehlo(c, "LHLO");
  EXPECT_EQ(lines.front(), "250-" + hostname());
  EXPECT_TRUE(contains(lines, "ENHANCEDSTATUSCODES"));
  EXPECT_FALSE(contains(lines, "AUTH"));
}

TEST_F(SmtpSessionTest, SmallCommands) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  c.send_line("RSET");
  EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
  c.send_line("noop hello");
  EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
  c.send_line("HELP");
  EXPECT_EQ(c.read_line().substr(0, 10), "214 2.0.0 ");
  c.send_line("VRFY postmaster");
  EXPECT_EQ(c.read_line().substr(0, 10), "252 2.5.0 ");
  c.send_line("EXPN staff");
  EXPECT_EQ(c.read_line().substr(0, 10), "502 5.5.1 ");
  c.send_line("XYZZY");
  EXPECT_EQ(c.read_line().substr(0, 10), "500 5.5.2 ");
  c.send_line("EHLO");
  EXPECT_EQ(c.read_line().substr(0, 10), "501 5.5.4 ");
  c.send_line("RSET now");
  EXPECT_EQ(c.read_line().substr(0, 10), "501 5.5.4 ");
  c.send_line("MAIL FROM:<a@example.org>");
  EXPECT_EQ(c.read_line(), "530 5.7.0 Authentication required");
  c.send_line("DATA");
  EXPECT_EQ(c.read_line().substr(0, 10), "502 5.5.1 ");
  c.send_line("QUIT");
  EXPECT_EQ(c.read_line(), "221 2.0.0 Bye");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(SmtpSessionTest, AuthPlainWithInitialResponse) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  ehlo(c);
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line(), "235 2.7.0 Authentication successful");
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 9), "503 5.5.1");
  // Past authentication: MAIL is refused as not implemented yet, not as unauthenticated.
  c.send_line("MAIL FROM:<demo@example.test>");
  EXPECT_EQ(c.read_line().substr(0, 9), "502 5.5.1");
}

TEST_F(SmtpSessionTest, AuthPlainWithEmptyInitialResponseThenChallenge) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  ehlo(c);
  c.send_line("AUTH PLAIN");
  EXPECT_EQ(c.read_line(), "334 ");
  c.send_line(plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line(), "235 2.7.0 Authentication successful");
}

TEST_F(SmtpSessionTest, AuthPlainEqualsSignIsEmptyResponse) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  ehlo(c);
  // "=" is an empty initial response; PLAIN then asks for the credentials [RFC 4422 §5].
  c.send_line("AUTH PLAIN =");
  EXPECT_EQ(c.read_line(), "334 ");
  c.send_line(plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line(), "235 2.7.0 Authentication successful");
}

TEST_F(SmtpSessionTest, AuthLogin) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  ehlo(c);
  c.send_line("auth login");
  std::string r = c.read_line();
  ASSERT_EQ(r.substr(0, 4), "334 ");
  c.send_line(b64(kUser));
  r = c.read_line();
  ASSERT_EQ(r.substr(0, 4), "334 ");
  c.send_line(b64(kPassword));
  EXPECT_EQ(c.read_line(), "235 2.7.0 Authentication successful");
}

TEST_F(SmtpSessionTest, WrongPasswordIs535) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  ehlo(c);
  c.send_line("AUTH PLAIN " + plain_response(kUser, "wrong"));
  EXPECT_EQ(c.read_line().substr(0, 9), "535 5.7.8");
  c.send_line("AUTH PLAIN " + plain_response("nobody@example.test", kPassword));
  EXPECT_EQ(c.read_line().substr(0, 9), "535 5.7.8");
  c.send_line("MAIL FROM:<a@example.org>");
  EXPECT_EQ(c.read_line().substr(0, 9), "530 5.7.0");
}

TEST_F(SmtpSessionTest, AuthCancelBadBase64AndUnknownMechanism) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 9), "503 5.5.1");  // before EHLO
  ehlo(c);
  c.send_line("AUTH LOGIN");
  EXPECT_EQ(c.read_line().substr(0, 4), "334 ");
  c.send_line("*");
  EXPECT_EQ(c.read_line(), "501 5.7.0 Authentication cancelled");
  c.send_line("AUTH PLAIN");
  EXPECT_EQ(c.read_line(), "334 ");
  c.send_line("not base64!");
  EXPECT_EQ(c.read_line().substr(0, 9), "501 5.5.2");
  c.send_line("AUTH PLAIN %%%%");
  EXPECT_EQ(c.read_line().substr(0, 9), "501 5.5.2");
  c.send_line("AUTH CRAM-MD5");
  EXPECT_EQ(c.read_line().substr(0, 9), "504 5.5.4");
  // The session still works.
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 3), "235");
}

// A SCRAM-SHA-256 client [RFC 5802 §3] for the test.
std::string hmac256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}
std::string sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}
std::string attr(std::string_view msg, char name) {
  size_t pos = 0;
  while (pos < msg.size()) {
    size_t end = msg.find(',', pos);
    if (end == std::string_view::npos) end = msg.size();
    std::string_view field = msg.substr(pos, end - pos);
    if (field.size() >= 2 && field[0] == name && field[1] == '=') return std::string(field.substr(2));
    pos = end + 1;
  }
  return "";
}

TEST_F(SmtpSessionTest, AuthScramSha256) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  ehlo(c);
  const std::string client_nonce = "rOprNGfwEbeRWgbNEkqO";
  const std::string first_bare = std::string("n=") + kUser + ",r=" + client_nonce;
  c.send_line("AUTH SCRAM-SHA-256 " + b64("n,," + first_bare));
  std::string r = c.read_line();
  ASSERT_EQ(r.substr(0, 4), "334 ") << r;
  auto server_first = base64::decode(r.substr(4));
  ASSERT_TRUE(server_first);
  std::string nonce = attr(*server_first, 'r');
  auto salt = base64::decode(attr(*server_first, 's'));
  int iterations = std::stoi(attr(*server_first, 'i'));
  ASSERT_TRUE(nonce.starts_with(client_nonce));
  ASSERT_TRUE(salt);
  unsigned char salted[32];
  ASSERT_EQ(PKCS5_PBKDF2_HMAC(kPassword, int(std::strlen(kPassword)), reinterpret_cast<const unsigned char*>(salt->data()),
                              int(salt->size()), iterations, EVP_sha256(), sizeof salted, salted),
            1);
  std::string salted_password(reinterpret_cast<char*>(salted), sizeof salted);
  std::string client_key = hmac256(salted_password, "Client Key");
  std::string stored_key = sha256(client_key);
  std::string final_without_proof = "c=" + b64("n,,") + ",r=" + nonce;
  std::string auth_message = first_bare + "," + *server_first + "," + final_without_proof;
  std::string signature = hmac256(stored_key, auth_message);
  std::string proof = client_key;
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = char(proof[i] ^ signature[i]);
  c.send_line(b64(final_without_proof + ",p=" + b64(proof)));
  r = c.read_line();
  ASSERT_EQ(r.substr(0, 4), "334 ") << r;  // server-final as additional data [RFC 4954 §4]
  auto server_final = base64::decode(r.substr(4));
  ASSERT_TRUE(server_final);
  std::string server_key = hmac256(salted_password, "Server Key");
  EXPECT_EQ(*server_final, "v=" + b64(hmac256(server_key, auth_message)));
  c.send_line("");
  EXPECT_EQ(c.read_line(), "235 2.7.0 Authentication successful");
}

TEST_F(SmtpSessionTest, StartTlsInjectionIsNeverExecuted) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  ehlo(c);
  c.send("STARTTLS\r\nNOOP\r\n");
  EXPECT_EQ(c.read_line(), "220 2.0.0 Ready to start TLS");
  c.start_tls();
  c.send_line("HELP");
  // The first reply over TLS answers HELP, not the NOOP injected in plaintext.
  EXPECT_EQ(c.read_line().substr(0, 4), "214 ");
  c.send_line("NOOP");
  EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
}

TEST_F(SmtpSessionTest, TenErrorsCloseTheConnection) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  for (int i = 0; i < 9; ++i) {
    c.send_line("BOGUS");
    EXPECT_EQ(c.read_line().substr(0, 4), "500 ");
  }
  c.send_line("BOGUS");
  EXPECT_EQ(c.read_line().substr(0, 4), "500 ");
  EXPECT_EQ(c.read_line(), "421 4.7.0 Too many errors");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(SmtpSessionTest, NineErrorsKeepTheConnection) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  for (int i = 0; i < 9; ++i) {
    c.send_line("BOGUS");
    EXPECT_EQ(c.read_line().substr(0, 4), "500 ");
  }
  c.send_line("NOOP");
  EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
}

TEST_F(SmtpSessionTest, OverlongLineCloses) {
  uint16_t port = listen();
  const size_t max = harness_.config()->limits.max_line_length;
  posthorn::testing::Client ok(port);
  ok.read_line();
  ok.send_line("NOOP " + std::string(max - 5, 'a'));  // exactly the limit
  EXPECT_EQ(ok.read_line(), "250 2.0.0 Ok");

  posthorn::testing::Client c(port);
  c.read_line();
  c.send_line("NOOP " + std::string(max - 4, 'a'));  // one byte over
  EXPECT_EQ(c.read_line(), "500 5.5.6 Line too long");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(SmtpSessionTest, TimeoutSays421) {
  uint16_t port = listen({Proto::kSubmission, config::TlsMode::kStartTls, 1s});
  posthorn::testing::Client c(port);
  c.read_line();
  EXPECT_EQ(c.read_line(), "421 4.4.2 Timeout");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(SmtpSessionTest, ImplicitTls) {
  uint16_t port = listen({Proto::kSubmission, config::TlsMode::kImplicit});
  posthorn::testing::Client c(port, true);
  EXPECT_EQ(c.read_line(), "220 " + hostname() + " ESMTP Posthorn");
  auto lines = ehlo(c);
  EXPECT_FALSE(contains(lines, "STARTTLS"));
  EXPECT_TRUE(contains(lines, "PLAIN"));
  c.send_line("STARTTLS");
  EXPECT_EQ(c.read_line().substr(0, 9), "503 5.5.1");
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 3), "235");
}

posthorn::testing::Harness::Options no_plaintext() {
  posthorn::testing::Harness::Options o;
  o.allow_plaintext_on_loopback = false;
  return o;
}

class SmtpSessionNoPlaintextTest : public SmtpSessionTest {
 protected:
  SmtpSessionNoPlaintextTest() : SmtpSessionTest(no_plaintext()) {}
};

TEST_F(SmtpSessionNoPlaintextTest, PlainNeedsTls) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  auto lines = ehlo(c);
  EXPECT_FALSE(contains(lines, "PLAIN"));
  EXPECT_FALSE(contains(lines, "LOGIN"));
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 10), "538 5.7.11");
  c.send_line("AUTH LOGIN");
  EXPECT_EQ(c.read_line().substr(0, 10), "538 5.7.11");
  c.send_line("STARTTLS");
  EXPECT_EQ(c.read_line().substr(0, 3), "220");
  c.start_tls();
  lines = ehlo(c);
  EXPECT_TRUE(contains(lines, "PLAIN"));
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  EXPECT_EQ(c.read_line().substr(0, 3), "235");
}

posthorn::testing::Harness::Options few_commands() {
  posthorn::testing::Harness::Options o;
  o.limits.max_commands_before_auth = 3;
  return o;
}

class SmtpSessionCommandLimitTest : public SmtpSessionTest {
 protected:
  SmtpSessionCommandLimitTest() : SmtpSessionTest(few_commands()) {}
};

TEST_F(SmtpSessionCommandLimitTest, ClosesAfterTooManyCommandsBeforeAuth) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  c.read_line();
  for (int i = 0; i < 3; ++i) {
    c.send_line("NOOP");
    EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
  }
  c.send_line("NOOP");
  EXPECT_EQ(c.read_line().substr(0, 9), "421 4.7.0");
  EXPECT_TRUE(c.closed_by_server());
}

posthorn::testing::Harness::Options one_connection() {
  posthorn::testing::Harness::Options o;
  o.limits.max_connections_per_ip = 1;
  return o;
}

class SmtpSessionConnectionLimitTest : public SmtpSessionTest {
 protected:
  SmtpSessionConnectionLimitTest() : SmtpSessionTest(one_connection()) {}
};

TEST_F(SmtpSessionConnectionLimitTest, OverLimitSays421) {
  uint16_t port = listen();
  posthorn::testing::Client first(port);
  EXPECT_EQ(first.read_line().substr(0, 4), "220 ");
  posthorn::testing::Client second(port);
  EXPECT_EQ(second.read_line(), "421 4.7.0 Too many connections");
  EXPECT_TRUE(second.closed_by_server());
}

}  // namespace
}  // namespace posthorn::server::smtp
