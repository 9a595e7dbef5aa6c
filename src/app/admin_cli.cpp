// posthorn domain|user|alias|queue: administration of the directory and the outbound queue
// (DESIGN.md §7). The queue commands open <data_dir>/queue.db and the spool beside it. Each command loads
// the config, opens <data_dir>/directory.db (safe while `serve` runs: the directory's writes are
// transactions), makes one change or prints one list, and exits. Runs once in the main thread.
// Errors go to stderr as "posthorn user add: <what happened>; <what to do>" with exit status 1.
#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "app/admin_context.hpp"
#include "app/commands.hpp"
#include "auth/directory.hpp"
#include "auth/password.hpp"
#include "auth/scram.hpp"
#include "base/ascii.hpp"
#include "base/random.hpp"
#include "base/run_sync.hpp"
#include "base/result.hpp"
#include "config/config.hpp"
#include "base/blocking_pool.hpp"
#include "store/sqlite/sqlite_directory.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "store/sqlite/sqlite_queue.hpp"

namespace posthorn::app {

namespace {

constexpr size_t kGeneratedPasswordLength = 20;
constexpr size_t kScramSaltBytes = 16;
// The pool of a command-line run: its directory and queue calls, one at a time.
constexpr size_t kAdminPoolThreads = 1;

// ---- Output helpers ----

// "[\n  item,\n  item\n]\n", or "[]\n".
void print_json_array(const std::vector<std::string>& items) {
  if (items.empty()) {
    std::printf("[]\n");
    return;
  }
  std::string out = "[\n";
  for (size_t i = 0; i < items.size(); ++i) {
    out += "  " + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
  }
  out += "]\n";
  std::fputs(out.c_str(), stdout);
}

std::string utc_time(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// The shortest exact form parse_quota reads back: "unlimited", "2G", "50M", "1536K", "1000".
std::string format_quota(uint64_t bytes) {
  if (bytes == 0) return "unlimited";
  if (bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "G";
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "M";
  if (bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "K";
  return std::to_string(bytes);
}

// ---- Input helpers ----

// "123" bytes, or with a K, M or G suffix (1024-based, either case); 0 means unlimited.
Result<uint64_t> parse_quota(std::string_view text) {
  const auto bad = [&] {
    return make_error(Errc::kInvalid, "--quota \"" + std::string(text) +
                                          "\" is not a size; use bytes or a number with K, M or G (e.g. 50M); "
                                          "0 means unlimited");
  };
  if (text.empty()) return bad();
  uint64_t unit = 1;
  std::string_view digits = text;
  switch (ascii::to_upper(text.back())) {
    case 'K': unit = kKiB; break;
    case 'M': unit = kMiB; break;
    case 'G': unit = kGiB; break;
    default: break;
  }
  if (unit != 1) digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 19) return bad();
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (n > kMax / unit) {
    return make_error(Errc::kInvalid, "--quota \"" + std::string(text) + "\" is too large");
  }
  return n * unit;
}

// The first line of stdin without its line ending.
Result<std::string> read_password_stdin() {
  std::string line;
  if (!std::getline(std::cin, line) && line.empty()) {
    return make_error(Errc::kInvalid, "no password on stdin (--password-stdin reads its first line)");
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.empty()) return make_error(Errc::kInvalid, "the password on stdin is empty");
  return line;
}

struct Credentials {
  std::string password_hash;  // {ARGON2ID}...
  std::string scram;          // SCRAM-SHA-256$...
};

Result<Credentials> make_credentials(std::string_view password, const config::Auth& auth) {
  auto hash = auth::hash_password(password, auth.argon2);
  if (!hash) return hash.error();
  const auto scram =
      auth::make_scram_credentials(password, random_bytes(kScramSaltBytes), auth.scram_iterations).serialize();
  return Credentials{std::move(*hash), scram};
}

// ---- The open directory ----

std::string command_name(std::string_view noun, const AdminArgs& args) {
  return "posthorn " + std::string(noun) + (args.verb.empty() ? "" : " " + args.verb);
}

std::optional<Admin> open_admin_for(std::string_view noun, const AdminArgs& args) {
  return open_admin(command_name(noun, args), args.config_file);
}

std::string domain_hint(std::string_view domain) {
  return "domain " + std::string(domain) + " is not a local domain; add it with posthorn domain add " +
         std::string(domain);
}

// ---- domain ----

int domain_add(Admin& a, const std::string& name) {
  if (!auth::is_valid_domain(name)) return a.fail("\"" + name + "\" is not a domain name");
  const std::string domain = ascii::lower(name);
  auto r = run_sync(a.dir->add_domain(domain));
  if (!r && r.error().code == Errc::kExists) return a.fail("domain " + domain + " already exists");
  if (!r) return a.fail(r.error());
  std::printf("added domain %s\n", domain.c_str());
  return 0;
}

int domain_del(Admin& a, const std::string& name) {
  const std::string domain = ascii::lower(name);
  auto r = run_sync(a.dir->delete_domain(domain));
  if (!r && r.error().code == Errc::kNotFound) return a.fail("domain " + domain + " is not a local domain");
  if (!r && r.error().code == Errc::kConflict) {
    return a.fail("domain " + domain + " still has users or aliases; delete them first (see posthorn user list " +
                  "and posthorn alias list)");
  }
  if (!r) return a.fail(r.error());
  std::printf("deleted domain %s\n", domain.c_str());
  return 0;
}

int domain_list(Admin& a, bool json) {
  auto domains = run_sync(a.dir->list_domains());
  if (!domains) return a.fail(domains.error());
  if (json) {
    std::vector<std::string> items;
    for (const auto& d : *domains) items.push_back("{\"name\": " + json_string(d) + "}");
    print_json_array(items);
  } else if (domains->empty()) {
    std::fprintf(stderr, "no domains; add one with posthorn domain add NAME\n");
  } else {
    for (const auto& d : *domains) std::printf("%s\n", d.c_str());
  }
  return 0;
}

// ---- user ----

// The address split and checked, or the message to print.
Result<auth::AddressParts> parse_address(std::string_view address) {
  auto parts = auth::split_address(address);
  if (!parts) {
    // Not "\"" + std::string(...): g++ 12 at -O3 warns falsely on it (GCC PR 105329).
    return make_error(Errc::kInvalid, fmt::format("\"{}\" is not a mail address (expected user@domain)", address));
  }
  return *parts;
}

// The password from stdin, or a generated one (generated = true: the caller prints it).
struct Password {
  std::string text;
  bool generated = false;
};
Result<Password> obtain_password(const AdminArgs& args) {
  if (args.password_stdin) {
    auto pw = read_password_stdin();
    if (!pw) return pw.error();
    return Password{std::move(*pw), false};
  }
  return Password{random_token(kGeneratedPasswordLength), true};
}

int user_add(Admin& a, const AdminArgs& args) {
  auto parts = parse_address(args.name);
  if (!parts) return a.fail(parts.error().message);
  const std::string address = parts->local + "@" + parts->domain;
  uint64_t quota = 0;
  if (args.quota) {
    auto q = parse_quota(*args.quota);
    if (!q) return a.fail(q.error().message);
    quota = *q;
  }
  // Check before the (deliberately slow) hashing; add_account checks again atomically.
  auto local = run_sync(a.dir->is_local_domain(parts->domain));
  if (!local) return a.fail(local.error());
  if (!*local) return a.fail(domain_hint(parts->domain));
  if (run_sync(a.dir->find_account(address))) return a.fail("user " + address + " already exists");

  auto password = obtain_password(args);
  if (!password) return a.fail(password.error().message);
  auto creds = make_credentials(password->text, a.cfg->auth);
  if (!creds) return a.fail("cannot hash the password: " + creds.error().message);

  auto added = run_sync(a.dir->add_account(address, creds->password_hash, creds->scram, quota));
  if (!added) {
    const Error& e = added.error();
    if (e.code == Errc::kExists) {
      if (run_sync(a.dir->find_account(address))) return a.fail("user " + address + " already exists");
      return a.fail(address + " is already an alias; delete it first with posthorn alias del " + address);
    }
    if (e.code == Errc::kNotFound) return a.fail(domain_hint(parts->domain));
    return a.fail(e);
  }
  std::printf("added user %s (quota %s)\n", added->address.c_str(), format_quota(quota).c_str());
  if (password->generated) std::printf("password: %s\n", password->text.c_str());
  return 0;
}

int user_del(Admin& a, const AdminArgs& args) {
  auto r = run_sync(a.dir->delete_account(args.name));
  if (!r && r.error().code == Errc::kNotFound) return a.fail("no user " + args.name);
  if (!r) return a.fail(r.error());
  std::printf("deleted user %s\n", args.name.c_str());
  return 0;
}

int user_passwd(Admin& a, const AdminArgs& args) {
  std::optional<uint64_t> quota;
  if (args.quota) {
    auto q = parse_quota(*args.quota);
    if (!q) return a.fail(q.error().message);
    quota = *q;
  }
  auto account = run_sync(a.dir->find_account(args.name));
  if (!account && account.error().code == Errc::kNotFound) {
    return a.fail("no user " + args.name + "; add it with posthorn user add " + args.name);
  }
  if (!account) return a.fail(account.error());

  auto password = obtain_password(args);
  if (!password) return a.fail(password.error().message);
  auto creds = make_credentials(password->text, a.cfg->auth);
  if (!creds) return a.fail("cannot hash the password: " + creds.error().message);
  if (auto r = run_sync(a.dir->set_password(account->address, creds->password_hash, creds->scram)); !r) {
    if (r.error().code == Errc::kNotFound) return a.fail("no user " + account->address);
    return a.fail(r.error());
  }
  std::printf("changed the password of %s\n", account->address.c_str());
  if (password->generated) std::printf("password: %s\n", password->text.c_str());
  if (quota) {
    if (auto r = run_sync(a.dir->set_quota(account->address, *quota)); !r) return a.fail(r.error());
    std::printf("set the quota of %s to %s\n", account->address.c_str(), format_quota(*quota).c_str());
  }
  return 0;
}

boost::asio::awaitable<Result<void>> set_pop3_policy(store::MailStore* store, auth::Account account,
                                                     std::string policy) {
  auto open = store->account(account.id, store::Limits{account.quota_bytes, 0});
  auto opened = co_await std::move(open);
  if (!opened) co_return opened.error();
  auto set = (*opened)->set_pop3_policy(std::move(policy));
  auto done = co_await std::move(set);
  co_return done;
}

// posthorn user pop3 ADDRESS delete|keep|keep:DAYS|default: the account's own POP3 policy.
int user_pop3(Admin& a, const AdminArgs& args) {
  std::string policy;
  if (args.policy != "default") {
    auto parsed = config::parse_pop3_policy(args.policy);
    if (!parsed) return a.fail("\"" + args.policy + "\" is not a POP3 policy; use delete, keep, keep:DAYS or default");
    policy = config::pop3_policy_name(*parsed);
  }
  auto account = run_sync(a.dir->find_account(args.name));
  if (!account && account.error().code == Errc::kNotFound) {
    return a.fail("no user " + args.name + "; add it with posthorn user add " + args.name);
  }
  if (!account) return a.fail(account.error());
  const auth::Account who = *account;
  auto r = run_on_store(a, [who, policy](store::MailStore* store) { return set_pop3_policy(store, who, policy); });
  if (!r) return a.fail(r.error().message);
  if (policy.empty()) {
    std::printf("%s now follows the server's POP3 policy (%s)\n", who.address.c_str(),
                config::pop3_policy_name(a.cfg->pop3.policy).c_str());
  } else {
    std::printf("set the POP3 policy of %s to %s\n", who.address.c_str(), policy.c_str());
  }
  return 0;
}

int user_list(Admin& a, bool json) {
  auto accounts = run_sync(a.dir->list_accounts());
  if (!accounts) return a.fail(accounts.error());
  if (json) {
    std::vector<std::string> items;
    for (const auto& acc : *accounts) {
      items.push_back("{\"address\": " + json_string(acc.address) +
                      ", \"quota_bytes\": " + std::to_string(acc.quota_bytes) +
                      ", \"created_at\": " + std::to_string(acc.created_at) + "}");
    }
    print_json_array(items);
    return 0;
  }
  if (accounts->empty()) {
    std::fprintf(stderr, "no users; add one with posthorn user add ADDRESS\n");
    return 0;
  }
  size_t width = std::string_view("ADDRESS").size();
  for (const auto& acc : *accounts) width = std::max(width, acc.address.size());
  const int w = static_cast<int>(width);
  std::printf("%-*s  %-10s  %s\n", w, "ADDRESS", "QUOTA", "CREATED");
  for (const auto& acc : *accounts) {
    std::printf("%-*s  %-10s  %s\n", w, acc.address.c_str(), format_quota(acc.quota_bytes).c_str(),
                utc_time(acc.created_at).c_str());
  }
  return 0;
}

// ---- alias ----

// "@domain" (catch-all) or "local@domain": the domain part, or nullopt when malformed.
std::optional<std::string> alias_domain(std::string_view address) {
  if (address.starts_with('@')) {
    const std::string_view domain = address.substr(1);
    if (!auth::is_valid_domain(domain)) return std::nullopt;
    return ascii::lower(domain);
  }
  auto parts = auth::split_address(address);
  if (!parts) return std::nullopt;
  return parts->domain;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

int alias_add(Admin& a, const AdminArgs& args) {
  auto domain = alias_domain(args.name);
  if (!domain) {
    return a.fail("\"" + args.name + "\" is not an alias address (expected user@domain, or @domain for a catch-all)");
  }
  if (args.targets.empty()) return a.fail("no target address; give one or more, separated by commas");
  for (const auto& t : args.targets) {
    if (!auth::split_address(t)) return a.fail("target \"" + t + "\" is not a mail address (expected user@domain)");
  }
  auto r = run_sync(a.dir->add_alias(args.name, args.targets));
  if (!r) {
    const Error& e = r.error();
    if (e.code == Errc::kExists) {
      if (run_sync(a.dir->find_account(args.name))) return a.fail(args.name + " is a user; an alias cannot have the same address");
      return a.fail("alias " + args.name + " already exists; delete it first with posthorn alias del " + args.name);
    }
    if (e.code == Errc::kNotFound) return a.fail(domain_hint(*domain));
    return a.fail(e);
  }
  std::printf("added alias %s -> %s\n", args.name.c_str(), join(args.targets, ", ").c_str());
  // A local target that matches nothing is silently dropped at delivery time; say so now.
  for (const auto& t : args.targets) {
    auto resolved = run_sync(a.dir->resolve(t));
    if (!resolved && resolved.error().code == Errc::kNotFound) {
      std::fprintf(stderr, "warning: %s is not a user or alias yet; mail for it through this alias is dropped\n",
                   t.c_str());
    }
  }
  return 0;
}

int alias_del(Admin& a, const AdminArgs& args) {
  auto r = run_sync(a.dir->delete_alias(args.name));
  if (!r && r.error().code == Errc::kNotFound) return a.fail("no alias " + args.name);
  if (!r) return a.fail(r.error());
  std::printf("deleted alias %s\n", args.name.c_str());
  return 0;
}

int alias_list(Admin& a, bool json) {
  auto aliases = run_sync(a.dir->list_aliases());
  if (!aliases) return a.fail(aliases.error());
  if (json) {
    std::vector<std::string> items;
    for (const auto& al : *aliases) {
      std::vector<std::string> targets;
      for (const auto& t : al.targets) targets.push_back(json_string(t));
      items.push_back("{\"address\": " + json_string(al.address) + ", \"targets\": [" + join(targets, ", ") + "]}");
    }
    print_json_array(items);
    return 0;
  }
  if (aliases->empty()) {
    std::fprintf(stderr, "no aliases; add one with posthorn alias add ADDRESS TARGET[,TARGET]\n");
    return 0;
  }
  size_t width = 0;
  for (const auto& al : *aliases) width = std::max(width, al.address.size());
  for (const auto& al : *aliases) {
    std::printf("%-*s -> %s\n", static_cast<int>(width), al.address.c_str(), join(al.targets, ", ").c_str());
  }
  return 0;
}

// ---- queue ----

std::string queue_entry_json(const queue::Entry& e) {
  std::vector<std::string> rcpts;
  for (const auto& r : e.recipients) {
    rcpts.push_back(fmt::format(
        "{{\"address\": {}, \"state\": \"{}\", \"attempts\": {}, \"last_error\": {}, \"notify\": {}, \"orcpt\": {}}}",
        json_string(r.address), queue::to_string(r.state), r.attempts, json_string(r.last_error), r.notify,
        json_string(r.orcpt)));
  }
  return fmt::format(
      "{{\"id\": \"{}\", \"sender\": {}, \"size\": {}, \"created\": \"{}\", \"next_attempt\": \"{}\", "
      "\"is_bounce\": {}, \"bounce_needed\": {}, \"ret\": {}, \"envid\": {}, \"recipients\": [{}]}}",
      e.id, json_string(e.sender), e.size, utc_time(e.created), utc_time(e.next_attempt), e.is_bounce,
      e.bounce_needed, json_string(e.ret), json_string(e.envid), join(rcpts, ", "));
}

int queue_list(Admin& a, queue::Queue& q, bool json) {
  auto entries = run_sync(q.list());
  if (!entries) return a.fail(entries.error());
  if (json) {
    std::vector<std::string> items;
    for (const auto& e : *entries) items.push_back(queue_entry_json(e));
    print_json_array(items);
    return 0;
  }
  if (entries->empty()) {
    std::printf("the queue is empty\n");
    return 0;
  }
  for (const auto& e : *entries) {
    std::printf("%s  %8llu  %s  next %s  from <%s>%s%s\n", e.id.c_str(), static_cast<unsigned long long>(e.size),
                utc_time(e.created).c_str(), utc_time(e.next_attempt).c_str(), e.sender.c_str(),
                e.is_bounce ? "  bounce" : "", e.bounce_needed ? "  dsn-owed" : "");
    for (const auto& r : e.recipients) {
      std::printf("    %-9s %s  attempts=%u%s%s\n", std::string(queue::to_string(r.state)).c_str(), r.address.c_str(),
                  r.attempts, r.last_error.empty() ? "" : "  ", r.last_error.c_str());
    }
  }
  return 0;
}

int queue_retry(Admin& a, queue::Queue& q, const AdminArgs& args) {
  if (args.all == !args.name.empty()) return a.fail("give either a queue ID or --all; see posthorn queue list");
  const auto now = std::time(nullptr);
  auto changed = run_sync(args.all ? q.retry(std::nullopt, now) : q.retry(args.name, now));
  if (!changed && changed.error().code == Errc::kNotFound) {
    return a.fail("no queue entry " + args.name + "; see posthorn queue list");
  }
  if (!changed) return a.fail(changed.error());
  std::printf("%zu queue entr%s due now\n", *changed, *changed == 1 ? "y is" : "ies are");
  return 0;
}

int queue_delete(Admin& a, queue::Queue& q, const std::string& id) {
  auto r = run_sync(q.remove(id));
  if (!r && r.error().code == Errc::kNotFound) return a.fail("no queue entry " + id + "; see posthorn queue list");
  if (!r) return a.fail(r.error());
  std::printf("deleted queue entry %s\n", id.c_str());
  return 0;
}

int unknown_verb(std::string_view noun, const AdminArgs& args) {
  std::fprintf(stderr, "posthorn %s: unknown subcommand \"%s\"; see posthorn %s --help\n", std::string(noun).c_str(),
               args.verb.c_str(), std::string(noun).c_str());
  return 2;
}

}  // namespace

int Admin::fail(std::string_view message) const {
  std::fprintf(stderr, "%s: %s\n", command.c_str(), std::string(message).c_str());
  return 1;
}

int Admin::fail(const Error& e) const {
  if (e.code == Errc::kUnavailable) {
    return fail(e.message + " (" + Backends::where(*cfg) + "); try again");
  }
  return fail(e.message);
}

Result<void> run_on_store(const Admin& a, StoreJob job) {
  constexpr std::size_t kPoolThreads = 2;
  // Declared first so it is destroyed last: a pool thread may still drop the store's last reference
  // to a completion bound to this io_context after run() returned (the pool joins them first).
  boost::asio::io_context io;
  BlockingPool pool(kPoolThreads);
  auto backends = Backends::open(*a.cfg, pool, kStorePart);
  if (!backends) return backends.error();
  auto done = boost::asio::co_spawn(io, job(&(*backends)->store()), boost::asio::use_future);
  io.run();
  try {
    return done.get();
  } catch (const std::exception& e) {
    return make_error(Errc::kInternal, e.what());
  }
}

std::optional<Admin> open_admin(std::string command, const std::filesystem::path& config_file) {
  Admin a;
  a.command = std::move(command);
  auto cfg = config::load(config_file);
  if (!cfg) {
    a.fail(cfg.error().message);
    std::fprintf(stderr, "hint: run `posthorn init --dir DIR` to create a server, or pass --config FILE\n");
    return std::nullopt;
  }
  a.cfg = *cfg;
  a.pool = std::make_unique<BlockingPool>(kAdminPoolThreads);
  auto backends = Backends::open(*a.cfg, *a.pool, kDirectoryPart);
  if (!backends) {
    a.fail(backends.error().message);
    if (a.cfg->store.backend == config::StoreBackend::kSqlite) {
      std::fprintf(stderr, "hint: check that data_dir in %s exists and is writable by this user\n",
                   a.cfg->file.c_str());
    } else {
      std::fprintf(stderr, "hint: check [store] url in %s and that the database is up\n", a.cfg->file.c_str());
    }
    return std::nullopt;
  }
  a.backends = std::move(*backends);
  a.dir = &a.backends->directory();
  return a;
}

int cmd_domain(const AdminArgs& args) {
  if (args.verb != "add" && args.verb != "del" && args.verb != "list") return unknown_verb("domain", args);
  auto a = open_admin_for("domain", args);
  if (!a) return 1;
  if (args.verb == "add") return domain_add(*a, args.name);
  if (args.verb == "del") return domain_del(*a, args.name);
  return domain_list(*a, args.json);
}

int cmd_user(const AdminArgs& args) {
  if (args.verb != "add" && args.verb != "del" && args.verb != "passwd" && args.verb != "list" &&
      args.verb != "pop3") {
    return unknown_verb("user", args);
  }
  auto a = open_admin_for("user", args);
  if (!a) return 1;
  if (args.verb == "add") return user_add(*a, args);
  if (args.verb == "del") return user_del(*a, args);
  if (args.verb == "passwd") return user_passwd(*a, args);
  if (args.verb == "pop3") return user_pop3(*a, args);
  return user_list(*a, args.json);
}

int cmd_alias(const AdminArgs& args) {
  if (args.verb != "add" && args.verb != "del" && args.verb != "list") return unknown_verb("alias", args);
  auto a = open_admin_for("alias", args);
  if (!a) return 1;
  if (args.verb == "add") return alias_add(*a, args);
  if (args.verb == "del") return alias_del(*a, args);
  return alias_list(*a, args.json);
}

int cmd_queue(const AdminArgs& args) {
  if (args.verb != "list" && args.verb != "retry" && args.verb != "delete") return unknown_verb("queue", args);
  auto a = open_admin_for("queue", args);
  if (!a) return 1;
  auto q = Backends::open(*a->cfg, *a->pool, kQueuePart);
  if (!q) {
    a->fail(q.error().message);
    std::fprintf(stderr, "hint: check that data_dir in %s exists and is writable by this user\n", a->cfg->file.c_str());
    return 1;
  }
  queue::Queue& queue = (*q)->queue();
  if (args.verb == "list") return queue_list(*a, queue, args.json);
  if (args.verb == "retry") return queue_retry(*a, queue, args);
  return queue_delete(*a, queue, args.name);
}

}  // namespace posthorn::app
