#include "base/gzip.hpp"

#include <zlib.h>

namespace posthorn::gzip {

namespace {
constexpr std::size_t kGzipStep = 16 * 1024;  // output grows by this much per zlib call
}  // namespace

std::string compress(std::string_view data) {
  z_stream z{};
  // 15 + 16: the largest window, with a gzip header and trailer.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    const std::size_t old = out.size();
    out.resize(old + kGzipStep);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = static_cast<uInt>(kGzipStep);
    rc = deflate(&z, Z_FINISH);
    out.resize(old + kGzipStep - z.avail_out);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
  }
  deflateEnd(&z);
  return out;
}

Result<std::string> decompress(std::string_view data, std::size_t max_out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return make_error(Errc::kInternal, "zlib unavailable");
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    const std::size_t old = out.size();
    out.resize(old + kGzipStep);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = static_cast<uInt>(kGzipStep);
    rc = inflate(&z, Z_NO_FLUSH);
    out.resize(old + kGzipStep - z.avail_out);
    if (out.size() > max_out) rc = Z_MEM_ERROR;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // truncated input
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return make_error(Errc::kInvalid, "not a complete gzip stream within the size limit");
  return out;
}

}  // namespace posthorn::gzip
