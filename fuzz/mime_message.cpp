// Fuzz target: a whole message through the MIME parser the store runs at delivery: summarize() (MIME
// tree, envelope, embedded envelopes, preview), the summary's byte encoding, section lookup for every
// part, content decoding, and IMAP's BODYSTRUCTURE/ENVELOPE formatting. Oracles: every part's byte
// range lies inside the message; every section found lies inside the message;
// decode_summary(encode_summary(s)) == s; with_prefix(s) equals the summary of a prefixed
// message wherever joins_header says it applies. Depends on mime and proto/imap; single-threaded.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "mime/encoded_word.hpp"
#include "mime/section.hpp"
#include "mime/summary.hpp"
#include "mime/transfer_encoding.hpp"
#include "proto/imap/fetch_format.hpp"

namespace {

using namespace posthorn::mime;
using posthorn::fuzz::fail;

void walk(const Part& part, std::string_view message, const Part& root, std::vector<uint32_t>& path, int& budget) {
  if (--budget < 0) return;
  if (part.header_offset > message.size() || part.header_size > message.size() - part.header_offset)
    fail("part header outside the message");
  if (part.body_offset > message.size() || part.body_size > message.size() - part.body_offset)
    fail("part body outside the message");
  for (SectionPart which : {SectionPart::kAll, SectionPart::kHeader, SectionPart::kText, SectionPart::kMime}) {
    auto range = find_section(root, path, which);
    if (range && (range->offset > message.size() || range->size > message.size() - range->offset))
      fail("section outside the message");
  }
  if (part.children.empty()) {
    std::string_view body = message.substr(part.body_offset, part.body_size);
    std::string decoded = decode_transfer_encoding(body.substr(0, 4096), part.encoding);
    const std::string* charset = part.content_type.param("charset");
    if (charset) (void)to_utf8(decoded, *charset);
  }
  uint32_t n = 0;
  for (const Part& child : part.children) {
    path.push_back(++n);
    walk(child, message, root, path, budget);
    path.pop_back();
  }
  // A part number past the last child must not be found.
  path.push_back(n + 1);
  if (!part.is_multipart() && !part.is_message() && !path.empty() && path.size() > 1) {
    (void)find_section(root, path, SectionPart::kAll);
  }
  path.pop_back();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);
  MessageOptions options;
  options.max_depth = 20;
  options.max_parts = 200;
  options.header.max_fields = 200;
  MessageSummary summary = summarize(message, options);

  std::vector<uint32_t> path;
  int budget = 400;
  walk(summary.root, message, summary.root, path, budget);

  std::string encoded = encode_summary(summary);
  auto decoded = decode_summary(encoded);
  if (!decoded || !(*decoded == summary)) fail("summary encoding round trip");
  (void)decode_summary(message);  // arbitrary bytes as a stored summary: must be refused, not crash

  // A delivery prefix: the shifted summary is the summary of the prefixed message.
  if (joins_header(message, options)) {
    const std::string prefix = "Return-Path: <a@b>\r\nReceived: from x\r\n\tby y; now\r\n";
    if (!(with_prefix(summary, prefix.size()) == summarize(prefix + std::string(message), options)))
      fail("with_prefix differs from the summary of the prefixed message");
  }

  (void)decoded_subject(summary.envelope);
  (void)posthorn::proto::imap::format_envelope(summary.envelope);
  (void)posthorn::proto::imap::format_body_structure(summary, false);
  (void)posthorn::proto::imap::format_body_structure(summary, true);
  return 0;
}
