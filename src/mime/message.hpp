// MIME structure of a message [RFC 2045, RFC 2046]: Content-* fields and the tree of parts with
// exact byte offsets of every part's header and body, as the mail store caches at delivery and
// IMAP FETCH (BODYSTRUCTURE, BODY[section]) serves from. Tolerant of missing final boundaries,
// preamble/epilogue and broken boundaries; message/rfc822 parts are parsed recursively; nesting and
// part count are capped so hostile input is bounded in time and memory.
// Depends only on src/base and mime/*. Pure functions over caller-owned bytes; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mime/encoded_word.hpp"
#include "mime/header.hpp"

namespace posthorn::mime {

// "token; name=value; ..." as in Content-Type and Content-Disposition [RFC 2045 §5.1, RFC 2183].
struct MimeValue {
  std::string value;               // lower-cased token ("text/plain", "attachment"); may be empty
  std::vector<Parameter> params;   // decoded (RFC 2231 / RFC 2047), names lower-cased

  // The value of parameter `name` (lower-case), or nullptr.
  const std::string* param(std::string_view name) const;
  bool operator==(const MimeValue&) const = default;
};

// Parses an unfolded field value. Comments are skipped, quoted values unquoted; at most
// kMaxParameters parameters are kept. Never fails.
MimeValue parse_mime_value(std::string_view value);
inline constexpr std::size_t kMaxParameters = 1'000;

struct ContentType {
  std::string type = "text";      // lower-case
  std::string subtype = "plain";  // lower-case
  std::vector<Parameter> params;  // the default text/plain has charset=us-ascii [RFC 2045 §5.2]

  const std::string* param(std::string_view name) const;
  bool operator==(const ContentType&) const = default;
};

// A Content-Type value; missing or invalid (no "/") gives text/plain; charset=us-ascii.
ContentType parse_content_type(std::string_view value);

struct Part {
  // Byte offsets into the whole message. [header_offset, body_offset) is the part's header
  // including its blank line (BODY[n.MIME]); [body_offset, body_offset + body_size) the body.
  std::size_t header_offset = 0;
  std::size_t header_size = 0;
  std::size_t body_offset = 0;
  std::size_t body_size = 0;
  std::size_t body_lines = 0;  // LF bytes in the body (IMAP size in text lines); 0 for multipart

  ContentType content_type;
  MimeValue disposition;               // value empty when there is no Content-Disposition
  std::string encoding = "7bit";       // Content-Transfer-Encoding, lower-case
  std::string id;                      // Content-ID, unfolded, as written
  std::string description;             // Content-Description, unfolded, raw (encoded words kept)
  std::string md5;                     // Content-MD5, unfolded
  std::vector<std::string> language;   // Content-Language tags
  std::string location;                // Content-Location, unfolded, whitespace removed

  // multipart/*: the parts (may be empty when no boundary line was found).
  // message/rfc822 and message/global: exactly one child, the embedded message, whose
  // header_offset is this part's body_offset.
  std::vector<Part> children;
  bool opaque = false;     // a multipart/message left unparsed: nesting or part cap reached
  bool truncated = false;  // the part cap stopped adding children here

  bool is_multipart() const { return content_type.type == "multipart"; }
  bool is_message() const;  // message/rfc822 or message/global with children
  bool operator==(const Part&) const = default;
};

struct MessageOptions {
  std::size_t max_depth = 100;     // deeper multiparts/messages become opaque leaves
  std::size_t max_parts = 10'000;  // total parts in the tree
  HeaderOptions header;
};

// Parses the whole message into its root part (header_offset 0). Never fails: an empty message is
// a text/plain part with empty header and body.
Part parse_message(std::string_view message, const MessageOptions& options = {});

}  // namespace posthorn::mime
