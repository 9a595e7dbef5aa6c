// Fuzz target: POP3 command lines [RFC 1939, RFC 2449, RFC 5034]. Each payload line goes to
// parse_command; a parsed command's keyword must be non-empty. Depends on proto/pop3 only.
#include <string>

#include "fuzz_util.hpp"
#include "proto/pop3/command.hpp"
#include "proto/pop3/reply.hpp"

using namespace posthorn::proto::pop3;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  posthorn::fuzz::Chunker chunker(data, size);
  for (std::string_view line : posthorn::fuzz::split_lines(chunker.payload())) {
    auto parsed = parse_command(line);
    if (parsed) {
      if (keyword(*parsed).empty()) posthorn::fuzz::fail("POP3 command without keyword");
    } else {
      (void)err(parsed.error().message);
    }
  }
  return 0;
}
