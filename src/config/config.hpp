// The configuration: one TOML file read into an immutable, validated snapshot. Reload builds a new
// snapshot and swaps it in; sessions keep the shared_ptr they started with.
// Depends on base/ only. A Config is immutable after load, so sharing it across threads is safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/metrics.hpp"
#include "base/result.hpp"

namespace posthorn::config {

enum class TlsMode { kNone, kStartTls, kImplicit };
std::string_view tls_mode_name(TlsMode m);

struct Listener {
  std::string name;            // unique label used in logs ("mx", "imaps", ...)
  Proto protocol;              // smtp | submission | lmtp | imap | pop3 | admin
  std::string address;         // IP literal as written ("127.0.0.1", "::1", "0.0.0.0", "::")
  uint16_t port = 0;
  TlsMode tls = TlsMode::kNone;
  // SASL mechanisms offered here (submission, imap, pop3), upper case, in the order given; empty =
  // every mechanism the connection allows (auth/sasl.hpp). A listed mechanism still needs what it
  // always needs: TLS channel binding for -PLUS, TLS or loopback for PLAIN and LOGIN.
  std::vector<std::string> sasl_mechanisms;
};

struct Certificate {
  std::filesystem::path cert;  // PEM chain, leaf first (absolute after load)
  std::filesystem::path key;   // PEM private key (absolute after load)
};

struct Tls {
  std::vector<Certificate> certificates;  // the first is the default; others are chosen by SNI
  std::string min_version = "1.2";        // "1.2" or "1.3"
  std::string ciphers;                    // TLS 1.2 cipher list; empty = Posthorn's modern default
  std::string ciphersuites;               // TLS 1.3 suites; empty = OpenSSL default
};

struct Limits {
  uint32_t max_connections = 10000;        // all listeners together
  uint32_t max_connections_per_ip = 100;   // per remote address, all listeners together
  uint32_t max_line_length = 8192;         // bytes of one command line (SMTP, POP3, IMAP before literals)
  uint32_t max_auth_line_length = 16384;   // bytes of one SASL response line
  uint32_t max_commands_before_auth = 50;  // then the connection is closed
  // A message being received (DATA, BDAT, LMTP, APPEND) keeps this many bytes in RAM; the rest goes to
  // an anonymous temp file in the data folder.
  uint32_t message_memory = 256u << 10;
  // Bytes of messages held in RAM by all connections together (being received or processed); past it
  // new data goes straight to temp files and finished messages wait their turn.
  uint32_t message_memory_total = 128u << 20;
};

struct Timeouts {
  std::chrono::seconds smtp{300};          // RFC 5321 §4.5.3.2 command timeout
  std::chrono::seconds imap{1800};         // RFC 9051 §5.4: at least 30 minutes once authenticated
  std::chrono::seconds imap_preauth{60};   // before authentication
  std::chrono::seconds pop3{600};          // RFC 1939 §3: at least 10 minutes
  std::chrono::seconds tls_handshake{30};
  std::chrono::seconds shutdown_grace{10}; // SIGTERM: how long in-flight work may finish
  // Slow senders [issue 28 item 4]: a command line must be complete within its protocol's timeout
  // from its first byte, and SMTP DATA, each BDAT chunk and each IMAP literal within that timeout
  // plus its bytes / min_data_rate seconds (Postfix's smtpd_min_data_rate). 0 = no rate check.
  uint32_t min_data_rate = 500;            // bytes per second
};

struct Argon2 {
  uint32_t memory_kib = 19456;  // OWASP 2023 minimum for Argon2id
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
  bool operator==(const Argon2&) const = default;
};

struct Auth {
  bool allow_plaintext_on_loopback = false;  // PLAIN/LOGIN/USER without TLS from 127.0.0.0/8 and ::1
  std::chrono::seconds cache_ttl{300};       // verified-credentials cache; 0 disables it
  uint32_t scram_iterations = 10000;         // PBKDF2 rounds for new SCRAM-SHA-256 secrets
  Argon2 argon2;
  // Failed-auth throttling, per (remote IP, account), per remote IP and per account (auth/throttle.hpp).
  uint32_t throttle_free_failures = 3;                  // failures before any delay
  std::chrono::milliseconds throttle_base_delay{500};   // doubles with each further failure
  std::chrono::milliseconds throttle_max_delay{8000};
  uint32_t throttle_block_after = 10;                   // one account from one IP -> that pair blocked
  uint32_t throttle_ip_block_after = 50;                // any accounts from one IP -> the IP blocked
  std::chrono::seconds throttle_window{900};            // failures older than this are forgotten
  std::chrono::seconds throttle_block_duration{900};
  bool operator==(const Auth&) const = default;
};

struct Workers {
  uint32_t io_threads = 0;        // 0 = one per core
  uint32_t blocking_threads = 0;  // 0 = 2 per core, at least 4
  bool operator==(const Workers&) const = default;
};

// What POP3's DELE then QUIT does with a message [issue 6]. The server default comes from [pop3];
// an account may override it (the directory's per-user setting).
struct Pop3Policy {
  enum class Kind { kDelete, kKeep };
  Kind kind = Kind::kDelete;  // kDelete: removed; kKeep: hidden from later POP3 sessions only
  uint32_t keep_days = 0;     // kKeep: removed this many days after the first download; 0 = never
  bool operator==(const Pop3Policy&) const = default;
};
// "delete", "keep" or "keep:N" with 1 <= N <= 36500 days; nullopt otherwise.
std::optional<Pop3Policy> parse_pop3_policy(std::string_view text);
std::string pop3_policy_name(const Pop3Policy& policy);  // the form parse_pop3_policy reads

// The UIDL a message gets: Posthorn's (from the message content: the same across restarts, and
// across an export and an import) or Dovecot's default "%08Xu%08Xv" (UID and UIDVALIDITY in hex)
// for maildrops whose users migrated from Dovecot with UIDs kept.
enum class UidlFormat { kPosthorn, kDovecot };

struct Pop3 {
  Pop3Policy policy;
  UidlFormat uidl_format = UidlFormat::kPosthorn;
  bool operator==(const Pop3&) const = default;
};

// Inbound SMTP policy ([smtp]): limits of one mail transaction and the greeting delay.
struct Smtp {
  uint64_t max_message_size = 50ull << 20;          // bytes: SIZE=, DATA and BDAT; then 552 5.3.4
  uint32_t max_recipients = 100;                    // accepted RCPTs per message; then 452 4.5.3
  uint32_t max_errors = 10;                         // 4xx/5xx replies per session; then 421 4.7.0
  std::chrono::milliseconds greeting_delay{1000};   // MX listener: input before the banner -> 554
  // Submission: the header From and Sender addresses must be ones the user may send as (as MAIL
  // FROM must), else 553 5.7.1 after DATA [issue 28].
  bool check_header_from = true;
  // Extra addresses a user may send as, beyond its own and those that deliver to it: lower-cased
  // login address ("*" = every user) -> addresses, or "@domain" for a whole domain.
  std::map<std::string, std::vector<std::string>> send_as;
  bool operator==(const Smtp&) const = default;
};

// IMAP server limits (the IMAP issue).
struct Imap {
  uint32_t max_message_size = 50u << 20;  // APPENDLIMIT [RFC 7889]: bytes of one appended message
  uint32_t max_append_messages = 100;     // messages in one MULTIAPPEND [RFC 3502]
};

// Where the mail store, directory and queue live ([store]).
enum class StoreBackend { kSqlite, kPostgresql };
std::string_view store_backend_name(StoreBackend b);  // "sqlite", "postgresql"

// The mail store ([store]).
struct Store {
  // sqlite: the embedded default, files under data_dir. postgresql: a shared PostgreSQL database
  // (issue 20), so several nodes serve the same mailboxes; `url` is then required.
  StoreBackend backend = StoreBackend::kSqlite;
  // libpq connection URI ("postgresql://user:password@host:port/db?..."); only with postgresql.
  std::string url;
  // Connections this node keeps to PostgreSQL for the store (the directory, queue and LISTEN
  // connection come on top).
  uint32_t pool_size = 8;
  // While serving, how often to look whether messages were expunged (or mailboxes, accounts
  // deleted) and, if so, remove the message files nothing refers to any more [issue 28 item 5].
  std::chrono::seconds gc_interval{300};
};

// --- Mail authentication: [msgauth] (SPF, DKIM, DMARC on the MX listener; DKIM signing) ---

// What a failed check does to an inbound message.
enum class AuthAction { kNone, kQuarantine, kReject };
std::string_view auth_action_name(AuthAction a);

struct Msgauth {
  bool verify = true;            // SPF, DKIM and DMARC on the MX listener, with Authentication-Results
  bool sign = true;              // DKIM-sign submitted mail of local domains (keys in <data>/dkim)
  std::string authserv_id;       // the Authentication-Results id [RFC 8601 §2.5]; empty = hostname
  AuthAction dmarc_reject = AuthAction::kReject;          // DMARC fail under p=reject
  AuthAction dmarc_quarantine = AuthAction::kQuarantine;  // DMARC fail under p=quarantine
  AuthAction spf_fail = AuthAction::kNone;                // SPF fail ("-all") that DMARC did not decide
  std::string junk_mailbox = "Junk";                      // where kQuarantine files a message
  // DMARC aggregate reports [RFC 7489 §7.2]: evaluations with a rua= are counted in
  // <data>/dmarc.db and each UTC day's reports are sent the next day.
  bool dmarc_reports = true;
  std::string report_org_name;   // org_name and Submitter; empty = hostname
  std::string report_address;    // From and envelope sender; empty = "noreply-dmarc@" + hostname
  uint32_t report_max_rows = 10000;  // distinct rows per report domain and day; more are only counted
  bool operator==(const Msgauth&) const = default;
};

// --- Outbound delivery: [dns] and [delivery] (the resolver, the SMTP client, the retry schedule) ---

struct Dns {
  // Written "127.0.0.1:5353", "127.0.0.1", "::1" or "[::1]:5353"; empty = /etc/resolv.conf.
  std::string resolver;                  // the IP address alone
  uint16_t resolver_port = 53;
  std::chrono::seconds timeout{30};      // one lookup; then it is a temporary failure
  std::filesystem::path trust_anchor_file;  // DNSSEC root key (for DANE later); empty = no validation
  bool operator==(const Dns&) const = default;
};

enum class SmarthostTls { kStartTls, kImplicit, kNone };
std::string_view smarthost_tls_name(SmarthostTls t);

struct Smarthost {
  std::string host;                      // empty = deliver to each domain's MX hosts
  uint16_t port = 587;
  SmarthostTls tls = SmarthostTls::kStartTls;  // starttls and implicit are required, never optional
  std::string username;                  // AUTH PLAIN (or LOGIN) when set
  std::string password;
  bool verify_certificate = true;        // check the chain and the host name
  std::filesystem::path ca_file;         // trusted certificates (PEM); empty = the system store
  bool operator==(const Smarthost&) const = default;
};

struct Delivery {
  std::string hostname;                  // EHLO name; empty = the top-level hostname
  uint16_t port = 25;                    // port on MX hosts (tests use another)
  bool ipv6 = true;                      // try AAAA addresses (before A) too
  bool tls_fallback_plaintext = false;   // a failed STARTTLS handshake retries the same host in the clear
  // RFC 5321 §4.5.3.2 timeouts.
  std::chrono::seconds connect_timeout{30};
  std::chrono::seconds greeting_timeout{300};
  std::chrono::seconds command_timeout{300};   // EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET
  std::chrono::seconds data_init_timeout{120};
  std::chrono::seconds data_block_timeout{180};
  std::chrono::seconds data_done_timeout{600};
  uint32_t max_connections_per_destination = 10;
  uint32_t max_connections = 100;          // all destinations together
  uint32_t max_messages_per_connection = 100;
  std::chrono::seconds connection_idle{5};  // an idle cached connection is closed after this
  // Retry schedule (queue): first retry after retry_min, doubling up to retry_max.
  std::chrono::seconds retry_min{300};
  std::chrono::seconds retry_max{4 * 3600};
  std::chrono::seconds lifetime{5 * 86400};     // then the message bounces
  std::chrono::seconds delay_notice{4 * 3600};  // one "delayed" DSN after this; 0 = never
  Smarthost smarthost;
  // Outbound TLS policy (not used with a smarthost).
  bool dane = true;                   // RFC 7672: DNSSEC-secure TLSA records make STARTTLS authenticated and mandatory
  bool mta_sts = true;                // RFC 8461: fetch and honour MTA-STS policies
  std::filesystem::path tls_ca_file;  // PKIX trust anchors for MTA-STS (MX and policy host); empty = system CAs
  uint16_t mta_sts_port = 443;        // HTTPS port of policy fetches (tests only)
  std::chrono::seconds mta_sts_timeout{30};  // one policy fetch, connect to last byte
  bool operator==(const Delivery&) const = default;
};

struct Config {
  std::filesystem::path file;      // the file this was loaded from (absolute)
  std::string hostname;            // this server's name, used in greetings and the default certificate
  std::filesystem::path data_dir;  // absolute after load (relative paths are relative to the file)
  std::string run_as_user;         // after binding, drop privileges to this user (only when root)
  std::string log_level = "info";
  std::vector<Listener> listeners;
  Tls tls;
  Limits limits;
  Timeouts timeouts;
  Auth auth;
  Workers workers;
  Pop3 pop3;
  Smtp smtp;
  Imap imap;
  Store store;
  Msgauth msgauth;    // msgauth.authserv_id is filled from hostname when empty
  Dns dns;
  Delivery delivery;  // delivery.hostname is filled from hostname when empty
};

// Loads and validates `file`. Errors name the file, the line and the key:
//   "posthorn.toml:12: listener[2].tls: expected one of none, starttls, implicit"
// Unknown keys, wrong types, bad values and duplicate listener endpoints are errors (Errc::kInvalid);
// all problems are reported, one per line in line order. An unreadable file is Errc::kNotFound.
// Durations are integer seconds, keys ending in _ms milliseconds (docs/configuration.md).
// Does not touch certificates or sockets.
Result<std::shared_ptr<const Config>> load(const std::filesystem::path& file);
// Same, from text (for tests); `name` is used in error messages and relative paths resolve against `base_dir`.
Result<std::shared_ptr<const Config>> parse(std::string_view text, std::string_view name,
                                            const std::filesystem::path& base_dir);

struct InitOptions {
  std::string hostname = "localhost";
  bool dev = false;           // listeners on 127.0.0.1 only, plaintext auth on loopback allowed
  uint16_t port_base = 10000; // dev ports: base + 25, 587, 465, 143, 993, 110, 995, 24, 80
};
// The text of a new, commented posthorn.toml for `posthorn init` (data = "data", tls/cert.pem, tls/key.pem).
// With dev, the caller keeps port_base <= 64540 so every port fits (load() would reject the file).
std::string render_initial(const InitOptions& options);

}  // namespace posthorn::config
