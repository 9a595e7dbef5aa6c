// Fuzz target: the IMAP command path a session runs on untrusted bytes. The payload is cut into lines
// (like Connection::read_line) and fed to a CommandAssembler; literal bytes are fed in the
// fuzzer-chosen chunk sizes (fuzz_util.hpp); every complete command goes to parse_command, and
// SEARCH/SORT/THREAD arguments to the search parsers. Oracle: the assembled commands do not depend on
// how literal bytes were chunked. Depends on proto/imap only; single-threaded.
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "proto/imap/assembler.hpp"
#include "proto/imap/command.hpp"
#include "proto/imap/reader.hpp"
#include "proto/imap/search.hpp"

namespace {

using namespace posthorn::proto::imap;

// Small limits so that the too-big paths are reached by short inputs.
constexpr AssemblerOptions kOptions{.max_literal_size = 4096, .max_command_size = 8192};

void parse_one(const std::string& text) {
  auto parsed = parse_command(text);
  if (!parsed) return;
  if (const auto* search = std::get_if<Search>(&parsed->args)) {
    SearchLimits limits{.max_depth = 16, .max_keys = 64};
    if (parsed->name.ends_with("SORT")) {
      (void)parse_sort(search->args, limits);
    } else if (parsed->name.ends_with("THREAD")) {
      (void)parse_thread(search->args, limits);
    } else {
      auto program = parse_search(search->args, limits);
      if (!program) (void)search_error_reply(parsed->tag, program.error());
    }
  }
}

// Assembles every command of `stream`; literal bytes come in pieces of chunk(remaining) bytes.
// Returns the assembled commands, and "!" entries for assembly errors, in order.
template <class ChunkFn>
std::vector<std::string> assemble(std::string_view stream, ChunkFn chunk) {
  std::vector<std::string> out;
  CommandAssembler assembler(kOptions);
  Progress progress = Progress::need_line();
  while (!stream.empty()) {
    if (progress.kind == Progress::Kind::kNeedLiteral) {
      size_t n = chunk(progress.literal_size);
      if (n > stream.size()) n = stream.size();
      progress = assembler.feed_literal(stream.substr(0, n));
      stream.remove_prefix(n);
    } else {
      size_t lf = stream.find('\n');
      std::string_view line = stream.substr(0, lf);
      stream.remove_prefix(lf == std::string_view::npos ? stream.size() : lf + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      (void)leading_tag(line);
      (void)trailing_literal(line);
      progress = assembler.feed_line(line);
    }
    if (progress.kind == Progress::Kind::kComplete) {
      out.push_back(assembler.take());
      progress = Progress::need_line();
    } else if (progress.kind == Progress::Kind::kError) {
      out.push_back("!" + progress.error.message);
      if (progress.error.must_close) break;
      progress = Progress::need_line();
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  posthorn::fuzz::Chunker chunker(data, size);
  std::string_view payload = chunker.payload();

  auto chunked = assemble(payload, [&](uint64_t remaining) {
    size_t n = chunker.next_size(remaining);
    return n < remaining ? n : static_cast<size_t>(remaining);
  });
  auto whole = assemble(payload, [](uint64_t remaining) { return static_cast<size_t>(remaining); });
  if (chunked != whole) posthorn::fuzz::fail("IMAP assembly depends on literal chunking");

  for (const auto& command : whole) {
    if (!command.empty() && command[0] == '!') continue;
    parse_one(command);
  }
  // The raw payload as one command too: reaches the parser with literal markers it did not announce.
  parse_one(std::string(payload));
  return 0;
}
