// Implementation notes
// - toml++ parses the text; a TableReader walks one TOML table, hands out typed values, records every
//   problem with the line of the offending node, and at the end reports keys nobody asked for
//   ("unknown key"). So a new key is only accepted once the code reads it.
// - All problems are collected, sorted by line and joined with "\n" into one Errc::kInvalid error,
//   so an administrator fixes the whole file in one round. Each line reads
//   "<file>:<line>: <key path>: <problem>"; array elements are 0-based ("listener[0]").
// - Durations are integer seconds; the two throttle delays are integer milliseconds (keys end in _ms).
// - Cross-field checks (unique names and endpoints, certificates for TLS listeners) run only on
//   listeners that parsed cleanly, so one typo does not cascade into several errors.
#include "config/config.hpp"

#include "base/ascii.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace posthorn::config {

std::string_view tls_mode_name(TlsMode m) {
  switch (m) {
    case TlsMode::kNone: return "none";
    case TlsMode::kStartTls: return "starttls";
    case TlsMode::kImplicit: return "implicit";
  }
  return "unknown";
}

namespace {

namespace fs = std::filesystem;

constexpr int64_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr int64_t kDay = 86400;

struct Problem {
  uint32_t line;
  std::string text;
};

// Problems found while reading one file.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}

  void add(uint32_t line, std::string_view path, std::string_view problem) {
    if (line == 0) line = 1;
    std::string text = file_ + ":" + std::to_string(line) + ": ";
    text.append(path).append(": ").append(problem);
    list_.push_back(Problem{line, std::move(text)});
  }
  void add(const toml::node& node, std::string_view path, std::string_view problem) {
    add(node.source().begin.line, path, problem);
  }

  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }

  std::string joined() {
    std::stable_sort(list_.begin(), list_.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    std::string out;
    for (const auto& p : list_) {
      if (!out.empty()) out += '\n';
      out += p.text;
    }
    return out;
  }

 private:
  std::string file_;
  std::vector<Problem> list_;
};

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "an unknown type";
}

// Walks one TOML table. Every getter marks its key as known; finish() reports the others.
// Getters return nullopt/nullptr when the key is absent or when it was wrong (problem recorded).
class TableReader {
 public:
  TableReader(Problems& problems, const toml::table& table, std::string path)
      : problems_(problems), table_(table), path_(std::move(path)) {}
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const std::string& path() const { return path_; }
  uint32_t line() const { return std::max<uint32_t>(1, table_.source().begin.line); }

  const toml::node* node(std::string_view key) {
    known_.emplace(key);
    return table_.get(key);
  }

  // The line of `key`'s value, or of the table when the key is absent.
  uint32_t line_of(std::string_view key) const {
    const toml::node* n = table_.get(key);
    return n != nullptr ? n->source().begin.line : line();
  }

  void problem(std::string_view key, std::string_view text) {
    problems_.add(line_of(key), key_path(key), text);
  }

  void require(std::string_view key) {
    if (table_.get(key) == nullptr) problems_.add(line(), key_path(key), "required key is missing");
  }

  std::optional<std::string> string(std::string_view key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (const auto* s = n->as_string()) return s->get();
    wrong_type(*n, key, "a string");
    return std::nullopt;
  }

  std::optional<bool> boolean(std::string_view key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (const auto* b = n->as_boolean()) return b->get();
    wrong_type(*n, key, "a boolean (true or false)");
    return std::nullopt;
  }

  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    const auto* i = n->as_integer();
    if (i == nullptr) {
      wrong_type(*n, key, "an integer");
      return std::nullopt;
    }
    const int64_t v = i->get();
    if (v < min || v > max) {
      problems_.add(*n, key_path(key),
                    "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                        ", got " + std::to_string(v));
      return std::nullopt;
    }
    return v;
  }

  // A string that must be one of `choices`; returns its index.
  std::optional<size_t> one_of(std::string_view key, std::initializer_list<std::string_view> choices) {
    auto s = string(key);
    if (!s) return std::nullopt;
    size_t index = 0;
    std::string list;
    for (std::string_view c : choices) {
      if (*s == c) return index;
      ++index;
      if (!list.empty()) list += ", ";
      list += c;
    }
    problem(key, "expected one of " + list);
    return std::nullopt;
  }

  uint32_t u32(std::string_view key, int64_t min, int64_t max, uint32_t fallback) {
    auto v = integer(key, min, max);
    return v ? uint32_t(*v) : fallback;
  }
  std::chrono::seconds seconds(std::string_view key, int64_t min, int64_t max, std::chrono::seconds fallback) {
    auto v = integer(key, min, max);
    return v ? std::chrono::seconds(*v) : fallback;
  }
  std::chrono::milliseconds millis(std::string_view key, int64_t min, int64_t max,
                                   std::chrono::milliseconds fallback) {
    auto v = integer(key, min, max);
    return v ? std::chrono::milliseconds(*v) : fallback;
  }

  const toml::table* table(std::string_view key) {
    const toml::node* n = node(key);
    if (n == nullptr) return nullptr;
    if (const auto* t = n->as_table()) return t;
    wrong_type(*n, key, "a table");
    return nullptr;
  }

  const toml::array* array(std::string_view key, std::string_view expected) {
    const toml::node* n = node(key);
    if (n == nullptr) return nullptr;
    if (const auto* a = n->as_array()) return a;
    wrong_type(*n, key, expected);
    return nullptr;
  }

  // An array of strings; nullopt when absent or of the wrong type (reported).
  std::optional<std::vector<std::string>> strings(std::string_view key) {
    const toml::array* a = array(key, "an array of strings");
    if (a == nullptr) return std::nullopt;
    std::vector<std::string> out;
    for (const toml::node& n : *a) {
      const auto* v = n.as_string();
      if (v == nullptr) {
        wrong_type(n, key, "an array of strings");
        return std::nullopt;
      }
      out.push_back(v->get());
    }
    return out;
  }

  void finish() {
    for (auto&& [k, v] : table_) {
      if (known_.contains(k.str())) continue;
      uint32_t line = k.source().begin.line;
      if (line == 0) line = v.source().begin.line;
      problems_.add(line, key_path(k.str()), "unknown key");
    }
  }

 private:
  void wrong_type(const toml::node& n, std::string_view key, std::string_view expected) {
    problems_.add(n, key_path(key), "expected " + std::string(expected) + ", got " + std::string(type_name(n)));
  }

  Problems& problems_;
  const toml::table& table_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
};

// RFC 1123 §2.1 host name: dot-separated labels of letters, digits and hyphens.
bool is_hostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && c != '-') return false;
      if (c == '-' && label == 0) return false;
      if (++label > 63) return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-';
}

fs::path resolve_path(const fs::path& base_dir, const std::string& p) {
  fs::path path(p);
  if (path.is_relative()) path = base_dir / path;
  return path.lexically_normal();
}

// A listener's bind address in comparable form.
struct Endpoint {
  int family = 0;
  std::array<uint8_t, 16> bytes{};
  uint16_t port = 0;

  bool is_wildcard() const {
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
  }
};

std::optional<Endpoint> parse_ip(const std::string& address) {
  Endpoint e;
  if (inet_pton(AF_INET, address.c_str(), e.bytes.data()) == 1) {
    e.family = AF_INET;
    return e;
  }
  if (inet_pton(AF_INET6, address.c_str(), e.bytes.data()) == 1) {
    e.family = AF_INET6;
    return e;
  }
  return std::nullopt;
}

void read_tls(TableReader& root, Problems& problems, const fs::path& base_dir, Tls& tls) {
  const toml::table* table = root.table("tls");
  if (table == nullptr) return;
  TableReader t(problems, *table, "tls");
  if (const toml::array* certs = t.array("certificates", "an array of tables ([[tls.certificates]])")) {
    for (size_t i = 0; i < certs->size(); ++i) {
      const toml::node& n = *certs->get(i);
      const std::string path = "tls.certificates[" + std::to_string(i) + "]";
      const toml::table* ct = n.as_table();
      if (ct == nullptr) {
        problems.add(n, path, "expected a table with cert and key, got " + std::string(type_name(n)));
        continue;
      }
      TableReader c(problems, *ct, path);
      c.require("cert");
      c.require("key");
      auto cert = c.string("cert");
      auto key = c.string("key");
      if (cert && cert->empty()) c.problem("cert", "must not be empty");
      if (key && key->empty()) c.problem("key", "must not be empty");
      c.finish();
      if (cert && key && !cert->empty() && !key->empty()) {
        tls.certificates.push_back(Certificate{resolve_path(base_dir, *cert), resolve_path(base_dir, *key)});
      }
    }
  }
  if (auto v = t.one_of("min_version", {"1.2", "1.3"})) tls.min_version = *v == 0 ? "1.2" : "1.3";
  if (auto v = t.string("ciphers")) tls.ciphers = *v;
  if (auto v = t.string("ciphersuites")) tls.ciphersuites = *v;
  t.finish();
}

void read_limits(TableReader& root, Problems& problems, Limits& l) {
  const toml::table* table = root.table("limits");
  if (table == nullptr) return;
  TableReader t(problems, *table, "limits");
  l.max_connections = t.u32("max_connections", 1, kU32Max, l.max_connections);
  l.max_connections_per_ip = t.u32("max_connections_per_ip", 1, kU32Max, l.max_connections_per_ip);
  // A server must accept 512-octet command lines [RFC 5321 §4.5.3.1.4].
  l.max_line_length = t.u32("max_line_length", 512, 16 << 20, l.max_line_length);
  l.max_auth_line_length = t.u32("max_auth_line_length", 512, 16 << 20, l.max_auth_line_length);
  l.max_commands_before_auth = t.u32("max_commands_before_auth", 1, kU32Max, l.max_commands_before_auth);
  l.message_memory = t.u32("message_memory", 0, 1u << 30, l.message_memory);
  l.message_memory_total = t.u32("message_memory_total", 1u << 20, kU32Max, l.message_memory_total);
  t.finish();
}

void read_imap(TableReader& root, Problems& problems, Imap& imap) {
  const toml::table* table = root.table("imap");
  if (table == nullptr) return;
  TableReader t(problems, *table, "imap");
  imap.max_message_size = t.u32("max_message_size", 1024, 1 << 30, imap.max_message_size);
  imap.max_append_messages = t.u32("max_append_messages", 1, 100000, imap.max_append_messages);
  t.finish();
}

void read_store(TableReader& root, Problems& problems, Store& store) {
  const toml::table* table = root.table("store");
  if (table == nullptr) return;
  TableReader t(problems, *table, "store");
  store.gc_interval = t.seconds("gc_interval", 1, kDay, store.gc_interval);
  if (auto v = t.one_of("backend", {"sqlite", "postgresql"})) {
    store.backend = *v == 0 ? StoreBackend::kSqlite : StoreBackend::kPostgresql;
  }
  if (auto v = t.string("url")) store.url = *v;
  store.pool_size = t.u32("pool_size", 1, 1000, store.pool_size);
  if (store.backend == StoreBackend::kPostgresql && store.url.empty()) {
    t.problem("backend", "backend = \"postgresql\" needs url = \"postgresql://...\"");
  }
  if (store.backend == StoreBackend::kSqlite && !store.url.empty()) {
    t.problem("url", "url is only used with backend = \"postgresql\"");
  }
  t.finish();
}

void read_timeouts(TableReader& root, Problems& problems, Timeouts& o) {
  const toml::table* table = root.table("timeouts");
  if (table == nullptr) return;
  TableReader t(problems, *table, "timeouts");
  o.smtp = t.seconds("smtp", 1, kDay, o.smtp);
  o.imap = t.seconds("imap", 1, kDay, o.imap);
  o.imap_preauth = t.seconds("imap_preauth", 1, kDay, o.imap_preauth);
  o.pop3 = t.seconds("pop3", 1, kDay, o.pop3);
  o.tls_handshake = t.seconds("tls_handshake", 1, 3600, o.tls_handshake);
  o.shutdown_grace = t.seconds("shutdown_grace", 0, 3600, o.shutdown_grace);
  o.min_data_rate = t.u32("min_data_rate", 0, 1u << 30, o.min_data_rate);
  t.finish();
}

void read_auth(TableReader& root, Problems& problems, Auth& a) {
  const toml::table* table = root.table("auth");
  if (table == nullptr) return;
  TableReader t(problems, *table, "auth");
  if (auto v = t.boolean("allow_plaintext_on_loopback")) a.allow_plaintext_on_loopback = *v;
  a.cache_ttl = t.seconds("cache_ttl", 0, kDay, a.cache_ttl);
  // At least 4096 iterations [RFC 7677 §4].
  a.scram_iterations = t.u32("scram_iterations", 4096, 10'000'000, a.scram_iterations);
  a.throttle_free_failures = t.u32("throttle_free_failures", 0, 1000, a.throttle_free_failures);
  a.throttle_base_delay = t.millis("throttle_base_delay_ms", 0, 60'000, a.throttle_base_delay);
  a.throttle_max_delay = t.millis("throttle_max_delay_ms", 0, 600'000, a.throttle_max_delay);
  a.throttle_block_after = t.u32("throttle_block_after", 1, 100'000, a.throttle_block_after);
  a.throttle_ip_block_after = t.u32("throttle_ip_block_after", 1, 1'000'000, a.throttle_ip_block_after);
  a.throttle_window = t.seconds("throttle_window", 1, 7 * kDay, a.throttle_window);
  a.throttle_block_duration = t.seconds("throttle_block_duration", 1, 7 * kDay, a.throttle_block_duration);
  if (a.throttle_max_delay < a.throttle_base_delay) {
    t.problem(table->get("throttle_max_delay_ms") != nullptr ? "throttle_max_delay_ms" : "throttle_base_delay_ms",
              "throttle_max_delay_ms must be at least throttle_base_delay_ms");
  }
  if (const toml::table* argon = t.table("argon2")) {
    TableReader g(problems, *argon, "auth.argon2");
    a.argon2.memory_kib = g.u32("memory_kib", 8, 4 << 20, a.argon2.memory_kib);
    a.argon2.iterations = g.u32("iterations", 1, 100, a.argon2.iterations);
    a.argon2.parallelism = g.u32("parallelism", 1, 64, a.argon2.parallelism);
    if (a.argon2.memory_kib < 8 * a.argon2.parallelism) {
      g.problem("memory_kib", "must be at least 8 KiB per lane (8 * parallelism)");
    }
    g.finish();
  }
  t.finish();
}

void read_workers(TableReader& root, Problems& problems, Workers& w) {
  const toml::table* table = root.table("workers");
  if (table == nullptr) return;
  TableReader t(problems, *table, "workers");
  w.io_threads = t.u32("io_threads", 0, 1024, w.io_threads);
  w.blocking_threads = t.u32("blocking_threads", 0, 4096, w.blocking_threads);
  t.finish();
}

void read_pop3(TableReader& root, Problems& problems, Pop3& p) {
  const toml::table* table = root.table("pop3");
  if (table == nullptr) return;
  TableReader t(problems, *table, "pop3");
  if (auto v = t.string("policy")) {
    if (auto policy = parse_pop3_policy(*v)) {
      p.policy = *policy;
    } else {
      t.problem("policy", "expected delete, keep or keep:DAYS (1 to 36500)");
    }
  }
  if (auto v = t.one_of("uidl_format", {"posthorn", "dovecot"})) {
    p.uidl_format = *v == 0 ? UidlFormat::kPosthorn : UidlFormat::kDovecot;
  }
  t.finish();
}

void read_smtp(TableReader& root, Problems& problems, Smtp& m) {
  const toml::table* table = root.table("smtp");
  if (table == nullptr) return;
  TableReader t(problems, *table, "smtp");
  // At least 64 KiB [RFC 5321 §4.5.3.1.7]; at most 2 GiB (the message is held in memory).
  if (auto v = t.integer("max_message_size", 65536, int64_t(2) << 30)) m.max_message_size = uint64_t(*v);
  // At least 100 recipients must be accepted [RFC 5321 §4.5.3.1.8]; lower is allowed for tests.
  m.max_recipients = t.u32("max_recipients", 1, 100'000, m.max_recipients);
  m.max_errors = t.u32("max_errors", 1, 1000, m.max_errors);
  m.greeting_delay = t.millis("greeting_delay_ms", 0, 60'000, m.greeting_delay);
  if (auto v = t.boolean("check_header_from")) m.check_header_from = *v;
  if (const toml::table* send_as = t.table("send_as")) {
    TableReader u(problems, *send_as, "smtp.send_as");
    for (auto&& [key, value] : *send_as) {
      const std::string user(key.str());
      auto addresses = u.strings(user);
      if (user != "*" && user.find('@') == std::string::npos) {
        u.problem(user, "expected a user address or \"*\"");
        continue;
      }
      if (!addresses) continue;
      for (const auto& a : *addresses) {
        const auto at = a.find('@');
        if (at == std::string::npos || a.find('@', at + 1) != std::string::npos || at + 1 == a.size()) {
          u.problem(user, "\"" + a + "\" is neither an address nor \"@domain\"");
        }
      }
      auto& list = m.send_as[ascii::lower(user)];
      for (const auto& a : *addresses) list.push_back(ascii::lower(a));
    }
    u.finish();
  }
  t.finish();
}

void read_msgauth(TableReader& root, Problems& problems, Msgauth& m) {
  const toml::table* table = root.table("msgauth");
  if (table == nullptr) return;
  TableReader t(problems, *table, "msgauth");
  if (auto v = t.boolean("verify")) m.verify = *v;
  if (auto v = t.boolean("sign")) m.sign = *v;
  if (auto v = t.string("authserv_id")) m.authserv_id = *v;
  auto action = [&](std::string_view key, AuthAction& out) {
    if (auto v = t.one_of(key, {"none", "quarantine", "reject"})) out = AuthAction(*v);
  };
  action("dmarc_reject", m.dmarc_reject);
  action("dmarc_quarantine", m.dmarc_quarantine);
  action("spf_fail", m.spf_fail);
  if (auto v = t.string("junk_mailbox")) m.junk_mailbox = *v;
  if (auto v = t.boolean("dmarc_reports")) m.dmarc_reports = *v;
  if (auto v = t.string("report_org_name")) m.report_org_name = *v;
  if (auto v = t.string("report_address")) m.report_address = *v;
  if (auto v = t.integer("report_max_rows", 1, 1'000'000)) m.report_max_rows = uint32_t(*v);
  t.finish();
}

}  // namespace

std::string_view store_backend_name(StoreBackend b) {
  return b == StoreBackend::kSqlite ? "sqlite" : "postgresql";
}

std::string_view auth_action_name(AuthAction a) {
  switch (a) {
    case AuthAction::kNone: return "none";
    case AuthAction::kQuarantine: return "quarantine";
    case AuthAction::kReject: return "reject";
  }
  return "none";
}

// --- [dns] and [delivery] ---

std::string_view smarthost_tls_name(SmarthostTls t) {
  switch (t) {
    case SmarthostTls::kStartTls: return "starttls";
    case SmarthostTls::kImplicit: return "implicit";
    case SmarthostTls::kNone: return "none";
  }
  return "unknown";
}

namespace {

// "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53" -> address and port.
bool split_host_port(const std::string& text, std::string& address, uint16_t& port) {
  std::string host = text;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return false;
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port_text = text.substr(text.find(':') + 1);
  }
  if (!parse_ip(host)) return false;
  if (!port_text.empty() || text.back() == ':') {
    if (port_text.empty() || port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    const int p = std::stoi(port_text);
    if (p < 1 || p > 65535) return false;
    port = uint16_t(p);
  }
  address = host;
  return true;
}

void read_dns(TableReader& root, Problems& problems, const fs::path& base_dir, Dns& d) {
  const toml::table* table = root.table("dns");
  if (table == nullptr) return;
  TableReader t(problems, *table, "dns");
  if (auto v = t.string("resolver"); v && !v->empty()) {
    if (!split_host_port(*v, d.resolver, d.resolver_port)) {
      t.problem("resolver", "expected an IP address with an optional port, such as 127.0.0.1:5353 or [::1]:53");
    }
  }
  d.timeout = t.seconds("timeout", 1, 600, d.timeout);
  if (auto v = t.string("trust_anchor_file"); v && !v->empty()) d.trust_anchor_file = resolve_path(base_dir, *v);
  t.finish();
}

void read_smarthost(TableReader& parent, Problems& problems, const fs::path& base_dir, Smarthost& h) {
  const toml::table* table = parent.table("smarthost");
  if (table == nullptr) return;
  TableReader t(problems, *table, "delivery.smarthost");
  t.require("host");
  if (auto v = t.string("host")) {
    std::string ip;
    uint16_t ignored = 0;
    if (!is_hostname(*v) && !split_host_port(*v, ip, ignored)) t.problem("host", "expected a host name or an IP address");
    h.host = *v;
  }
  h.port = uint16_t(t.u32("port", 1, 65535, h.port));
  if (auto v = t.one_of("tls", {"starttls", "implicit", "none"})) h.tls = SmarthostTls(*v);
  if (auto v = t.string("username")) h.username = *v;
  if (auto v = t.string("password")) h.password = *v;
  if (!h.username.empty() && h.password.empty()) t.problem("username", "a password is needed with the username");
  if (auto v = t.boolean("verify_certificate")) h.verify_certificate = *v;
  if (auto v = t.string("ca_file"); v && !v->empty()) h.ca_file = resolve_path(base_dir, *v);
  t.finish();
}

void read_delivery(TableReader& root, Problems& problems, const fs::path& base_dir, Delivery& d) {
  const toml::table* table = root.table("delivery");
  if (table == nullptr) return;
  TableReader t(problems, *table, "delivery");
  if (auto v = t.string("hostname"); v && !v->empty()) {
    if (!is_hostname(*v)) t.problem("hostname", "expected a host name such as mail.example.com");
    d.hostname = *v;
  }
  d.port = uint16_t(t.u32("port", 1, 65535, d.port));
  if (auto v = t.boolean("ipv6")) d.ipv6 = *v;
  if (auto v = t.boolean("tls_fallback_plaintext")) d.tls_fallback_plaintext = *v;
  d.connect_timeout = t.seconds("connect_timeout", 1, 3600, d.connect_timeout);
  d.greeting_timeout = t.seconds("greeting_timeout", 1, 3600, d.greeting_timeout);
  d.command_timeout = t.seconds("command_timeout", 1, 3600, d.command_timeout);
  d.data_init_timeout = t.seconds("data_init_timeout", 1, 3600, d.data_init_timeout);
  d.data_block_timeout = t.seconds("data_block_timeout", 1, 3600, d.data_block_timeout);
  d.data_done_timeout = t.seconds("data_done_timeout", 1, 3600, d.data_done_timeout);
  d.max_connections_per_destination = t.u32("max_connections_per_destination", 1, 10000, d.max_connections_per_destination);
  d.max_connections = t.u32("max_connections", 1, 100000, d.max_connections);
  d.max_messages_per_connection = t.u32("max_messages_per_connection", 1, 100000, d.max_messages_per_connection);
  d.connection_idle = t.seconds("connection_idle", 0, 3600, d.connection_idle);
  d.retry_min = t.seconds("retry_min", 1, kDay, d.retry_min);
  d.retry_max = t.seconds("retry_max", 1, 7 * kDay, d.retry_max);
  d.lifetime = t.seconds("lifetime", 1, 60 * kDay, d.lifetime);  // 1 s: tests of expiry
  d.delay_notice = t.seconds("delay_notice", 0, 60 * kDay, d.delay_notice);
  if (d.retry_max < d.retry_min) t.problem("retry_max", "must be at least retry_min");
  read_smarthost(t, problems, base_dir, d.smarthost);
  if (auto v = t.boolean("dane")) d.dane = *v;
  if (auto v = t.boolean("mta_sts")) d.mta_sts = *v;
  if (auto v = t.string("tls_ca_file"); v && !v->empty()) d.tls_ca_file = resolve_path(base_dir, *v);
  d.mta_sts_port = uint16_t(t.u32("mta_sts_port", 1, 65535, d.mta_sts_port));
  d.mta_sts_timeout = t.seconds("mta_sts_timeout", 1, 600, d.mta_sts_timeout);
  t.finish();
}

}  // namespace

namespace {

// A listener that parsed cleanly, with the lines needed for cross-listener checks.
struct ParsedListener {
  Listener listener;
  Endpoint endpoint;
  std::string path;
  uint32_t name_line = 0;
  uint32_t port_line = 0;
  uint32_t tls_line = 0;
};

void read_listeners(TableReader& root, Problems& problems, Config& cfg) {
  std::vector<ParsedListener> parsed;
  size_t count = 0;
  const bool present = root.node("listener") != nullptr;
  const toml::array* arr = root.array("listener", "an array of tables ([[listener]])");
  if (arr != nullptr) {
    count = arr->size();
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& n = *arr->get(i);
      const std::string path = "listener[" + std::to_string(i) + "]";
      const toml::table* lt = n.as_table();
      if (lt == nullptr) {
        problems.add(n, path, "expected a table, got " + std::string(type_name(n)));
        continue;
      }
      const size_t before = problems.size();
      TableReader t(problems, *lt, path);
      for (auto key : {"name", "protocol", "address", "port"}) t.require(key);
      ParsedListener p;
      p.path = path;
      auto name = t.string("name");
      if (name && (name->empty() || !std::all_of(name->begin(), name->end(), [](char c) {
                     return c > ' ' && c < 0x7f;
                   }))) {
        t.problem("name", "must be non-empty printable ASCII without spaces");
      }
      // Same order as enum Proto.
      auto protocol = t.one_of("protocol", {"smtp", "submission", "lmtp", "imap", "pop3", "admin"});
      auto address = t.string("address");
      std::optional<Endpoint> ip;
      if (address) {
        ip = parse_ip(*address);
        if (!ip) t.problem("address", "expected an IP address literal such as 127.0.0.1, ::1, 0.0.0.0 or ::");
      }
      auto port = t.integer("port", 1, 65535);
      auto tls = t.one_of("tls", {"none", "starttls", "implicit"});
      auto mechanisms = t.strings("sasl_mechanisms");
      if (mechanisms) {
        for (auto& m : *mechanisms) {
          m = ascii::upper(m);
          // The mechanisms src/auth/sasl.cpp implements (config cannot depend on auth/).
          if (m != "SCRAM-SHA-256-PLUS" && m != "SCRAM-SHA-256" && m != "PLAIN" && m != "LOGIN") {
            t.problem("sasl_mechanisms", "unknown mechanism " + m +
                                             " (SCRAM-SHA-256-PLUS, SCRAM-SHA-256, PLAIN and LOGIN exist)");
          }
        }
        if (mechanisms->empty()) t.problem("sasl_mechanisms", "must name at least one mechanism");
        if (protocol && Proto(*protocol) != Proto::kSubmission && Proto(*protocol) != Proto::kImap &&
            Proto(*protocol) != Proto::kPop3) {
          t.problem("sasl_mechanisms", "only submission, imap and pop3 listeners authenticate");
        }
      }
      t.finish();
      if (problems.size() != before || !name || !protocol || !ip || !port) continue;

      p.listener.name = *name;
      p.listener.protocol = Proto(*protocol);
      p.listener.address = *address;
      p.listener.port = uint16_t(*port);
      p.listener.tls = tls ? TlsMode(*tls) : TlsMode::kNone;
      if (mechanisms) {
        p.listener.sasl_mechanisms = std::move(*mechanisms);
      } else if (p.listener.protocol == Proto::kSubmission) {
        // Without SCRAM-SHA-256-PLUS by default: GNU SASL clients (neomutt in Debian 12) pick it
        // whenever it is offered and then fail on their own, because the program gives the library
        // no channel binding; they never try the next mechanism [issue 28].
        p.listener.sasl_mechanisms = {"SCRAM-SHA-256", "PLAIN", "LOGIN"};
      }
      p.endpoint = *ip;
      p.endpoint.port = p.listener.port;
      p.name_line = t.line_of("name");
      p.port_line = t.line_of("port");
      p.tls_line = t.line_of("tls");
      parsed.push_back(std::move(p));
    }
  }
  if (count == 0 && (arr != nullptr || !present)) {
    problems.add(arr != nullptr ? arr->source().begin.line : 1, "listener",
                 "at least one [[listener]] is required");
  }

  bool ok = true;
  for (size_t i = 0; i < parsed.size(); ++i) {
    const ParsedListener& p = parsed[i];
    const Listener& l = p.listener;
    if (l.protocol == Proto::kAdmin && l.tls != TlsMode::kNone) {
      problems.add(p.tls_line, p.path + ".tls", "the admin listener must use tls = \"none\"");
      ok = false;
    }
    if (l.tls != TlsMode::kNone && cfg.tls.certificates.empty()) {
      problems.add(p.tls_line, p.path + ".tls",
                   std::string(tls_mode_name(l.tls)) + " needs at least one [[tls.certificates]] entry");
      ok = false;
    }
    for (size_t j = 0; j < i; ++j) {
      const ParsedListener& q = parsed[j];
      if (q.listener.name == l.name) {
        problems.add(p.name_line, p.path + ".name",
                     "duplicate listener name \"" + l.name + "\" (also " + q.path + ")");
        ok = false;
      }
      const Endpoint& a = p.endpoint;
      const Endpoint& b = q.endpoint;
      if (a.family != b.family || a.port != b.port) continue;
      if (a.bytes == b.bytes) {
        problems.add(p.port_line, p.path + ".port",
                     l.address + " port " + std::to_string(l.port) + " is already used by " + q.path + " (" +
                         q.listener.name + ")");
        ok = false;
      } else if (a.is_wildcard() || b.is_wildcard()) {
        problems.add(p.port_line, p.path + ".port",
                     l.address + " port " + std::to_string(l.port) + " overlaps " + q.path + " (" +
                         q.listener.name + ") on " + q.listener.address);
        ok = false;
      }
    }
  }
  if (ok) {
    for (auto& p : parsed) cfg.listeners.push_back(std::move(p.listener));
  }
}

Result<std::shared_ptr<const Config>> parse_text(std::string_view text, const std::string& display_name,
                                                 const fs::path& file, const fs::path& base_dir_in) {
  const fs::path base_dir = fs::absolute(base_dir_in).lexically_normal();
  toml::table root;
  try {
    root = toml::parse(text, display_name);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::kInvalid, display_name + ":" + std::to_string(std::max<uint32_t>(1, e.source().begin.line)) +
                                          ": TOML syntax error: " + std::string(e.description()));
  }

  auto cfg = std::make_shared<Config>();
  cfg->file = file;
  Problems problems(display_name);
  TableReader t(problems, root, "");

  t.require("hostname");
  if (auto v = t.string("hostname")) {
    if (!is_hostname(*v)) t.problem("hostname", "expected a host name such as mail.example.com");
    cfg->hostname = *v;
  }
  std::string data_dir = "data";
  if (auto v = t.string("data_dir")) {
    if (v->empty()) t.problem("data_dir", "must not be empty");
    data_dir = *v;
  }
  cfg->data_dir = resolve_path(base_dir, data_dir);
  if (auto v = t.string("run_as_user")) cfg->run_as_user = *v;
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  if (auto v = t.one_of("log_level", {kLevels[0], kLevels[1], kLevels[2], kLevels[3], kLevels[4], kLevels[5]})) {
    cfg->log_level = std::string(kLevels[*v]);
  }
  read_tls(t, problems, base_dir, cfg->tls);
  read_limits(t, problems, cfg->limits);
  read_timeouts(t, problems, cfg->timeouts);
  read_auth(t, problems, cfg->auth);
  read_workers(t, problems, cfg->workers);
  read_pop3(t, problems, cfg->pop3);
  read_smtp(t, problems, cfg->smtp);
  read_imap(t, problems, cfg->imap);
  read_store(t, problems, cfg->store);
  read_msgauth(t, problems, cfg->msgauth);
  read_listeners(t, problems, *cfg);
  read_dns(t, problems, base_dir, cfg->dns);
  read_delivery(t, problems, base_dir, cfg->delivery);
  if (cfg->delivery.hostname.empty()) cfg->delivery.hostname = cfg->hostname;
  if (cfg->msgauth.authserv_id.empty()) cfg->msgauth.authserv_id = cfg->hostname;
  if (cfg->msgauth.report_org_name.empty()) cfg->msgauth.report_org_name = cfg->hostname;
  if (cfg->msgauth.report_address.empty()) cfg->msgauth.report_address = "noreply-dmarc@" + cfg->hostname;
  t.finish();

  if (!problems.empty()) return make_error(Errc::kInvalid, problems.joined());
  return std::shared_ptr<const Config>(std::move(cfg));
}

// A TOML basic string.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<std::shared_ptr<const Config>> load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return make_error(Errc::kNotFound, "cannot read " + file.string() + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(Errc::kNotFound, "cannot read " + file.string());
  const fs::path absolute = fs::absolute(file).lexically_normal();
  return parse_text(text.str(), file.string(), absolute, absolute.parent_path());
}

Result<std::shared_ptr<const Config>> parse(std::string_view text, std::string_view name,
                                            const std::filesystem::path& base_dir) {
  const fs::path dir = fs::absolute(base_dir).lexically_normal();
  return parse_text(text, std::string(name), dir / fs::path(name).filename(), dir);
}

std::string render_initial(const InitOptions& options) {
  const bool dev = options.dev;
  const int base = dev ? options.port_base : 0;
  const std::string pub = dev ? "127.0.0.1" : "0.0.0.0";
  struct Row {
    const char* name;
    const char* protocol;
    const char* tls;
    int port;
    bool loopback;
    const char* comment;
  };
  const Row rows[] = {
      {"mx", "smtp", "starttls", 25, false, "Incoming mail from other servers [RFC 5321]."},
      {"submission", "submission", "starttls", 587, false, "Mail from your users' clients [RFC 6409]."},
      {"submissions", "submission", "implicit", 465, false, "Submission over implicit TLS [RFC 8314 §3.3]."},
      {"imap", "imap", "starttls", 143, false, "IMAP [RFC 9051]."},
      {"imaps", "imap", "implicit", 993, false, "IMAP over implicit TLS [RFC 8314]."},
      {"pop3", "pop3", "starttls", 110, false, "POP3 [RFC 1939], STLS [RFC 2595]."},
      {"pop3s", "pop3", "implicit", 995, false, "POP3 over implicit TLS [RFC 8314]."},
      {"lmtp", "lmtp", "none", 24, true, "Local delivery from other programs [RFC 2033]; keep it on loopback."},
      {"admin", "admin", "none", dev ? 80 : 8080, true, "Admin HTTP: /metrics and /health; keep it on loopback."},
  };

  std::string s;
  s += "# Posthorn configuration (see docs/configuration.md for every key).\n";
  s += "# Relative paths are relative to the folder of this file. SIGHUP reloads the certificates.\n";
  if (dev) s += "# Development setup: every listener is on 127.0.0.1.\n";
  s += "\n";
  s += "# This server's name: used in greetings, Received headers and the default certificate.\n";
  s += "hostname = " + quote(options.hostname) + "\n";
  s += "# Mail, indexes and the directory database (data/directory.db).\n";
  s += "data_dir = \"data\"\n";
  s += "# When started as root, switch to this user after opening the ports (empty = stay).\n";
  s += "# run_as_user = \"posthorn\"\n";
  s += "# trace | debug | info | warn | error | off\n";
  s += "log_level = \"info\"\n";
  s += "\n";
  s += "[tls]\n";
  s += "# \"1.2\" or \"1.3\"\n";
  s += "min_version = \"1.2\"\n";
  s += "# ciphers = \"\"        # TLS 1.2 cipher list (OpenSSL syntax); empty = modern default\n";
  s += "# ciphersuites = \"\"   # TLS 1.3 suites; empty = OpenSSL default\n";
  s += "\n";
  s += "# The first certificate is the default; add more [[tls.certificates]] for other names (SNI).\n";
  s += "[[tls.certificates]]\n";
  s += "cert = \"tls/cert.pem\"   # PEM chain, leaf first\n";
  s += "key = \"tls/key.pem\"\n";
  s += "\n";
  s += "# Listeners. protocol: smtp | submission | lmtp | imap | pop3 | admin;\n";
  s += "# address: an IP literal (\"0.0.0.0\", \"::\", \"127.0.0.1\", \"::1\"); tls: none | starttls | implicit.\n";
  for (const Row& r : rows) {
    s += "\n# " + std::string(r.comment) + "\n";
    s += "[[listener]]\n";
    s += "name = \"" + std::string(r.name) + "\"\n";
    s += "protocol = \"" + std::string(r.protocol) + "\"\n";
    s += "address = \"" + (r.loopback ? std::string("127.0.0.1") : pub) + "\"\n";
    s += "port = " + std::to_string(base + r.port) + "\n";
    s += "tls = \"" + std::string(r.tls) + "\"\n";
    if (std::string_view(r.protocol) == "submission") {
      s += "# sasl_mechanisms = [\"SCRAM-SHA-256\", \"PLAIN\", \"LOGIN\"]   # add \"SCRAM-SHA-256-PLUS\" if no GNU SASL client\n";
    }
  }
  s += "\n";
  s += "# The settings below show their defaults; remove the \"# \" to change one.\n";
  s += "\n";
  if (dev) {
    s += "[auth]\n";
    s += "# Development only: allow PLAIN/LOGIN/USER without TLS from 127.0.0.1 and ::1.\n";
    s += "allow_plaintext_on_loopback = true\n";
  } else {
    s += "# [auth]\n";
    s += "# allow_plaintext_on_loopback = false\n";
  }
  s += "# cache_ttl = 300                 # seconds a verified password is remembered; 0 = off\n";
  s += "# scram_iterations = 10000        # PBKDF2 rounds for new SCRAM-SHA-256 secrets (>= 4096)\n";
  s += "# throttle_free_failures = 3      # failed logins (per IP, account, or both) before any delay\n";
  s += "# throttle_base_delay_ms = 500    # first delay; doubles with each further failure\n";
  s += "# throttle_max_delay_ms = 8000\n";
  s += "# throttle_block_after = 10       # failures for one account from one IP -> that pair blocked\n";
  s += "# throttle_ip_block_after = 50    # failures from one IP, any accounts -> the IP blocked\n";
  s += "# throttle_window = 900           # seconds\n";
  s += "# throttle_block_duration = 900   # seconds\n";
  s += "\n";
  s += "# [auth.argon2]                   # cost of new password hashes (Argon2id)\n";
  s += "# memory_kib = 19456\n";
  s += "# iterations = 2\n";
  s += "# parallelism = 1\n";
  s += "\n";
  s += "# [limits]\n";
  s += "# max_connections = 10000         # all listeners together\n";
  s += "# max_connections_per_ip = 100\n";
  s += "# max_line_length = 8192          # bytes of one command line\n";
  s += "# max_auth_line_length = 16384    # bytes of one SASL response line\n";
  s += "# max_commands_before_auth = 50\n";
  s += "# message_memory = 262144         # bytes of a message in RAM while received; the rest spooled to disk\n";
  s += "# message_memory_total = 134217728 # bytes of messages in RAM, all connections together\n";
  s += "\n";
  s += "# [timeouts]                      # seconds\n";
  s += "# smtp = 300\n";
  s += "# imap = 1800\n";
  s += "# imap_preauth = 60\n";
  s += "# pop3 = 600\n";
  s += "# tls_handshake = 30\n";
  s += "# shutdown_grace = 10\n";
  s += "# min_data_rate = 500            # bytes/s: DATA, BDAT and IMAP literals, after the timeout as grace\n";
  s += "\n";
  if (dev) {
    s += "[smtp]\n";
    s += "# Development: no greeting delay (the MX default is 1000 ms; early talkers get 554).\n";
    s += "greeting_delay_ms = 0\n";
  } else {
    s += "# [smtp]\n";
    s += "# greeting_delay_ms = 1000        # MX listener: clients that talk before the banner get 554\n";
  }
  s += "# max_message_size = 52428800     # bytes (SIZE, DATA, BDAT)\n";
  s += "# max_recipients = 100            # per message\n";
  s += "# max_errors = 10                 # error replies per session, then 421\n";
  s += "\n";
  if (dev) {
    s += "[msgauth]                         # SPF, DKIM, DMARC (inbound on the MX listener); DKIM signing\n";
    s += "# Development: no inbound checks (they need the real DNS); the default is true.\n";
    s += "verify = false\n";
  } else {
    s += "# [msgauth]                       # SPF, DKIM, DMARC (inbound on the MX listener); DKIM signing\n";
    s += "# verify = true                   # check inbound mail, add Authentication-Results\n";
  }
  s += "# sign = true                     # DKIM-sign submitted mail (keys: posthorn dkim generate DOMAIN)\n";
  s += "# dmarc_reject = \"reject\"         # DMARC fail under p=reject: reject | quarantine | none\n";
  s += "# dmarc_quarantine = \"quarantine\" # DMARC fail under p=quarantine\n";
  s += "# spf_fail = \"none\"               # SPF -all failure not decided by DMARC\n";
  s += "# junk_mailbox = \"Junk\"           # where quarantine files a message\n";
  s += "# dmarc_reports = true            # send DMARC aggregate reports (rua=) daily\n";
  s += "# report_org_name = \"\"            # reports' org_name; empty = hostname\n";
  s += "# report_address = \"\"             # reports' sender; empty = noreply-dmarc@hostname\n";
  s += "\n";
  s += "# [workers]\n";
  s += "# io_threads = 0                  # 0 = one per core\n";
  s += "# blocking_threads = 0            # 0 = two per core, at least 4\n";
  s += "\n";
  s += "# [pop3]\n";
  s += "# policy = \"delete\"               # delete | keep | keep:DAYS; per user: posthorn user pop3\n";
  s += "# uidl_format = \"posthorn\"        # posthorn | dovecot (%08Xu%08Xv, after a migration)\n";
  return s;
}

std::optional<Pop3Policy> parse_pop3_policy(std::string_view text) {
  if (text == "delete") return Pop3Policy{Pop3Policy::Kind::kDelete, 0};
  if (text == "keep") return Pop3Policy{Pop3Policy::Kind::kKeep, 0};
  if (!text.starts_with("keep:")) return std::nullopt;
  const std::string_view digits = text.substr(5);
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  uint32_t days = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    days = days * 10 + uint32_t(c - '0');
  }
  if (days < 1 || days > 36500) return std::nullopt;
  return Pop3Policy{Pop3Policy::Kind::kKeep, days};
}

std::string pop3_policy_name(const Pop3Policy& policy) {
  if (policy.kind == Pop3Policy::Kind::kDelete) return "delete";
  if (policy.keep_days == 0) return "keep";
  return "keep:" + std::to_string(policy.keep_days);
}

}  // namespace posthorn::config
