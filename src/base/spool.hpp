// Spool: the bytes of one message while it is being received (SMTP DATA and BDAT, LMTP, IMAP
// APPEND), kept in memory up to a small per-message limit and past it in an anonymous temp file, so
// a connection that sends a large message slowly (or never ends it) pins a few hundred kilobytes of
// RAM, not the whole message (issue 28 item 2).
//
// Memory is accounted in a MemoryBudget shared by every spool of the process: while the budget is
// spent, a spool writes through to its file from the first byte, so the memory held by messages in
// flight is bounded whatever the number of connections. The file is created with O_TMPFILE (no name,
// nothing left behind by a crash) in the data folder, falling back to mkstemp + unlink where the file
// system lacks O_TMPFILE. Writes are plain write(2) into the page cache from the session's thread, as
// Postfix's cleanup does with its queue file; nothing here is fsynced (the store makes the accepted
// message durable). Not thread-safe: one spool per transaction; MemoryBudget is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace posthorn {

// Bytes of message data held in memory by all spools (and by messages being processed after
// receipt) together. Lock-free; shared by every session of the process.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  // Takes n bytes when they fit under the limit; false (nothing taken) otherwise.
  bool try_take(uint64_t n);
  // Takes n bytes even past the limit (one message must always be processable).
  void force_take(uint64_t n) { used_.fetch_add(n, std::memory_order_relaxed); }
  void give(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

// n bytes taken from a MemoryBudget, given back when the lease ends (a message being processed
// after its receipt). Move-only.
class MemoryLease {
 public:
  MemoryLease() = default;
  MemoryLease(MemoryBudget* budget, uint64_t n) : budget_(budget), n_(budget ? n : 0) {}
  MemoryLease(MemoryLease&& o) noexcept : budget_(o.budget_), n_(o.n_) { o.n_ = 0; }
  MemoryLease& operator=(MemoryLease&& o) noexcept {
    if (this != &o) {
      release();
      budget_ = o.budget_;
      n_ = o.n_;
      o.n_ = 0;
    }
    return *this;
  }
  ~MemoryLease() { release(); }
  // Adds n bytes already taken from `budget` (the same budget as before, if any).
  void add(MemoryBudget* budget, uint64_t n) {
    if (budget == nullptr || n == 0) return;
    budget_ = budget;
    n_ += n;
  }
  // Takes over another lease of the same budget.
  void add(MemoryLease&& o) {
    if (o.n_ == 0) return;
    budget_ = o.budget_;
    n_ += o.n_;
    o.n_ = 0;
  }
  uint64_t size() const { return n_; }
  void release() {
    if (budget_ != nullptr && n_ > 0) budget_->give(n_);
    n_ = 0;
  }

 private:
  MemoryBudget* budget_ = nullptr;
  uint64_t n_ = 0;
};

class Spool {
 public:
  // `dir`: where the temp file goes (the data folder; empty: the system's temp folder). `keep_in_memory`: bytes held in RAM before
  // the rest goes to the file. `budget`: the process-wide account (may be nullptr: no global cap).
  Spool(std::filesystem::path dir, std::size_t keep_in_memory, MemoryBudget* budget);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends bytes; an error (disk full, no temp file) is kUnavailable and the spool is unusable.
  Result<void> append(std::string_view bytes);
  // Bytes appended so far.
  uint64_t size() const { return size_; }
  // True once anything went to the file.
  bool on_disk() const { return fd_ >= 0; }
  // Bytes of this spool held in memory right now.
  std::size_t in_memory() const { return memory_.size(); }
  // Copies up to `n` bytes at `offset` into `out` without changing the spool (the store reads a
  // spooled APPEND this way, a piece at a time); fewer only at the end. Blocking (pread) when the
  // bytes are in the file. kUnavailable on a read error or a failed spool.
  Result<std::size_t> read(uint64_t offset, char* out, std::size_t n) const;
  // The whole content as one string; the spool is empty afterwards. The budget of bytes that were
  // in memory moves to `lease` (they are still in memory, now in the string); bytes read back from
  // the file are the caller's to account for (take a lease of size() first when on_disk()).
  Result<std::string> take(MemoryLease& lease);

 private:
  Result<void> open_file();
  Result<void> write_file(std::string_view bytes);
  void release_memory();

  std::filesystem::path dir_;
  std::size_t keep_in_memory_;
  MemoryBudget* budget_;
  std::string memory_;
  uint64_t accounted_ = 0;  // bytes taken from the budget for memory_
  uint64_t size_ = 0;
  uint64_t file_size_ = 0;
  int fd_ = -1;
  bool failed_ = false;
};

}  // namespace posthorn
