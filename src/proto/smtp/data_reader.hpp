// DataReader: the body of an SMTP DATA command [RFC 5321 §4.1.1.4, §4.5.2], fed as raw bytes in
// any chunking, with the SMTP-smuggling rules applied:
// - only CRLF "." CRLF ends the data; "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n" and every other
//   combination of bare CR or LF around a dot is data, so the reader never ends early;
// - a bare LF (LF not after CR) or a bare CR (CR not before LF) anywhere marks the message as
//   refused (bare_lf() / bare_cr(), found by LineEndCheck on the bytes consumed, as for BDAT); the
//   session answers 550 5.5.2 after the real terminator [RFC 5321 §2.3.8; the SMTP smuggling
//   advisories of December 2023]; NUL octets are data;
// - a leading dot is removed from every line (dot-unstuffing, §4.5.2);
// - the unstuffed size is counted; past `max_size` bytes nothing more is kept (too_big()) but the
//   data is still read to its end so the session stays in step with the client.
// Pure: no sockets, no storage. Not thread-safe (one reader per transaction).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/smtp/line_ends.hpp"

namespace posthorn::proto::smtp {

class DataReader {
 public:
  explicit DataReader(uint64_t max_size) : max_size_(max_size) {}

  // Consumes bytes up to and including the terminating CRLF.CRLF; returns how many were consumed
  // (less than bytes.size() only when the terminator was found before the end of `bytes`).
  std::size_t feed(std::string_view bytes);

  bool done() const { return state_ == State::kDone; }
  bool bare_lf() const { return line_ends_.bare_lf(); }
  bool bare_cr() const { return line_ends_.bare_cr(); }
  bool too_big() const { return size_ > max_size_; }
  uint64_t size() const { return size_; }  // unstuffed bytes seen, kept or not
  // The unstuffed message (including the CRLF before the final dot); complete only when done()
  // and !too_big().
  std::string& message() { return message_; }

 private:
  enum class State { kLineStart, kDot, kDotCr, kMid, kCr, kDone };
  void emit(char c);
  void in_line(char c);

  uint64_t max_size_;
  uint64_t size_ = 0;
  State state_ = State::kLineStart;
  LineEndCheck line_ends_;
  std::string message_;
};

}  // namespace posthorn::proto::smtp
