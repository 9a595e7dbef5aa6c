// Compression: the two raw DEFLATE streams of one compressed connection [RFC 1951; RFC 4978 IMAP
// COMPRESS=DEFLATE], one for each direction, with zlib (windowBits -15: no zlib or gzip header).
// Connection layers it between the socket (or TLS) and its read buffer; protocol code never sees it.
//
// Reads are bounded: inflate_some() produces at most `max` bytes per call and keeps the rest of the
// compressed input pending, so a small input that inflates to gigabytes (a decompression bomb) only
// ever fills the read buffer as far as the reader's own line or literal limit lets it.
// Writes end with Z_SYNC_FLUSH, so the peer can decode everything sent so far at once.
//
// Thread-compatible: one connection's strand uses it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace posthorn::net {

class Compression {
 public:
  // nullptr when zlib cannot set up its state (out of memory).
  static std::unique_ptr<Compression> create();
  ~Compression();
  Compression(const Compression&) = delete;
  Compression& operator=(const Compression&) = delete;

  // Received compressed bytes, kept until inflate_some() consumes them.
  void add_input(std::string_view compressed);
  // Compressed bytes received but not inflated yet.
  size_t pending_input() const { return pending_.size() - pending_pos_; }

  enum class Inflated { kData, kNeedInput, kError };
  // Inflates pending input, appending at most `max` bytes to `out`. kData: at least one byte was
  // appended; kNeedInput: nothing more can be produced without more input; kError: the stream is
  // corrupt or was ended by the peer (a compressed session never ends its stream).
  Inflated inflate_some(std::string& out, size_t max);

  // Appends `data` compressed, followed by a sync flush, to `out`. False on a zlib failure.
  bool deflate(std::string_view data, std::string& out);

 private:
  struct Streams;
  Compression() = default;
  std::unique_ptr<Streams> streams_;
  std::string pending_;  // compressed input; [pending_pos_, size) not inflated yet
  size_t pending_pos_ = 0;
};

}  // namespace posthorn::net
