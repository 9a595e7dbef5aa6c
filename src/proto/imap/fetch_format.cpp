#include "proto/imap/fetch_format.hpp"

#include <cstddef>
#include <optional>

#include "proto/imap/response.hpp"

namespace posthorn::proto::imap {
namespace {

constexpr std::string_view kNil = "NIL";
// [RFC 3501 §7.4.2] has no form for a missing body; this is what Dovecot writes for one.
constexpr std::string_view kEmptyBody = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0";
constexpr std::string_view kEmptyEnvelope = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";

void append_nstring(std::string& out, const std::optional<std::string>& value) {
  out += value ? string_value(*value) : std::string(kNil);
}

// Empty is NIL (display names, routes, Content-ID and friends are absent rather than empty).
void append_nonempty(std::string& out, std::string_view value) {
  out += value.empty() ? std::string(kNil) : string_value(value);
}

void append_address(std::string& out, const mime::Address& a) {
  if (a.is_group_end) {
    out += "(NIL NIL NIL NIL)";
    return;
  }
  if (a.is_group_start) {
    out += "(NIL NIL ";
    out += string_value(a.mailbox);
    out += " NIL)";
    return;
  }
  out += '(';
  append_nonempty(out, a.raw_name);
  out += ' ';
  append_nonempty(out, a.adl);
  out += ' ';
  out += string_value(a.mailbox);
  out += ' ';
  out += string_value(a.host);
  out += ')';
}

void append_addresses(std::string& out, const std::vector<mime::Address>& list) {
  if (list.empty()) {
    out += kNil;
    return;
  }
  out += '(';
  for (const mime::Address& a : list) append_address(out, a);
  out += ')';
}

bool printable_ascii(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// RFC 2231 extended value: utf-8''%XX for every byte outside attribute-char [RFC 2231 §7].
std::string rfc2231_value(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "utf-8''";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// body-fld-param; `default_charset` adds "charset" "us-ascii" when a text part names none.
void append_params(std::string& out, const std::vector<mime::Parameter>& params, bool default_charset) {
  bool add_charset = default_charset;
  for (const mime::Parameter& p : params) add_charset = add_charset && p.name != "charset";
  if (params.empty() && !add_charset) {
    out += kNil;
    return;
  }
  out += '(';
  bool first = true;
  for (const mime::Parameter& p : params) {
    if (!first) out += ' ';
    first = false;
    if (printable_ascii(p.value)) {
      out += string_value(p.name);
      out += ' ';
      out += string_value(p.value);
    } else {
      out += string_value(p.name + "*");
      out += ' ';
      out += string_value(rfc2231_value(p.value));
    }
  }
  if (add_charset) out += first ? "\"charset\" \"us-ascii\"" : " \"charset\" \"us-ascii\"";
  out += ')';
}

// body-fld-dsp SP body-fld-lang SP body-fld-loc, shared by single parts and multiparts.
void append_common_extension(std::string& out, const mime::Part& p) {
  out += ' ';
  if (p.disposition.value.empty()) {
    out += kNil;
  } else {
    out += '(';
    out += string_value(p.disposition.value);
    out += ' ';
    append_params(out, p.disposition.params, false);
    out += ')';
  }
  out += ' ';
  if (p.language.empty()) {
    out += kNil;
  } else {
    out += '(';
    for (std::size_t i = 0; i < p.language.size(); ++i) {
      if (i > 0) out += ' ';
      out += string_value(p.language[i]);
    }
    out += ')';
  }
  out += ' ';
  append_nonempty(out, p.location);
}

class BodyWriter {
 public:
  BodyWriter(const mime::MessageSummary& s, bool extended) : summary_(s), extended_(extended) {}

  void body(std::string& out, const mime::Part& p) {
    out += '(';
    if (p.is_multipart()) {
      multipart(out, p);
    } else {
      single(out, p);
    }
    out += ')';
  }

 private:
  void empty_body(std::string& out) const {
    out += kEmptyBody;
    out += extended_ ? " NIL NIL NIL NIL)" : ")";
  }

  void multipart(std::string& out, const mime::Part& p) {
    if (p.children.empty()) empty_body(out);
    for (const mime::Part& c : p.children) body(out, c);
    out += ' ';
    out += string_value(p.content_type.subtype);
    if (!extended_) return;
    out += ' ';
    append_params(out, p.content_type.params, false);
    append_common_extension(out, p);
  }

  void single(std::string& out, const mime::Part& p) {
    const mime::ContentType& ct = p.content_type;
    bool text = ct.type == "text";
    bool message = ct.type == "message" && (ct.subtype == "rfc822" || ct.subtype == "global");
    out += string_value(ct.type);
    out += ' ';
    out += string_value(ct.subtype);
    out += ' ';
    append_params(out, ct.params, text);
    out += ' ';
    append_nonempty(out, p.id);
    out += ' ';
    append_nonempty(out, p.description);
    out += ' ';
    out += string_value(p.encoding);
    out += ' ';
    out += std::to_string(p.body_size);
    if (text) {
      out += ' ';
      out += std::to_string(p.body_lines);
    } else if (message) {
      out += ' ';
      if (p.is_message()) {
        // Envelopes are stored in the same pre-order as this walk visits message parts.
        std::size_t index = next_embedded_++;
        if (index < summary_.embedded.size()) {
          out += format_envelope(summary_.embedded[index]);
        } else {
          out += kEmptyEnvelope;
        }
        out += ' ';
        body(out, p.children.front());
      } else {
        out += kEmptyEnvelope;
        out += ' ';
        empty_body(out);
      }
      out += ' ';
      out += std::to_string(p.body_lines);
    }
    if (!extended_) return;
    out += ' ';
    append_nonempty(out, p.md5);
    append_common_extension(out, p);
  }

  const mime::MessageSummary& summary_;
  bool extended_;
  std::size_t next_embedded_ = 0;
};

}  // namespace

std::string format_envelope(const mime::Envelope& e) {
  std::string out = "(";
  append_nstring(out, e.date);
  out += ' ';
  append_nstring(out, e.subject);
  for (const auto* list : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) {
    out += ' ';
    append_addresses(out, *list);
  }
  out += ' ';
  append_nstring(out, e.in_reply_to);
  out += ' ';
  append_nstring(out, e.message_id);
  out += ')';
  return out;
}

std::string format_body_structure(const mime::MessageSummary& summary, bool extended) {
  std::string out;
  BodyWriter(summary, extended).body(out, summary.root);
  return out;
}

std::string section_literal_open(uint64_t size, bool literal8) {
  std::string out = literal8 ? " ~{" : " {";
  out += std::to_string(size);
  out += "}\r\n";
  return out;
}

size_t mask_nul_octets(std::string& data) {
  size_t n = 0;
  for (size_t at = data.find('\0'); at != std::string::npos; at = data.find('\0', at + 1)) {
    data[at] = '\x80';
    ++n;
  }
  return n;
}

}  // namespace posthorn::proto::imap
