// In-process POP3 session tests: the real session behind a real Listener on 127.0.0.1, driven by the
// blocking test client (tests/harness).
#include "base/blocking_pool.hpp"
#include "server/pop3/pop3_session.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "base/run_sync.hpp"
#include "tests/harness/harness.hpp"

namespace posthorn::server::pop3 {
namespace {

using testing::Client;
using testing::Harness;

constexpr const char* kUser = "alice@example.test";
constexpr const char* kPassword = "s3cret";
constexpr const char* kSpacedUser = "bob@example.test";
constexpr const char* kSpacedPassword = "correct horse battery staple";

struct Pop3Setup {
  config::TlsMode tls = config::TlsMode::kStartTls;
  Harness::Options harness;
  std::chrono::seconds pop3_timeout{0};  // 0: the config's default
  config::Pop3 pop3;
};

std::filesystem::path temp_store_dir() {
  static std::atomic<int> n{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("posthorn_pop3_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  return dir;
}

// The session behind a real listener, with a real SqliteMailStore in a temp folder. Members are
// declared so that the harness (and with it every session) goes first, the store after it.
class Pop3 {
 public:
  explicit Pop3(Pop3Setup setup = {})
      : store_dir_(temp_store_dir()),
        store_(store::sqlite::SqliteMailStore::open(store_dir_, pool_).value()),
        harness_(std::make_unique<Harness>(setup.harness)) {
    harness_->add_user(kUser, kPassword);
    harness_->add_user(kSpacedUser, kSpacedPassword);
    Pop3Context ctx;
    auto cfg = std::make_shared<config::Config>(*harness_->config());
    if (setup.pop3_timeout.count() > 0) cfg->timeouts.pop3 = setup.pop3_timeout;
    cfg->pop3 = setup.pop3;
    ctx.config = cfg;
    ctx.listener = config::Listener{"pop3-test", Proto::kPop3, "127.0.0.1", 0, setup.tls, {}};
    ctx.auth = &harness_->authenticator();
    ctx.tls = harness_->tls();
    ctx.store = store_.get();
    ctx.locks = &locks_;
    port_ = harness_->listen(Proto::kPop3, setup.tls,
                             [ctx](net::Accepted accepted) { return run_session(std::move(accepted), ctx); });
  }
  ~Pop3() {
    harness_.reset();
    store_.reset();
    std::filesystem::remove_all(store_dir_);
  }

  // A connected client that has read the greeting.
  std::unique_ptr<Client> connect(bool implicit_tls = false) {
    auto c = std::make_unique<Client>(port_, implicit_tls);
    EXPECT_EQ(c->read_line(), "+OK Posthorn POP3 ready.");
    return c;
  }
  // A client logged in as `user` with USER/PASS.
  std::unique_ptr<Client> login(std::string_view user = kUser, std::string_view password = kPassword);
  uint16_t port() const { return port_; }

  // Runs a store operation to completion on the harness's I/O threads.
  template <class T>
  T run(boost::asio::awaitable<T> op) {
    return boost::asio::co_spawn(harness_->io(), std::move(op), boost::asio::use_future).get();
  }
  store::AccountId account_of(std::string_view address) {
    return run_sync(harness_->directory().find_account(std::string(address))).value().id;
  }
  std::shared_ptr<store::Account> account(std::string_view address = kUser) {
    return run(store_->account(account_of(address), {})).value();
  }
  std::unique_ptr<store::Mailbox> inbox(std::string_view address = kUser) {
    return run(account(address)->open("INBOX")).value();
  }
  // Delivers `message` into the user's INBOX; returns its UID.
  store::Uid deliver(std::string message, std::string_view address = kUser) {
    store::Delivery d;
    d.message = std::make_shared<const std::string>(std::move(message));
    d.targets.push_back(store::DeliveryTarget{account_of(address), {}, "INBOX", {}, ""});
    return run(store_->deliver(std::move(d))).value().front().value().uid;
  }
  store::MailStore& store() { return *store_; }
  store::LocalMaildropLocks& locks() { return locks_; }

 private:
  std::filesystem::path store_dir_;
  BlockingPool pool_{2};
  std::unique_ptr<store::sqlite::SqliteMailStore> store_;
  store::LocalMaildropLocks locks_;
  std::unique_ptr<Harness> harness_;
  uint16_t port_ = 0;
};

std::string ask(Client& c, std::string_view line) {
  c.send_line(line);
  return c.read_line();
}

std::unique_ptr<Client> Pop3::login(std::string_view user, std::string_view password) {
  auto c = connect();
  EXPECT_EQ(ask(*c, "USER " + std::string(user)), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS " + std::string(password)), "+OK Logged in.");
  return c;
}

// The lines of a multi-line reply after its first line, without the "." terminator.
std::vector<std::string> read_multiline(Client& c) {
  std::vector<std::string> lines;
  for (;;) {
    std::string line = c.read_line();
    if (line == ".") return lines;
    if (line.starts_with('.')) line.erase(0, 1);
    lines.push_back(line);
  }
}

std::vector<std::string> capa(Client& c) {
  EXPECT_EQ(ask(c, "CAPA"), "+OK Capability list follows");
  return read_multiline(c);
}

bool has(const std::vector<std::string>& lines, std::string_view line) {
  for (const auto& l : lines) {
    if (l == line) return true;
  }
  return false;
}

std::string sasl_line(const std::vector<std::string>& caps) {
  for (const auto& l : caps) {
    if (l.starts_with("SASL ")) return l;
  }
  return "";
}

std::string b64(std::string_view s) { return base64::encode(s); }

std::string unb64(std::string_view s) {
  auto d = base64::decode(s);
  EXPECT_TRUE(d) << s;
  return d.value_or("");
}

// ---- SCRAM-SHA-256 client, computed here with OpenSSL [RFC 5802 §3, RFC 7677] ----

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string attribute(std::string_view message, char name) {
  for (std::string_view part : ascii::split(message, ',')) {
    if (part.size() >= 2 && part[0] == name && part[1] == '=') return std::string(part.substr(2));
  }
  return "";
}

struct ScramOptions {
  std::string mechanism = "SCRAM-SHA-256";
  std::string user = kUser;
  std::string password = kPassword;
  bool initial_response = true;
  std::string channel_binding;  // -PLUS: the tls-exporter value
};

// Runs a whole SCRAM exchange; returns the server's last line.
std::string scram(Client& c, const ScramOptions& o) {
  const bool plus = !o.channel_binding.empty();
  const std::string gs2 = plus ? "p=tls-exporter,," : "n,,";
  const std::string client_nonce = "rOprNGfwEbeRWgbNEkqO";
  const std::string first_bare = "n=" + o.user + ",r=" + client_nonce;
  if (o.initial_response) {
    c.send_line("AUTH " + o.mechanism + " " + b64(gs2 + first_bare));
  } else {
    c.send_line("AUTH " + o.mechanism);
    std::string empty = c.read_line();
    EXPECT_EQ(empty, "+ ");
    if (empty != "+ ") return empty;
    c.send_line(b64(gs2 + first_bare));
  }
  std::string line = c.read_line();
  if (!line.starts_with("+ ")) return line;
  const std::string server_first = unb64(line.substr(2));
  const std::string nonce = attribute(server_first, 'r');
  EXPECT_TRUE(nonce.starts_with(client_nonce)) << server_first;
  const std::string salt = unb64(attribute(server_first, 's'));
  const int iterations = std::stoi(attribute(server_first, 'i'));

  unsigned char salted[32];
  PKCS5_PBKDF2_HMAC(o.password.data(), int(o.password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), int(salt.size()), iterations,
                    EVP_sha256(), sizeof salted, salted);
  const std::string salted_password(reinterpret_cast<char*>(salted), sizeof salted);
  const std::string client_key = hmac(salted_password, "Client Key");
  const std::string stored_key = sha256(client_key);
  const std::string final_without_proof = "c=" + b64(gs2 + o.channel_binding) + ",r=" + nonce;
  const std::string auth_message = first_bare + "," + server_first + "," + final_without_proof;
  const std::string signature = hmac(stored_key, auth_message);
  std::string proof = client_key;
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = char(proof[i] ^ signature[i]);
  c.send_line(b64(final_without_proof + ",p=" + b64(proof)));

  line = c.read_line();
  if (!line.starts_with("+ ")) return line;
  // Additional data with success: the server-final-message, answered with an empty line.
  const std::string server_key = hmac(salted_password, "Server Key");
  EXPECT_EQ(unb64(line.substr(2)), "v=" + b64(hmac(server_key, auth_message)));
  c.send_line("");
  return c.read_line();
}

// ---- tests ----

TEST(Pop3Session, GreetingAndCapaBeforeAndAfterStls) {
  Pop3 pop3;
  auto c = pop3.connect();
  auto before = capa(*c);
  EXPECT_TRUE(has(before, "USER"));  // harness: plaintext allowed on loopback
  EXPECT_TRUE(has(before, "RESP-CODES"));
  EXPECT_TRUE(has(before, "AUTH-RESP-CODE"));
  EXPECT_TRUE(has(before, "PIPELINING"));
  EXPECT_TRUE(has(before, "STLS"));
  EXPECT_TRUE(has(before, "IMPLEMENTATION Posthorn"));
  EXPECT_NE(sasl_line(before).find("SCRAM-SHA-256"), std::string::npos);
  EXPECT_EQ(before.back(), "IMPLEMENTATION Posthorn");

  EXPECT_EQ(ask(*c, "STLS"), "+OK Begin TLS negotiation");
  c->start_tls();
  auto after = capa(*c);
  EXPECT_FALSE(has(after, "STLS"));
  EXPECT_TRUE(has(after, "USER"));
  EXPECT_NE(sasl_line(after).find("PLAIN"), std::string::npos);
  EXPECT_EQ(ask(*c, "STLS"), "-ERR STLS not available");
  EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(Pop3Session, UserPassLogsIn) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "+OK Logged in.");
  EXPECT_EQ(ask(*c, "NOOP"), "+OK");
  EXPECT_EQ(ask(*c, "STAT"), "+OK 0 0");
  EXPECT_EQ(ask(*c, "RETR 1"), "-ERR No such message");
  EXPECT_EQ(ask(*c, "RSET"), "+OK Maildrop has 0 messages");
  EXPECT_EQ(ask(*c, "UTF8"), "-ERR Already authenticated");
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "-ERR Already authenticated");
  EXPECT_EQ(ask(*c, "AUTH PLAIN"), "-ERR Already authenticated");
  EXPECT_EQ(ask(*c, "STLS"), "-ERR Already authenticated");
  auto caps = capa(*c);
  EXPECT_FALSE(has(caps, "USER"));
  EXPECT_FALSE(has(caps, "STLS"));
  EXPECT_TRUE(sasl_line(caps).empty());
  EXPECT_TRUE(has(caps, "RESP-CODES"));
  EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(Pop3Session, WrongPasswordIsRefusedAndUserIsForgotten) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS wrong"), "-ERR [AUTH] Authentication failed");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "-ERR USER first");
  EXPECT_EQ(ask(*c, "USER nobody@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "-ERR [AUTH] Authentication failed");
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "+OK Logged in.");
}

TEST(Pop3Session, PassKeepsSpaces) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "USER bob@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS correct horse battery staple"), "+OK Logged in.");
}

TEST(Pop3Session, StateErrorsAndSyntax) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "PASS s3cret"), "-ERR USER first");
  EXPECT_EQ(ask(*c, "STAT"), "-ERR Not authenticated");
  EXPECT_EQ(ask(*c, "LIST 1"), "-ERR Not authenticated");
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Not authenticated");
  EXPECT_EQ(ask(*c, "RSET"), "-ERR Not authenticated");
  EXPECT_EQ(ask(*c, "APOP alice c4c9334bac560ecc979e58001b3e22fb"), "-ERR APOP not supported");
  EXPECT_EQ(ask(*c, "HELO"), "-ERR Unknown command");
  EXPECT_EQ(ask(*c, ""), "-ERR Unknown command");
  EXPECT_EQ(ask(*c, "USER"), "-ERR Missing argument");
  EXPECT_EQ(ask(*c, "CAPA now"), "-ERR Too many arguments");
  EXPECT_EQ(ask(*c, "USER " + std::string(249, 'u')), "-ERR Line too long");  // 254 > 253 octets
  EXPECT_EQ(ask(*c, "AUTH X-UNKNOWN"), "-ERR Unsupported authentication mechanism");
  EXPECT_EQ(ask(*c, "AUTH PLAIN !!!"), "-ERR Invalid base64 data");
  EXPECT_EQ(ask(*c, "quit"), "+OK Bye");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(Pop3Session, AuthPlainWithInitialResponse) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "AUTH PLAIN " + b64(std::string("\0alice@example.test\0s3cret", 26))),
            "+OK Authenticated");
  EXPECT_EQ(ask(*c, "NOOP"), "+OK");
}

TEST(Pop3Session, AuthPlainWithoutInitialResponse) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "AUTH PLAIN"), "+ ");
  EXPECT_EQ(ask(*c, b64(std::string("\0alice@example.test\0s3cret", 26))), "+OK Authenticated");
}

TEST(Pop3Session, AuthPlainWrongPassword) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "AUTH PLAIN " + b64(std::string("\0alice@example.test\0nope", 24))),
            "-ERR [AUTH] Authentication failed");
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Not authenticated");
}

TEST(Pop3Session, AuthPlainEmptyInitialResponseAsksForCredentials) {
  Pop3 pop3;
  auto c = pop3.connect();
  // "=" is an empty initial response [RFC 5034 §4]: PLAIN then asks with an empty challenge.
  EXPECT_EQ(ask(*c, "AUTH PLAIN ="), "+ ");
  EXPECT_EQ(ask(*c, b64(std::string("\0alice@example.test\0s3cret", 26))), "+OK Authenticated");
}

TEST(Pop3Session, AuthLoginChallengesAreBase64) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "AUTH LOGIN"), "+ " + b64("Username:"));
  EXPECT_EQ(ask(*c, b64("alice@example.test")), "+ " + b64("Password:"));
  EXPECT_EQ(ask(*c, b64("wrong")), "-ERR [AUTH] Authentication failed");
}

TEST(Pop3Session, AuthLogin) {
  Pop3 pop3;
  auto c = pop3.connect();
  std::string prompt = ask(*c, "AUTH LOGIN");
  ASSERT_TRUE(prompt.starts_with("+ ")) << prompt;
  prompt = ask(*c, b64("alice@example.test"));
  ASSERT_TRUE(prompt.starts_with("+ ")) << prompt;
  EXPECT_EQ(ask(*c, b64("s3cret")), "+OK Authenticated");
}

TEST(Pop3Session, AuthCancelAndBadBase64) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "AUTH PLAIN"), "+ ");
  EXPECT_EQ(ask(*c, "*"), "-ERR Authentication cancelled");
  EXPECT_EQ(ask(*c, "AUTH PLAIN"), "+ ");
  EXPECT_EQ(ask(*c, "not base64!"), "-ERR Invalid base64 data");
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Not authenticated");
}

TEST(Pop3Session, AuthWithoutMechanismListsThem) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "AUTH"), "+OK");
  auto mechs = read_multiline(*c);
  EXPECT_TRUE(has(mechs, "PLAIN"));
  EXPECT_TRUE(has(mechs, "SCRAM-SHA-256"));
  auto caps = capa(*c);
  std::string sasl = "SASL";
  for (const auto& m : mechs) sasl += " " + m;
  EXPECT_EQ(sasl_line(caps), sasl);
}

TEST(Pop3Session, ScramSha256) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(scram(*c, ScramOptions{}), "+OK Authenticated");
  EXPECT_EQ(ask(*c, "NOOP"), "+OK");
}

TEST(Pop3Session, ScramSha256WithoutInitialResponse) {
  Pop3 pop3;
  auto c = pop3.connect();
  ScramOptions o;
  o.initial_response = false;
  EXPECT_EQ(scram(*c, o), "+OK Authenticated");
}

TEST(Pop3Session, ScramSha256WrongPassword) {
  Pop3 pop3;
  auto c = pop3.connect();
  ScramOptions o;
  o.password = "wrong";
  EXPECT_EQ(scram(*c, o), "-ERR [AUTH] Authentication failed");
  o.user = "nobody@example.test";
  EXPECT_EQ(scram(*c, o), "-ERR [AUTH] Authentication failed");
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Not authenticated");
}

TEST(Pop3Session, ScramSha256PlusOverStls) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "STLS"), "+OK Begin TLS negotiation");
  c->start_tls();
  auto caps = capa(*c);
  ASSERT_NE(sasl_line(caps).find("SCRAM-SHA-256-PLUS"), std::string::npos) << sasl_line(caps);
  ScramOptions o;
  o.mechanism = "SCRAM-SHA-256-PLUS";
  o.channel_binding = c->tls_exporter();
  ASSERT_EQ(o.channel_binding.size(), 32u);
  EXPECT_EQ(scram(*c, o), "+OK Authenticated");
}

TEST(Pop3Session, StlsDiscardsPipelinedPlaintext) {
  Pop3 pop3;
  auto c = pop3.connect();
  c->send("STLS\r\nCAPA\r\n");  // the CAPA must be neither answered in plaintext nor run after TLS
  EXPECT_EQ(c->read_line(), "+OK Begin TLS negotiation");
  c->start_tls();
  // The first reply over TLS belongs to the first command sent over TLS.
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Not authenticated");
  EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");
}

TEST(Pop3Session, StlsForgetsUser) {
  Pop3 pop3;
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "STLS"), "+OK Begin TLS negotiation");
  c->start_tls();
  EXPECT_EQ(ask(*c, "PASS s3cret"), "-ERR USER first");
}

TEST(Pop3Session, PlaintextRefusedWithoutTls) {
  Pop3Setup setup;
  setup.harness.allow_plaintext_on_loopback = false;
  Pop3 pop3(setup);
  auto c = pop3.connect();
  auto caps = capa(*c);
  EXPECT_FALSE(has(caps, "USER"));
  EXPECT_EQ(sasl_line(caps).find("PLAIN"), std::string::npos) << sasl_line(caps);
  EXPECT_TRUE(has(caps, "STLS"));
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "-ERR [AUTH] Encryption required");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "-ERR USER first");
  EXPECT_EQ(ask(*c, "AUTH PLAIN " + b64(std::string("\0alice@example.test\0s3cret", 26))),
            "-ERR [AUTH] Encryption required");
  // SCRAM never sends the password: fine without TLS.
  EXPECT_EQ(scram(*c, ScramOptions{}), "+OK Authenticated");
}

TEST(Pop3Session, PlaintextAllowedAfterStls) {
  Pop3Setup setup;
  setup.harness.allow_plaintext_on_loopback = false;
  Pop3 pop3(setup);
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "STLS"), "+OK Begin TLS negotiation");
  c->start_tls();
  EXPECT_TRUE(has(capa(*c), "USER"));
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "+OK Logged in.");
}

TEST(Pop3Session, ImplicitTls) {
  Pop3Setup setup;
  setup.tls = config::TlsMode::kImplicit;
  Pop3 pop3(setup);
  auto c = pop3.connect(/*implicit_tls=*/true);
  auto caps = capa(*c);
  EXPECT_FALSE(has(caps, "STLS"));
  EXPECT_EQ(ask(*c, "STLS"), "-ERR STLS not available");
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "+OK Logged in.");
}

TEST(Pop3Session, NoTlsListenerDoesNotOfferStls) {
  Pop3Setup setup;
  setup.tls = config::TlsMode::kNone;
  Pop3 pop3(setup);
  auto c = pop3.connect();
  EXPECT_FALSE(has(capa(*c), "STLS"));
  EXPECT_EQ(ask(*c, "STLS"), "-ERR STLS not available");
}

TEST(Pop3Session, LineLengthLimit) {
  Pop3Setup setup;
  setup.harness.limits.max_line_length = 512;
  Pop3 pop3(setup);
  auto c = pop3.connect();
  // N octets (without CRLF) are read and parsed; PASS is not held to the 255-octet rule.
  EXPECT_EQ(ask(*c, "PASS " + std::string(512 - 5, 'p')), "-ERR USER first");
  // N+1: "-ERR Line too long" and the connection is closed.
  EXPECT_EQ(ask(*c, "PASS " + std::string(512 - 4, 'p')), "-ERR Line too long");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(Pop3Session, HugeLineWithoutNewlineIsCutOff) {
  Pop3 pop3;
  auto c = pop3.connect();
  const std::string chunk(64 * 1024, 'x');
  try {
    for (int i = 0; i < 16; ++i) c->send(chunk);  // 1 MiB, no newline
  } catch (const std::exception&) {
    // The server may close before everything is written.
  }
  EXPECT_EQ(c->read_line(), "-ERR Line too long");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(Pop3Session, CommandsBeforeAuthAreLimited) {
  Pop3Setup setup;
  setup.harness.limits.max_commands_before_auth = 3;
  Pop3 pop3(setup);
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Not authenticated");
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Not authenticated");
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Not authenticated");
  EXPECT_EQ(ask(*c, "NOOP"), "-ERR Too many commands before authentication");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(Pop3Session, CommandLimitDoesNotApplyAfterLogin) {
  Pop3Setup setup;
  setup.harness.limits.max_commands_before_auth = 3;
  Pop3 pop3(setup);
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "+OK Logged in.");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ask(*c, "NOOP"), "+OK");
}

TEST(Pop3Session, TooManyConnections) {
  Pop3Setup setup;
  setup.harness.limits.max_connections_per_ip = 1;
  Pop3 pop3(setup);
  auto first = pop3.connect();
  Client second(pop3.port());
  EXPECT_EQ(second.read_line(), "-ERR [SYS/TEMP] Too many connections");
  EXPECT_TRUE(second.closed_by_server());
  EXPECT_EQ(ask(*first, "NOOP"), "-ERR Not authenticated");
}

TEST(Pop3Session, IdleTimeout) {
  Pop3Setup setup;
  setup.pop3_timeout = std::chrono::seconds(1);
  Pop3 pop3(setup);
  auto c = pop3.connect();
  EXPECT_EQ(c->read_line(), "-ERR Autologout; idle for too long");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(Pop3Session, ThrottledLoginIsTemporaryFailure) {
  Pop3Setup setup;
  setup.harness.auth.throttle_free_failures = 100;  // no delays, just the block
  setup.harness.auth.throttle_block_after = 2;
  Pop3 pop3(setup);
  auto c = pop3.connect();
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS wrong1"), "-ERR [AUTH] Authentication failed");
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS wrong2"), "-ERR [AUTH] Authentication failed");
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "-ERR [SYS/TEMP] Temporary failure, try again later");
}

// ---- The maildrop [RFC 1939 §5-§7] ----

const std::string kFirst = "From: a@example.test\r\nSubject: one\r\n\r\nhello\r\n.dotted\r\n..two\r\n.\r\nend\r\n";
const std::string kSecond = "From: b@example.test\r\nSubject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n";
const std::string kThird = "From: c@example.test\r\nSubject: three\r\n\r\nno final newline";

// The body of a multi-line reply as the client reassembles it: dot-unstuffed, CRLF line ends.
std::string read_body(Client& c) {
  std::string out;
  for (const auto& line : read_multiline(c)) out += line + "\r\n";
  return out;
}

TEST(Pop3Session, StatListRetrTopUidl) {
  Pop3 pop3;
  pop3.deliver(kFirst);
  pop3.deliver(kSecond);
  pop3.deliver(kThird);
  auto c = pop3.login();
  const uint64_t total = kFirst.size() + kSecond.size() + kThird.size();
  EXPECT_EQ(ask(*c, "STAT"), "+OK 3 " + std::to_string(total));
  EXPECT_EQ(ask(*c, "LIST"), "+OK Scan listing follows");
  EXPECT_EQ(read_multiline(*c), (std::vector<std::string>{"1 " + std::to_string(kFirst.size()),
                                                         "2 " + std::to_string(kSecond.size()),
                                                         "3 " + std::to_string(kThird.size())}));
  EXPECT_EQ(ask(*c, "LIST 2"), "+OK 2 " + std::to_string(kSecond.size()));
  EXPECT_EQ(ask(*c, "LIST 4"), "-ERR No such message");
  EXPECT_EQ(ask(*c, "LIST 0"), "-ERR No such message");

  EXPECT_EQ(ask(*c, "RETR 1"), "+OK " + std::to_string(kFirst.size()) + " octets");
  EXPECT_EQ(read_body(*c), kFirst);  // dot-stuffed on the wire, identical once unstuffed
  EXPECT_EQ(ask(*c, "RETR 3"), "+OK " + std::to_string(kThird.size()) + " octets");
  EXPECT_EQ(read_body(*c), kThird + "\r\n");  // the last line gets its CRLF

  EXPECT_EQ(ask(*c, "TOP 2 0"), "+OK");
  EXPECT_EQ(read_body(*c), "From: b@example.test\r\nSubject: two\r\n\r\n");
  EXPECT_EQ(ask(*c, "TOP 2 2"), "+OK");
  EXPECT_EQ(read_body(*c), "From: b@example.test\r\nSubject: two\r\n\r\nline 1\r\nline 2\r\n");
  EXPECT_EQ(ask(*c, "TOP 9 1"), "-ERR No such message");

  EXPECT_EQ(ask(*c, "UIDL"), "+OK Unique-ID listing follows");
  auto uidls = read_multiline(*c);
  ASSERT_EQ(uidls.size(), 3u);
  std::set<std::string> distinct;
  for (size_t i = 0; i < uidls.size(); ++i) {
    const std::string prefix = std::to_string(i + 1) + " ";
    ASSERT_TRUE(uidls[i].starts_with(prefix)) << uidls[i];
    const std::string id = uidls[i].substr(prefix.size());
    EXPECT_EQ(id.size(), 32u);
    for (char ch : id) EXPECT_TRUE(ch > 0x20 && ch < 0x7f);
    distinct.insert(id);
  }
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_EQ(ask(*c, "UIDL 2"), "+OK " + uidls[1]);
  EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");

  // The same UIDLs in the next session, and after the store is reopened (a restart).
  auto again = pop3.login();
  EXPECT_EQ(ask(*again, "UIDL"), "+OK Unique-ID listing follows");
  EXPECT_EQ(read_multiline(*again), uidls);
}

TEST(Pop3Session, DeleTakesEffectOnlyAtQuit) {
  Pop3 pop3;
  pop3.deliver(kFirst);
  pop3.deliver(kSecond);
  pop3.deliver(kThird);
  {
    auto c = pop3.login();
    EXPECT_EQ(ask(*c, "DELE 1"), "+OK Marked to be deleted");
    EXPECT_EQ(ask(*c, "DELE 1"), "-ERR Message is deleted");
    EXPECT_EQ(ask(*c, "RETR 1"), "-ERR Message is deleted");
    EXPECT_EQ(ask(*c, "LIST 1"), "-ERR Message is deleted");
    EXPECT_EQ(ask(*c, "STAT"), "+OK 2 " + std::to_string(kSecond.size() + kThird.size()));
    EXPECT_EQ(ask(*c, "LIST"), "+OK Scan listing follows");
    EXPECT_EQ(read_multiline(*c).front(), "2 " + std::to_string(kSecond.size()));  // numbers stay
    // The connection drops without QUIT: nothing is deleted.
  }
  {
    // The lock of the dropped session goes as soon as the server sees the connection end.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (pop3.locks().held_here(pop3.account_of(kUser)) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto c = pop3.login();
    EXPECT_EQ(ask(*c, "STAT"), "+OK 3 " + std::to_string(kFirst.size() + kSecond.size() + kThird.size()));
    EXPECT_EQ(ask(*c, "DELE 1"), "+OK Marked to be deleted");
    EXPECT_EQ(ask(*c, "DELE 3"), "+OK Marked to be deleted");
    EXPECT_EQ(ask(*c, "RSET"), "+OK Maildrop has 3 messages");
    EXPECT_EQ(ask(*c, "STAT"), "+OK 3 " + std::to_string(kFirst.size() + kSecond.size() + kThird.size()));
    EXPECT_EQ(ask(*c, "DELE 2"), "+OK Marked to be deleted");
    EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");
    EXPECT_TRUE(c->closed_by_server());
  }
  auto c = pop3.login();
  EXPECT_EQ(ask(*c, "STAT"), "+OK 2 " + std::to_string(kFirst.size() + kThird.size()));
  // Removed from the store, as IMAP sees it (the delete policy).
  EXPECT_EQ(pop3.run(pop3.inbox()->select(false)).value().messages.size(), 2u);
}

TEST(Pop3Session, SecondSessionGetsInUseUntilTheFirstEnds) {
  Pop3 pop3;
  pop3.deliver(kFirst);
  auto first = pop3.login();
  auto second = pop3.connect();
  EXPECT_EQ(ask(*second, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*second, "PASS s3cret"), "-ERR [IN-USE] Maildrop is locked by another session");
  EXPECT_EQ(ask(*second, "STAT"), "-ERR Not authenticated");  // still in AUTHORIZATION
  // Another user's maildrop is independent.
  auto bob = pop3.login(kSpacedUser, kSpacedPassword);
  EXPECT_EQ(ask(*first, "QUIT"), "+OK Bye");
  ASSERT_TRUE(first->closed_by_server());
  // QUIT released the lock: the second session may log in now (AUTH this time).
  EXPECT_EQ(ask(*second, "AUTH PLAIN " + b64(std::string("\0alice@example.test\0s3cret", 26))), "+OK Authenticated");
  EXPECT_EQ(ask(*second, "STAT"), "+OK 1 " + std::to_string(kFirst.size()));
}

TEST(Pop3Session, RetrievedMessagesBecomeSeenAtQuit) {
  Pop3 pop3;
  const store::Uid one = pop3.deliver(kFirst);
  const store::Uid two = pop3.deliver(kSecond);
  auto c = pop3.login();
  EXPECT_EQ(ask(*c, "RETR 1"), "+OK " + std::to_string(kFirst.size()) + " octets");
  read_body(*c);
  EXPECT_EQ(ask(*c, "TOP 2 1"), "+OK");  // TOP is not a download
  read_body(*c);
  EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");
  ASSERT_TRUE(c->closed_by_server());
  auto data = pop3.run(pop3.inbox()->fetch({one, two}, false)).value();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_TRUE(data[0].info.flags.has(store::kSeen));
  EXPECT_FALSE(data[1].info.flags.has(store::kSeen));
}

TEST(Pop3Session, KeepPolicyHidesFromPop3ButKeepsForImap) {
  Pop3Setup setup;
  setup.pop3.policy = config::Pop3Policy{config::Pop3Policy::Kind::kKeep, 0};
  Pop3 pop3(setup);
  pop3.deliver(kFirst);
  pop3.deliver(kSecond);
  {
    auto c = pop3.login();
    auto caps = capa(*c);
    EXPECT_TRUE(has(caps, "EXPIRE NEVER"));
    EXPECT_EQ(ask(*c, "RETR 1"), "+OK " + std::to_string(kFirst.size()) + " octets");
    read_body(*c);
    EXPECT_EQ(ask(*c, "DELE 1"), "+OK Marked to be deleted");
    EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");
  }
  auto c = pop3.login();
  EXPECT_EQ(ask(*c, "STAT"), "+OK 1 " + std::to_string(kSecond.size()));
  EXPECT_EQ(pop3.run(pop3.inbox()->select(false)).value().messages.size(), 2u);
}

TEST(Pop3Session, KeepForDaysExpiresOldDownloadsAndIsAdvertised) {
  Pop3Setup setup;
  setup.pop3.policy = config::Pop3Policy{config::Pop3Policy::Kind::kKeep, 7};
  Pop3 pop3(setup);
  const store::Uid old_one = pop3.deliver(kFirst);
  const store::Uid recent = pop3.deliver(kSecond);
  pop3.deliver(kThird);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  // Downloads made earlier: 8 days ago (past the 7) and 6 days ago (not yet).
  for (auto [uid, age] : {std::pair{old_one, 8}, std::pair{recent, 6}}) {
    store::MaildropUpdate past;
    past.retrieved = {uid};
    past.now = now - int64_t(age) * 86400;
    ASSERT_TRUE(pop3.run(pop3.inbox()->commit_maildrop(past)));
  }
  auto pre = pop3.connect();
  EXPECT_TRUE(has(capa(*pre), "EXPIRE 7 USER"));
  auto c = pop3.login();
  EXPECT_TRUE(has(capa(*c), "EXPIRE 7"));
  EXPECT_EQ(ask(*c, "STAT"), "+OK 2 " + std::to_string(kSecond.size() + kThird.size()));
  EXPECT_EQ(pop3.run(pop3.inbox()->select(false)).value().messages.size(), 2u);  // removed for IMAP too
}

TEST(Pop3Session, AccountPolicyOverridesTheServers) {
  Pop3 pop3;  // server: delete
  pop3.deliver(kFirst);
  ASSERT_TRUE(pop3.run(pop3.account()->set_pop3_policy("keep")));
  {
    auto c = pop3.login();
    EXPECT_EQ(ask(*c, "DELE 1"), "+OK Marked to be deleted");
    EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");
  }
  EXPECT_EQ(pop3.run(pop3.inbox()->select(false)).value().messages.size(), 1u);
  auto c = pop3.login();
  EXPECT_EQ(ask(*c, "STAT"), "+OK 0 0");
}

TEST(Pop3Session, DovecotUidlFormat) {
  Pop3Setup setup;
  setup.pop3.uidl_format = config::UidlFormat::kDovecot;
  Pop3 pop3(setup);
  const store::Uid uid = pop3.deliver(kFirst);
  const uint32_t validity = pop3.run(pop3.inbox()->status()).value().uid_validity;
  char expected[32];
  std::snprintf(expected, sizeof expected, "%08X%08X", unsigned(uid), unsigned(validity));
  auto c = pop3.login();
  EXPECT_EQ(ask(*c, "UIDL 1"), "+OK 1 " + std::string(expected));
}

TEST(Pop3Session, IdenticalMessagesGetDistinctUidls) {
  Pop3 pop3;
  pop3.deliver(kFirst);
  const store::Uid twin = pop3.deliver(kFirst);
  auto c = pop3.login();
  const std::string a = ask(*c, "UIDL 1").substr(6);
  const std::string b = ask(*c, "UIDL 2").substr(6);
  EXPECT_EQ(b, a + "." + std::to_string(twin));
}

TEST(Pop3Session, MessageExpungedByImapMeanwhile) {
  Pop3 pop3;
  const store::Uid uid = pop3.deliver(kFirst);
  pop3.deliver(kSecond);
  auto c = pop3.login();
  auto inbox = pop3.inbox();
  store::Flags del;
  del.system = store::kDeleted;
  ASSERT_TRUE(pop3.run(inbox->store_flags(store::StoreFlags{{uid}, store::FlagOp::kAdd, del, std::nullopt})));
  ASSERT_TRUE(pop3.run(inbox->expunge(std::nullopt)));
  EXPECT_EQ(ask(*c, "RETR 1"), "-ERR Message was removed by another session");
  EXPECT_EQ(ask(*c, "DELE 1"), "+OK Marked to be deleted");  // harmless: QUIT skips what is gone
  EXPECT_EQ(ask(*c, "RETR 2"), "+OK " + std::to_string(kSecond.size()) + " octets");
  read_body(*c);
  EXPECT_EQ(ask(*c, "QUIT"), "+OK Bye");
}

TEST(Pop3Session, PipelinedCommandsAnswerInOrder) {
  Pop3 pop3;
  pop3.deliver(kSecond);
  auto c = pop3.connect();
  c->send("USER alice@example.test\r\nPASS s3cret\r\nSTAT\r\nLIST 1\r\nRETR 1\r\nNOOP\r\nQUIT\r\n");
  EXPECT_EQ(c->read_line(), "+OK Send PASS");
  EXPECT_EQ(c->read_line(), "+OK Logged in.");
  EXPECT_EQ(c->read_line(), "+OK 1 " + std::to_string(kSecond.size()));
  EXPECT_EQ(c->read_line(), "+OK 1 " + std::to_string(kSecond.size()));
  EXPECT_EQ(c->read_line(), "+OK " + std::to_string(kSecond.size()) + " octets");
  EXPECT_EQ(read_body(*c), kSecond);
  EXPECT_EQ(c->read_line(), "+OK");
  EXPECT_EQ(c->read_line(), "+OK Bye");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(Pop3Session, LargeMessageStreamsInPieces) {
  Pop3 pop3;
  std::string big = "Subject: big\r\n\r\n";
  for (int i = 0; big.size() < 3 * 1024 * 1024; ++i) big += (i % 7 == 0 ? "." : "") + std::string(70, 'x') + "\r\n";
  pop3.deliver(big);
  auto c = pop3.login();
  EXPECT_EQ(ask(*c, "RETR 1"), "+OK " + std::to_string(big.size()) + " octets");
  EXPECT_EQ(read_body(*c), big);
}

TEST(Pop3Session, CapaListsTheMaildropExtensions) {
  Pop3 pop3;
  auto c = pop3.connect();
  auto caps = capa(*c);
  for (std::string_view cap : {"TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER USER",
                               "UTF8 USER", "IMPLEMENTATION Posthorn"}) {
    EXPECT_TRUE(has(caps, cap)) << cap;
  }
  EXPECT_EQ(ask(*c, "UTF8"), "+OK UTF8 enabled");
  EXPECT_EQ(ask(*c, "USER alice@example.test"), "+OK Send PASS");
  EXPECT_EQ(ask(*c, "PASS s3cret"), "+OK Logged in.");
  auto after = capa(*c);
  EXPECT_TRUE(has(after, "TOP"));
  EXPECT_TRUE(has(after, "EXPIRE NEVER"));
  EXPECT_FALSE(has(after, "UTF8 USER"));
}

}  // namespace
}  // namespace posthorn::server::pop3
