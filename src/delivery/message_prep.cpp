#include "delivery/message_prep.hpp"

#include <algorithm>

#include "base/ascii.hpp"
#include "base/random.hpp"
#include "mime/address.hpp"
#include "mime/date.hpp"
#include "mime/header.hpp"

namespace posthorn::delivery {
namespace {

// Client-supplied text in a header: controls become '?' so it cannot start a new field.
std::string header_safe(std::string_view s) {
  std::string out;
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

}  // namespace

std::string return_path_field(std::string_view sender) { return "Return-Path: <" + header_safe(sender) + ">\r\n"; }

std::string received_field(const TraceInfo& info) {
  std::string s = "Received: from " + header_safe(info.helo) + " ([" + info.remote_ip + "])\r\n";
  s += "\tby " + info.hostname + " (Posthorn) with " + info.with + " id " + info.id;
  if (!info.tls.empty()) s += "\r\n\t(" + header_safe(info.tls) + ")";
  if (!info.recipient.empty()) s += "\r\n\tfor <" + header_safe(info.recipient) + ">";
  s += "; " + mime::rfc5322_date(info.time) + "\r\n";
  return s;
}

std::string prepare_submission(std::string_view message, std::string_view message_id_domain, int64_t now) {
  const mime::HeaderSplit split = mime::split_header(message);
  const std::string_view header = message.substr(0, split.header_end);
  std::string out;
  out.reserve(message.size() + 128);
  bool has_message_id = false;
  bool has_date = false;
  bool dropping = false;  // inside a Bcc field (its first line and its continuation lines)
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find('\n', pos);
    end = end == std::string_view::npos ? header.size() : end + 1;
    const std::string_view line = header.substr(pos, end - pos);
    pos = end;
    const bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (!continuation) {
      const std::size_t colon = line.find(':');
      const std::string_view name =
          colon == std::string_view::npos ? std::string_view() : ascii::trim(line.substr(0, colon));
      dropping = ascii::iequals(name, "Bcc");
      has_message_id = has_message_id || ascii::iequals(name, "Message-ID");
      has_date = has_date || ascii::iequals(name, "Date");
    }
    if (!dropping) out += line;
  }
  // A header that did not end in a line end gets one before the new fields.
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  if (!has_message_id) out += "Message-ID: <" + random_hex(12) + "@" + std::string(message_id_domain) + ">\r\n";
  if (!has_date) out += "Date: " + mime::rfc5322_date(now) + "\r\n";
  out += message.substr(split.header_end);
  return out;
}

HeaderSenders header_senders(std::string_view message, std::size_t max) {
  const mime::HeaderSplit split = mime::split_header(message);
  const mime::Header header = mime::parse_header(message.substr(0, split.header_end));
  HeaderSenders out;
  for (const auto& field : header.fields) {
    if (!ascii::iequals(field.name, "From") && !ascii::iequals(field.name, "Sender")) continue;
    // One more than `max` is enough to know there are too many.
    const mime::AddressList list = mime::parse_address_list(field.value, mime::AddressOptions{max + 2});
    for (const auto& a : list.addresses) {
      if (a.is_group_start || a.is_group_end) continue;
      std::string address = a.host.empty() ? a.mailbox : a.mailbox + "@" + a.host;
      const bool seen = std::any_of(out.addresses.begin(), out.addresses.end(),
                                    [&](const std::string& s) { return ascii::iequals(s, address); });
      if (seen) continue;
      if (out.addresses.size() == max) {
        out.too_many = true;
        return out;
      }
      out.addresses.push_back(std::move(address));
    }
    if (list.truncated) out.too_many = true;
  }
  return out;
}

}  // namespace posthorn::delivery
