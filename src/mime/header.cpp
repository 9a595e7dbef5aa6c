// Implementation notes: one forward pass per function; no backtracking, so the cost is linear in
// the header size whatever the line lengths.
#include "mime/header.hpp"

#include "base/ascii.hpp"

namespace posthorn::mime {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// End of the line starting at `pos` (index of its LF, or size), and the start of the next line.
struct Line {
  std::size_t content_end;  // excludes CR LF / LF
  std::size_t next;         // after the LF, or size
};

Line line_at(std::string_view s, std::size_t pos) {
  std::size_t lf = s.find('\n', pos);
  if (lf == std::string_view::npos) return {s.size(), s.size()};
  std::size_t end = lf;
  if (end > pos && s[end - 1] == '\r') --end;
  return {end, lf + 1};
}

}  // namespace

HeaderSplit split_header(std::string_view message) {
  std::size_t pos = 0;
  while (pos < message.size()) {
    Line line = line_at(message, pos);
    if (line.content_end == pos) return {pos, line.next};  // empty line: CR LF or LF
    pos = line.next;
  }
  return {message.size(), message.size()};
}

std::string unfold(std::string_view raw_value) {
  std::string out;
  out.reserve(raw_value.size());
  for (char c : raw_value) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return std::string(ascii::trim(out));
}

Header parse_header(std::string_view bytes, const HeaderOptions& options) {
  Header header;
  std::size_t pos = 0;
  bool have_field = false;  // the last line began a field we kept (continuations append to it)
  std::size_t raw_begin = 0;
  std::size_t raw_end = 0;
  std::string name;

  auto flush = [&] {
    if (!have_field) return;
    have_field = false;
    if (header.fields.size() >= options.max_fields) {
      header.truncated = true;
      return;
    }
    std::string_view raw = bytes.substr(raw_begin, raw_end - raw_begin);
    header.fields.push_back(HeaderField{std::move(name), std::string(raw), unfold(raw)});
    name.clear();
  };

  while (pos < bytes.size()) {
    Line line = line_at(bytes, pos);
    if (line.content_end == pos) break;  // blank line: end of the header
    if (is_wsp(bytes[pos])) {
      if (have_field) raw_end = line.content_end;  // continuation [RFC 5322 §2.2.3]
      pos = line.next;
      continue;
    }
    flush();
    std::string_view text = bytes.substr(pos, line.content_end - pos);
    std::size_t colon = text.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      std::size_t name_end = colon;
      while (name_end > 0 && is_wsp(text[name_end - 1])) --name_end;  // obs-fields allow WSP
      if (name_end > 0) {
        if (header.fields.size() < options.max_fields) name.assign(text.substr(0, name_end));
        have_field = true;
        raw_begin = pos + colon + 1;
        raw_end = line.content_end;
      }
    }
    pos = line.next;
  }
  flush();
  return header;
}

const HeaderField* Header::find(std::string_view name) const {
  for (const HeaderField& f : fields) {
    if (ascii::iequals(f.name, name)) return &f;
  }
  return nullptr;
}

std::vector<const HeaderField*> Header::find_all(std::string_view name) const {
  std::vector<const HeaderField*> out;
  for (const HeaderField& f : fields) {
    if (ascii::iequals(f.name, name)) out.push_back(&f);
  }
  return out;
}

}  // namespace posthorn::mime
