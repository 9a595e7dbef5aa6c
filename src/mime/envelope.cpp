#include "mime/envelope.hpp"

#include "mime/encoded_word.hpp"

namespace posthorn::mime {
namespace {

std::optional<std::string> text_field(const Header& header, std::string_view name) {
  if (const HeaderField* f = header.find(name)) return f->value;
  return std::nullopt;
}

std::vector<Address> address_field(const Header& header, std::string_view name, const AddressOptions& options) {
  if (const HeaderField* f = header.find(name)) return parse_address_list(f->value, options).addresses;
  return {};
}

}  // namespace

Envelope make_envelope(const Header& header, const AddressOptions& options) {
  Envelope e;
  e.date = text_field(header, "Date");
  e.subject = text_field(header, "Subject");
  e.in_reply_to = text_field(header, "In-Reply-To");
  e.message_id = text_field(header, "Message-ID");
  e.from = address_field(header, "From", options);
  e.sender = address_field(header, "Sender", options);
  e.reply_to = address_field(header, "Reply-To", options);
  e.to = address_field(header, "To", options);
  e.cc = address_field(header, "Cc", options);
  e.bcc = address_field(header, "Bcc", options);
  // Absent or empty Sender / Reply-To take the value of From [RFC 3501 §7.4.2].
  if (e.sender.empty()) e.sender = e.from;
  if (e.reply_to.empty()) e.reply_to = e.from;
  return e;
}

Envelope parse_envelope(std::string_view message_bytes, const AddressOptions& options) {
  HeaderSplit split = split_header(message_bytes);
  return make_envelope(parse_header(message_bytes.substr(0, split.header_end)), options);
}

std::string decoded_subject(const Envelope& envelope) {
  return envelope.subject ? decode_words(*envelope.subject) : std::string();
}

}  // namespace posthorn::mime
