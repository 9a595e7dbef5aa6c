// BlobStore: content-addressed, immutable message files under <data_dir>/blobs (DESIGN.md §4).
// A blob's id is the lower-case hex SHA-256 of its bytes; it lives at blobs/ab/cd/<id> (ab and cd
// are the first two byte pairs of the id). put() writes a temp file in blobs/tmp, fdatasyncs it,
// renames it into place and fsyncs the directory, so a returned id names durable bytes. The same
// bytes are stored once however many messages refer to them. Files are 0600, directories 0700.
//
// Depends on OpenSSL (EVP SHA-256) and POSIX file calls. Thread-safe: any number of threads may put,
// open and read at once (renames are atomic; equal bytes give equal files). remove() must not race
// with writers; garbage collection while serving uses pins instead (put_pinned, remove_unpinned):
// a writer pins its blob before it looks for or writes the file and unpins it once its index entry
// is committed, and collection removes a blob only when it is not pinned and was not unpinned since
// the collection began (see SqliteMailStore::collect_garbage). Every call blocks: run it on the
// blocking pool.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace posthorn::store::sqlite {

// Lower-case hex SHA-256 of `bytes`: the blob id.
std::string blob_id_for(std::string_view bytes);
// True for 64 lower-case hex digits (ids read from an index or a directory are checked first).
bool is_blob_id(std::string_view id);

// An open blob file, read with pread (no shared file offset, so reads may run in parallel).
class BlobReader {
 public:
  BlobReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;
  ~BlobReader();

  uint64_t size() const { return size_; }
  // Up to `length` bytes at `offset`; fewer only at the end of the file.
  Result<std::string> read(uint64_t offset, std::size_t length) const;

 private:
  int fd_;
  uint64_t size_;
};

// A blob file mapped read-only (mmap): its bytes without a copy on the heap; the pages belong to the
// page cache and go when it is destroyed. Move-only.
class BlobMapping {
 public:
  BlobMapping(void* data, uint64_t size) : data_(data), size_(size) {}
  BlobMapping(const BlobMapping&) = delete;
  BlobMapping& operator=(const BlobMapping&) = delete;
  ~BlobMapping();
  std::string_view bytes() const { return {static_cast<const char*>(data_), std::size_t(size_)}; }

 private:
  void* data_;
  uint64_t size_;
};

// Writes the next piece of a blob into `piece` (replacing what it held); false once there is no more.
using BlobSource = std::function<Result<bool>(std::string& piece)>;

// Writes `bytes` to `target` durably: creates `tmp` (0600, same file system), writes, fdatasyncs,
// renames it onto `target` and fsyncs target's directory. The blob store and the outbound queue's
// spool both write this way. Errc::kUnavailable when the disk is full or failing.
Result<void> write_durably(const std::filesystem::path& tmp, const std::filesystem::path& target,
                           std::string_view bytes);
// Creates `dir` (0700) when missing; fsyncs it and its parent so the entry itself is durable.
Result<void> make_durable_dir(const std::filesystem::path& dir);

class BlobStore;

// Keeps one blob from garbage collection until destroyed (or moved from). Movable, any thread.
class BlobPin {
 public:
  BlobPin() = default;
  BlobPin(BlobPin&& other) noexcept : store_(other.store_), id_(std::move(other.id_)) { other.store_ = nullptr; }
  BlobPin& operator=(BlobPin&& other) noexcept;
  BlobPin(const BlobPin&) = delete;
  BlobPin& operator=(const BlobPin&) = delete;
  ~BlobPin() { release(); }
  const std::string& id() const { return id_; }

 private:
  friend class BlobStore;
  BlobPin(BlobStore* store, std::string id) : store_(store), id_(std::move(id)) {}
  void release();
  BlobStore* store_ = nullptr;
  std::string id_;
};

class BlobStore {
 public:
  // Creates <data_dir>/blobs and blobs/tmp when missing.
  static Result<std::unique_ptr<BlobStore>> open(const std::filesystem::path& data_dir);

  // Stores `bytes` durably and returns their id; bytes already stored are not written again.
  // Errc::kUnavailable when the disk is full or failing.
  Result<std::string> put(std::string_view bytes);
  // The same, and the blob stays pinned (never collected) while the returned pin lives: hold it
  // until the index entry naming the blob is committed.
  Result<BlobPin> put_pinned(std::string_view bytes);
  // The same for bytes given in pieces by `next` (a message too big to hold at once): they are
  // hashed as they are written to a temp file, which becomes the blob (or is dropped when that blob
  // exists already). Holds one piece in memory at a time.
  Result<BlobPin> put_pinned_from(const BlobSource& next);
  // A stored blob mapped into memory (for parsing one too big to copy; see BlobMapping).
  Result<std::unique_ptr<BlobMapping>> map_blob(std::string_view id) const;
  Result<std::unique_ptr<BlobReader>> open_blob(std::string_view id) const;
  bool exists(std::string_view id) const;
  // Every stored blob id (temp files excluded), in no particular order.
  Result<std::vector<std::string>> list() const;
  // Removes one blob; a missing blob is not an error.
  Result<void> remove(std::string_view id);
  // Removes every file in blobs/tmp (left by a crash between write and rename); returns the count.
  // Only when no writer is active (at start-up).
  Result<std::size_t> clear_tmp();

  // Collection while writers run: between begin_collection() and end_collection() (one collection
  // at a time), remove_unpinned(id) unlinks the blob unless it is pinned now or was unpinned since
  // begin_collection() (its index entry may be newer than what the collection read). Returns the
  // bytes freed, or nullopt when the blob was kept (a missing blob frees 0).
  void begin_collection();
  Result<std::optional<uint64_t>> remove_unpinned(std::string_view id);
  void end_collection();
  std::size_t pinned() const;  // blobs pinned now (for tests)

  std::filesystem::path path_for(std::string_view id) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}
  // Creates `dir` (a fan-out directory) when needed and makes its entry durable: fsyncs it and its
  // parent once per process run.
  Result<void> ensure_durable_dir(const std::filesystem::path& dir);

  friend class BlobPin;
  void unpin(const std::string& id);

  std::filesystem::path root_;  // <data_dir>/blobs
  std::mutex mu_;
  std::set<std::string> durable_dirs_;  // guarded by mu_
  mutable std::mutex pin_mu_;
  std::map<std::string, uint32_t, std::less<>> pins_;  // guarded by pin_mu_: id -> pin count
  bool collecting_ = false;                          // guarded by pin_mu_
  std::set<std::string, std::less<>> unpinned_;     // guarded by pin_mu_: unpinned while collecting
};

}  // namespace posthorn::store::sqlite
