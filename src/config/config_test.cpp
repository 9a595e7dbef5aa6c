#include "config/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace posthorn::config {
namespace {

namespace fs = std::filesystem;

const fs::path kBase = "/srv/posthorn";

// A small valid file; tests append to or replace lines of it.
constexpr std::string_view kMinimal =
    "hostname = \"mail.example.test\"\n"        // 1
    "[tls]\n"                                   // 2
    "[[tls.certificates]]\n"                    // 3
    "cert = \"tls/cert.pem\"\n"                 // 4
    "key = \"/etc/ssl/key.pem\"\n"              // 5
    "[[listener]]\n"                            // 6
    "name = \"mx\"\n"                           // 7
    "protocol = \"smtp\"\n"                     // 8
    "address = \"0.0.0.0\"\n"                   // 9
    "port = 25\n"                               // 10
    "tls = \"starttls\"\n";                     // 11

std::string error_of(std::string_view text) {
  auto r = parse(text, "posthorn.toml", kBase);
  if (r) return "(accepted)";
  EXPECT_EQ(r.error().code, Errc::kInvalid);
  return r.error().message;
}

std::shared_ptr<const Config> ok(std::string_view text) {
  auto r = parse(text, "posthorn.toml", kBase);
  if (!r) ADD_FAILURE() << r.error().message;
  return r ? *r : nullptr;
}

TEST(Config, MinimalFileGetsDefaults) {
  auto c = ok(kMinimal);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->hostname, "mail.example.test");
  EXPECT_EQ(c->file, kBase / "posthorn.toml");
  EXPECT_EQ(c->data_dir, kBase / "data");
  EXPECT_EQ(c->log_level, "info");
  ASSERT_EQ(c->listeners.size(), 1u);
  EXPECT_EQ(c->listeners[0].name, "mx");
  EXPECT_EQ(c->listeners[0].protocol, Proto::kSmtp);
  EXPECT_EQ(c->listeners[0].address, "0.0.0.0");
  EXPECT_EQ(c->listeners[0].port, 25);
  EXPECT_EQ(c->listeners[0].tls, TlsMode::kStartTls);
  EXPECT_EQ(c->limits.max_connections, Limits{}.max_connections);
  EXPECT_EQ(c->timeouts.imap, Timeouts{}.imap);
  EXPECT_EQ(c->auth.argon2.memory_kib, Argon2{}.memory_kib);
  EXPECT_FALSE(c->auth.allow_plaintext_on_loopback);
}

TEST(Config, RelativePathsBecomeAbsolute) {
  auto c = ok("data_dir = \"var/../store\"\n" + std::string(kMinimal));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->data_dir, kBase / "store");
  ASSERT_EQ(c->tls.certificates.size(), 1u);
  EXPECT_EQ(c->tls.certificates[0].cert, kBase / "tls/cert.pem");
  EXPECT_EQ(c->tls.certificates[0].key, fs::path("/etc/ssl/key.pem"));
  EXPECT_TRUE(c->data_dir.is_absolute());
}

TEST(Config, ReadsEverySection) {
  auto c = ok(
      "hostname = \"mx.example.test\"\n"
      "data_dir = \"/var/lib/posthorn\"\n"
      "run_as_user = \"mail\"\n"
      "log_level = \"debug\"\n"
      "[tls]\nmin_version = \"1.3\"\nciphers = \"ECDHE+AESGCM\"\nciphersuites = \"TLS_AES_256_GCM_SHA384\"\n"
      "[[tls.certificates]]\ncert = \"a.pem\"\nkey = \"a.key\"\n"
      "[[tls.certificates]]\ncert = \"b.pem\"\nkey = \"b.key\"\n"
      "[limits]\nmax_connections = 5\nmax_connections_per_ip = 2\nmax_line_length = 1000\n"
      "max_auth_line_length = 2000\nmax_commands_before_auth = 7\n"
      "[timeouts]\nsmtp = 1\nimap = 2\nimap_preauth = 3\npop3 = 4\ntls_handshake = 5\nshutdown_grace = 0\n"
      "min_data_rate = 0\n"
      "[auth]\nallow_plaintext_on_loopback = true\ncache_ttl = 0\nscram_iterations = 4096\n"
      "throttle_free_failures = 0\nthrottle_base_delay_ms = 10\nthrottle_max_delay_ms = 20\n"
      "throttle_block_after = 4\nthrottle_ip_block_after = 9\nthrottle_window = 60\nthrottle_block_duration = 120\n"
      "[auth.argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 2\n"
      "[workers]\nio_threads = 3\nblocking_threads = 9\n"
      "[[listener]]\nname = \"a\"\nprotocol = \"admin\"\naddress = \"::1\"\nport = 8080\n"
      "[[listener]]\nname = \"b\"\nprotocol = \"lmtp\"\naddress = \"::1\"\nport = 24\ntls = \"none\"\n"
      "[[listener]]\nname = \"c\"\nprotocol = \"pop3\"\naddress = \"::\"\nport = 995\ntls = \"implicit\"\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->data_dir, fs::path("/var/lib/posthorn"));
  EXPECT_EQ(c->run_as_user, "mail");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->tls.min_version, "1.3");
  EXPECT_EQ(c->tls.ciphers, "ECDHE+AESGCM");
  EXPECT_EQ(c->tls.ciphersuites, "TLS_AES_256_GCM_SHA384");
  ASSERT_EQ(c->tls.certificates.size(), 2u);
  EXPECT_EQ(c->tls.certificates[1].key, kBase / "b.key");
  EXPECT_EQ(c->limits.max_connections, 5u);
  EXPECT_EQ(c->limits.max_connections_per_ip, 2u);
  EXPECT_EQ(c->limits.max_line_length, 1000u);
  EXPECT_EQ(c->limits.max_auth_line_length, 2000u);
  EXPECT_EQ(c->limits.max_commands_before_auth, 7u);
  EXPECT_EQ(c->timeouts.smtp, std::chrono::seconds(1));
  EXPECT_EQ(c->timeouts.imap, std::chrono::seconds(2));
  EXPECT_EQ(c->timeouts.imap_preauth, std::chrono::seconds(3));
  EXPECT_EQ(c->timeouts.pop3, std::chrono::seconds(4));
  EXPECT_EQ(c->timeouts.tls_handshake, std::chrono::seconds(5));
  EXPECT_EQ(c->timeouts.shutdown_grace, std::chrono::seconds(0));
  EXPECT_EQ(c->timeouts.min_data_rate, 0u);
  EXPECT_TRUE(c->auth.allow_plaintext_on_loopback);
  EXPECT_EQ(c->auth.cache_ttl, std::chrono::seconds(0));
  EXPECT_EQ(c->auth.scram_iterations, 4096u);
  EXPECT_EQ(c->auth.throttle_free_failures, 0u);
  EXPECT_EQ(c->auth.throttle_base_delay, std::chrono::milliseconds(10));
  EXPECT_EQ(c->auth.throttle_max_delay, std::chrono::milliseconds(20));
  EXPECT_EQ(c->auth.throttle_block_after, 4u);
  EXPECT_EQ(c->auth.throttle_ip_block_after, 9u);
  EXPECT_EQ(c->auth.throttle_window, std::chrono::seconds(60));
  EXPECT_EQ(c->auth.throttle_block_duration, std::chrono::seconds(120));
  EXPECT_EQ(c->auth.argon2.memory_kib, 64u);
  EXPECT_EQ(c->auth.argon2.iterations, 1u);
  EXPECT_EQ(c->auth.argon2.parallelism, 2u);
  EXPECT_EQ(c->workers.io_threads, 3u);
  EXPECT_EQ(c->workers.blocking_threads, 9u);
  ASSERT_EQ(c->listeners.size(), 3u);
  EXPECT_EQ(c->listeners[0].protocol, Proto::kAdmin);
  EXPECT_EQ(c->listeners[0].tls, TlsMode::kNone);
  EXPECT_EQ(c->listeners[1].protocol, Proto::kLmtp);
  EXPECT_EQ(c->listeners[2].protocol, Proto::kPop3);
  EXPECT_EQ(c->listeners[2].tls, TlsMode::kImplicit);
}

TEST(ConfigErrors, UnknownKeyNamesLineAndPath) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "[limits]\nmax_conections = 5\n"),
            "posthorn.toml:13: limits.max_conections: unknown key");
  EXPECT_EQ(error_of("colour = \"blue\"\n" + std::string(kMinimal)), "posthorn.toml:1: colour: unknown key");
  EXPECT_EQ(error_of(std::string(kMinimal) + "[smtpd]\n"), "posthorn.toml:12: smtpd: unknown key");
  EXPECT_EQ(error_of(std::string(kMinimal) + "[auth.argon2]\nmemory = 5\n"),
            "posthorn.toml:13: auth.argon2.memory: unknown key");
  // Inside an array of tables.
  EXPECT_EQ(error_of(std::string(kMinimal) + "prot = 1\n"), "posthorn.toml:12: listener[0].prot: unknown key");
}

TEST(ConfigErrors, WrongType) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "[limits]\nmax_connections = \"5\"\n"),
            "posthorn.toml:13: limits.max_connections: expected an integer, got a string");
  EXPECT_EQ(error_of(std::string(kMinimal) + "[auth]\nallow_plaintext_on_loopback = 1\n"),
            "posthorn.toml:13: auth.allow_plaintext_on_loopback: expected a boolean (true or false), got an integer");
  EXPECT_EQ(error_of("limits = 3\n" + std::string(kMinimal)), "posthorn.toml:1: limits: expected a table, got an integer");
  EXPECT_EQ(error_of("listener = 3\n" + std::string(kMinimal).substr(0, std::string(kMinimal).find("[[listener]]"))),
            "posthorn.toml:1: listener: expected an array of tables ([[listener]]), got an integer");
}

TEST(ConfigErrors, BadEnum) {
  std::string text(kMinimal);
  text.replace(text.find("\"starttls\""), 10, "\"sometimes\"");
  EXPECT_EQ(error_of(text), "posthorn.toml:11: listener[0].tls: expected one of none, starttls, implicit");
  EXPECT_EQ(error_of(std::string(kMinimal) + "[[listener]]\nname = \"x\"\nprotocol = \"http\"\naddress = \"::\"\nport = 1\n"),
            "posthorn.toml:14: listener[1].protocol: expected one of smtp, submission, lmtp, imap, pop3, admin");
  EXPECT_EQ(error_of("log_level = \"loud\"\n" + std::string(kMinimal)),
            "posthorn.toml:1: log_level: expected one of trace, debug, info, warn, error, off");
  std::string v(kMinimal);
  v.replace(v.find("[tls]\n"), 6, "[tls]\nmin_version = \"1.1\"\n");
  EXPECT_EQ(error_of(v), "posthorn.toml:3: tls.min_version: expected one of 1.2, 1.3");
}

TEST(ConfigErrors, OutOfRange) {
  std::string text(kMinimal);
  text.replace(text.find("port = 25"), 9, "port = 65536");
  EXPECT_EQ(error_of(text), "posthorn.toml:10: listener[0].port: must be between 1 and 65535, got 65536");
  text.replace(text.find("port = 65536"), 12, "port = 0");
  EXPECT_EQ(error_of(text), "posthorn.toml:10: listener[0].port: must be between 1 and 65535, got 0");
  EXPECT_EQ(error_of(std::string(kMinimal) + "[limits]\nmax_connections = 0\n"),
            "posthorn.toml:13: limits.max_connections: must be between 1 and 4294967295, got 0");
  // Edges are accepted.
  std::string edge(kMinimal);
  edge.replace(edge.find("port = 25"), 9, "port = 65535");
  EXPECT_TRUE(ok(edge + "[limits]\nmax_connections = 1\n"));
}

TEST(ConfigErrors, AddressMustBeAnIpLiteral) {
  std::string text(kMinimal);
  text.replace(text.find("\"0.0.0.0\""), 9, "\"localhost\"");
  EXPECT_EQ(error_of(text),
            "posthorn.toml:9: listener[0].address: expected an IP address literal such as 127.0.0.1, ::1, 0.0.0.0 or ::");
}

TEST(ConfigErrors, DuplicateEndpointAndName) {
  EXPECT_EQ(error_of(std::string(kMinimal) +
                     "[[listener]]\nname = \"mx2\"\nprotocol = \"smtp\"\naddress = \"0.0.0.0\"\nport = 25\n"),
            "posthorn.toml:16: listener[1].port: 0.0.0.0 port 25 is already used by listener[0] (mx)");
  EXPECT_EQ(error_of(std::string(kMinimal) +
                     "[[listener]]\nname = \"mx2\"\nprotocol = \"smtp\"\naddress = \"127.0.0.1\"\nport = 25\n"),
            "posthorn.toml:16: listener[1].port: 127.0.0.1 port 25 overlaps listener[0] (mx) on 0.0.0.0");
  EXPECT_EQ(error_of(std::string(kMinimal) +
                     "[[listener]]\nname = \"mx\"\nprotocol = \"smtp\"\naddress = \"::\"\nport = 25\n"),
            "posthorn.toml:13: listener[1].name: duplicate listener name \"mx\" (also listener[0])");
  // Same port on another family, or another address of the same family, is fine.
  EXPECT_TRUE(ok(std::string(kMinimal) +
                 "[[listener]]\nname = \"mx6\"\nprotocol = \"smtp\"\naddress = \"::\"\nport = 25\n"));
}

TEST(Config, SmtpPolicyAtItsLimits) {
  auto c = ok(std::string(kMinimal) +
              "[smtp]\nmax_message_size = 65536\nmax_recipients = 1\nmax_errors = 1\ngreeting_delay_ms = 0\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->smtp.max_message_size, 65536u);
  EXPECT_EQ(c->smtp.max_recipients, 1u);
  EXPECT_EQ(c->smtp.max_errors, 1u);
  EXPECT_EQ(c->smtp.greeting_delay, std::chrono::milliseconds(0));
  EXPECT_EQ(ok(kMinimal)->smtp.greeting_delay, std::chrono::milliseconds(1000));
  EXPECT_NE(error_of(std::string(kMinimal) + "[smtp]\nmax_message_size = 65535\n").find("smtp.max_message_size"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[smtp]\nmax_recipients = 0\n").find("smtp.max_recipients"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[smtp]\ngreeting_delay_ms = 60001\n").find("greeting_delay_ms"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[smtp]\nrelay = true\n").find("smtp.relay"), std::string::npos);
}

TEST(Config, MsgauthDefaultsAndChoices) {
  auto d = ok(kMinimal);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->msgauth.verify);
  EXPECT_TRUE(d->msgauth.sign);
  EXPECT_EQ(d->msgauth.authserv_id, d->hostname);
  EXPECT_EQ(d->msgauth.dmarc_reject, AuthAction::kReject);
  EXPECT_EQ(d->msgauth.dmarc_quarantine, AuthAction::kQuarantine);
  EXPECT_EQ(d->msgauth.spf_fail, AuthAction::kNone);
  EXPECT_EQ(d->msgauth.junk_mailbox, "Junk");
  auto c = ok(std::string(kMinimal) +
              "[msgauth]\nverify = false\nsign = false\nauthserv_id = \"mx.example.org\"\n"
              "dmarc_reject = \"quarantine\"\ndmarc_quarantine = \"none\"\nspf_fail = \"reject\"\njunk_mailbox = \"Spam\"\n");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->msgauth.verify);
  EXPECT_FALSE(c->msgauth.sign);
  EXPECT_EQ(c->msgauth.authserv_id, "mx.example.org");
  EXPECT_EQ(c->msgauth.dmarc_reject, AuthAction::kQuarantine);
  EXPECT_EQ(c->msgauth.dmarc_quarantine, AuthAction::kNone);
  EXPECT_EQ(c->msgauth.spf_fail, AuthAction::kReject);
  EXPECT_EQ(c->msgauth.junk_mailbox, "Spam");
  EXPECT_NE(error_of(std::string(kMinimal) + "[msgauth]\nspf_fail = \"bounce\"\n").find("msgauth.spf_fail"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[msgauth]\nverfy = true\n").find("msgauth.verfy"), std::string::npos);
}

TEST(ConfigErrors, TlsListenerNeedsACertificate) {
  const std::string text =
      "hostname = \"h.example\"\n"
      "[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\naddress = \"::\"\nport = 993\ntls = \"implicit\"\n";
  EXPECT_EQ(error_of(text), "posthorn.toml:7: listener[0].tls: implicit needs at least one [[tls.certificates]] entry");
  const std::string plain =
      "hostname = \"h.example\"\n"
      "[[listener]]\nname = \"imap\"\nprotocol = \"imap\"\naddress = \"::\"\nport = 143\n";
  EXPECT_TRUE(ok(plain));
}

TEST(ConfigErrors, AdminListenerMustBePlain) {
  EXPECT_EQ(error_of(std::string(kMinimal) +
                     "[[listener]]\nname = \"adm\"\nprotocol = \"admin\"\naddress = \"::1\"\nport = 80\n"
                     "tls = \"implicit\"\n"),
            "posthorn.toml:17: listener[1].tls: the admin listener must use tls = \"none\"");
}

TEST(ConfigErrors, MissingKeysAndListeners) {
  EXPECT_EQ(error_of("hostname = \"h.example\"\n"), "posthorn.toml:1: listener: at least one [[listener]] is required");
  std::string text(kMinimal);
  text.erase(text.find("port = 25\n"), 10);
  EXPECT_EQ(error_of(text), "posthorn.toml:6: listener[0].port: required key is missing");
  EXPECT_EQ(error_of(std::string(kMinimal).substr(std::string(kMinimal).find('\n') + 1)),
            "posthorn.toml:1: hostname: required key is missing");
}

TEST(ConfigErrors, AllProblemsReportedInLineOrder) {
  std::string text = "log_level = \"loud\"\n" + std::string(kMinimal) + "[workers]\nio_thread = 1\n";
  text.replace(text.find("port = 25"), 9, "port = -1");
  EXPECT_EQ(error_of(text),
            "posthorn.toml:1: log_level: expected one of trace, debug, info, warn, error, off\n"
            "posthorn.toml:11: listener[0].port: must be between 1 and 65535, got -1\n"
            "posthorn.toml:14: workers.io_thread: unknown key");
}

TEST(ConfigErrors, SyntaxError) {
  EXPECT_TRUE(error_of("hostname = \"a\"\nport = = 3\n").starts_with("posthorn.toml:2: TOML syntax error: "));
}

TEST(Config, LoadReadsFileAndReportsMissingFile) {
  const fs::path dir = fs::temp_directory_path() / ("posthorn_config_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "posthorn.toml") << kMinimal;
  auto c = load(dir / "posthorn.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ((*c)->file, dir / "posthorn.toml");
  EXPECT_EQ((*c)->data_dir, dir / "data");
  EXPECT_EQ((*c)->tls.certificates[0].cert, dir / "tls/cert.pem");
  auto missing = load(dir / "nope.toml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  fs::remove_all(dir);
}

// render_initial's output with every commented-out setting ("# key = value", "# [table]") enabled.
std::string uncomment_defaults(const std::string& text) {
  auto is_setting = [](std::string_view l) {
    if (!l.starts_with("# ") || l.size() < 3) return false;
    l.remove_prefix(2);
    if (l[0] == '[') return l.find(']') != std::string_view::npos;
    const size_t eq = l.find(" = ");
    return eq != std::string_view::npos && eq > 0 &&
           l.substr(0, eq).find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos;
  };
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line)) {
    if (is_setting(line)) line = line.substr(2);
    out += line + "\n";
  }
  return out;
}

TEST(ConfigInit, DevRoundTrips) {
  InitOptions o;
  o.hostname = "dev.example.test";
  o.dev = true;
  o.port_base = 20000;
  auto c = ok(render_initial(o));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->hostname, "dev.example.test");
  EXPECT_EQ(c->data_dir, kBase / "data");
  ASSERT_EQ(c->tls.certificates.size(), 1u);
  EXPECT_EQ(c->tls.certificates[0].cert, kBase / "tls/cert.pem");
  EXPECT_EQ(c->tls.certificates[0].key, kBase / "tls/key.pem");
  EXPECT_TRUE(c->auth.allow_plaintext_on_loopback);
  struct Want {
    const char* name;
    Proto proto;
    uint16_t port;
    TlsMode tls;
  };
  const Want want[] = {
      {"mx", Proto::kSmtp, 20025, TlsMode::kStartTls},
      {"submission", Proto::kSubmission, 20587, TlsMode::kStartTls},
      {"submissions", Proto::kSubmission, 20465, TlsMode::kImplicit},
      {"imap", Proto::kImap, 20143, TlsMode::kStartTls},
      {"imaps", Proto::kImap, 20993, TlsMode::kImplicit},
      {"pop3", Proto::kPop3, 20110, TlsMode::kStartTls},
      {"pop3s", Proto::kPop3, 20995, TlsMode::kImplicit},
      {"lmtp", Proto::kLmtp, 20024, TlsMode::kNone},
      {"admin", Proto::kAdmin, 20080, TlsMode::kNone},
  };
  ASSERT_EQ(c->listeners.size(), std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(c->listeners[i].name, want[i].name);
    EXPECT_EQ(c->listeners[i].protocol, want[i].proto);
    EXPECT_EQ(c->listeners[i].address, "127.0.0.1");
    EXPECT_EQ(c->listeners[i].port, want[i].port);
    EXPECT_EQ(c->listeners[i].tls, want[i].tls);
  }
}

TEST(ConfigInit, ProductionRoundTrips) {
  auto c = ok(render_initial(InitOptions{}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->hostname, "localhost");
  EXPECT_FALSE(c->auth.allow_plaintext_on_loopback);
  ASSERT_EQ(c->listeners.size(), 9u);
  const uint16_t ports[] = {25, 587, 465, 143, 993, 110, 995, 24, 8080};
  for (size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(c->listeners[i].port, ports[i]) << i;
    EXPECT_EQ(c->listeners[i].address, i < 7 ? "0.0.0.0" : "127.0.0.1") << i;
  }
}

// The commented-out defaults in the initial file are valid keys and match the code's defaults.
TEST(ConfigInit, CommentedDefaultsMatchCode) {
  for (bool dev : {false, true}) {
    InitOptions o;
    o.dev = dev;
    const std::string text = uncomment_defaults(render_initial(o));
    ASSERT_NE(text, render_initial(o));
    auto c = ok(text);
    ASSERT_TRUE(c) << text;
    EXPECT_EQ(c->run_as_user, "posthorn");
    const Auth a;
    EXPECT_EQ(c->auth.allow_plaintext_on_loopback, dev);
    EXPECT_EQ(c->auth.cache_ttl, a.cache_ttl);
    EXPECT_EQ(c->auth.scram_iterations, a.scram_iterations);
    EXPECT_EQ(c->auth.throttle_free_failures, a.throttle_free_failures);
    EXPECT_EQ(c->auth.throttle_base_delay, a.throttle_base_delay);
    EXPECT_EQ(c->auth.throttle_max_delay, a.throttle_max_delay);
    EXPECT_EQ(c->auth.throttle_block_after, a.throttle_block_after);
    EXPECT_EQ(c->auth.throttle_ip_block_after, a.throttle_ip_block_after);
    EXPECT_EQ(c->auth.throttle_window, a.throttle_window);
    EXPECT_EQ(c->auth.throttle_block_duration, a.throttle_block_duration);
    EXPECT_EQ(c->auth.argon2.memory_kib, a.argon2.memory_kib);
    EXPECT_EQ(c->auth.argon2.iterations, a.argon2.iterations);
    EXPECT_EQ(c->auth.argon2.parallelism, a.argon2.parallelism);
    const Smtp m;
    EXPECT_EQ(c->smtp.max_message_size, m.max_message_size);
    EXPECT_EQ(c->smtp.max_recipients, m.max_recipients);
    EXPECT_EQ(c->smtp.max_errors, m.max_errors);
    EXPECT_EQ(c->smtp.greeting_delay, dev ? std::chrono::milliseconds(0) : m.greeting_delay);
    EXPECT_EQ(c->msgauth.verify, !dev);  // dev: no inbound checks against the real DNS
    EXPECT_EQ(c->msgauth.dmarc_reject, Msgauth{}.dmarc_reject);
    const Limits l;
    EXPECT_EQ(c->limits.max_connections, l.max_connections);
    EXPECT_EQ(c->limits.max_connections_per_ip, l.max_connections_per_ip);
    EXPECT_EQ(c->limits.max_line_length, l.max_line_length);
    EXPECT_EQ(c->limits.max_auth_line_length, l.max_auth_line_length);
    EXPECT_EQ(c->limits.max_commands_before_auth, l.max_commands_before_auth);
    const Timeouts t;
    EXPECT_EQ(c->timeouts.smtp, t.smtp);
    EXPECT_EQ(c->timeouts.imap, t.imap);
    EXPECT_EQ(c->timeouts.imap_preauth, t.imap_preauth);
    EXPECT_EQ(c->timeouts.pop3, t.pop3);
    EXPECT_EQ(c->timeouts.tls_handshake, t.tls_handshake);
    EXPECT_EQ(c->timeouts.shutdown_grace, t.shutdown_grace);
    EXPECT_EQ(c->workers.io_threads, Workers{}.io_threads);
    EXPECT_EQ(c->workers.blocking_threads, Workers{}.blocking_threads);
    EXPECT_EQ(c->pop3, Pop3{});
  }
}

TEST(Config, Pop3PolicyAndUidlFormat) {
  auto c = ok(std::string(kMinimal) + "[pop3]\npolicy = \"keep:30\"\nuidl_format = \"dovecot\"\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pop3.policy, (Pop3Policy{Pop3Policy::Kind::kKeep, 30}));
  EXPECT_EQ(c->pop3.uidl_format, UidlFormat::kDovecot);
  EXPECT_EQ(ok(kMinimal)->pop3.policy.kind, Pop3Policy::Kind::kDelete);
  EXPECT_EQ(error_of(std::string(kMinimal) + "[pop3]\npolicy = \"keep:0\"\n"),
            "posthorn.toml:13: pop3.policy: expected delete, keep or keep:DAYS (1 to 36500)");
  EXPECT_NE(error_of(std::string(kMinimal) + "[pop3]\nuidl_format = \"x\"\n"), "(accepted)");
}

TEST(Config, Pop3PolicyNames) {
  for (std::string_view text : {"delete", "keep", "keep:1", "keep:36500"}) {
    auto p = parse_pop3_policy(text);
    ASSERT_TRUE(p) << text;
    EXPECT_EQ(pop3_policy_name(*p), text);
  }
  for (std::string_view text : {"", "Delete", "keep:", "keep:0", "keep:36501", "keep:1d", "keep:-1", "keep 3"}) {
    EXPECT_FALSE(parse_pop3_policy(text)) << text;
  }
}

TEST(ConfigInit, HostnameIsQuoted) {
  InitOptions o;
  o.hostname = "bad\"name";
  // The file stays valid TOML; the bad host name is then rejected by validation, not by the parser.
  EXPECT_EQ(error_of(render_initial(o)).find("TOML syntax error"), std::string::npos);
}

TEST(Config, TlsModeNames) {
  EXPECT_EQ(tls_mode_name(TlsMode::kNone), "none");
  EXPECT_EQ(tls_mode_name(TlsMode::kStartTls), "starttls");
  EXPECT_EQ(tls_mode_name(TlsMode::kImplicit), "implicit");
}

// --- [dns] and [delivery] ---

TEST(ConfigDelivery, DefaultsAndHostnameFallback) {
  auto c = ok(kMinimal);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dns, Dns{});
  EXPECT_EQ(c->delivery.hostname, "mail.example.test");
  EXPECT_EQ(c->delivery.port, 25);
  EXPECT_EQ(c->delivery.lifetime, std::chrono::hours(24 * 5));
  EXPECT_EQ(c->delivery.delay_notice, std::chrono::hours(4));
  EXPECT_TRUE(c->delivery.smarthost.host.empty());
}

TEST(ConfigDelivery, ResolverForms) {
  struct Case {
    const char* text;
    const char* address;
    uint16_t port;
  } cases[] = {{"127.0.0.1:5353", "127.0.0.1", 5353}, {"127.0.0.1", "127.0.0.1", 53},
               {"::1", "::1", 53}, {"[::1]:5300", "::1", 5300}, {"[2001:db8::1]", "2001:db8::1", 53}};
  for (const auto& k : cases) {
    auto c = ok(std::string(kMinimal) + "[dns]\nresolver = \"" + k.text + "\"\ntimeout = 5\n");
    ASSERT_TRUE(c) << k.text;
    EXPECT_EQ(c->dns.resolver, k.address) << k.text;
    EXPECT_EQ(c->dns.resolver_port, k.port) << k.text;
    EXPECT_EQ(c->dns.timeout, std::chrono::seconds(5));
  }
  for (const char* bad : {"dns.example", "127.0.0.1:0", "127.0.0.1:65536", "[::1", "127.0.0.1:", "[::1]x"}) {
    EXPECT_NE(error_of(std::string(kMinimal) + "[dns]\nresolver = \"" + bad + "\"\n").find("dns.resolver"),
              std::string::npos)
        << bad;
  }
}

TEST(ConfigDelivery, AllKeys) {
  auto c = ok(std::string(kMinimal) +
              "[delivery]\nhostname = \"out.example.test\"\nport = 2525\nipv6 = false\n"
              "tls_fallback_plaintext = true\nconnect_timeout = 3\ngreeting_timeout = 4\ncommand_timeout = 5\n"
              "data_init_timeout = 6\ndata_block_timeout = 7\ndata_done_timeout = 8\n"
              "max_connections_per_destination = 2\nmax_connections = 9\nmax_messages_per_connection = 3\n"
              "connection_idle = 0\nretry_min = 60\nretry_max = 600\nlifetime = 3600\ndelay_notice = 0\n"
              "[delivery.smarthost]\nhost = \"relay.example.test\"\nport = 465\ntls = \"implicit\"\n"
              "username = \"u\"\npassword = \"p\"\nverify_certificate = false\nca_file = \"ca.pem\"\n");
  ASSERT_TRUE(c);
  const Delivery& d = c->delivery;
  EXPECT_EQ(d.hostname, "out.example.test");
  EXPECT_EQ(d.port, 2525);
  EXPECT_FALSE(d.ipv6);
  EXPECT_TRUE(d.tls_fallback_plaintext);
  EXPECT_EQ(d.connect_timeout.count(), 3);
  EXPECT_EQ(d.data_done_timeout.count(), 8);
  EXPECT_EQ(d.max_connections_per_destination, 2u);
  EXPECT_EQ(d.max_messages_per_connection, 3u);
  EXPECT_EQ(d.connection_idle.count(), 0);
  EXPECT_EQ(d.retry_max.count(), 600);
  EXPECT_EQ(d.delay_notice.count(), 0);
  EXPECT_EQ(d.smarthost.host, "relay.example.test");
  EXPECT_EQ(d.smarthost.port, 465);
  EXPECT_EQ(d.smarthost.tls, SmarthostTls::kImplicit);
  EXPECT_EQ(d.smarthost.username, "u");
  EXPECT_FALSE(d.smarthost.verify_certificate);
  EXPECT_EQ(d.smarthost.ca_file, kBase / "ca.pem");
  EXPECT_EQ(smarthost_tls_name(d.smarthost.tls), "implicit");
}

TEST(ConfigDelivery, Errors) {
  const std::string base(kMinimal);
  EXPECT_EQ(ok(base + "[delivery]\nlifetime = 1\n")->delivery.lifetime.count(), 1);
  EXPECT_NE(error_of(base + "[delivery]\nlifetime = 0\n").find("delivery.lifetime: must be between 1 and"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[delivery]\nretry_min = 600\nretry_max = 60\n").find("delivery.retry_max: must be at least"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[delivery]\nport = 0\n").find("delivery.port: must be between 1 and 65535"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[delivery]\nmax_connections_per_destination = 0\n").find("must be between"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[delivery]\nbogus = 1\n").find("delivery.bogus: unknown key"), std::string::npos);
  EXPECT_NE(error_of(base + "[delivery.smarthost]\nport = 25\n").find("delivery.smarthost.host: required"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[delivery.smarthost]\nhost = \"r.example\"\nusername = \"u\"\n").find("a password is needed"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[delivery.smarthost]\nhost = \"r.example\"\ntls = \"maybe\"\n").find("expected one of"),
            std::string::npos);
}

}  // namespace
}  // namespace posthorn::config

namespace posthorn::config {
namespace {

TEST(ConfigImap, LimitsAtTheirEdges) {
  auto c = ok(std::string(kMinimal) + "[imap]\nmax_message_size = 1024\nmax_append_messages = 1\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->imap.max_message_size, 1024u);
  EXPECT_EQ(c->imap.max_append_messages, 1u);
  EXPECT_TRUE(ok(std::string(kMinimal) + "[imap]\nmax_message_size = 1073741824\nmax_append_messages = 100000\n"));
  EXPECT_NE(error_of(std::string(kMinimal) + "[imap]\nmax_message_size = 1023\n").find("imap.max_message_size"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[imap]\nmax_message_size = 1073741825\n").find("imap.max_message_size"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[imap]\nmax_append_messages = 100001\n").find("imap.max_append_messages"),
            std::string::npos);
  EXPECT_EQ(ok(kMinimal)->imap.max_message_size, 50u << 20);
}

// [store] backend, url and pool_size (issue 20): sqlite by default, postgresql only with a url.
TEST(ConfigStore, BackendUrlAndPoolSize) {
  EXPECT_EQ(ok(kMinimal)->store.backend, StoreBackend::kSqlite);
  EXPECT_EQ(ok(kMinimal)->store.pool_size, 8u);
  auto pg = ok(std::string(kMinimal) + "[store]\nbackend = \"postgresql\"\nurl = \"postgresql://u:p@127.0.0.1:5/db\"\npool_size = 3\n");
  EXPECT_EQ(pg->store.backend, StoreBackend::kPostgresql);
  EXPECT_EQ(pg->store.url, "postgresql://u:p@127.0.0.1:5/db");
  EXPECT_EQ(pg->store.pool_size, 3u);
  EXPECT_NE(error_of(std::string(kMinimal) + "[store]\nbackend = \"postgresql\"\n").find("needs url"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[store]\nurl = \"postgresql://x\"\n").find("store.url"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[store]\nbackend = \"mysql\"\n").find("store.backend"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[store]\npool_size = 0\n").find("store.pool_size"), std::string::npos);
}

// [store] gc_interval and [timeouts] min_data_rate (issue 28 items 5 and 4) at their edges.
TEST(ConfigStoreAndRate, LimitsAtTheirEdges) {
  EXPECT_EQ(ok(kMinimal)->store.gc_interval, std::chrono::seconds(300));
  EXPECT_EQ(ok(kMinimal)->timeouts.min_data_rate, 500u);
  EXPECT_EQ(ok(std::string(kMinimal) + "[store]\ngc_interval = 1\n")->store.gc_interval, std::chrono::seconds(1));
  EXPECT_NE(error_of(std::string(kMinimal) + "[store]\ngc_interval = 0\n").find("store.gc_interval"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "[store]\nbackends = \"x\"\n").find("unknown key"), std::string::npos);
  EXPECT_EQ(ok(std::string(kMinimal) + "[timeouts]\nmin_data_rate = 1073741824\n")->timeouts.min_data_rate, 1u << 30);
  EXPECT_NE(error_of(std::string(kMinimal) + "[timeouts]\nmin_data_rate = 1073741825\n").find("timeouts.min_data_rate"),
            std::string::npos);
}

}  // namespace
}  // namespace posthorn::config
