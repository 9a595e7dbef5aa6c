// In-process POP3 session tests: the real session behind a real Listener on 127.0.0.1, driven by the
// blocking test client (tests/harness).
#include "server/pop3/pop3_session.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <memory>
#include <string>
#include <vector>

#include "base/ascii.hpp"
#include "base/base64.hpp"
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
};

class Pop3 {
 public:
  explicit Pop3(Pop3Setup setup = {}) : harness_(std::make_unique<Harness>(setup.harness)) {
    harness_->add_user(kUser, kPassword);
    harness_->add_user(kSpacedUser, kSpacedPassword);
    Pop3Context ctx;
    auto cfg = std::make_shared<config::Config>(*harness_->config());
    if (setup.pop3_timeout.count() > 0) cfg->timeouts.pop3 = setup.pop3_timeout;
    ctx.config = cfg;
    ctx.listener = config::Listener{"pop3-test", Proto::kPop3, "127.0.0.1", 0, setup.tls};
    ctx.auth = &harness_->authenticator();
    ctx.tls = harness_->tls();
    port_ = harness_->listen(Proto::kPop3, setup.tls,
                             [ctx](net::Accepted accepted) { return run_session(std::move(accepted), ctx); });
  }

  // A connected client that has read the greeting.
  std::unique_ptr<Client> connect(bool implicit_tls = false) {
    auto c = std::make_unique<Client>(port_, implicit_tls);
    EXPECT_EQ(c->read_line(), "+OK Posthorn POP3 ready.");
    return c;
  }
  uint16_t port() const { return port_; }

 private:
  std::unique_ptr<Harness> harness_;
  uint16_t port_ = 0;
};

std::string ask(Client& c, std::string_view line) {
  c.send_line(line);
  return c.read_line();
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
  EXPECT_EQ(ask(*c, "STAT"), "-ERR [SYS/PERM] Command not implemented");
  EXPECT_EQ(ask(*c, "RETR 1"), "-ERR [SYS/PERM] Command not implemented");
  EXPECT_EQ(ask(*c, "RSET"), "-ERR [SYS/PERM] Command not implemented");
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

}  // namespace
}  // namespace posthorn::server::pop3
