// posthorn dkim generate DOMAIN [--selector S] | dkim list (DESIGN.md §7): DKIM signing keys in the
// data folder, <data_dir>/dkim/<domain>/<selector>.pem (files 0600, folders 0700), the layout
// msgauth::DkimSigner::load reads. generate makes an RSA-2048 key (selector S-rsa) and an Ed25519
// key (S-ed25519) for a local domain and prints the DNS TXT records to publish.
// Runs once in the main thread. Errors go to stderr with exit status 1 (Admin::fail).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app/admin_context.hpp"
#include "app/commands.hpp"
#include "auth/directory.hpp"
#include "base/ascii.hpp"
#include "base/run_sync.hpp"
#include "msgauth/dkim.hpp"

namespace posthorn::app {
namespace {

namespace fs = std::filesystem;

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

// Creates `dir` (and missing parents) with mode 0700, and forces 0700 on it.
bool make_private_dir(const fs::path& dir, std::string& why) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0) {
    why = "cannot create " + dir.string() + ": " + (ec ? ec.message() : std::strerror(errno));
    return false;
  }
  return true;
}

// Writes a new file with mode 0600 (O_EXCL: never overwrites a key), synced to disk.
bool write_private_file(const fs::path& file, const std::string& content, std::string& why) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    why = "cannot create " + file.string() + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, content.data(), content.size()) == ssize_t(content.size()) && ::fsync(fd) == 0;
  if (!ok) why = "cannot write " + file.string() + ": " + std::strerror(errno);
  ::close(fd);
  if (!ok) ::unlink(file.c_str());
  return ok;
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
  const std::vector<Planned> keys = {{base + "-rsa", msgauth::DkimAlgorithm::kRsaSha256},
                                     {base + "-ed25519", msgauth::DkimAlgorithm::kEd25519Sha256}};
  const fs::path dir = a.cfg->data_dir / "dkim" / domain;
  for (const auto& k : keys) {
    std::error_code ec;
    if (fs::exists(dir / (k.selector + ".pem"), ec)) {
      return a.fail("selector " + k.selector + " already exists for " + domain + " (" +
                    (dir / (k.selector + ".pem")).string() + "); choose another with --selector S");
    }
  }
  std::string why;
  if (!make_private_dir(a.cfg->data_dir / "dkim", why) || !make_private_dir(dir, why)) return a.fail(why);
  std::vector<std::string> lines;
  for (const auto& k : keys) {
    auto pem = msgauth::generate_dkim_key(k.algorithm);
    if (!pem) return a.fail(pem.error());
    auto record = msgauth::dkim_txt_record(*pem);
    if (!record) return a.fail(record.error());
    if (!write_private_file(dir / (k.selector + ".pem"), *pem, why)) return a.fail(why);
    lines.push_back(txt_line(k.selector, domain, *record));
  }
  std::printf("created DKIM keys %s-rsa (RSA 2048) and %s-ed25519 (Ed25519) for %s in %s\n", base.c_str(),
              base.c_str(), domain.c_str(), dir.c_str());
  std::printf("publish these DNS TXT records, then restart or reload posthorn serve:\n");
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
  return 0;
}

// One line per key: domain, selector, algorithm, the TXT record to publish.
int dkim_list(Admin& a) {
  const fs::path root = a.cfg->data_dir / "dkim";
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::exists(root, ec)) {
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      if (it.depth() == 1 && it->path().extension() == ".pem") files.push_back(it->path());
    }
  }
  if (ec) return a.fail("cannot read " + root.string() + ": " + ec.message());
  if (files.empty()) {
    std::fprintf(stderr, "no DKIM keys; create some with posthorn dkim generate DOMAIN\n");
    return 0;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream pem;
    pem << in.rdbuf();
    auto record = msgauth::dkim_txt_record(pem.str());
    const std::string domain = f.parent_path().filename().string();
    const std::string selector = f.stem().string();
    if (!record) {
      std::printf("%s\t%s\tinvalid\t%s\n", domain.c_str(), selector.c_str(), record.error().message.c_str());
      continue;
    }
    const bool ed = record->find("k=ed25519") != std::string::npos;
    std::printf("%s\t%s\t%s\t%s\n", domain.c_str(), selector.c_str(), ed ? "ed25519-sha256" : "rsa-sha256",
                txt_line(selector, domain, *record).c_str());
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
