// Fuzz target: the header-value grammars of mime/: address lists (groups, routes, comments, encoded
// words), dates, Content-Type and other "token; params" values with RFC 2231 continuations, RFC 2047
// encoded words, base64 and quoted-printable. Byte 0 picks the grammar. Oracle: address lists respect
// their cap and close every group they open. Depends on mime only; single-threaded.
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "mime/address.hpp"
#include "mime/date.hpp"
#include "mime/encoded_word.hpp"
#include "mime/header.hpp"
#include "mime/message.hpp"
#include "mime/transfer_encoding.hpp"

using namespace posthorn::mime;
using posthorn::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t which = data[0] % 6;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (which) {
    case 0: {
      AddressOptions options;
      options.max_addresses = 50;
      AddressList list = parse_address_list(text, options);
      if (list.addresses.size() > options.max_addresses + 1) fail("address cap exceeded");
      int open = 0;
      for (const Address& a : list.addresses) {
        if (a.is_group_start) ++open;
        if (a.is_group_end && --open < 0) fail("group end without start");
      }
      if (open != 0) fail("group left open");
      break;
    }
    case 1: {
      (void)parse_date_time(text);
      (void)parse_date_time_zoned(text);
      (void)zone_offset(text);
      (void)month_number(text);
      break;
    }
    case 2: {
      (void)parse_content_type(text);
      MimeValue v = parse_mime_value(text);
      if (v.params.size() > kMaxParameters) fail("parameter cap exceeded");
      break;
    }
    case 3: {
      std::string decoded = decode_words(text);
      (void)sanitize_utf8(text);
      // name NUL value pairs as RFC 2231 raw parameters.
      std::vector<RawParameter> raw;
      std::string_view rest = text;
      while (!rest.empty() && raw.size() < 64) {
        size_t nul = rest.find('\0');
        std::string_view name = rest.substr(0, nul);
        rest.remove_prefix(nul == std::string_view::npos ? rest.size() : nul + 1);
        size_t nul2 = rest.find('\0');
        std::string_view value = rest.substr(0, nul2);
        rest.remove_prefix(nul2 == std::string_view::npos ? rest.size() : nul2 + 1);
        raw.push_back(RawParameter{std::string(name), std::string(value)});
      }
      (void)decode_parameters(raw);
      break;
    }
    case 4: {
      (void)decode_base64_lenient(text);
      (void)decode_quoted_printable(text);
      size_t nul = text.find('\0');
      if (nul != std::string_view::npos) (void)to_utf8(text.substr(nul + 1), text.substr(0, nul));
      break;
    }
    case 5: {
      HeaderOptions options;
      options.max_fields = 20;
      Header header = parse_header(text, options);
      if (header.fields.size() > options.max_fields) fail("header field cap exceeded");
      (void)split_header(text);
      for (const auto& field : header.fields) (void)unfold(field.raw_value);
      break;
    }
  }
  return 0;
}
