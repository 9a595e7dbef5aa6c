// FileDkimKeys (see file_dkim_keys.hpp).
#include "store/sqlite/file_dkim_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

namespace posthorn::store::sqlite {

namespace fs = std::filesystem;
using msgauth::DkimKey;

namespace {

// Creates `dir` with mode 0700 (and forces 0700 on it when it exists).
Result<void> make_private_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directory(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0) {
    return make_error(Errc::kUnavailable, "cannot create " + dir.string() + ": " + (ec ? ec.message() : std::strerror(errno)));
  }
  return {};
}

Result<void> sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool ok = fd >= 0 && ::fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) return make_error(Errc::kUnavailable, "cannot sync " + dir.string() + ": " + std::strerror(err));
  return {};
}

// Writes a new file with mode 0600, synced; kExists when it is there already.
Result<void> write_new_file(const fs::path& file, const std::string& content) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) return make_error(Errc::kExists, file.string() + " exists");
  if (fd < 0) return make_error(Errc::kUnavailable, "cannot create " + file.string() + ": " + std::strerror(errno));
  bool ok = ::write(fd, content.data(), content.size()) == ssize_t(content.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(file.c_str());
    return make_error(Errc::kUnavailable, "cannot write " + file.string() + ": " + std::strerror(err));
  }
  return {};
}

}  // namespace

std::unique_ptr<FileDkimKeys> FileDkimKeys::open(const fs::path& data_dir, BlockingPool& pool) {
  return std::unique_ptr<FileDkimKeys>(new FileDkimKeys(data_dir / "dkim", pool));
}

Result<std::vector<DkimKey>> FileDkimKeys::list_blocking() const {
  std::vector<DkimKey> out;
  std::error_code ec;
  if (!fs::exists(root_, ec)) return out;
  for (fs::directory_iterator d(root_, ec), end; !ec && d != end; d.increment(ec)) {
    if (!d->is_directory(ec)) continue;
    for (fs::directory_iterator f(d->path(), ec), fend; !ec && f != fend; f.increment(ec)) {
      if (f->path().extension() != ".pem" || !f->is_regular_file(ec)) continue;
      const std::string label = d->path().filename().string() + "/" + f->path().filename().string();
      std::ifstream in(f->path(), std::ios::binary);
      std::stringstream pem;
      pem << in.rdbuf();
      if (!in) return make_error(Errc::kUnavailable, "cannot read DKIM key " + label);
      out.push_back(DkimKey{d->path().filename().string(), f->path().stem().string(), pem.str()});
    }
  }
  if (ec) return make_error(Errc::kUnavailable, "cannot read " + root_.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const DkimKey& a, const DkimKey& b) {
    return std::tie(a.domain, a.selector) < std::tie(b.domain, b.selector);
  });
  return out;
}

Result<void> FileDkimKeys::add_blocking(const DkimKey& key) const {
  if (!msgauth::valid_dkim_domain(key.domain)) return make_error(Errc::kInvalid, "\"" + key.domain + "\" is not a domain name");
  if (!msgauth::valid_dkim_selector(key.selector)) return make_error(Errc::kInvalid, "\"" + key.selector + "\" is not a selector");
  const fs::path dir = root_ / key.domain;
  if (auto r = make_private_dir(root_); !r) return r;
  if (auto r = make_private_dir(dir); !r) return r;
  if (auto r = write_new_file(dir / (key.selector + ".pem"), key.pem); !r) {
    if (r.error().code == Errc::kExists) return make_error(Errc::kExists, "selector " + key.selector + " already exists for " + key.domain);
    return r;
  }
  if (auto r = sync_dir(dir); !r) return r;
  return sync_dir(root_);
}

Task<std::vector<DkimKey>> FileDkimKeys::list() {
  return run_blocking(pool_, [this] { return list_blocking(); });
}

Task<void> FileDkimKeys::add(DkimKey key) {
  return run_blocking(pool_, [this, key = std::move(key)] { return add_blocking(key); });
}

}  // namespace posthorn::store::sqlite
