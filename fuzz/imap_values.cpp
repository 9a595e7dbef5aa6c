// Fuzz target: the IMAP value grammars used outside the command parser: sequence sets (parse,
// resolve, print), modified UTF-7 mailbox names, date-times, LIST patterns. Byte 0 picks the grammar.
// Oracles: a parsed sequence set prints to text that parses to the same set; mUTF-7 encode then
// decode gives the original UTF-8. Depends on proto/imap only; single-threaded.
#include <string>

#include "fuzz_util.hpp"
#include "proto/imap/datetime.hpp"
#include "proto/imap/list_pattern.hpp"
#include "proto/imap/mutf7.hpp"
#include "proto/imap/sequence_set.hpp"

using namespace posthorn::proto::imap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t which = data[0] % 5;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (which) {
    case 0: {
      auto set = parse_sequence_set(text);
      if (!set) break;
      (void)set->contains_star();
      (void)set->resolve(0);
      (void)set->resolve(7);
      (void)set->resolve(UINT32_MAX);
      if (!set->saved) {
        auto again = parse_sequence_set(set->to_string());
        if (!again || *again != *set) posthorn::fuzz::fail("sequence set does not survive to_string");
      }
      break;
    }
    case 1: {
      auto decoded = mutf7_decode(text);
      if (decoded) (void)mutf7_encode(*decoded);
      if (valid_utf8(text)) {
        auto encoded = mutf7_encode(text);
        if (encoded) {
          auto back = mutf7_decode(*encoded);
          if (!back || *back != text) posthorn::fuzz::fail("mUTF-7 round trip");
        }
      }
      (void)mailbox_from_wire(text, false);
      (void)mailbox_from_wire(text, true);
      (void)mailbox_to_wire(text, false);
      break;
    }
    case 2: {
      auto t = parse_date_time(text);
      if (t) (void)format_date_time(*t);
      (void)parse_date(text);
      break;
    }
    case 3:
    case 4: {
      // pattern NUL name: list matching must terminate quickly whatever the number of wildcards.
      size_t nul = text.find('\0');
      std::string_view pattern = text.substr(0, nul);
      std::string_view name = nul == std::string_view::npos ? std::string_view() : text.substr(nul + 1);
      char sep = which == 3 ? '/' : '.';
      (void)list_match(pattern, name, sep);
      (void)list_match_prefix(pattern, name, sep);
      (void)join_list_pattern(name, pattern, sep);
      break;
    }
  }
  return 0;
}
