#include "base/spool.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace posthorn {

bool MemoryBudget::try_take(uint64_t n) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used + n > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
  return true;
}

Spool::Spool(std::filesystem::path dir, std::size_t keep_in_memory, MemoryBudget* budget)
    : dir_(dir.empty() ? std::filesystem::temp_directory_path() : std::move(dir)),
      keep_in_memory_(keep_in_memory),
      budget_(budget) {}

Spool::~Spool() {
  release_memory();
  if (fd_ >= 0) ::close(fd_);
}

void Spool::release_memory() {
  std::string().swap(memory_);
  if (budget_ != nullptr && accounted_ > 0) budget_->give(accounted_);
  accounted_ = 0;
}

Result<void> Spool::open_file() {
  const std::string dir = dir_.string();
#ifdef O_TMPFILE
  fd_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ >= 0) return {};
#endif
  // No O_TMPFILE on this file system: a named file, unlinked at once.
  std::string name = (dir_ / "spool.XXXXXX").string();
  fd_ = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0) {
    spdlog::error("spool: cannot create a temp file in {}: {}", dir, std::strerror(errno));
    return make_error(Errc::kUnavailable, "cannot spool the message");
  }
  ::unlink(name.c_str());
  return {};
}

Result<void> Spool::write_file(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(file_size_));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      spdlog::error("spool: write failed: {}", std::strerror(errno));
      return make_error(Errc::kUnavailable, "cannot spool the message");
    }
    file_size_ += static_cast<uint64_t>(n);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> Spool::append(std::string_view bytes) {
  if (failed_) return make_error(Errc::kUnavailable, "cannot spool the message");
  if (bytes.empty()) return {};
  size_ += bytes.size();
  if (fd_ < 0 && memory_.size() + bytes.size() <= keep_in_memory_ &&
      (budget_ == nullptr || budget_->try_take(bytes.size()))) {
    if (budget_ != nullptr) accounted_ += bytes.size();
    memory_.append(bytes);
    return {};
  }
  Result<void> r;
  if (fd_ < 0) r = open_file();
  if (r && !memory_.empty()) r = write_file(memory_);
  if (r) {
    release_memory();
    r = write_file(bytes);
  }
  if (!r) failed_ = true;
  return r;
}

Result<std::size_t> Spool::read(uint64_t offset, char* out, std::size_t n) const {
  if (failed_) return make_error(Errc::kUnavailable, "cannot spool the message");
  if (offset >= size_ || n == 0) return std::size_t{0};
  n = static_cast<std::size_t>(std::min<uint64_t>(n, size_ - offset));
  if (fd_ < 0) {
    std::memcpy(out, memory_.data() + offset, n);
    return n;
  }
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      spdlog::error("spool: read failed: {}", got < 0 ? std::strerror(errno) : "short file");
      return make_error(Errc::kUnavailable, "cannot read the spooled message");
    }
    done += static_cast<std::size_t>(got);
  }
  return done;
}

Result<std::string> Spool::take(MemoryLease& lease) {
  if (failed_) return make_error(Errc::kUnavailable, "cannot spool the message");
  if (fd_ < 0) {
    std::string out = std::move(memory_);
    lease.add(budget_, accounted_);
    accounted_ = 0;
    release_memory();
    size_ = 0;
    return out;
  }
  std::string out(file_size_, '\0');
  uint64_t done = 0;
  while (done < file_size_) {
    const ssize_t n = ::pread(fd_, out.data() + done, file_size_ - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      spdlog::error("spool: read failed: {}", std::strerror(errno));
      failed_ = true;
      return make_error(Errc::kUnavailable, "cannot read the spooled message");
    }
    done += static_cast<uint64_t>(n);
  }
  ::close(fd_);
  fd_ = -1;
  file_size_ = 0;
  size_ = 0;
  return out;
}

}  // namespace posthorn
