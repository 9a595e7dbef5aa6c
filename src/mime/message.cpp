// Implementation notes:
// - Each multipart level scans its own body once for its own delimiter lines, so the cost is
//   O(size x depth) with depth <= max_depth, and recursion depth is at most max_depth.
// - A delimiter line is "--" boundary ["--"] followed only by WSP [RFC 2046 §5.1.1]; the line end
//   before it belongs to the delimiter, so a part's body stops before that CRLF (or LF).
// - A child's range is bounded by its parent's delimiters, so a child multipart missing its final
//   boundary ends where the parent's next delimiter starts.
#include "mime/message.hpp"

#include <algorithm>

#include "base/ascii.hpp"

namespace posthorn::mime {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

const std::string* find_param(const std::vector<Parameter>& params, std::string_view name) {
  for (const Parameter& p : params) {
    if (p.name == name) return &p.value;
  }
  return nullptr;
}

// Skips WSP and (nested) comments from `pos`.
std::size_t skip_cfws(std::string_view s, std::size_t pos) {
  while (pos < s.size()) {
    if (is_wsp(s[pos]) || s[pos] == '\r' || s[pos] == '\n') {
      ++pos;
    } else if (s[pos] == '(') {
      int depth = 0;
      while (pos < s.size()) {
        char c = s[pos++];
        if (c == '\\' && pos < s.size()) {
          ++pos;
        } else if (c == '(') {
          ++depth;
        } else if (c == ')' && --depth == 0) {
          break;
        }
      }
    } else {
      break;
    }
  }
  return pos;
}

std::string without_whitespace(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!is_wsp(c) && c != '\r' && c != '\n') out.push_back(c);
  }
  return out;
}

struct Delimiter {
  std::size_t start;  // first byte of "--boundary"
  std::size_t next;   // first byte after the delimiter line
  bool close;         // "--boundary--"
};

// Delimiter lines of `boundary` in [begin, end); stops after the close delimiter.
std::vector<Delimiter> find_delimiters(std::string_view msg, std::size_t begin, std::size_t end,
                                       std::string_view boundary) {
  std::vector<Delimiter> out;
  std::string dash = "--" + std::string(boundary);
  std::size_t pos = begin;
  while (pos < end) {
    // Jump to the next occurrence of "--boundary"; only one at the start of a line counts.
    std::size_t hit = msg.find(dash, pos);
    if (hit == std::string_view::npos || hit + dash.size() > end) break;
    std::size_t lf = msg.find('\n', hit);
    std::size_t next = (lf == std::string_view::npos || lf >= end) ? end : lf + 1;
    if (hit == begin || msg[hit - 1] == '\n') {
      std::size_t content_end = next;
      if (content_end > hit && msg[content_end - 1] == '\n') --content_end;
      if (content_end > hit && msg[content_end - 1] == '\r') --content_end;
      std::size_t p = hit + dash.size();
      if (p <= content_end) {
        bool close = content_end - p >= 2 && msg[p] == '-' && msg[p + 1] == '-';
        if (close) p += 2;
        bool only_wsp = true;
        for (std::size_t i = p; i < content_end; ++i) only_wsp = only_wsp && is_wsp(msg[i]);
        if (only_wsp) {
          out.push_back(Delimiter{hit, next, close});
          if (close) break;
        }
      }
    }
    pos = next;
  }
  return out;
}

class TreeParser {
 public:
  TreeParser(std::string_view msg, const MessageOptions& options) : msg_(msg), options_(options) {}

  Part parse(std::size_t begin, std::size_t end, std::size_t depth, bool digest_child) {
    ++parts_;
    Part part;
    std::string_view bytes = msg_.substr(begin, end - begin);
    HeaderSplit split = split_header(bytes);
    Header header = parse_header(bytes.substr(0, split.header_end), options_.header);
    part.header_offset = begin;
    part.header_size = split.body_start;
    part.body_offset = begin + split.body_start;
    part.body_size = end - part.body_offset;

    if (const HeaderField* f = header.find("Content-Type")) {
      part.content_type = parse_content_type(f->value);
    } else if (digest_child) {
      part.content_type = ContentType{"message", "rfc822", {}};  // [RFC 2046 §5.1.5]
    } else {
      part.content_type.params.push_back(Parameter{"charset", "us-ascii"});  // [RFC 2045 §5.2]
    }
    if (const HeaderField* f = header.find("Content-Disposition")) part.disposition = parse_mime_value(f->value);
    if (const HeaderField* f = header.find("Content-Transfer-Encoding")) {
      std::string enc = ascii::lower(without_whitespace(f->value));
      if (!enc.empty()) part.encoding = std::move(enc);
    }
    if (const HeaderField* f = header.find("Content-ID")) part.id = f->value;
    if (const HeaderField* f = header.find("Content-Description")) part.description = f->value;
    if (const HeaderField* f = header.find("Content-MD5")) part.md5 = f->value;
    if (const HeaderField* f = header.find("Content-Location")) part.location = without_whitespace(f->value);
    if (const HeaderField* f = header.find("Content-Language")) {
      for (std::string_view tag : ascii::split(f->value, ',')) {
        std::string t = without_whitespace(tag);
        if (!t.empty()) part.language.push_back(std::move(t));
      }
    }

    // Lines matter to IMAP only for leaves and message/rfc822 [RFC 3501 §7.4.2]; skipping them for
    // multiparts keeps deep multipart nesting from recounting the same bytes at every level.
    if (!part.is_multipart()) {
      part.body_lines = std::size_t(std::count(msg_.begin() + part.body_offset, msg_.begin() + end, '\n'));
    }
    const ContentType& ct = part.content_type;
    bool message = ct.type == "message" && (ct.subtype == "rfc822" || ct.subtype == "global");
    if (!part.is_multipart() && !message) return part;
    if (depth >= options_.max_depth || parts_ >= options_.max_parts) {
      part.opaque = true;
      return part;
    }
    if (message) {
      // An encoded message/rfc822 is illegal [RFC 2046 §5.2.1]; leave it opaque rather than guess.
      if (part.encoding != "7bit" && part.encoding != "8bit" && part.encoding != "binary") {
        part.opaque = true;
        return part;
      }
      part.children.push_back(parse(part.body_offset, end, depth + 1, false));
      return part;
    }
    const std::string* boundary = ct.param("boundary");
    if (boundary == nullptr || boundary->empty()) return part;
    bool digest = ct.subtype == "digest";
    std::vector<Delimiter> delims = find_delimiters(msg_, part.body_offset, end, *boundary);
    for (std::size_t i = 0; i < delims.size() && !delims[i].close; ++i) {
      if (parts_ >= options_.max_parts) {
        part.truncated = true;
        break;
      }
      std::size_t child_begin = delims[i].next;
      std::size_t child_end = end;  // missing final boundary: the last part runs to the end
      if (i + 1 < delims.size()) {
        child_end = delims[i + 1].start;
        if (child_end > child_begin && msg_[child_end - 1] == '\n') --child_end;
        if (child_end > child_begin && msg_[child_end - 1] == '\r') --child_end;
      }
      part.children.push_back(parse(child_begin, child_end, depth + 1, digest));
    }
    return part;
  }

 private:
  std::string_view msg_;
  const MessageOptions& options_;
  std::size_t parts_ = 0;
};

}  // namespace

const std::string* MimeValue::param(std::string_view name) const { return find_param(params, name); }
const std::string* ContentType::param(std::string_view name) const { return find_param(params, name); }

bool Part::is_message() const {
  return content_type.type == "message" && (content_type.subtype == "rfc822" || content_type.subtype == "global") &&
         children.size() == 1;
}

MimeValue parse_mime_value(std::string_view s) {
  MimeValue out;
  std::size_t pos = skip_cfws(s, 0);
  std::size_t b = pos;
  while (pos < s.size() && s[pos] != ';' && s[pos] != '(' && !is_wsp(s[pos])) ++pos;
  out.value = ascii::lower(s.substr(b, pos - b));
  std::vector<RawParameter> raw;
  while (pos < s.size() && raw.size() < kMaxParameters) {
    std::size_t semi = s.find(';', pos);
    if (semi == std::string_view::npos) break;
    pos = skip_cfws(s, semi + 1);
    std::size_t name_begin = pos;
    while (pos < s.size() && s[pos] != '=' && s[pos] != ';' && !is_wsp(s[pos]) && s[pos] != '(') ++pos;
    std::string name(s.substr(name_begin, pos - name_begin));
    pos = skip_cfws(s, pos);
    if (pos >= s.size() || s[pos] != '=' || name.empty()) continue;
    pos = skip_cfws(s, pos + 1);
    std::string value;
    if (pos < s.size() && s[pos] == '"') {
      ++pos;
      while (pos < s.size() && s[pos] != '"') {
        if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
        value.push_back(s[pos++]);
      }
      if (pos < s.size()) ++pos;
    } else {
      std::size_t vb = pos;
      while (pos < s.size() && s[pos] != ';' && !is_wsp(s[pos]) && s[pos] != '(') ++pos;
      value.assign(s.substr(vb, pos - vb));
    }
    raw.push_back(RawParameter{std::move(name), std::move(value)});
  }
  out.params = decode_parameters(raw);
  return out;
}

ContentType parse_content_type(std::string_view value) {
  MimeValue v = parse_mime_value(value);
  ContentType ct;
  std::size_t slash = v.value.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == v.value.size()) {
    ct.params.push_back(Parameter{"charset", "us-ascii"});  // invalid: the default [RFC 2045 §5.2]
    return ct;
  }
  ct.type = v.value.substr(0, slash);
  ct.subtype = v.value.substr(slash + 1);
  ct.params = std::move(v.params);
  return ct;
}

Part parse_message(std::string_view message, const MessageOptions& options) {
  return TreeParser(message, options).parse(0, message.size(), 0, false);
}

}  // namespace posthorn::mime
