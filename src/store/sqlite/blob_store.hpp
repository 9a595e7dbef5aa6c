// BlobStore: content-addressed, immutable message files under <data_dir>/blobs (DESIGN.md §4).
// A blob's id is the lower-case hex SHA-256 of its bytes; it lives at blobs/ab/cd/<id> (ab and cd
// are the first two byte pairs of the id). put() writes a temp file in blobs/tmp, fdatasyncs it,
// renames it into place and fsyncs the directory, so a returned id names durable bytes. The same
// bytes are stored once however many messages refer to them. Files are 0600, directories 0700.
//
// Depends on OpenSSL (EVP SHA-256) and POSIX file calls. Thread-safe: any number of threads may put,
// open and read at once (renames are atomic; equal bytes give equal files). remove() and the
// garbage collection that uses it must not race with writers (see SqliteMailStore::collect_garbage).
// Every call blocks: run it on the blocking pool.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
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

// Writes `bytes` to `target` durably: creates `tmp` (0600, same file system), writes, fdatasyncs,
// renames it onto `target` and fsyncs target's directory. The blob store and the outbound queue's
// spool both write this way. Errc::kUnavailable when the disk is full or failing.
Result<void> write_durably(const std::filesystem::path& tmp, const std::filesystem::path& target,
                           std::string_view bytes);
// Creates `dir` (0700) when missing; fsyncs it and its parent so the entry itself is durable.
Result<void> make_durable_dir(const std::filesystem::path& dir);

class BlobStore {
 public:
  // Creates <data_dir>/blobs and blobs/tmp when missing.
  static Result<std::unique_ptr<BlobStore>> open(const std::filesystem::path& data_dir);

  // Stores `bytes` durably and returns their id; bytes already stored are not written again.
  // Errc::kUnavailable when the disk is full or failing.
  Result<std::string> put(std::string_view bytes);
  Result<std::unique_ptr<BlobReader>> open_blob(std::string_view id) const;
  bool exists(std::string_view id) const;
  // Every stored blob id (temp files excluded), in no particular order.
  Result<std::vector<std::string>> list() const;
  // Removes one blob; a missing blob is not an error.
  Result<void> remove(std::string_view id);
  // Removes every file in blobs/tmp (left by a crash between write and rename); returns the count.
  Result<std::size_t> clear_tmp();

  std::filesystem::path path_for(std::string_view id) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}
  // Creates `dir` (a fan-out directory) when needed and makes its entry durable: fsyncs it and its
  // parent once per process run.
  Result<void> ensure_durable_dir(const std::filesystem::path& dir);

  std::filesystem::path root_;  // <data_dir>/blobs
  std::mutex mu_;
  std::set<std::string> durable_dirs_;  // guarded by mu_
};

}  // namespace posthorn::store::sqlite
