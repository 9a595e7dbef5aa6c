// Fuzz target: the SMTP DATA body reader (dot-unstuffing, the CRLF.CRLF terminator, bare CR/LF
// detection, the size cap) fed in fuzzer-chosen chunk sizes. Oracle: chunking changes nothing: the
// bytes consumed, the message, the flags and the size are those of feeding the payload in one piece.
// Also the unstuffed message never holds the terminator line. Depends on proto/smtp only.
#include <string>

#include "fuzz_util.hpp"
#include "proto/smtp/data_reader.hpp"

using posthorn::proto::smtp::DataReader;

namespace {

struct Outcome {
  size_t consumed = 0;
  bool done = false, bare_lf = false, bare_cr = false, too_big = false;
  uint64_t size = 0;
  std::string message;
  bool operator==(const Outcome&) const = default;
};

template <class Pieces>
Outcome run(const Pieces& pieces, uint64_t max_size) {
  DataReader reader(max_size);
  Outcome out;
  for (std::string_view piece : pieces) {
    if (reader.done()) break;
    size_t n = reader.feed(piece);
    if (n > piece.size()) posthorn::fuzz::fail("DataReader consumed more than it was given");
    if (n < piece.size() && !reader.done()) posthorn::fuzz::fail("DataReader stopped early without the end");
    out.consumed += n;
  }
  out.done = reader.done();
  out.bare_lf = reader.bare_lf();
  out.bare_cr = reader.bare_cr();
  out.too_big = reader.too_big();
  out.size = reader.size();
  if (!out.too_big) out.message = reader.message();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  posthorn::fuzz::Chunker chunker(data, size);
  std::string_view payload = chunker.payload();
  // A small cap (from the payload length) so that the too-big path is reached too.
  uint64_t max_size = size % 3 == 0 ? 64 : 1 << 20;
  std::string_view whole_pieces[] = {payload};
  Outcome whole = run(whole_pieces, max_size);
  Outcome chunked = run(chunker.chunks(), max_size);
  if (!(whole == chunked)) posthorn::fuzz::fail("DATA reader depends on chunking");
  if (whole.done && !whole.too_big && whole.message.size() != whole.size)
    posthorn::fuzz::fail("DATA size differs from the kept message");
  return 0;
}
