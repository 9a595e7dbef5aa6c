// BlobStore: write temp file -> fdatasync -> rename -> fsync directory. Errors are logged with the
// path and returned as generic kUnavailable/kInternal messages.
#include "store/sqlite/blob_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/crypto.hpp"
#include "base/log.hpp"
#include "base/random.hpp"

namespace posthorn::store::sqlite {

namespace fs = std::filesystem;

namespace {

Error io_error(int err, std::string_view what, const fs::path& path) {
  spdlog::error("blob store: {} {}: {}", what, path.string(), std::strerror(err));
  if (err == ENOSPC || err == EDQUOT || err == EIO || err == EROFS || err == EMFILE || err == ENFILE) {
    return make_error(Errc::kUnavailable, "message storage temporarily unavailable");
  }
  return make_error(Errc::kInternal, "message storage error");
}

Result<void> fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(errno, "open directory", path);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_error(err, "fsync directory", path);
  return {};
}

Result<void> make_dir(const fs::path& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return io_error(errno, "mkdir", path);
  return {};
}

Result<void> write_all(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(errno, "write", path);
    }
    bytes.remove_prefix(std::size_t(n));
  }
  return {};
}

// Names of the entries of `dir` (without "." and ".."); an empty list when it does not exist.
Result<std::vector<std::string>> entries(const fs::path& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return io_error(errno, "opendir", dir);
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name != "." && name != "..") out.emplace_back(name);
  }
  ::closedir(d);
  return out;
}

}  // namespace

Result<void> write_durably(const fs::path& tmp, const fs::path& target, std::string_view bytes) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(errno, "create", tmp);
  auto written = write_all(fd, bytes, tmp);
  if (written && ::fdatasync(fd) != 0) written = io_error(errno, "fdatasync", tmp);
  ::close(fd);
  if (written && ::rename(tmp.c_str(), target.c_str()) != 0) written = io_error(errno, "rename", target);
  if (!written) {
    ::unlink(tmp.c_str());
    return written.error();
  }
  return fsync_path(target.parent_path());
}

Result<void> make_durable_dir(const fs::path& dir) {
  if (auto r = make_dir(dir); !r) return r;
  if (auto r = fsync_path(dir); !r) return r;
  return fsync_path(dir.parent_path());
}

std::string blob_id_for(std::string_view bytes) { return sha256_hex(bytes); }

bool is_blob_id(std::string_view id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// ---- BlobReader ----

BlobReader::~BlobReader() { ::close(fd_); }

Result<std::string> BlobReader::read(uint64_t offset, std::size_t length) const {
  if (offset >= size_) return std::string();
  length = std::size_t(std::min<uint64_t>(length, size_ - offset));
  std::string out(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd_, out.data() + done, length - done, off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(errno, "pread", "blob");
    }
    if (n == 0) break;  // the file is shorter than it was: report what is there
    done += std::size_t(n);
  }
  out.resize(done);
  return out;
}

// ---- BlobStore ----

Result<std::unique_ptr<BlobStore>> BlobStore::open(const fs::path& data_dir) {
  const fs::path root = data_dir / "blobs";
  if (auto r = make_dir(data_dir); !r) return r.error();
  if (auto r = make_dir(root); !r) return r.error();
  if (auto r = make_dir(root / "tmp"); !r) return r.error();
  return std::unique_ptr<BlobStore>(new BlobStore(root));
}

fs::path BlobStore::path_for(std::string_view id) const {
  return root_ / std::string(id.substr(0, 2)) / std::string(id.substr(2, 2)) / std::string(id);
}

bool BlobStore::exists(std::string_view id) const {
  struct stat st {};
  return is_blob_id(id) && ::stat(path_for(id).c_str(), &st) == 0;
}

Result<void> BlobStore::ensure_durable_dir(const fs::path& dir) {
  {
    std::lock_guard lock(mu_);
    if (durable_dirs_.count(dir.string()) != 0) return {};
  }
  // Whoever created it, its entry is durable only after the parent is fsync'd; doing it once more
  // than needed (another thread racing here) costs an fsync, never correctness.
  if (auto r = make_durable_dir(dir); !r) return r;
  std::lock_guard lock(mu_);
  durable_dirs_.insert(dir.string());
  return {};
}

BlobPin& BlobPin::operator=(BlobPin&& other) noexcept {
  if (this != &other) {
    release();
    store_ = other.store_;
    id_ = std::move(other.id_);
    other.store_ = nullptr;
  }
  return *this;
}

void BlobPin::release() {
  if (store_ != nullptr) store_->unpin(id_);
  store_ = nullptr;
}

void BlobStore::unpin(const std::string& id) {
  std::lock_guard lock(pin_mu_);
  auto it = pins_.find(id);
  if (it != pins_.end() && --it->second == 0) pins_.erase(it);
  if (collecting_) unpinned_.insert(id);
}

std::size_t BlobStore::pinned() const {
  std::lock_guard lock(pin_mu_);
  return pins_.size();
}

void BlobStore::begin_collection() {
  std::lock_guard lock(pin_mu_);
  collecting_ = true;
  unpinned_.clear();
}

void BlobStore::end_collection() {
  std::lock_guard lock(pin_mu_);
  collecting_ = false;
  unpinned_.clear();
}

Result<std::optional<uint64_t>> BlobStore::remove_unpinned(std::string_view id) {
  if (!is_blob_id(id)) return make_error(Errc::kInvalid, "not a blob id");
  const fs::path path = path_for(id);
  // Under pin_mu_ so that a writer pinning this id now waits, then finds the file gone and writes it.
  std::lock_guard lock(pin_mu_);
  if (pins_.count(id) != 0 || unpinned_.count(id) != 0) return std::optional<uint64_t>();
  struct stat st {};
  const uint64_t size = ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
  if (::unlink(path.c_str()) != 0) {
    if (errno != ENOENT) return io_error(errno, "unlink", path);
    return std::optional<uint64_t>(0);
  }
  return std::optional<uint64_t>(size);
}

Result<std::string> BlobStore::put(std::string_view bytes) {
  auto pin = put_pinned(bytes);
  if (!pin) return pin.error();
  return pin->id();
}

Result<BlobPin> BlobStore::put_pinned(std::string_view bytes) {
  std::string id = blob_id_for(bytes);
  // Pinned before the file is looked for: a collection cannot remove it between our check and our
  // index commit.
  {
    std::lock_guard lock(pin_mu_);
    ++pins_[id];
  }
  BlobPin pin(this, id);
  const fs::path target = path_for(id);
  const fs::path dir = target.parent_path();
  if (exists(id)) {
    // Already there, but a writer that crashed after rename and before its directory fsync may
    // have left the entry not yet durable: make sure of the directories (cheap after the first time).
    if (auto r = ensure_durable_dir(dir.parent_path()); !r) return r.error();
    if (auto r = ensure_durable_dir(dir); !r) return r.error();
    return pin;
  }
  if (auto r = ensure_durable_dir(dir.parent_path()); !r) return r.error();
  if (auto r = ensure_durable_dir(dir); !r) return r.error();

  const fs::path tmp = root_ / "tmp" / (id + "." + random_token(12));
  if (auto r = write_durably(tmp, target, bytes); !r) return r.error();
  return pin;
}

Result<BlobPin> BlobStore::put_pinned_from(const BlobSource& next) {
  // The id is known only at the end: the bytes go to a temp file first, and the pin is taken
  // before the blob's own path is looked at, as in put_pinned.
  const fs::path tmp = root_ / "tmp" / ("stream." + random_token(12));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(errno, "create", tmp);
  Sha256 hash;
  std::string piece;
  Result<void> written;
  for (;;) {
    auto more = next(piece);
    if (!more) {
      written = more.error();
      break;
    }
    if (!*more) break;
    hash.update(piece);
    written = write_all(fd, piece, tmp);
    if (!written) break;
  }
  std::string().swap(piece);
  if (written && ::fdatasync(fd) != 0) written = io_error(errno, "fdatasync", tmp);
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return written.error();
  }
  std::string id = hash.hex();
  {
    std::lock_guard lock(pin_mu_);
    ++pins_[id];
  }
  BlobPin pin(this, id);
  const fs::path target = path_for(id);
  const fs::path dir = target.parent_path();
  Result<void> placed = ensure_durable_dir(dir.parent_path());
  if (placed) placed = ensure_durable_dir(dir);
  if (placed && exists(id)) {
    ::unlink(tmp.c_str());  // the same bytes are stored already
    return pin;
  }
  if (placed && ::rename(tmp.c_str(), target.c_str()) != 0) placed = io_error(errno, "rename", target);
  if (!placed) {
    ::unlink(tmp.c_str());
    return placed.error();
  }
  if (auto r = fsync_path(dir); !r) return r.error();
  return pin;
}

BlobMapping::~BlobMapping() {
  if (data_ != nullptr) ::munmap(data_, std::size_t(size_));
}

Result<std::unique_ptr<BlobMapping>> BlobStore::map_blob(std::string_view id) const {
  if (!is_blob_id(id)) return make_error(Errc::kInternal, "message storage error");
  const fs::path path = path_for(id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(errno, "open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error(err, "fstat", path);
  }
  const auto size = uint64_t(st.st_size);
  void* data = nullptr;
  if (size > 0) {
    data = ::mmap(nullptr, std::size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return io_error(err, "mmap", path);
    }
    ::madvise(data, std::size_t(size), MADV_SEQUENTIAL);
  }
  ::close(fd);
  return std::make_unique<BlobMapping>(data, size);
}

Result<std::unique_ptr<BlobReader>> BlobStore::open_blob(std::string_view id) const {
  if (!is_blob_id(id)) return make_error(Errc::kInternal, "message storage error");
  const fs::path path = path_for(id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      spdlog::error("blob store: missing blob {}", path.string());
      return make_error(Errc::kInternal, "message file is missing");
    }
    return io_error(errno, "open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error(err, "fstat", path);
  }
  return std::make_unique<BlobReader>(fd, uint64_t(st.st_size));
}

Result<std::vector<std::string>> BlobStore::list() const {
  std::vector<std::string> ids;
  auto level1 = entries(root_);
  if (!level1) return level1.error();
  for (const auto& a : *level1) {
    if (a.size() != 2 || !is_blob_id(a + std::string(62, '0'))) continue;  // skips tmp/
    auto level2 = entries(root_ / a);
    if (!level2) return level2.error();
    for (const auto& b : *level2) {
      auto files = entries(root_ / a / b);
      if (!files) return files.error();
      for (auto& f : *files) {
        if (is_blob_id(f) && f.compare(0, 2, a) == 0 && f.compare(2, 2, b) == 0) ids.push_back(std::move(f));
      }
    }
  }
  return ids;
}

Result<void> BlobStore::remove(std::string_view id) {
  if (!is_blob_id(id)) return make_error(Errc::kInvalid, "not a blob id");
  const fs::path path = path_for(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error(errno, "unlink", path);
  return {};
}

Result<std::size_t> BlobStore::clear_tmp() {
  auto files = entries(root_ / "tmp");
  if (!files) return files.error();
  std::size_t removed = 0;
  for (const auto& f : *files) {
    const fs::path path = root_ / "tmp" / f;
    if (::unlink(path.c_str()) != 0) {
      if (errno != ENOENT) return io_error(errno, "unlink", path);
    } else {
      ++removed;
    }
  }
  return removed;
}

}  // namespace posthorn::store::sqlite
