// Compression implementation over zlib's z_stream (see compression.hpp).
#include "net/compression.hpp"

#include <zlib.h>

namespace posthorn::net {

namespace {

// Raw DEFLATE, the largest window: a peer may use any window size up to 32 KiB, so inflate needs it;
// deflate uses it too for the better ratio (RFC 4978 §4 leaves the choice to the sender).
constexpr int kWindowBits = -15;
constexpr int kMemLevel = 8;  // zlib's default
// Output of one deflate() step; the loop runs until zlib has nothing more to give.
constexpr size_t kDeflateStep = 16 * 1024;

}  // namespace

struct Compression::Streams {
  z_stream in{};
  z_stream out{};
  bool in_ready = false;
  bool out_ready = false;
  ~Streams() {
    if (in_ready) inflateEnd(&in);
    if (out_ready) deflateEnd(&out);
  }
};

std::unique_ptr<Compression> Compression::create() {
  std::unique_ptr<Compression> c(new Compression());
  c->streams_ = std::make_unique<Streams>();
  Streams& s = *c->streams_;
  if (inflateInit2(&s.in, kWindowBits) != Z_OK) return nullptr;
  s.in_ready = true;
  if (deflateInit2(&s.out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    return nullptr;
  }
  s.out_ready = true;
  return c;
}

Compression::~Compression() = default;

void Compression::add_input(std::string_view compressed) {
  if (pending_pos_ == pending_.size()) {
    pending_.clear();
    pending_pos_ = 0;
  }
  pending_.append(compressed);
}

Compression::Inflated Compression::inflate_some(std::string& out, size_t max) {
  z_stream& z = streams_->in;
  const size_t old = out.size();
  out.resize(old + max);
  const size_t available = pending_.size() - pending_pos_;
  z.next_in = reinterpret_cast<Bytef*>(pending_.data() + pending_pos_);
  z.avail_in = static_cast<uInt>(available);
  z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
  z.avail_out = static_cast<uInt>(max);
  const int rc = inflate(&z, Z_SYNC_FLUSH);
  pending_pos_ += available - z.avail_in;
  const size_t produced = max - z.avail_out;
  out.resize(old + produced);
  if (pending_pos_ == pending_.size()) {
    // Nothing left: give the memory back, so an idle connection holds no compressed input.
    std::string().swap(pending_);
    pending_pos_ = 0;
  }
  if (rc == Z_STREAM_END) return Inflated::kError;
  if (rc != Z_OK && rc != Z_BUF_ERROR) return Inflated::kError;
  return produced > 0 ? Inflated::kData : Inflated::kNeedInput;
}

bool Compression::deflate(std::string_view data, std::string& out) {
  z_stream& z = streams_->out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  do {
    const size_t old = out.size();
    out.resize(old + kDeflateStep);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = static_cast<uInt>(kDeflateStep);
    const int rc = ::deflate(&z, Z_SYNC_FLUSH);
    out.resize(old + (kDeflateStep - z.avail_out));
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
  } while (z.avail_out == 0);
  return z.avail_in == 0;
}

}  // namespace posthorn::net
