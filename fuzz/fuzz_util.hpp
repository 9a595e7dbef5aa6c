// Helpers shared by the libFuzzer targets in fuzz/: splitting the fuzzer's bytes into a chunk-size
// schedule and a payload, so one input decides both what a parser is fed and in which pieces.
// Header-only, no dependencies beyond the standard library; each instance belongs to one input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace posthorn::fuzz {

// Input layout: byte 0 = k (mod 8) schedule bytes follow; each schedule byte s gives a chunk of
// 1 + s bytes (so 1..256); k = 0 means "everything in one piece". The rest is the payload. The
// schedule repeats until the payload is used up. A seed file that starts with '\0' is therefore
// the payload fed whole, which keeps the corpora readable.
class Chunker {
 public:
  Chunker(const uint8_t* data, size_t size) {
    std::string_view all(reinterpret_cast<const char*>(data), size);
    if (all.empty()) return;
    size_t k = static_cast<uint8_t>(all[0]) % 8;
    all.remove_prefix(1);
    for (size_t i = 0; i < k && !all.empty(); ++i) {
      sizes_.push_back(1 + static_cast<uint8_t>(all[0]));
      all.remove_prefix(1);
    }
    payload_ = all;
  }

  std::string_view payload() const { return payload_; }

  // The size of the next chunk (cycling through the schedule), or `fallback` without a schedule.
  size_t next_size(size_t fallback) {
    if (sizes_.empty()) return fallback;
    size_t s = sizes_[next_ % sizes_.size()];
    ++next_;
    return s;
  }

  // The payload cut into chunks along the schedule.
  std::vector<std::string_view> chunks() {
    std::vector<std::string_view> out;
    std::string_view rest = payload_;
    while (!rest.empty()) {
      size_t n = next_size(rest.size());
      if (n > rest.size()) n = rest.size();
      out.push_back(rest.substr(0, n));
      rest.remove_prefix(n);
    }
    return out;
  }

 private:
  std::vector<size_t> sizes_;
  size_t next_ = 0;
  std::string_view payload_;
};

// Splits `text` into lines at LF; the CR before an LF is dropped like Connection::read_line does.
// A last line without LF is returned too.
inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t lf = text.find('\n');
    std::string_view line = text.substr(0, lf);
    if (lf != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (lf == std::string_view::npos) break;
    text.remove_prefix(lf + 1);
  }
  return lines;
}

// Aborts the process with a message: an oracle in a target found a bug (libFuzzer records the input).
[[noreturn]] void fail(const char* what);

}  // namespace posthorn::fuzz

// Provided by each target.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
