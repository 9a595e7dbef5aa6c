// In-process IMAP session tests over the harness: a real Listener, Authenticator and TLS on
// 127.0.0.1, driven by a blocking client.
#include "server/imap/imap_session.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/base64.hpp"
#include "tests/harness/harness.hpp"

namespace posthorn::server::imap {
namespace {

using testing::Client;
using testing::Harness;

constexpr const char* kUser = "demo@example.test";
constexpr const char* kPassword = "correct horse battery";
// What an authenticated session advertises (with the default APPENDLIMIT).
const std::string kAuthedCaps =
    "IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE IDLE NAMESPACE ID UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE "
    "CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS STATUS=SIZE CONDSTORE QRESYNC MULTIAPPEND BINARY UTF8=ACCEPT "
    "SAVEDATE PREVIEW UNAUTHENTICATE ESEARCH SEARCHRES CONTEXT=SEARCH PARTIAL WITHIN SORT SORT=DISPLAY ESORT "
    "THREAD=ORDEREDSUBJECT THREAD=REFERENCES QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE COMPRESS=DEFLATE REPLACE "
    "APPENDLIMIT=52428800";

struct ServerSetup {
  config::TlsMode tls = config::TlsMode::kStartTls;
  bool allow_plaintext_on_loopback = true;
  config::Limits limits{};
  std::chrono::seconds preauth_timeout{60};
};

// A harness with one user and an IMAP listener running run_session.
class ImapServer {
 public:
  explicit ImapServer(ServerSetup setup = {}) : harness_(harness_options(setup)) {
    harness_.add_user(kUser, kPassword);
    auto cfg = std::make_shared<config::Config>(*harness_.config());
    cfg->timeouts.imap_preauth = setup.preauth_timeout;
    ImapContext ctx{.config = cfg,
                    .listener = config::Listener{.name = "imap-test",
                                                 .protocol = Proto::kImap,
                                                 .address = "127.0.0.1",
                                                 .port = 0,
                                                 .tls = setup.tls,
                                                 .sasl_mechanisms = {}},
                    .auth = &harness_.authenticator(),
                    .tls = harness_.tls()};
    // Not a coroutine: it hands its copy of ctx to run_session, which takes it by value.
    port_ = harness_.listen(Proto::kImap, setup.tls,
                            [ctx](net::Accepted accepted) { return run_session(std::move(accepted), ctx); });
    implicit_ = setup.tls == config::TlsMode::kImplicit;
  }

  // A connected client that has read the greeting.
  std::unique_ptr<Client> connect(std::string* greeting = nullptr) {
    auto c = std::make_unique<Client>(port_, implicit_);
    const std::string line = c->read_line();
    EXPECT_TRUE(line.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")) << line;
    EXPECT_TRUE(line.ends_with("] Posthorn ready.")) << line;
    if (greeting) *greeting = line;
    return c;
  }

  static Harness::Options harness_options(const ServerSetup& setup) {
    Harness::Options options;
    options.allow_plaintext_on_loopback = setup.allow_plaintext_on_loopback;
    options.limits = setup.limits;
    return options;
  }

  Harness& harness() { return harness_; }
  uint16_t port() const { return port_; }

 private:
  Harness harness_;
  uint16_t port_ = 0;
  bool implicit_ = false;
};

// Sends a command and returns its tagged reply line (untagged lines before it are dropped).
std::string command(Client& c, const std::string& tag, const std::string& text) {
  c.send_line(tag + " " + text);
  return c.read_until(tag + " ").back();
}

std::string capability_line(Client& c, const std::string& tag) {
  c.send_line(tag + " CAPABILITY");
  auto lines = c.read_until(tag + " ");
  EXPECT_EQ(lines.back(), tag + " OK CAPABILITY completed");
  for (const auto& l : lines) {
    if (l.starts_with("* CAPABILITY ")) return l;
  }
  ADD_FAILURE() << "no CAPABILITY response";
  return {};
}

bool has_cap(const std::string& line, const std::string& cap) {
  return (line + " ").find(" " + cap + " ") != std::string::npos ||
         (line + "]").find(" " + cap + "]") != std::string::npos;
}

std::string plain_b64(const std::string& user, const std::string& password) {
  return base64::encode(std::string(1, '\0') + user + std::string(1, '\0') + password);
}

TEST(ImapSession, GreetingAdvertisesPreLoginCapabilities) {
  ImapServer server;
  std::string greeting;
  auto c = server.connect(&greeting);
  for (const char* cap : {"IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ENABLE", "STARTTLS", "AUTH=PLAIN",
                          "AUTH=SCRAM-SHA-256"}) {
    EXPECT_TRUE(has_cap(greeting, cap)) << cap << " missing in " << greeting;
  }
  EXPECT_FALSE(has_cap(greeting, "LOGINDISABLED"));  // loopback plaintext allowed in this setup
  const std::string caps = capability_line(*c, "a1");
  EXPECT_TRUE(has_cap(caps, "STARTTLS"));
  EXPECT_TRUE(has_cap(caps, "AUTH=PLAIN"));
  EXPECT_EQ(command(*c, "a2", "NOOP"), "a2 OK NOOP completed");
}

TEST(ImapSession, LogoutSaysByeAndCloses) {
  ImapServer server;
  auto c = server.connect();
  c->send_line("z LOGOUT");
  EXPECT_EQ(c->read_line(), "* BYE Logging out");
  EXPECT_EQ(c->read_line(), "z OK LOGOUT completed");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(ImapSession, LoginSucceedsAndChangesCapabilities) {
  ImapServer server;
  auto c = server.connect();
  const std::string ok = command(*c, "a1", std::string("LOGIN ") + kUser + " \"" + kPassword + "\"");
  EXPECT_EQ(ok, "a1 OK [CAPABILITY " + kAuthedCaps + "] LOGIN completed");
  const std::string caps = capability_line(*c, "a2");
  EXPECT_EQ(caps, std::string("* CAPABILITY ") + kAuthedCaps);
  EXPECT_EQ(command(*c, "a3", std::string("LOGIN ") + kUser + " x"), "a3 BAD Already authenticated");
  EXPECT_EQ(command(*c, "a4", "AUTHENTICATE PLAIN"), "a4 BAD Already authenticated");
  // This harness has no mail store: mailbox commands say so.
  EXPECT_EQ(command(*c, "a5", "SELECT INBOX"), "a5 NO [UNAVAILABLE] Mail store not available");
  EXPECT_EQ(command(*c, "a6", "STARTTLS"), "a6 BAD STARTTLS not available");
  EXPECT_EQ(command(*c, "a7", "NOOP"), "a7 OK NOOP completed");
}

TEST(ImapSession, LoginWrongPasswordAndUnknownUser) {
  ImapServer server;
  auto c = server.connect();
  EXPECT_EQ(command(*c, "a1", std::string("LOGIN ") + kUser + " wrong"),
            "a1 NO [AUTHENTICATIONFAILED] Authentication failed");
  EXPECT_EQ(command(*c, "a2", "LOGIN nobody@example.test wrong"),
            "a2 NO [AUTHENTICATIONFAILED] Authentication failed");
  // Still not authenticated: mailbox commands stay unavailable, and LOGIN still works.
  EXPECT_EQ(command(*c, "a3", "LIST \"\" *"), "a3 BAD Unknown command or not available");
  EXPECT_TRUE(command(*c, "a4", std::string("LOGIN ") + kUser + " \"" + kPassword + "\"")
                  .starts_with("a4 OK [CAPABILITY "));
}

TEST(ImapSession, LoginWithSynchronizingLiterals) {
  ImapServer server;
  auto c = server.connect();
  const std::string user = kUser;
  const std::string password = kPassword;
  c->send("a1 LOGIN {" + std::to_string(user.size()) + "}\r\n");
  EXPECT_EQ(c->read_line(), "+ Ready for literal data");
  c->send(user + " {" + std::to_string(password.size()) + "}\r\n");
  EXPECT_EQ(c->read_line(), "+ Ready for literal data");
  c->send(password + "\r\n");
  EXPECT_EQ(c->read_line(), "a1 OK [CAPABILITY " + kAuthedCaps + "] LOGIN completed");
}

TEST(ImapSession, LoginWithNonSynchronizingLiteralsInOneWrite) {
  ImapServer server;
  auto c = server.connect();
  const std::string user = kUser;
  const std::string password = kPassword;
  c->send("a1 LOGIN {" + std::to_string(user.size()) + "+}\r\n" + user + " {" +
          std::to_string(password.size()) + "+}\r\n" + password + "\r\na2 NOOP\r\n");
  // No continuation requests: the next lines are the replies.
  EXPECT_EQ(c->read_line(), "a1 OK [CAPABILITY " + kAuthedCaps + "] LOGIN completed");
  EXPECT_EQ(c->read_line(), "a2 OK NOOP completed");
}

TEST(ImapSession, FourGigabyteLiteralRefused) {
  ImapServer server;
  auto c = server.connect();
  // Synchronizing: refused before a byte is read; the session carries on.
  c->send("a1 LOGIN {4294967296}\r\n");
  EXPECT_EQ(c->read_line(), "a1 NO [TOOBIG] Literal too big");
  EXPECT_EQ(command(*c, "a2", "NOOP"), "a2 OK NOOP completed");
  // Non-synchronizing: the bytes are already coming, so the connection is closed.
  c->send("a3 LOGIN {4294967296+}\r\nxxxxxxxx");
  EXPECT_EQ(c->read_line(), "* BYE [TOOBIG] Literal too big");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(ImapSession, LiteralAtLimitAcceptedAboveRefused) {
  ServerSetup setup;
  setup.limits.max_line_length = 64;
  ImapServer server(setup);
  auto c = server.connect();
  c->send("a1 LOGIN {64}\r\n");
  EXPECT_EQ(c->read_line(), "+ Ready for literal data");
  c->send(std::string(64, 'u') + " pw\r\n");
  EXPECT_EQ(c->read_line(), "a1 NO [AUTHENTICATIONFAILED] Authentication failed");
  c->send("a2 LOGIN {65}\r\n");
  EXPECT_EQ(c->read_line(), "a2 NO [TOOBIG] Literal too big");
}

// An over-long line is answered BAD (tagged when the tag can be read) and skipped, and the
// connection goes on [RFC 9051 §7.1.5: BAD for a command the server cannot parse; issue 27 defect 7].
TEST(ImapSession, OverlongLineGetsBadAndTheConnectionResyncs) {
  ServerSetup setup;
  setup.limits.max_line_length = 100;
  ImapServer server(setup);
  auto c = server.connect();
  // At the limit: a normal (unknown) command.
  const std::string at_limit = "a1 X" + std::string(96, 'y');
  ASSERT_EQ(at_limit.size(), 100u);
  EXPECT_EQ(command(*c, "a1", at_limit.substr(3)), "a1 BAD Unknown command or not available");
  // N+1 and far beyond: BAD with the tag, the next command works.
  EXPECT_EQ(command(*c, "a2", "X" + std::string(97, 'y')), "a2 BAD Line too long");
  c->send("a3 NOOP " + std::string(100'000, 'x') + "\r\n");
  EXPECT_EQ(c->read_line(), "a3 BAD Line too long");
  EXPECT_EQ(command(*c, "a4", "NOOP"), "a4 OK NOOP completed");
  // No readable tag: untagged BAD.
  c->send("+" + std::string(5000, 'x') + "\r\n");
  EXPECT_EQ(c->read_line(), "* BAD Line too long");
  // A continuation line after a literal: the command's tag.
  c->send("a5 LOGIN {3}\r\n");
  EXPECT_EQ(c->read_line(), "+ Ready for literal data");
  c->send("abc " + std::string(5000, 'p') + "\r\n");
  EXPECT_EQ(c->read_line(), "a5 BAD Line too long");
  EXPECT_EQ(command(*c, "a6", "NOOP"), "a6 OK NOOP completed");
}

// A "line" of more than 1 MiB without a line end is not IMAP: BYE and close.
TEST(ImapSession, MegabyteWithoutLineEndSaysByeAndCloses) {
  ImapServer server;
  auto c = server.connect();
  // Exactly one byte over: the server has read everything when it says goodbye (no reset).
  c->send("a1 NOOP " + std::string((1u << 20) + 1 - 8, 'x'));
  EXPECT_EQ(c->read_line(), "* BYE Line too long");
  EXPECT_TRUE(c->closed_by_server());
}

// RFC 2971 §3.3: 30 field-value pairs, fields of 30 octets, values of 1,024: a 31.8 KB ID line before
// login (imaptest's "id" test) is accepted although the line limit is 8,192; a 100 KB line is BAD.
TEST(ImapSession, LongestLegalIdLineIsAcceptedRfc2971Sec3_3) {
  ImapServer server;
  auto c = server.connect();
  std::string params;
  for (int i = 0; i < 30; ++i) {
    std::string field = "f" + std::to_string(i);
    field += std::string(30 - field.size(), 'x');
    params += (i ? " \"" : "\"") + field + "\" \"" + std::string(1024, 'v') + "\"";
  }
  const std::string line = "a1 ID (" + params + ")";
  ASSERT_GT(line.size(), 31'000u);
  c->send_line(line);
  auto lines = c->read_until("a1 ");
  EXPECT_EQ(lines.back(), "a1 OK ID completed");
  // The same with every value character escaped (the longest ID line the RFC allows): still fine.
  std::string escaped;
  for (int i = 0; i < 30; ++i) {
    std::string value;
    for (int k = 0; k < 1024; ++k) value += "\\\"";
    escaped += (i ? " \"" : "\"") + std::string(30, 'a' + i % 26) + "\" \"" + value + "\"";
  }
  c->send_line("a2 ID (" + escaped + ")");
  EXPECT_EQ(c->read_until("a2 ").back(), "a2 OK ID completed");
  // 100 KB: over even the ID limit: BAD, and the connection goes on.
  c->send_line("a3 ID (\"name\" \"" + std::string(100'000, 'v') + "\")");
  EXPECT_EQ(c->read_line(), "a3 BAD Line too long");
  c->send_line("a4 NOOP " + std::string(100'000, 'x'));
  EXPECT_EQ(c->read_line(), "a4 BAD Line too long");
  EXPECT_EQ(command(*c, "a5", "NOOP"), "a5 OK NOOP completed");
}

TEST(ImapSession, SyntaxErrorsUseTheTagWhenThereIsOne) {
  ImapServer server;
  auto c = server.connect();
  c->send_line("+ NOOP");
  EXPECT_TRUE(c->read_line().starts_with("* BAD "));
  c->send_line("a1 NOOP extra");
  EXPECT_TRUE(c->read_line().starts_with("a1 BAD "));
  c->send_line("a2 LOGIN \"unterminated");
  EXPECT_TRUE(c->read_line().starts_with("a2 BAD "));
  EXPECT_EQ(command(*c, "a3", "NOOP"), "a3 OK NOOP completed");
}

TEST(ImapSession, TooManyCommandsBeforeAuth) {
  ServerSetup setup;
  setup.limits.max_commands_before_auth = 3;
  ImapServer server(setup);
  auto c = server.connect();
  EXPECT_EQ(command(*c, "a1", "NOOP"), "a1 OK NOOP completed");
  c->send_line("a2 BOGUS");
  EXPECT_EQ(c->read_line(), "a2 BAD Unknown command or not available");
  EXPECT_EQ(command(*c, "a3", "NOOP"), "a3 OK NOOP completed");
  c->send_line("a4 NOOP");
  EXPECT_EQ(c->read_line(), "* BYE Too many commands");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(ImapSession, CommandLimitDoesNotApplyAfterLogin) {
  ServerSetup setup;
  setup.limits.max_commands_before_auth = 2;
  ImapServer server(setup);
  auto c = server.connect();
  EXPECT_TRUE(command(*c, "a1", std::string("LOGIN ") + kUser + " \"" + kPassword + "\"")
                  .starts_with("a1 OK "));
  for (int i = 0; i < 5; ++i) {
    const std::string tag = "n" + std::to_string(i);
    EXPECT_EQ(command(*c, tag, "NOOP"), tag + " OK NOOP completed");
  }
}

TEST(ImapSession, PreauthTimeout) {
  ServerSetup setup;
  setup.preauth_timeout = std::chrono::seconds(1);
  ImapServer server(setup);
  auto c = server.connect();
  EXPECT_EQ(c->read_line(), "* BYE Autologout; idle for too long");
  EXPECT_TRUE(c->closed_by_server());
}

TEST(ImapSession, TooManyConnections) {
  ServerSetup setup;
  setup.limits.max_connections_per_ip = 1;
  ImapServer server(setup);
  auto first = server.connect();
  Client second(server.port());
  EXPECT_EQ(second.read_line(), "* BYE Too many connections");
  EXPECT_TRUE(second.closed_by_server());
  EXPECT_EQ(command(*first, "a1", "NOOP"), "a1 OK NOOP completed");
}

TEST(ImapSession, AuthenticatePlainWithInitialResponse) {
  ImapServer server;
  auto c = server.connect();
  EXPECT_EQ(command(*c, "a1", "AUTHENTICATE PLAIN " + plain_b64(kUser, kPassword)),
            "a1 OK [CAPABILITY " + kAuthedCaps + "] Authenticated");
}

TEST(ImapSession, AuthenticatePlainWithContinuation) {
  ImapServer server;
  auto c = server.connect();
  c->send_line("a1 AUTHENTICATE plain");
  EXPECT_EQ(c->read_line(), "+ ");
  c->send_line(plain_b64(kUser, kPassword));
  EXPECT_EQ(c->read_line(), "a1 OK [CAPABILITY " + kAuthedCaps + "] Authenticated");
}

TEST(ImapSession, AuthenticateEmptyInitialResponseAsksForMore) {
  ImapServer server;
  auto c = server.connect();
  // "=" is an empty initial response [RFC 4959 §3]; PLAIN then asks for its message.
  c->send_line("a1 AUTHENTICATE PLAIN =");
  EXPECT_EQ(c->read_line(), "+ ");
  c->send_line(plain_b64(kUser, kPassword));
  EXPECT_EQ(c->read_line(), "a1 OK [CAPABILITY " + kAuthedCaps + "] Authenticated");
}

TEST(ImapSession, AuthenticateFailuresCancelAndBadBase64) {
  ImapServer server;
  auto c = server.connect();
  EXPECT_EQ(command(*c, "a1", "AUTHENTICATE PLAIN " + plain_b64(kUser, "wrong")),
            "a1 NO [AUTHENTICATIONFAILED] Authentication failed");
  c->send_line("a2 AUTHENTICATE PLAIN");
  EXPECT_EQ(c->read_line(), "+ ");
  c->send_line("*");
  EXPECT_EQ(c->read_line(), "a2 BAD Authentication cancelled");
  c->send_line("a3 AUTHENTICATE PLAIN");
  EXPECT_EQ(c->read_line(), "+ ");
  c->send_line("not base64!");
  EXPECT_TRUE(c->read_line().starts_with("a3 BAD "));
  EXPECT_TRUE(command(*c, "a4", "AUTHENTICATE X-UNKNOWN").starts_with("a4 NO [CANNOT] "));
  EXPECT_TRUE(command(*c, "a5", "AUTHENTICATE PLAIN !!!").starts_with("a5 BAD "));
  EXPECT_EQ(command(*c, "a6", "NOOP"), "a6 OK NOOP completed");
}

// --- SCRAM-SHA-256 client, computed here [RFC 5802 §3, RFC 7677] ---

std::string hmac256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string sha256(const std::string& data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string attribute(const std::string& message, char name) {
  for (size_t pos = 0; pos < message.size();) {
    size_t end = message.find(',', pos);
    if (end == std::string::npos) end = message.size();
    if (end - pos >= 2 && message[pos] == name && message[pos + 1] == '=') {
      return message.substr(pos + 2, end - pos - 2);
    }
    pos = end + 1;
  }
  return {};
}

struct ScramOutcome {
  std::string tagged;
  bool server_signature_ok = false;
};

ScramOutcome scram_login(Client& c, const std::string& tag, const std::string& user,
                         const std::string& password) {
  const std::string cnonce = "rOprNGfwEbeRWgbNEkqO";
  const std::string client_first_bare = "n=" + user + ",r=" + cnonce;
  c.send_line(tag + " AUTHENTICATE SCRAM-SHA-256 " + base64::encode("n,," + client_first_bare));
  const std::string challenge = c.read_line();
  if (!challenge.starts_with("+ ")) return {challenge, false};
  const std::string server_first = base64::decode(challenge.substr(2)).value_or("");
  const std::string nonce = attribute(server_first, 'r');
  const std::string salt = base64::decode(attribute(server_first, 's')).value_or("");
  const int iterations = std::stoi(attribute(server_first, 'i'));
  EXPECT_TRUE(nonce.starts_with(cnonce));

  unsigned char salted[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                    iterations, EVP_sha256(), sizeof salted, salted);
  const std::string salted_password(reinterpret_cast<char*>(salted), sizeof salted);
  const std::string client_key = hmac256(salted_password, "Client Key");
  const std::string stored_key = sha256(client_key);
  const std::string without_proof = "c=biws,r=" + nonce;
  const std::string auth_message = client_first_bare + "," + server_first + "," + without_proof;
  const std::string signature = hmac256(stored_key, auth_message);
  std::string proof = client_key;
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ signature[i]);
  c.send_line(base64::encode(without_proof + ",p=" + base64::encode(proof)));

  ScramOutcome outcome;
  std::string line = c.read_line();
  if (line.starts_with("+ ")) {
    const std::string server_final = base64::decode(line.substr(2)).value_or("");
    const std::string server_key = hmac256(salted_password, "Server Key");
    outcome.server_signature_ok =
        server_final == "v=" + base64::encode(hmac256(server_key, auth_message));
    c.send_line("");
    line = c.read_line();
  }
  outcome.tagged = line;
  return outcome;
}

TEST(ImapSession, ScramSha256Exchange) {
  ImapServer server;
  auto c = server.connect();
  const ScramOutcome ok = scram_login(*c, "s1", kUser, kPassword);
  EXPECT_TRUE(ok.server_signature_ok);
  EXPECT_EQ(ok.tagged, "s1 OK [CAPABILITY " + kAuthedCaps + "] Authenticated");
}

TEST(ImapSession, ScramSha256WrongPassword) {
  ImapServer server;
  auto c = server.connect();
  const ScramOutcome bad = scram_login(*c, "s1", kUser, "wrong password");
  EXPECT_FALSE(bad.server_signature_ok);
  EXPECT_EQ(bad.tagged, "s1 NO [AUTHENTICATIONFAILED] Authentication failed");
}

// --- STARTTLS ---

TEST(ImapSession, StartTlsResetsAndReadvertises) {
  ServerSetup setup;
  setup.allow_plaintext_on_loopback = false;
  ImapServer server(setup);
  std::string greeting;
  auto c = server.connect(&greeting);
  EXPECT_TRUE(has_cap(greeting, "STARTTLS"));
  EXPECT_TRUE(has_cap(greeting, "LOGINDISABLED"));
  EXPECT_FALSE(has_cap(greeting, "AUTH=PLAIN"));
  EXPECT_TRUE(command(*c, "a1", std::string("LOGIN ") + kUser + " \"" + kPassword + "\"")
                  .starts_with("a1 NO [PRIVACYREQUIRED] "));
  EXPECT_TRUE(command(*c, "a2", "AUTHENTICATE PLAIN " + plain_b64(kUser, kPassword))
                  .starts_with("a2 NO [PRIVACYREQUIRED] "));
  EXPECT_EQ(command(*c, "a3", "STARTTLS"), "a3 OK Begin TLS negotiation now");
  c->start_tls();
  const std::string caps = capability_line(*c, "a4");
  EXPECT_FALSE(has_cap(caps, "STARTTLS"));
  EXPECT_FALSE(has_cap(caps, "LOGINDISABLED"));
  EXPECT_TRUE(has_cap(caps, "AUTH=PLAIN"));
  EXPECT_EQ(command(*c, "a5", "STARTTLS"), "a5 BAD STARTTLS not available");
  EXPECT_EQ(command(*c, "a6", std::string("LOGIN ") + kUser + " \"" + kPassword + "\""),
            "a6 OK [CAPABILITY " + kAuthedCaps + "] LOGIN completed");
}

TEST(ImapSession, PipelinedCommandAfterStartTlsIsNeverExecuted) {
  ImapServer server;
  auto c = server.connect();
  c->send("a STARTTLS\r\nb NOOP\r\n");
  EXPECT_EQ(c->read_line(), "a OK Begin TLS negotiation now");
  c->start_tls();
  c->send_line("c NOOP");
  const auto lines = c->read_until("c ");
  for (const auto& line : lines) EXPECT_FALSE(line.starts_with("b ")) << line;
  EXPECT_EQ(lines.back(), "c OK NOOP completed");
}

TEST(ImapSession, StartTlsNotOfferedWithoutStartTlsMode) {
  ServerSetup setup;
  setup.tls = config::TlsMode::kNone;
  ImapServer server(setup);
  std::string greeting;
  auto c = server.connect(&greeting);
  EXPECT_FALSE(has_cap(greeting, "STARTTLS"));
  EXPECT_EQ(command(*c, "a1", "STARTTLS"), "a1 BAD STARTTLS not available");
}

TEST(ImapSession, ImplicitTls) {
  ServerSetup setup;
  setup.tls = config::TlsMode::kImplicit;
  setup.allow_plaintext_on_loopback = false;
  ImapServer server(setup);
  std::string greeting;
  auto c = server.connect(&greeting);
  EXPECT_FALSE(has_cap(greeting, "STARTTLS"));
  EXPECT_FALSE(has_cap(greeting, "LOGINDISABLED"));
  EXPECT_TRUE(has_cap(greeting, "AUTH=PLAIN"));
  EXPECT_TRUE(has_cap(greeting, "AUTH=SCRAM-SHA-256-PLUS"));
  EXPECT_TRUE(command(*c, "a1", std::string("LOGIN ") + kUser + " \"" + kPassword + "\"")
                  .starts_with("a1 OK [CAPABILITY "));
}

}  // namespace
}  // namespace posthorn::server::imap
