// The ENVELOPE of a message as a structured value [RFC 3501 §7.4.2]: date, subject, address lists,
// in-reply-to and message-id, with the RFC 3501 defaults (sender and reply-to default to from).
// Formatting it as IMAP text belongs to proto/imap. Depends only on src/base and mime/*.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/address.hpp"
#include "mime/header.hpp"

namespace posthorn::mime {

struct Envelope {
  // Unfolded field values as written (encoded words kept: IMAP clients decode them); nullopt when
  // the field is absent (IMAP NIL).
  std::optional<std::string> date;
  std::optional<std::string> subject;
  std::optional<std::string> in_reply_to;
  std::optional<std::string> message_id;
  // Empty list = IMAP NIL. sender and reply_to already carry the from default.
  std::vector<Address> from;
  std::vector<Address> sender;
  std::vector<Address> reply_to;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> bcc;

  bool operator==(const Envelope&) const = default;
};

// Builds the envelope from a parsed header; the first occurrence of each field is used.
Envelope make_envelope(const Header& header, const AddressOptions& options = {});

// Parses the header of `message_bytes` (a whole message, or a message/rfc822 body) and builds
// its envelope.
Envelope parse_envelope(std::string_view message_bytes, const AddressOptions& options = {});

// The subject decoded to UTF-8 (RFC 2047), or empty when absent.
std::string decoded_subject(const Envelope& envelope);

}  // namespace posthorn::mime
