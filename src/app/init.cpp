// posthorn init: creates a server folder (posthorn.toml, data/, tls/ with a self-signed certificate,
// an empty directory database) and prints where everything is and what to do next. Also the config
// file lookup every other command uses. Runs once in the main thread.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "app/commands.hpp"
#include "auth/directory.hpp"
#include "base/ascii.hpp"
#include "base/blocking_pool.hpp"
#include "base/result.hpp"
#include "config/config.hpp"
#include "net/tls_context.hpp"
#include "store/sqlite/sqlite_directory.hpp"

namespace posthorn::app {

namespace fs = std::filesystem;

namespace {

// render_initial's highest dev port is base + 995; 65535 - 995.
constexpr uint16_t kMaxDevPortBase = 64540;

int init_fail(const std::string& message) {
  std::fprintf(stderr, "posthorn init: %s\n", message.c_str());
  return 1;
}

// This machine's name, or "localhost" when it has none.
std::string machine_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// Creates `dir` (if missing) and gives it exactly `mode`, whatever the umask. An existing folder
// keeps its mode unless `force_mode`.
Result<void> make_dir(const fs::path& dir, fs::perms mode, bool force_mode) {
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (ec) return make_error(Errc::kUnavailable, "cannot create " + dir.string() + ": " + ec.message());
  if (!fs::is_directory(dir, ec)) return make_error(Errc::kInvalid, dir.string() + " exists and is not a folder");
  if (created || force_mode) {
    fs::permissions(dir, mode, fs::perm_options::replace, ec);
    if (ec) return make_error(Errc::kUnavailable, "cannot set the mode of " + dir.string() + ": " + ec.message());
  }
  return {};
}

// Writes `text` to a new file with exactly `mode`; Errc::kExists when the file is already there
// (O_EXCL, so two concurrent inits cannot both write it). The data is fsync'd before returning.
Result<void> write_new_file(const fs::path& file, const std::string& text, mode_t mode) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    return make_error(err == EEXIST ? Errc::kExists : Errc::kUnavailable,
                      "cannot create " + file.string() + ": " + std::strerror(err));
  }
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(file.c_str());
    return make_error(Errc::kUnavailable, std::string(what) + " " + file.string() + ": " + std::strerror(err));
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set the mode of");
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(file.c_str());
    return make_error(Errc::kUnavailable, "cannot write " + file.string() + ": " + std::strerror(err));
  }
  return {};
}

std::string endpoint(const config::Listener& l) {
  const bool v6 = l.address.find(':') != std::string::npos;
  return (v6 ? "[" + l.address + "]" : l.address) + ":" + std::to_string(l.port);
}

void print_summary(const config::Config& cfg, const fs::path& dir, bool kept_certificate) {
  const auto& cert = cfg.tls.certificates.front();
  std::printf("Created a Posthorn server in %s\n", dir.c_str());
  std::printf("  configuration  %s\n", cfg.file.c_str());
  std::printf("  data           %s (users and domains in directory.db)\n", cfg.data_dir.c_str());
  const std::string origin = kept_certificate ? "existing file, kept" : "self-signed for " + cfg.hostname;
  std::printf("  certificate    %s (%s)\n", cert.cert.c_str(), origin.c_str());
  std::printf("  private key    %s\n", cert.key.c_str());
  std::printf("\nListeners (%s):\n", cfg.auth.allow_plaintext_on_loopback ? "development setup, loopback only"
                                                                          : "edit posthorn.toml to change them");
  for (const auto& l : cfg.listeners) {
    std::printf("  %-12s %-11s %-22s tls=%s\n", l.name.c_str(), std::string(proto_name(l.protocol)).c_str(),
                endpoint(l).c_str(), std::string(config::tls_mode_name(l.tls)).c_str());
  }
  const std::string cmd = "posthorn --config " + cfg.file.string();
  std::printf("\nNext steps:\n");
  std::printf("  %s domain add example.test\n", cmd.c_str());
  std::printf("  %s user add you@example.test        # prints a generated password\n", cmd.c_str());
  std::printf("  %s serve\n", cmd.c_str());
}

}  // namespace

fs::path resolve_config_path(const std::string& given) {
  if (!given.empty()) return given;
  std::error_code ec;
  if (fs::exists("posthorn.toml", ec)) return fs::path("posthorn.toml");
  return fs::path("/etc/posthorn/posthorn.toml");
}

int cmd_init(const InitArgs& args) {
  if (args.dir.empty()) return init_fail("--dir must name a folder");
  std::error_code ec;
  const fs::path dir = fs::absolute(args.dir, ec).lexically_normal();
  if (ec) return init_fail("cannot resolve " + args.dir.string() + ": " + ec.message());
  const fs::path config_file = dir / "posthorn.toml";
  if (fs::exists(fs::symlink_status(config_file, ec))) {
    return init_fail(config_file.string() + " already exists; remove it or choose another --dir");
  }

  const bool hostname_given = !args.hostname.empty();
  const std::string hostname = ascii::lower(hostname_given ? args.hostname : machine_name());
  if (!auth::is_valid_domain(hostname)) {
    return init_fail("\"" + hostname + "\"" + (hostname_given ? "" : " (this machine's name)") +
                     " is not a valid host name (letters, digits, hyphens and dots); pass --hostname NAME");
  }
  if (args.dev && args.port_base > kMaxDevPortBase) {
    return init_fail("--port-base " + std::to_string(args.port_base) + " is too high: the dev ports go up to N+995, " +
                     "so N must be at most " + std::to_string(kMaxDevPortBase));
  }

  if (auto r = make_dir(dir, fs::perms(0755), false); !r) return init_fail(r.error().message);
  // The data and the private key are for the server's eyes only.
  if (auto r = make_dir(dir / "data", fs::perms(0700), true); !r) return init_fail(r.error().message);
  if (auto r = make_dir(dir / "tls", fs::perms(0700), true); !r) return init_fail(r.error().message);

  // An existing certificate and key (from an earlier init whose config was removed) are kept: they
  // may be real ones, and overwriting a private key cannot be undone.
  const fs::path cert = dir / "tls" / "cert.pem";
  const fs::path key = dir / "tls" / "key.pem";
  const bool have_cert = fs::exists(cert, ec);
  const bool have_key = fs::exists(key, ec);
  if (have_cert != have_key) {
    return init_fail("only one of " + cert.string() + " and " + key.string() +
                     " exists; remove it or supply both, then run init again");
  }
  if (!have_cert) {
    if (auto r = net::write_self_signed(hostname, cert, key); !r) {
      return init_fail("cannot write the TLS certificate: " + r.error().message);
    }
  }

  config::InitOptions options;
  options.hostname = hostname;
  options.dev = args.dev;
  options.port_base = args.port_base;
  if (auto r = write_new_file(config_file, config::render_initial(options), 0640); !r) {
    if (r.error().code == Errc::kExists) {
      return init_fail(config_file.string() + " already exists; remove it or choose another --dir");
    }
    return init_fail(r.error().message);
  }

  // Prove the file we wrote is one `serve` accepts, and create the directory database. On failure the
  // config file goes again, so the user can fix the cause and rerun init.
  auto cfg = config::load(config_file);
  if (!cfg) {
    fs::remove(config_file, ec);
    return init_fail("the generated configuration does not load (a bug):\n" + cfg.error().message);
  }
  BlockingPool pool(1);  // before the directory: outlives it
  auto directory = store::sqlite::SqliteDirectory::open((*cfg)->data_dir / "directory.db", pool);
  if (!directory) {
    fs::remove(config_file, ec);
    return init_fail("cannot create " + ((*cfg)->data_dir / "directory.db").string() + ": " +
                     directory.error().message);
  }

  print_summary(**cfg, dir, have_cert);
  return 0;
}

}  // namespace posthorn::app
