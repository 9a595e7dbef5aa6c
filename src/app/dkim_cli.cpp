// posthorn dkim generate DOMAIN [--selector S] | dkim list (DESIGN.md §7): the DKIM signing keys of
// the DkimKeyStore that [store] names (app/backends: <data_dir>/dkim/<domain>/<selector>.pem, files
// 0600 in folders 0700; or the shared PostgreSQL database). generate makes an RSA-2048 key (selector
// S-rsa) and an Ed25519 key (S-ed25519) for a local domain and prints the DNS TXT records to publish.
// Runs once in the main thread. Errors go to stderr with exit status 1 (Admin::fail).
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "app/admin_context.hpp"
#include "app/commands.hpp"
#include "auth/directory.hpp"
#include "base/ascii.hpp"
#include "base/run_sync.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dkim_keys.hpp"

namespace posthorn::app {
namespace {

// "ph" and the year and month, e.g. "ph202611": a new selector per month keeps rotation simple.
std::string default_selector() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];  // room for any int year and month (g++ -O3 checks the bound)
  std::snprintf(buf, sizeof buf, "ph%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
  return buf;
}

// A selector is one DNS label of lower-case letters, digits and '-' (it also names a file, so no
// '/' or '.'), with room for the "-ed25519" suffix.
bool valid_selector(std::string_view s) {
  if (s.empty() || s.size() > 50 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// `record` as a zone-file TXT value: character-strings of at most 255 bytes [RFC 1035 §3.3.14]
// (DKIM keys of 2048 bits do not fit in one).
std::string quoted_strings(std::string_view record) {
  std::string out;
  for (std::size_t i = 0; i < record.size(); i += 255) {
    if (!out.empty()) out += ' ';
    out += '"' + std::string(record.substr(i, 255)) + '"';
  }
  return out;
}

// Where the keys went, for the message: the folder, or the database.
std::string where_keys(const config::Config& cfg) {
  if (cfg.store.backend == config::StoreBackend::kSqlite) return (cfg.data_dir / "dkim").string();
  return Backends::where(cfg);
}

std::string txt_line(const std::string& selector, const std::string& domain, const std::string& record) {
  return selector + "._domainkey." + domain + ". IN TXT " + quoted_strings(record);
}

int dkim_generate(Admin& a, const DkimArgs& args) {
  const std::string domain = ascii::lower(args.domain);
  if (!auth::is_valid_domain(domain)) return a.fail("\"" + args.domain + "\" is not a domain name");
  auto local = run_sync(a.dir->is_local_domain(domain));
  if (!local) return a.fail(local.error());
  if (!*local) {
    return a.fail("domain " + domain + " is not a local domain; add it with posthorn domain add " + domain);
  }
  const std::string base = args.selector.empty() ? default_selector() : ascii::lower(args.selector);
  if (!valid_selector(base)) {
    return a.fail("\"" + args.selector + "\" is not a usable selector; use letters, digits and '-' (at most 50)");
  }
  struct Planned {
    std::string selector;
    msgauth::DkimAlgorithm algorithm;
  };
  const std::vector<Planned> keys_planned = {{base + "-rsa", msgauth::DkimAlgorithm::kRsaSha256},
                                     {base + "-ed25519", msgauth::DkimAlgorithm::kEd25519Sha256}};
  auto keys = Backends::open(*a.cfg, *a.pool, kDkimKeysPart);
  if (!keys) return a.fail(keys.error().message);
  auto& store = (*keys)->dkim_keys();
  auto existing = run_sync(store.list());
  if (!existing) return a.fail(existing.error());
  for (const auto& k : keys_planned) {
    for (const auto& e : *existing) {
      if (e.domain == domain && e.selector == k.selector) {
        return a.fail("selector " + k.selector + " already exists for " + domain + "; choose another with --selector S");
      }
    }
  }
  std::vector<std::string> lines;
  for (const auto& k : keys_planned) {
    auto pem = msgauth::generate_dkim_key(k.algorithm);
    if (!pem) return a.fail(pem.error());
    auto record = msgauth::dkim_txt_record(*pem);
    if (!record) return a.fail(record.error());
    if (auto r = run_sync(store.add(msgauth::DkimKey{domain, k.selector, *pem})); !r) return a.fail(r.error());
    lines.push_back(txt_line(k.selector, domain, *record));
  }
  std::printf("created DKIM keys %s-rsa (RSA 2048) and %s-ed25519 (Ed25519) for %s in %s\n", base.c_str(),
              base.c_str(), domain.c_str(), where_keys(*a.cfg).c_str());
  std::printf("publish these DNS TXT records, then restart or reload posthorn serve (every node):\n");
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
  return 0;
}

// One line per key: domain, selector, algorithm, the TXT record to publish.
int dkim_list(Admin& a) {
  auto opened = Backends::open(*a.cfg, *a.pool, kDkimKeysPart);
  if (!opened) return a.fail(opened.error().message);
  auto keys = run_sync((*opened)->dkim_keys().list());
  if (!keys) return a.fail(keys.error());
  if (keys->empty()) {
    std::fprintf(stderr, "no DKIM keys; create some with posthorn dkim generate DOMAIN\n");
    return 0;
  }
  for (const auto& k : *keys) {
    auto record = msgauth::dkim_txt_record(k.pem);
    if (!record) {
      std::printf("%s\t%s\tinvalid\t%s\n", k.domain.c_str(), k.selector.c_str(), record.error().message.c_str());
      continue;
    }
    const bool ed = record->find("k=ed25519") != std::string::npos;
    std::printf("%s\t%s\t%s\t%s\n", k.domain.c_str(), k.selector.c_str(), ed ? "ed25519-sha256" : "rsa-sha256",
                txt_line(k.selector, k.domain, *record).c_str());
  }
  return 0;
}

}  // namespace

int cmd_dkim(const DkimArgs& args) {
  if (args.verb != "generate" && args.verb != "list") {
    std::fprintf(stderr, "posthorn dkim: unknown command %s; use generate or list\n", args.verb.c_str());
    return 2;
  }
  auto a = open_admin("posthorn dkim " + args.verb, args.config_file);
  if (!a) return 1;
  if (args.verb == "generate") return dkim_generate(*a, args);
  return dkim_list(*a);
}

}  // namespace posthorn::app
