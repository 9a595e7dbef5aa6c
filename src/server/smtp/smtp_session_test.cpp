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

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include "base/base64.hpp"
#include "base/run_sync.hpp"
#include "tests/harness/harness.hpp"
#include "server/smtp/smtp_session.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "store/sqlite/sqlite_queue.hpp"

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
  std::chrono::milliseconds greeting_delay{0};
  uint64_t max_message_size = 0;  // 0: the default
  uint32_t max_recipients = 0;    // 0: the default
};

class SmtpSessionTest : public ::testing::Test {
 protected:
  explicit SmtpSessionTest(posthorn::testing::Harness::Options options = {}) : harness_(options) {
    harness_.add_user(kUser, kPassword);
    auto store = store::sqlite::SqliteMailStore::open(harness_.config()->data_dir, harness_.pool());
    if (!store) throw std::runtime_error(store.error().message);
    store_ = std::move(*store);
    auto queue = store::sqlite::SqliteQueue::open(harness_.config()->data_dir, harness_.pool());
    if (!queue) throw std::runtime_error(queue.error().message);
    queue_ = std::move(*queue);
  }

  uint16_t listen(ListenerSetup setup = {}) {
    auto cfg = std::make_shared<config::Config>(*harness_.config());
    if (setup.timeout.count() > 0) cfg->timeouts.smtp = setup.timeout;
    cfg->smtp.greeting_delay = setup.greeting_delay;
    if (setup.max_message_size > 0) cfg->smtp.max_message_size = setup.max_message_size;
    if (setup.max_recipients > 0) cfg->smtp.max_recipients = setup.max_recipients;
    config::Listener listener;
    listener.name = std::string(proto_name(setup.protocol));
    listener.protocol = setup.protocol;
    listener.address = "127.0.0.1";
    listener.tls = setup.tls;
    SmtpContext ctx{cfg, listener, &harness_.authenticator(), harness_.tls(), store_.get(), &harness_.pool(),
                    queue_.get()};
    return harness_.listen(setup.protocol, setup.tls,
                           [ctx](net::Accepted accepted) { return run_session(std::move(accepted), ctx); });
  }

  template <class T>
  T run(boost::asio::awaitable<T> op) {
    auto future = boost::asio::co_spawn(harness_.io(), std::move(op), boost::asio::use_future);
    return future.get();
  }

  // Every message in the account's INBOX, prefix included, oldest first.
  std::vector<std::string> inbox(const std::string& address) {
    auto account = run_sync(harness_.directory().find_account(address));
    if (!account) throw std::runtime_error("no account " + address);
    auto a = run(store_->account(account->id, store::Limits{}));
    if (!a) throw std::runtime_error(a.error().message);
    auto box = run((*a)->open("INBOX"));
    if (!box) throw std::runtime_error(box.error().message);
    auto view = run((*box)->select(false));
    if (!view) throw std::runtime_error(view.error().message);
    std::vector<std::string> out;
    for (const auto& m : view->messages) {
      auto blob = run((*box)->open_message(m.uid));
      if (!blob) throw std::runtime_error(blob.error().message);
      auto bytes = (*blob)->read_blocking(0, (*blob)->size());
      if (!bytes) throw std::runtime_error(bytes.error().message);
      out.push_back(std::move(*bytes));
    }
    return out;
  }

  std::string hostname() const { return harness_.config()->hostname; }

  // Connects, checks the greeting, sends EHLO and returns the EHLO reply lines.
  std::vector<std::string> ehlo(posthorn::testing::Client& c, std::string_view verb = "EHLO") {
    c.send_line(std::string(verb) + " client.example");
    return c.read_until("250 ");
  }

  posthorn::testing::Harness harness_;
  std::unique_ptr<store::sqlite::SqliteMailStore> store_;
  std::unique_ptr<store::sqlite::SqliteQueue> queue_;
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
  EXPECT_EQ(c.read_line(), "250 2.1.0 Sender ok");
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
  EXPECT_EQ(c.read_line(), "503 5.5.1 Need MAIL command");
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
  // Past authentication: MAIL is accepted for the user's own address.
  c.send_line("MAIL FROM:<demo@example.test>");
  EXPECT_EQ(c.read_line(), "250 2.1.0 Sender ok");
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

// ---- mail transactions ----

constexpr const char* kOther = "other@example.test";

// Sends EHLO and discards the reply.
void hello(posthorn::testing::Client& c, std::string_view verb = "EHLO") {
  c.read_line();  // greeting
  c.send_line(std::string(verb) + " client.example");
  c.read_until("250 ");
}

// MAIL FROM and RCPT TO, each expected to succeed.
void envelope(posthorn::testing::Client& c, std::string_view from, std::initializer_list<std::string_view> rcpts) {
  c.send_line("MAIL FROM:<" + std::string(from) + ">");
  ASSERT_EQ(c.read_line().substr(0, 3), "250") << from;
  for (auto r : rcpts) {
    c.send_line("RCPT TO:<" + std::string(r) + ">");
    ASSERT_EQ(c.read_line().substr(0, 3), "250") << r;
  }
}

void login(posthorn::testing::Client& c) {
  c.send_line("AUTH PLAIN " + plain_response(kUser, kPassword));
  ASSERT_EQ(c.read_line().substr(0, 3), "235");
}

const std::string kMessage = "From: a@example.org\r\nSubject: test\r\n\r\nHello there.\r\n";

TEST_F(SmtpSessionTest, EhloAdvertisesTheMailExtensions) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kStartTls});
  posthorn::testing::Client c(port);
  c.read_line();
  auto lines = ehlo(c);
  for (const char* ext : {"PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS",
                          "CHUNKING", "DSN", "BINARYMIME"}) {
    EXPECT_TRUE(contains(lines, ext)) << ext;
  }
  EXPECT_FALSE(contains(lines, "AUTH"));
}

TEST_F(SmtpSessionTest, MxDeliversToALocalUserWithTraceFieldsAsPrefix) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kStartTls});
  posthorn::testing::Client c(port);
  hello(c);
  c.send_line("MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME");
  EXPECT_EQ(c.read_line(), "250 2.1.0 Sender ok");
  c.send_line("RCPT TO:<Demo@Example.TEST>");
  EXPECT_EQ(c.read_line(), "250 2.1.5 Recipient ok");
  c.send_line("DATA");
  EXPECT_EQ(c.read_line().substr(0, 4), "354 ");
  c.send(kMessage + "..dot line\r\n.\r\n");
  std::string r = c.read_line();
  EXPECT_EQ(r.substr(0, 24), "250 2.0.0 Ok: queued as ") << r;
  auto box = inbox(kUser);
  ASSERT_EQ(box.size(), 1u);
  EXPECT_TRUE(box[0].starts_with("Return-Path: <a@example.org>\r\nReceived: from client.example ([127.0.0.1])\r\n"))
      << box[0];
  EXPECT_NE(box[0].find("with ESMTP id"), std::string::npos);
  EXPECT_NE(box[0].find("for <Demo@Example.TEST>"), std::string::npos);
  EXPECT_TRUE(box[0].ends_with(kMessage + ".dot line\r\n")) << box[0];
}

TEST_F(SmtpSessionTest, MxRefusesUnknownUsersAndRelaying) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kStartTls});
  posthorn::testing::Client c(port);
  hello(c);
  c.send_line("MAIL FROM:<a@example.org>");
  c.read_line();
  c.send_line("RCPT TO:<nobody@example.test>");
  EXPECT_EQ(c.read_line(), "550 5.1.1 <nobody@example.test> No such user here");
  c.send_line("RCPT TO:<someone@remote.example>");
  EXPECT_EQ(c.read_line(), "554 5.7.1 <someone@remote.example> Relay access denied");
  c.send_line("DATA");
  EXPECT_EQ(c.read_line(), "554 5.5.1 No valid recipients");
}

// Relay tricks: none of them may be accepted without authentication.
TEST_F(SmtpSessionTest, MxOpenRelayTricksAreRefused) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  const char* tricks[] = {
      "<user@remote.example>",
      "<user%remote.example@example.test>",
      "<user%remote.example>",
      "<@example.test:user@remote.example>",
      "<@example.test,@example.test:user@remote.example>",
      "<\"user@remote.example\"@example.test>",
      "<\"user%remote.example\"@example.test>",
      "<remote.example!user@example.test>",
      "<remote.example!user>",
      "<user@remote.example@example.test>",
      "<user@example.test.>",
      "<user@[127.0.0.1]>",
      "<demo@[127.0.0.1]>",
      "<user@[IPv6:::1]>",
      "<user>",
      "<user@remote.example.>",
      "<demo@example.test@remote.example>",
      "<\"demo\"@remote.example>",
      "<user@localhost>",
      "<@remote.example:user@remote.example>",
      "user@remote.example",
      "<user@remote.example> NOTIFY=NEVER",
      "<USER@REMOTE.EXAMPLE>",
      "<user@sub.example.test>",
      "<postmaster@remote.example>",
  };
  // One connection per trick keeps the error limit out of the way.
  for (const char* t : tricks) {
    posthorn::testing::Client k(port);
    hello(k);
    k.send_line("MAIL FROM:<a@example.org>");
    ASSERT_EQ(k.read_line().substr(0, 3), "250");
    k.send_line(std::string("RCPT TO:") + t);
    std::string r = k.read_line();
    EXPECT_EQ(r[0], '5') << t << " -> " << r;
    k.send_line("QUIT");
    k.read_line();
  }
}

TEST_F(SmtpSessionTest, SubmissionRelaysOnlyAfterAuthAndQueuesRemoteRecipients) {
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  hello(c);
  c.send_line("MAIL FROM:<demo@example.test>");
  EXPECT_EQ(c.read_line().substr(0, 9), "530 5.7.0");
  login(c);
  c.send_line("MAIL FROM:<demo@example.test> RET=HDRS ENVID=abc+2B1");
  EXPECT_EQ(c.read_line(), "250 2.1.0 Sender ok");
  c.send_line("RCPT TO:<friend@remote.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;friend+40remote.example");
  EXPECT_EQ(c.read_line(), "250 2.1.5 Recipient ok");
  c.send_line("RCPT TO:<demo@example.test>");
  EXPECT_EQ(c.read_line(), "250 2.1.5 Recipient ok");
  c.send_line("DATA");
  c.read_line();
  c.send("Subject: out\r\nBcc: secret@remote.example\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  auto entries = run_sync(queue_->list());
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  const auto& e = entries->front();
  EXPECT_EQ(e.sender, "demo@example.test");
  ASSERT_EQ(e.recipients.size(), 1u);
  EXPECT_EQ(e.recipients[0].address, "friend@remote.example");
  EXPECT_EQ(e.recipients[0].notify, 6);
  EXPECT_EQ(e.recipients[0].orcpt, "rfc822;friend@remote.example");
  EXPECT_EQ(e.ret, "HDRS");
  EXPECT_EQ(e.envid, "abc+1");
  EXPECT_FALSE(e.bounce_needed);
  auto bytes = run_sync(queue_->read_message(e.id));
  ASSERT_TRUE(bytes);
  EXPECT_TRUE(bytes->starts_with("Received: from client.example")) << *bytes;
  EXPECT_NE(bytes->find("with ESMTPA id"), std::string::npos);
  // Submission hygiene: Bcc gone, Message-ID and Date added.
  EXPECT_EQ(bytes->find("Bcc:"), std::string::npos);
  EXPECT_NE(bytes->find("\r\nMessage-ID: <"), std::string::npos);
  EXPECT_NE(bytes->find("\r\nDate: "), std::string::npos);
  // The local copy got the same rewrite, stored once.
  auto box = inbox(kUser);
  ASSERT_EQ(box.size(), 1u);
  EXPECT_EQ(box[0].find("Bcc:"), std::string::npos);
  EXPECT_NE(box[0].find("\r\nMessage-ID: <"), std::string::npos);
}

TEST_F(SmtpSessionTest, AuthenticatedSenderMustOwnTheAddress) {
  harness_.add_user(kOther, "other password");
  ASSERT_TRUE(run_sync(harness_.directory().add_alias("alias@example.test", {kUser})));
  ASSERT_TRUE(run_sync(harness_.directory().add_alias("team@example.test", {kOther})));
  uint16_t port = listen();
  posthorn::testing::Client c(port);
  hello(c);
  login(c);
  struct Case {
    const char* sender;
    const char* reply;
  };
  const Case cases[] = {
      {"<other@example.test>", "553 5.7.1"},  {"<team@example.test>", "553 5.7.1"},
      {"<someone@remote.example>", "553 5.7.1"}, {"<nobody@example.test>", "553 5.7.1"},
      {"<DEMO@example.test>", "250 2.1.0"},   {"<alias@example.test>", "250 2.1.0"},
      {"<demo+tag@example.test>", "250 2.1.0"}, {"<>", "250 2.1.0"},
  };
  for (const auto& k : cases) {
    c.send_line(std::string("MAIL FROM:") + k.sender);
    EXPECT_EQ(c.read_line().substr(0, 9), k.reply) << k.sender;
    c.send_line("RSET");
    c.read_line();
  }
}

TEST_F(SmtpSessionTest, MessageSizeLimitAtNAndNPlusOne) {
  const uint64_t max = 70000;
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone, std::chrono::seconds(0), std::chrono::milliseconds(0), max});
  posthorn::testing::Client c(port);
  hello(c);
  c.send_line("MAIL FROM:<a@example.org> SIZE=70001");
  EXPECT_EQ(c.read_line(), "552 5.3.4 Message size exceeds fixed limit");
  c.send_line("MAIL FROM:<a@example.org> SIZE=70000");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("RCPT TO:<demo@example.test>");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  // Exactly max bytes (after unstuffing): accepted.
  const std::string head = "Subject: big\r\n\r\n";
  std::string body;
  while (head.size() + body.size() + 100 + 2 <= max) body += std::string(98, 'x') + "\r\n";
  body += std::string(max - head.size() - body.size() - 2, 'y') + "\r\n";
  ASSERT_EQ(head.size() + body.size(), max);
  c.send_line("DATA");
  c.read_line();
  c.send(head + body + ".\r\n");
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  // One more byte: refused after the data, and the session goes on.
  envelope(c, "a@example.org", {"demo@example.test"});
  c.send_line("DATA");
  c.read_line();
  c.send(head + "z" + body + ".\r\n");
  EXPECT_EQ(c.read_line(), "552 5.3.4 Message size exceeds fixed limit");
  c.send_line("NOOP");
  EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
  EXPECT_EQ(inbox(kUser).size(), 1u);
  // BDAT too: max accepted, max + 1 refused.
  envelope(c, "a@example.org", {"demo@example.test"});
  std::string whole = head + body;
  c.send("BDAT " + std::to_string(whole.size()) + " LAST\r\n" + whole);
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  envelope(c, "a@example.org", {"demo@example.test"});
  c.send("BDAT 10\r\n0123456789");
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  c.send("BDAT " + std::to_string(whole.size() - 9) + " LAST\r\n" + whole.substr(9));
  EXPECT_EQ(c.read_line(), "552 5.3.4 Message size exceeds fixed limit");
  EXPECT_EQ(inbox(kUser).size(), 2u);
}

TEST_F(SmtpSessionTest, RecipientLimitAtNAndNPlusOne) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone, std::chrono::seconds(0), std::chrono::milliseconds(0), 0, 3});
  posthorn::testing::Client c(port);
  hello(c);
  c.send_line("MAIL FROM:<a@example.org>");
  c.read_line();
  for (const char* r : {"<demo@example.test>", "<demo+a@example.test>", "<demo+b@example.test>"}) {
    c.send_line(std::string("RCPT TO:") + r);
    EXPECT_EQ(c.read_line(), "250 2.1.5 Recipient ok") << r;
  }
  c.send_line("RCPT TO:<demo+c@example.test>");
  EXPECT_EQ(c.read_line(), "452 4.5.3 Too many recipients");
  c.send_line("DATA");
  c.read_line();
  c.send(kMessage + ".\r\n");
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  // Three recipients reaching one account: one copy.
  EXPECT_EQ(inbox(kUser).size(), 1u);
}

// Every smuggling vector over a real socket: the data never ends early, the smuggled command is not
// run, and the message is refused after the real terminator.
TEST_F(SmtpSessionTest, SmugglingVectorsAreRefused) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  const char* vectors[] = {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\n.\r", "\r.\n"};
  for (const char* v : vectors) {
    posthorn::testing::Client c(port);
    hello(c);
    envelope(c, "a@example.org", {"demo@example.test"});
    c.send_line("DATA");
    c.read_line();
    c.send(std::string("Subject: s\r\n\r\nx") + v + "MAIL FROM:<evil@example.org>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n");
    EXPECT_EQ(c.read_line(), "550 5.5.2 Message refused: bare CR or LF in DATA (RFC 5321 section 2.3.8)")
        << "vector " << ::testing::PrintToString(std::string(v));
    c.send_line("NOOP");
    EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");  // the very next reply: nothing smuggled ran
  }
  EXPECT_TRUE(inbox(kUser).empty());
}

TEST_F(SmtpSessionTest, BdatChunksAndSequenceErrors) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  hello(c);
  // Without MAIL the chunk is still read, then refused.
  c.send("BDAT 5\r\nhello");
  EXPECT_EQ(c.read_line(), "503 5.5.1 Need MAIL command");
  c.send_line("MAIL FROM:<a@example.org> BODY=BINARYMIME");
  c.read_line();
  c.send_line("RCPT TO:<demo@example.test>");
  c.read_line();
  c.send_line("DATA");
  EXPECT_EQ(c.read_line(), "503 5.5.1 BODY=BINARYMIME requires BDAT");
  const std::string part1 = "Subject: chunks\r\n\r\nfirst ";
  const std::string part2 = "second\r\n.\r\n";  // a dot line in BDAT is plain data
  c.send("BDAT " + std::to_string(part1.size()) + "\r\n" + part1);
  EXPECT_EQ(c.read_line(), "250 2.0.0 " + std::to_string(part1.size()) + " octets received");
  c.send("BDAT " + std::to_string(part2.size()) + " LAST\r\n" + part2);
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  auto box = inbox(kUser);
  ASSERT_EQ(box.size(), 1u);
  EXPECT_TRUE(box[0].ends_with(part1 + part2));
  // BDAT 0 LAST ends an empty chunked message.
  envelope(c, "a@example.org", {"demo@example.test"});
  c.send("BDAT 8\r\nA: b\r\n\r\n");
  c.read_line();
  c.send_line("BDAT 0 LAST");
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  EXPECT_EQ(inbox(kUser).size(), 2u);
}

TEST_F(SmtpSessionTest, PipelinedTransaction) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  hello(c);
  c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<demo@example.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  EXPECT_EQ(c.read_line().substr(0, 9), "550 5.1.1");
  EXPECT_EQ(c.read_line().substr(0, 3), "354");
  c.send(kMessage + ".\r\nMAIL FROM:<b@example.org>\r\nRSET\r\nQUIT\r\n");
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
  EXPECT_EQ(c.read_line(), "221 2.0.0 Bye");
}

TEST_F(SmtpSessionTest, OverQuotaAtRcptIs452) {
  ASSERT_TRUE(run_sync(harness_.directory().set_quota(kUser, 10)));
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  {
    posthorn::testing::Client c(port);
    hello(c);
    c.send_line("MAIL FROM:<a@example.org> SIZE=11");
    c.read_line();
    c.send_line("RCPT TO:<demo@example.test>");  // the declared size does not fit
    EXPECT_EQ(c.read_line(), "452 4.2.2 <demo@example.test> Mailbox full");
  }
  ASSERT_TRUE(run_sync(harness_.directory().set_quota(kUser, 100)));
  posthorn::testing::Client c(port);
  hello(c);
  c.send_line("MAIL FROM:<a@example.org>");
  c.read_line();
  c.send_line("RCPT TO:<demo@example.test>");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("DATA");
  c.read_line();
  c.send(kMessage + std::string(200, 'x') + "\r\n.\r\n");  // over the quota: refused
  EXPECT_EQ(c.read_line(), "452 4.2.2 Mailbox full");
  EXPECT_TRUE(inbox(kUser).empty());
}

// SMTP partial failure: one recipient gets the message, the other is over quota; the sender is
// owed a DSN, recorded in the queue.
TEST_F(SmtpSessionTest, PartialFailureQueuesADsnEntry) {
  harness_.add_user(kOther, "other password");
  ASSERT_TRUE(run_sync(harness_.directory().set_quota(kOther, 300)));
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  hello(c);
  c.send_line("MAIL FROM:<a@example.org> ENVID=e1");
  c.read_line();
  c.send_line("RCPT TO:<demo@example.test>");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("RCPT TO:<other@example.test> NOTIFY=FAILURE");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("DATA");
  c.read_line();
  c.send(kMessage + std::string(400, 'x') + "\r\n.\r\n");
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  EXPECT_EQ(inbox(kUser).size(), 1u);
  EXPECT_EQ(inbox(kOther).size(), 0u);
  auto entries = run_sync(queue_->list());
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  const auto& e = entries->front();
  EXPECT_TRUE(e.bounce_needed);
  EXPECT_EQ(e.sender, "a@example.org");
  EXPECT_EQ(e.envid, "e1");
  ASSERT_EQ(e.recipients.size(), 1u);
  EXPECT_EQ(e.recipients[0].address, "other@example.test");
  EXPECT_EQ(e.recipients[0].state, queue::RecipientState::kFailed);
  EXPECT_EQ(e.recipients[0].last_error, "452 4.2.2 Mailbox full");
  EXPECT_EQ(e.recipients[0].notify, 4);
}

// NOTIFY=SUCCESS on a local recipient: a "delivered" notice [RFC 3461 §5.2.2], stored at once for a
// local sender, queued from <> for a remote one; NOTIFY absent or FAILURE only: none.
TEST_F(SmtpSessionTest, DeliveredNoticesForNotifySuccess) {
  harness_.add_user(kOther, "other password");
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  hello(c);
  auto send = [&](const std::string& from, const std::string& params, const std::string& rcpt_params) {
    c.send_line("MAIL FROM:<" + from + ">" + params);
    EXPECT_EQ(c.read_line().substr(0, 3), "250");
    c.send_line("RCPT TO:<demo@example.test>" + rcpt_params);
    EXPECT_EQ(c.read_line().substr(0, 3), "250");
    c.send_line("DATA");
    c.read_line();
    c.send(kMessage + "the body line\r\n.\r\n");
    EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  };
  send(kOther, " ENVID=local-1", " NOTIFY=SUCCESS ORCPT=rfc822;demo@example.test");
  auto notices = inbox(kOther);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_TRUE(notices[0].starts_with("Return-Path: <>\r\n")) << notices[0];
  EXPECT_NE(notices[0].find("Action: delivered\r\n"), std::string::npos);
  EXPECT_NE(notices[0].find("Status: 2.0.0\r\n"), std::string::npos);
  EXPECT_NE(notices[0].find("Original-Recipient: rfc822;demo@example.test\r\n"), std::string::npos);
  EXPECT_NE(notices[0].find("Original-Envelope-Id: local-1\r\n"), std::string::npos);
  EXPECT_EQ(notices[0].find("the body line"), std::string::npos);  // header only without RET=FULL

  send("a@example.org", " RET=FULL", " NOTIFY=SUCCESS,FAILURE");
  auto entries = run_sync(queue_->list());
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  const auto& e = entries->front();
  EXPECT_TRUE(e.is_bounce);
  EXPECT_EQ(e.sender, "");
  ASSERT_EQ(e.recipients.size(), 1u);
  EXPECT_EQ(e.recipients[0].address, "a@example.org");
  auto bytes = run_sync(queue_->read_message(e.id));
  ASSERT_TRUE(bytes);
  EXPECT_NE(bytes->find("Action: delivered\r\n"), std::string::npos);
  EXPECT_NE(bytes->find("the body line"), std::string::npos);  // RET=FULL

  send("a@example.org", "", " NOTIFY=FAILURE");
  send("a@example.org", "", "");
  EXPECT_EQ(run_sync(queue_->list())->size(), 1u);
  EXPECT_EQ(inbox(kOther).size(), 1u);
  EXPECT_EQ(inbox(kUser).size(), 4u);
}

TEST_F(SmtpSessionTest, LmtpRepliesPerRecipient) {
  harness_.add_user(kOther, "other password");
  ASSERT_TRUE(run_sync(harness_.directory().set_quota(kOther, 300)));
  uint16_t port = listen({Proto::kLmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  hello(c, "LHLO");
  c.send_line("MAIL FROM:<a@example.org>");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("RCPT TO:<demo@example.test>");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("RCPT TO:<other@example.test>");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("RCPT TO:<nobody@example.test>");
  EXPECT_EQ(c.read_line().substr(0, 9), "550 5.1.1");
  c.send_line("RCPT TO:<x@remote.example>");
  EXPECT_EQ(c.read_line().substr(0, 9), "554 5.7.1");
  c.send_line("DATA");
  c.read_line();
  c.send(kMessage + std::string(400, 'x') + "\r\n.\r\n");
  std::string first = c.read_line();
  std::string second = c.read_line();
  EXPECT_TRUE(first.starts_with("250 2.0.0 <demo@example.test> Ok: queued as ")) << first;
  EXPECT_EQ(second, "452 4.2.2 <other@example.test> Mailbox full");
  EXPECT_TRUE(run_sync(queue_->list())->empty());  // LMTP reports; it queues no DSN
  EXPECT_TRUE(inbox(kUser).front().find("with LMTP id") != std::string::npos);
}

// An alias of ours that forwards outside: the MX accepts it (the administrator set it up) and the
// remote target is queued; the local target of the same alias gets its copy.
TEST_F(SmtpSessionTest, AliasForwardingToARemoteTargetIsQueued) {
  ASSERT_TRUE(run_sync(harness_.directory().add_alias("fwd@example.test", {"friend@remote.example", kUser})));
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  hello(c);
  envelope(c, "a@example.org", {"fwd@example.test"});
  c.send_line("DATA");
  c.read_line();
  c.send(kMessage + ".\r\n");
  EXPECT_EQ(c.read_line().substr(0, 9), "250 2.0.0");
  auto entries = run_sync(queue_->list());
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  ASSERT_EQ(entries->front().recipients.size(), 1u);
  EXPECT_EQ(entries->front().recipients[0].address, "friend@remote.example");
  EXPECT_FALSE(entries->front().bounce_needed);
  EXPECT_EQ(inbox(kUser).size(), 1u);
}

class SmtpSessionGreetingTest : public SmtpSessionTest {};

TEST_F(SmtpSessionGreetingTest, EarlyTalkerIsRejected) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone, std::chrono::seconds(0), std::chrono::milliseconds(1000)});
  {
    posthorn::testing::Client c(port);
    c.send_line("EHLO too.early");
    EXPECT_EQ(c.read_line(), "554 5.5.1 Error: SMTP protocol synchronization");
    EXPECT_TRUE(c.closed_by_server());
  }
  {
    // Half a line is early talk too.
    posthorn::testing::Client c(port);
    c.send("EHLO");
    EXPECT_EQ(c.read_line(), "554 5.5.1 Error: SMTP protocol synchronization");
  }
  posthorn::testing::Client patient(port);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(patient.read_line().substr(0, 4), "220 ");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  patient.send_line("EHLO on.time");
  EXPECT_EQ(patient.read_until("250 ").front().substr(0, 4), "250-");
  // The submission listener has no delay.
  uint16_t sub = listen({Proto::kSubmission, config::TlsMode::kNone, std::chrono::seconds(0), std::chrono::milliseconds(1000)});
  posthorn::testing::Client s(sub);
  s.send_line("EHLO quick");
  EXPECT_EQ(s.read_line().substr(0, 4), "220 ");
}

TEST_F(SmtpSessionTest, SequenceAndSyntaxErrors) {
  uint16_t port = listen({Proto::kSmtp, config::TlsMode::kNone});
  posthorn::testing::Client c(port);
  c.read_line();
  c.send_line("MAIL FROM:<a@example.org>");
  EXPECT_EQ(c.read_line(), "503 5.5.1 Send EHLO or HELO first");
  c.send_line("EHLO client.example");
  c.read_until("250 ");
  c.send_line("RCPT TO:<demo@example.test>");
  EXPECT_EQ(c.read_line(), "503 5.5.1 Need MAIL command");
  c.send_line("MAIL FROM:<a@example.org> FOO=bar");
  EXPECT_EQ(c.read_line().substr(0, 9), "555 5.5.4");
  c.send_line("MAIL FROM:<a@example.org>");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("MAIL FROM:<a@example.org>");
  EXPECT_EQ(c.read_line(), "503 5.5.1 Sender already specified");
  c.send_line("RCPT TO:<用户@example.test>");
  EXPECT_EQ(c.read_line(), "553 5.6.7 Non-ASCII address requires SMTPUTF8");
  c.send_line("RSET");
  EXPECT_EQ(c.read_line(), "250 2.0.0 Ok");
  c.send_line("RCPT TO:<demo@example.test>");
  EXPECT_EQ(c.read_line(), "503 5.5.1 Need MAIL command");
  c.send_line("MAIL FROM:<用户@example.org> SMTPUTF8");
  EXPECT_EQ(c.read_line().substr(0, 3), "250");
  c.send_line("RCPT TO:<Postmaster>");
  EXPECT_EQ(c.read_line().substr(0, 9), "550 5.1.1");  // localhost is not one of our domains here
}

}  // namespace
}  // namespace posthorn::server::smtp
