// Implementation notes:
// - The encoding is self-delimiting and read strictly front to back: every length and count is
//   checked against the bytes left before anything is allocated (each element takes at least one
//   byte, so memory stays proportional to the input), flags must be canonical, trailing bytes are
//   an error and tree depth is capped. So any prefix or corruption of an encoding fails cleanly.
// - Layout, version 1: u8 version; Part (recursive); Envelope; varint n + n Envelopes; preview.
//   Integers are LEB128 varints; strings are varint length + bytes; optional strings a 0/1 byte
//   then the string; bools a 0/1 byte.
#include "mime/summary.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>

#include "mime/encoded_word.hpp"
#include "mime/header.hpp"
#include "mime/transfer_encoding.hpp"

namespace posthorn::mime {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// ---------------------------------------------------------------- summarize

Envelope envelope_of(std::string_view bytes, const MessageOptions& options) {
  HeaderSplit split = split_header(bytes);
  return make_envelope(parse_header(bytes.substr(0, split.header_end), options.header));
}

std::string_view clamp_range(std::string_view msg, std::size_t offset, std::size_t size) {
  if (offset > msg.size()) return {};
  return msg.substr(offset, std::min(size, msg.size() - offset));
}

void collect_embedded(std::string_view msg, const Part& part, const MessageOptions& options,
                      std::vector<Envelope>& out) {
  if (part.is_message()) {
    const Part& child = part.children.front();
    out.push_back(envelope_of(clamp_range(msg, child.header_offset, child.header_size), options));
  }
  for (const Part& c : part.children) collect_embedded(msg, c, options, out);
}

bool is_attachment(const Part& p) { return p.disposition.value == "attachment"; }

// First non-attachment leaf of text/<subtype>, depth-first, not entering embedded messages.
const Part* find_text(const Part& part, std::string_view subtype) {
  if (part.is_multipart()) {
    for (const Part& c : part.children) {
      if (const Part* hit = find_text(c, subtype)) return hit;
    }
    return nullptr;
  }
  if (part.content_type.type == "text" && part.content_type.subtype == subtype && !is_attachment(part)) return &part;
  return nullptr;
}

bool starts_with_ci(std::string_view s, std::size_t pos, std::string_view prefix) {
  if (pos > s.size() || s.size() - pos < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[pos + i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

// Decodes the HTML character reference at s[pos] ('&'); returns the bytes consumed, 0 if none.
std::size_t html_entity(std::string_view s, std::size_t pos, std::string& out) {
  std::size_t semi = s.find(';', pos);
  if (semi == std::string_view::npos || semi - pos > 10) return 0;
  std::string_view name = s.substr(pos + 1, semi - pos - 1);
  static constexpr std::pair<std::string_view, std::string_view> kNamed[] = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", " "}};
  for (const auto& [n, v] : kNamed) {
    if (name == n) {
      out += v;
      return semi - pos + 1;
    }
  }
  if (name.size() < 2 || name[0] != '#') return 0;
  bool hex = name[1] == 'x' || name[1] == 'X';
  std::string_view digits = name.substr(hex ? 2 : 1);
  if (digits.empty()) return 0;
  std::uint32_t cp = 0;
  for (char c : digits) {
    int d = (c >= '0' && c <= '9') ? c - '0'
            : (hex && c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (hex && c >= 'A' && c <= 'F') ? c - 'A' + 10
                                            : -1;
    if (d < 0) return 0;
    cp = cp * (hex ? 16 : 10) + std::uint32_t(d);
    if (cp > 0x10FFFF) return 0;
  }
  if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  append_utf8(out, cp);
  return semi - pos + 1;
}

// Text content of HTML: tags dropped (block-level ones become a space), comments, <script>,
// <style>, <title> and <head> contents dropped, common character references decoded.
std::string strip_html(std::string_view s) {
  static constexpr std::string_view kHidden[] = {"script", "style", "title", "head"};
  static constexpr std::string_view kBlock[] = {"br", "p", "div", "tr", "td", "th", "li", "h1", "h2", "h3",
                                                "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr"};
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '&') {
      std::size_t used = html_entity(s, i, out);
      if (used == 0) out.push_back(c);
      i += used == 0 ? 1 : used;
      continue;
    }
    if (c != '<') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (starts_with_ci(s, i, "<!--")) {
      std::size_t end = s.find("-->", i + 4);
      i = end == std::string_view::npos ? s.size() : end + 3;
      continue;
    }
    std::size_t name_begin = i + 1 + (i + 1 < s.size() && s[i + 1] == '/' ? 1 : 0);
    std::size_t name_end = name_begin;
    while (name_end < s.size() && ((s[name_end] >= 'a' && s[name_end] <= 'z') ||
                                   (s[name_end] >= 'A' && s[name_end] <= 'Z') ||
                                   (s[name_end] >= '0' && s[name_end] <= '9'))) {
      ++name_end;
    }
    std::string name;
    for (std::size_t k = name_begin; k < name_end; ++k) name.push_back(char(s[k] | 0x20));
    std::size_t close = s.find('>', i);
    std::size_t after = close == std::string_view::npos ? s.size() : close + 1;
    bool opening = name_begin == i + 1;
    if (opening && std::find(std::begin(kHidden), std::end(kHidden), name) != std::end(kHidden)) {
      // Skip to the matching end tag (not nested in practice).
      std::string end_tag = "</" + name;
      std::size_t k = after;
      while (k < s.size() && !starts_with_ci(s, k, end_tag)) ++k;
      std::size_t gt = s.find('>', k);
      i = gt == std::string_view::npos ? s.size() : gt + 1;
      out.push_back(' ');
      continue;
    }
    if (std::find(std::begin(kBlock), std::end(kBlock), name) != std::end(kBlock)) out.push_back(' ');
    i = after;
  }
  return out;
}

// Collapses whitespace and control characters to single spaces, trims, and keeps at most
// kPreviewChars code points. `text` is valid UTF-8, so sequence lengths follow from lead bytes.
std::string collapse_and_cut(std::string_view text) {
  std::string out;
  std::size_t chars = 0;
  bool pending_space = false;
  std::size_t i = 0;
  while (i < text.size() && chars < kPreviewChars) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == ' ' || c == 0x7F) {
      pending_space = !out.empty();
      ++i;
      continue;
    }
    std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    len = std::min(len, text.size() - i);
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
      if (++chars == kPreviewChars) break;
    }
    out.append(text.substr(i, len));
    ++chars;
    i += len;
  }
  return out;
}

std::string make_preview(std::string_view msg, const Part& root) {
  bool html = false;
  const Part* part = find_text(root, "plain");
  if (part == nullptr) {
    part = find_text(root, "html");
    html = true;
  }
  if (part == nullptr) return {};
  std::string_view body = clamp_range(msg, part->body_offset, part->body_size);
  bool cut = body.size() > kPreviewScanBytes;
  body = body.substr(0, kPreviewScanBytes);
  const std::string* charset = part->content_type.param("charset");
  std::string text = to_utf8(decode_transfer_encoding(body, part->encoding), charset ? *charset : "");
  // A multi-byte character split by the scan limit is not a decoding error of the message.
  if (cut && text.ends_with(kReplacement)) text.resize(text.size() - kReplacement.size());
  if (html) text = strip_html(text);
  return collapse_and_cut(text);
}

// ---------------------------------------------------------------- encoding

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(char(v)); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(char(0x80 | (v & 0x7F)));
      v >>= 7;
    }
    out_.push_back(char(v));
  }
  void str(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }
  void opt(const std::optional<std::string>& s) {
    u8(s ? 1 : 0);
    if (s) str(*s);
  }
  void params(const std::vector<Parameter>& ps) {
    varint(ps.size());
    for (const Parameter& p : ps) {
      str(p.name);
      str(p.value);
    }
  }
  void part(const Part& p) {
    varint(p.header_offset);
    varint(p.header_size);
    varint(p.body_size);
    varint(p.body_lines);
    str(p.content_type.type);
    str(p.content_type.subtype);
    params(p.content_type.params);
    str(p.disposition.value);
    params(p.disposition.params);
    str(p.encoding);
    str(p.id);
    str(p.description);
    str(p.md5);
    varint(p.language.size());
    for (const std::string& l : p.language) str(l);
    str(p.location);
    u8(std::uint8_t((p.opaque ? 1 : 0) | (p.truncated ? 2 : 0)));
    varint(p.children.size());
    for (const Part& c : p.children) part(c);
  }
  void addresses(const std::vector<Address>& list) {
    varint(list.size());
    for (const Address& a : list) {
      str(a.name);
      str(a.raw_name);
      str(a.adl);
      str(a.mailbox);
      str(a.host);
      u8(std::uint8_t((a.is_group_start ? 1 : 0) | (a.is_group_end ? 2 : 0)));
    }
  }
  void envelope(const Envelope& e) {
    opt(e.date);
    opt(e.subject);
    opt(e.in_reply_to);
    opt(e.message_id);
    for (const auto* list : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) addresses(*list);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Every method returns false on malformed input; the Reader is then unusable.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool done() const { return pos_ == in_.size(); }
  bool u8(std::uint8_t& v) {
    if (pos_ >= in_.size()) return false;
    v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b;
      if (!u8(b)) return false;
      if (shift == 63 && b > 1) return false;  // would overflow 64 bits
      v |= std::uint64_t(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return b != 0 || shift == 0;  // canonical: no redundant zero bytes
    }
    return false;
  }
  bool size(std::size_t& v) {
    std::uint64_t x;
    if (!varint(x) || x > std::numeric_limits<std::size_t>::max()) return false;
    v = std::size_t(x);
    return true;
  }
  // A count of elements that each take at least one byte: more than the bytes left is forged.
  bool count(std::size_t& n) { return size(n) && n <= in_.size() - pos_; }
  bool str(std::string& s) {
    std::size_t n;
    if (!size(n) || n > in_.size() - pos_) return false;
    s.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool flag(bool& b) {
    std::uint8_t v;
    if (!u8(v) || v > 1) return false;
    b = v == 1;
    return true;
  }
  bool opt(std::optional<std::string>& s) {
    bool present;
    if (!flag(present)) return false;
    if (!present) {
      s.reset();
      return true;
    }
    s.emplace();
    return str(*s);
  }
  bool params(std::vector<Parameter>& ps) {
    std::size_t n;
    if (!count(n)) return false;
    ps.clear();
    for (std::size_t i = 0; i < n; ++i) {
      Parameter p;
      if (!str(p.name) || !str(p.value)) return false;
      ps.push_back(std::move(p));
    }
    return true;
  }
  bool part(Part& p, std::size_t depth) {
    if (depth >= kMaxSummaryDepth + 1) return false;
    if (!size(p.header_offset) || !size(p.header_size) || !size(p.body_size) || !size(p.body_lines)) return false;
    // The invariants parse_message guarantees: the body follows the header, ranges do not wrap.
    if (p.header_size > std::numeric_limits<std::size_t>::max() - p.header_offset) return false;
    p.body_offset = p.header_offset + p.header_size;
    if (p.body_size > std::numeric_limits<std::size_t>::max() - p.body_offset) return false;
    if (!str(p.content_type.type) || !str(p.content_type.subtype) || !params(p.content_type.params)) return false;
    if (!str(p.disposition.value) || !params(p.disposition.params)) return false;
    if (!str(p.encoding) || !str(p.id) || !str(p.description) || !str(p.md5)) return false;
    std::size_t n;
    if (!count(n)) return false;
    p.language.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (!str(p.language.emplace_back())) return false;
    }
    std::uint8_t flags;
    if (!str(p.location) || !u8(flags) || flags > 3) return false;
    p.opaque = (flags & 1) != 0;
    p.truncated = (flags & 2) != 0;
    if (!count(n)) return false;
    p.children.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (!part(p.children.emplace_back(), depth + 1)) return false;
    }
    return true;
  }
  // skip_*: the same checks as the readers above, without building anything (decode_envelope
  // passes over the MIME tree this way).
  bool skip_str() {
    std::size_t n;
    if (!size(n) || n > in_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  bool skip_params() {
    std::size_t n;
    if (!count(n)) return false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!skip_str() || !skip_str()) return false;
    }
    return true;
  }
  bool skip_part(std::size_t depth) {
    if (depth >= kMaxSummaryDepth + 1) return false;
    std::size_t header_offset, header_size, body_size, body_lines;
    if (!size(header_offset) || !size(header_size) || !size(body_size) || !size(body_lines)) return false;
    if (header_size > std::numeric_limits<std::size_t>::max() - header_offset) return false;
    if (body_size > std::numeric_limits<std::size_t>::max() - (header_offset + header_size)) return false;
    if (!skip_str() || !skip_str() || !skip_params() || !skip_str() || !skip_params()) return false;
    if (!skip_str() || !skip_str() || !skip_str() || !skip_str()) return false;
    std::size_t n;
    if (!count(n)) return false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!skip_str()) return false;
    }
    std::uint8_t flags;
    if (!skip_str() || !u8(flags) || flags > 3 || !count(n)) return false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!skip_part(depth + 1)) return false;
    }
    return true;
  }
  bool addresses(std::vector<Address>& list) {
    std::size_t n;
    if (!count(n)) return false;
    list.clear();
    for (std::size_t i = 0; i < n; ++i) {
      Address& a = list.emplace_back();
      std::uint8_t flags;
      if (!str(a.name) || !str(a.raw_name) || !str(a.adl) || !str(a.mailbox) || !str(a.host)) return false;
      if (!u8(flags) || flags > 3) return false;
      a.is_group_start = (flags & 1) != 0;
      a.is_group_end = (flags & 2) != 0;
    }
    return true;
  }
  bool envelope(Envelope& e) {
    if (!opt(e.date) || !opt(e.subject) || !opt(e.in_reply_to) || !opt(e.message_id)) return false;
    for (auto* list : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) {
      if (!addresses(*list)) return false;
    }
    return true;
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

std::size_t count_messages(const Part& p) {
  std::size_t n = p.is_message() ? 1 : 0;
  for (const Part& c : p.children) n += count_messages(c);
  return n;
}

}  // namespace

MessageSummary summarize(std::string_view message, const MessageOptions& options) {
  MessageOptions opts = options;
  opts.max_depth = std::min(opts.max_depth, kMaxSummaryDepth);
  MessageSummary s;
  s.root = parse_message(message, opts);
  s.envelope = envelope_of(message, opts);
  collect_embedded(message, s.root, opts, s.embedded);
  s.preview = make_preview(message, s.root);
  return s;
}

namespace {

void shift(Part& part, std::size_t by) {
  part.header_offset += by;
  part.body_offset += by;
  for (Part& child : part.children) shift(child, by);
}

}  // namespace

MessageSummary with_prefix(MessageSummary summary, std::size_t prefix_size) {
  shift(summary.root, prefix_size);
  summary.root.header_offset = 0;  // the prefix starts the header
  summary.root.header_size += prefix_size;
  return summary;
}

bool joins_header(std::string_view message, const MessageOptions& options) {
  // Room for the fields of any delivery prefix below the cap (ours has three).
  constexpr std::size_t kPrefixFields = 16;
  if (message.starts_with("\r\n")) return true;
  const std::size_t colon = message.find(':');
  const std::size_t eol = message.find('\n');
  if (colon == 0 || colon == std::string_view::npos || (eol != std::string_view::npos && eol < colon)) return false;
  for (char c : message.substr(0, colon)) {
    if (c <= ' ' || c > '~') return false;  // RFC 5322 §2.2 field name: printable, no space
  }
  const HeaderSplit split = split_header(message);
  const std::string_view header = message.substr(0, split.header_end);
  return std::size_t(std::count(header.begin(), header.end(), '\n')) + kPrefixFields < options.header.max_fields;
}

std::string encode_summary(const MessageSummary& summary) {
  Writer w;
  w.u8(kVersion);
  w.part(summary.root);
  w.envelope(summary.envelope);
  w.varint(summary.embedded.size());
  for (const Envelope& e : summary.embedded) w.envelope(e);
  w.str(summary.preview);
  return w.take();
}

Result<MessageSummary> decode_summary(std::string_view bytes) {
  Reader r(bytes);
  MessageSummary s;
  std::uint8_t version = 0;
  std::size_t embedded = 0;
  bool ok = r.u8(version) && version == kVersion && r.part(s.root, 0) && r.envelope(s.envelope) && r.count(embedded);
  for (std::size_t i = 0; ok && i < embedded; ++i) ok = r.envelope(s.embedded.emplace_back());
  ok = ok && r.str(s.preview) && r.done() && s.embedded.size() == count_messages(s.root);
  if (!ok) return make_error(Errc::kInvalid, "invalid message summary");
  return s;
}

Result<Envelope> decode_envelope(std::string_view bytes) {
  Reader r(bytes);
  Envelope e;
  std::uint8_t version = 0;
  if (!(r.u8(version) && version == kVersion && r.skip_part(0) && r.envelope(e))) {
    return make_error(Errc::kInvalid, "invalid message summary");
  }
  return e;
}

}  // namespace posthorn::mime
