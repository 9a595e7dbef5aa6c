#include "proto/imap/reader.hpp"

#include <limits>

#include "base/ascii.hpp"

namespace posthorn::proto::imap {

namespace {

bool is_ctl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '+' || c == '/' ||
         c == '=';
}

}  // namespace

bool is_atom_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80 || is_ctl(c)) return false;  // CHAR is 7-bit; CTL excluded
  switch (c) {
    case '(': case ')': case '{': case ' ': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}

bool is_astring_char(char c) { return is_atom_char(c) || c == ']'; }

bool is_tag_char(char c) { return is_astring_char(c) && c != '+'; }

bool is_valid_tag(std::string_view tag) {
  if (tag.empty()) return false;
  for (char c : tag) {
    if (!is_tag_char(c)) return false;
  }
  return true;
}

std::optional<std::string> leading_tag(std::string_view line) {
  const size_t end = line.find(' ');
  const std::string_view tag = line.substr(0, end);
  if (!is_valid_tag(tag)) return std::nullopt;
  return std::string(tag);
}

bool is_id_command(std::string_view line) {
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos || !is_valid_tag(line.substr(0, sp))) return false;
  const std::string_view rest = line.substr(sp + 1);
  return rest.size() >= 3 && (rest[0] == 'I' || rest[0] == 'i') && (rest[1] == 'D' || rest[1] == 'd') && rest[2] == ' ';
}

bool is_append_command(std::string_view line) {
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos || !is_valid_tag(line.substr(0, sp))) return false;
  std::string_view rest = line.substr(sp + 1);
  auto word = [&rest](std::string_view w) {
    if (rest.size() <= w.size() || rest[w.size()] != ' ' || !ascii::iequals(rest.substr(0, w.size()), w)) return false;
    rest.remove_prefix(w.size() + 1);
    return true;
  };
  if (word("APPEND") || word("REPLACE")) return true;
  return word("UID") && word("REPLACE");
}

std::optional<LiteralAnnouncement> trailing_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  size_t i = line.size() - 1;  // at '}'
  LiteralAnnouncement result;
  if (i > 0 && line[i - 1] == '+') {
    result.synchronizing = false;
    --i;
  }
  const size_t digits_end = i;
  while (i > 0 && is_digit(line[i - 1])) --i;
  if (i == digits_end || i == 0 || line[i - 1] != '{') return std::nullopt;
  uint64_t size = 0;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (size_t k = i; k < digits_end; ++k) {
    const uint64_t digit = static_cast<uint64_t>(line[k] - '0');
    if (size > (kMax - digit) / 10) {
      size = kMax;  // saturate: far above any limit, refused as too big
      break;
    }
    size = size * 10 + digit;
  }
  result.size = size;
  return result;
}

Result<std::string> Reader::fail(std::string message) const {
  return make_error(Errc::kInvalid, std::move(message));
}

Result<void> Reader::sp() {
  if (peek() != ' ' || at_end()) return make_error(Errc::kInvalid, "Expected a space");
  ++pos_;
  return {};
}

Result<std::string> Reader::tag() {
  const size_t start = pos_;
  while (!at_end() && is_tag_char(input_[pos_])) ++pos_;
  if (pos_ == start) return fail("Missing or invalid tag");
  if (!at_end() && input_[pos_] != ' ') return fail("Invalid character in tag");
  return std::string(input_.substr(start, pos_ - start));
}

Result<std::string> Reader::atom() {
  const size_t start = pos_;
  while (!at_end() && is_atom_char(input_[pos_])) ++pos_;
  if (pos_ == start) return fail("Expected an atom");
  return std::string(input_.substr(start, pos_ - start));
}

Result<std::string> Reader::astring() {
  const char c = peek();
  if (!at_end() && (c == '"' || c == '{')) return string();
  const size_t start = pos_;
  while (!at_end() && is_astring_char(input_[pos_])) ++pos_;
  if (pos_ == start) return fail("Expected an atom or string");
  return std::string(input_.substr(start, pos_ - start));
}

Result<std::string> Reader::string() {
  if (at_end()) return fail("Expected a string");
  if (peek() == '"') return quoted();
  if (peek() == '{') return literal();
  return fail("Expected a quoted string or literal");
}

Result<std::optional<std::string>> Reader::nstring() {
  if (rest().size() >= 3 && ascii::iequals(rest().substr(0, 3), "NIL") &&
      (rest().size() == 3 || !is_atom_char(rest()[3]))) {
    pos_ += 3;
    return std::optional<std::string>();
  }
  auto s = string();
  if (!s) return s.error();
  return std::optional<std::string>(std::move(*s));
}

Result<std::string> Reader::quoted() {
  if (peek() != '"' || at_end()) return fail("Expected a quoted string");
  size_t i = pos_ + 1;
  std::string out;
  for (;;) {
    if (i >= input_.size()) return fail("Unterminated quoted string");
    const char c = input_[i];
    if (c == '"') break;
    if (c == '\r' || c == '\n' || c == '\0') return fail("Invalid character in quoted string");
    if (c == '\\') {
      if (i + 1 >= input_.size()) return fail("Unterminated quoted string");
      const char next = input_[i + 1];
      if (next != '"' && next != '\\') return fail("Invalid escape in quoted string");
      out.push_back(next);
      i += 2;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  pos_ = i + 1;
  return out;
}

Result<std::string> Reader::literal() {
  auto bytes = literal_bytes(false);
  if (!bytes) return bytes.error();
  return std::string(*bytes);
}

Result<std::string> Reader::literal8() {
  if (peek() != '~' || at_end()) return fail("Expected a literal8");
  ++pos_;
  auto bytes = literal_bytes(true);
  if (!bytes) {
    --pos_;
    return bytes.error();
  }
  return std::string(*bytes);
}

Result<LiteralRef> Reader::message_literal(bool eight) {
  const size_t start = pos_;
  if (eight) {
    if (peek() != '~' || at_end()) return make_error(Errc::kInvalid, "Expected a literal8");
    ++pos_;
  }
  std::optional<std::size_t> external;
  auto bytes = literal_bytes(eight, &external);
  if (!bytes) {
    pos_ = start;
    return bytes.error();
  }
  LiteralRef out;
  out.external = external;
  if (external) {
    out.size = external_[*external].size;
  } else {
    out.bytes = std::string(*bytes);
    out.size = out.bytes.size();
  }
  return out;
}

Result<std::string_view> Reader::literal_bytes(bool allow_nul, std::optional<std::size_t>* external) {
  if (peek() != '{' || at_end()) return make_error(Errc::kInvalid, "Expected a literal");
  size_t i = pos_ + 1;
  const size_t digits_start = i;
  uint64_t size = 0;
  while (i < input_.size() && is_digit(input_[i])) {
    if (size > (std::numeric_limits<uint64_t>::max() - 9) / 10) return make_error(Errc::kInvalid, "Literal too big");
    size = size * 10 + static_cast<uint64_t>(input_[i] - '0');
    ++i;
  }
  if (i == digits_start) return make_error(Errc::kInvalid, "Invalid literal size");
  if (i < input_.size() && input_[i] == '+') ++i;
  if (i >= input_.size() || input_[i] != '}') return make_error(Errc::kInvalid, "Invalid literal");
  ++i;
  if (input_.substr(i, 2) != "\r\n") return make_error(Errc::kInvalid, "Literal must be followed by CRLF");
  i += 2;
  for (std::size_t k = 0; k < external_.size(); ++k) {
    if (external_[k].offset != i) continue;
    // The literal's bytes were kept elsewhere (only where a message may stand).
    if (external == nullptr || external_[k].size != size) return make_error(Errc::kInvalid, "Literal too big here");
    if (!allow_nul && external_[k].has_nul) return make_error(Errc::kInvalid, "NUL in literal");
    *external = k;
    ++external_read_;
    pos_ = i;
    return std::string_view();
  }
  if (size > input_.size() - i) return make_error(Errc::kInvalid, "Literal shorter than announced");
  const std::string_view bytes = input_.substr(i, static_cast<size_t>(size));
  if (!allow_nul && bytes.find('\0') != std::string_view::npos) return make_error(Errc::kInvalid, "NUL in literal");
  pos_ = i + static_cast<size_t>(size);
  return bytes;
}

Result<uint64_t> Reader::number() {
  const size_t start = pos_;
  uint64_t n = 0;
  while (!at_end() && is_digit(input_[pos_])) {
    if (pos_ - start >= 19) return make_error(Errc::kInvalid, "Number too big");
    n = n * 10 + static_cast<uint64_t>(input_[pos_] - '0');
    ++pos_;
  }
  if (pos_ == start) return make_error(Errc::kInvalid, "Expected a number");
  return n;
}

bool Reader::consume(char c) {
  if (at_end() || input_[pos_] != c) return false;
  ++pos_;
  return true;
}

bool Reader::consume_word(std::string_view word) {
  const std::string_view r = rest();
  if (r.size() < word.size() || !ascii::iequals(r.substr(0, word.size()), word)) return false;
  if (r.size() > word.size() && is_atom_char(r[word.size()]) && r[word.size()] != '[') return false;
  pos_ += word.size();
  return true;
}

std::string_view Reader::take_while(bool (*pred)(char)) {
  const size_t start = pos_;
  while (!at_end() && pred(input_[pos_])) ++pos_;
  return input_.substr(start, pos_ - start);
}

Result<std::string> Reader::base64_text() {
  const size_t start = pos_;
  while (!at_end() && is_base64_char(input_[pos_])) ++pos_;
  if (pos_ == start) return fail("Expected base64 text");
  return std::string(input_.substr(start, pos_ - start));
}

}  // namespace posthorn::proto::imap
