// Fuzz target: SMTP command lines (every verb, MAIL/RCPT parameters, BDAT sizes, paths, xtext).
// Each payload line goes to parse_command; the line's argument text also goes straight to the
// envelope parsers. Oracles: xtext encode then decode gives the original bytes; a parsed path's
// address re-parses to the same mailbox. Depends on proto/smtp only; single-threaded.
#include <string>

#include "fuzz_util.hpp"
#include "proto/smtp/command.hpp"
#include "proto/smtp/envelope.hpp"
#include "proto/smtp/reply.hpp"

using namespace posthorn::proto::smtp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  posthorn::fuzz::Chunker chunker(data, size);
  for (std::string_view line : posthorn::fuzz::split_lines(chunker.payload())) {
    auto parsed = parse_command(line);
    if (parsed) {
      (void)verb_name(verb_of(*parsed));
    } else {
      (void)format(parsed.error().reply, parsed.error().text);
    }
    (void)parse_mail_from(line);
    (void)parse_rcpt_to(line);
    (void)parse_bdat(line);
    (void)is_domain(line);
    (void)is_address_literal(line);
    for (bool allow_empty : {false, true}) {
      auto path = parse_path(line, allow_empty);
      if (path && !path->empty()) {
        auto again = parse_path("<" + path->address() + ">", allow_empty);
        if (!again || again->local != path->local || again->domain != path->domain)
          posthorn::fuzz::fail("SMTP path does not survive address()");
      }
    }
    auto decoded = xtext_decode(line);
    if (decoded) (void)xtext_encode(*decoded);
    auto round = xtext_decode(xtext_encode(line));
    if (!round || *round != line) posthorn::fuzz::fail("xtext round trip");
  }
  return 0;
}
