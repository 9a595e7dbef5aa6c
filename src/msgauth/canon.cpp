// DKIM canonicalisation (see canon.hpp).
#include "msgauth/canon.hpp"

#include "base/ascii.hpp"

namespace posthorn::msgauth {
namespace {

constexpr bool is_wsp(char c) { return c == ' ' || c == '\t'; }
constexpr std::size_t kSinkChunk = 16 * 1024;

// End of the line starting at `pos`: the offset just after its LF (or the size).
std::size_t line_end(std::string_view s, std::size_t pos) {
  auto lf = s.find('\n', pos);
  return lf == std::string_view::npos ? s.size() : lf + 1;
}

// True when the line [pos, end) is empty (just CRLF or LF).
bool empty_line(std::string_view s, std::size_t pos, std::size_t end) {
  auto len = end - pos;
  return (len == 1 && s[pos] == '\n') || (len == 2 && s[pos] == '\r' && s[pos + 1] == '\n');
}

}  // namespace

std::vector<RawField> split_raw_fields(std::string_view header, std::size_t max_fields) {
  std::vector<RawField> fields;
  std::size_t pos = 0;
  std::size_t start = std::string_view::npos;  // start of the field being collected
  std::size_t colon = 0;
  auto close = [&](std::size_t end) {
    if (start == std::string_view::npos) return;
    if (fields.size() < max_fields) {
      auto name = header.substr(start, colon - start);
      while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
      fields.push_back(RawField{name, header.substr(start, end - start)});
    }
    start = std::string_view::npos;
  };
  while (pos < header.size()) {
    auto end = line_end(header, pos);
    if (empty_line(header, pos, end)) break;  // the header ends here
    if (is_wsp(header[pos])) {                // a continuation of the field being collected
      pos = end;
      continue;
    }
    close(pos);
    auto line = header.substr(pos, end - pos);
    auto c = line.find(':');
    if (c != std::string_view::npos) {
      start = pos;
      colon = pos + c;
    }
    pos = end;
  }
  close(pos);
  return fields;
}

std::string canon_header(std::string_view raw, Canon c) {
  std::string out;
  out.reserve(raw.size() + 2);
  if (c == Canon::kSimple) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out += '\r';
      out += raw[i];
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
    return out;
  }
  auto colon = raw.find(':');
  auto name = raw.substr(0, colon == std::string_view::npos ? raw.size() : colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  out = ascii::lower(name);
  out += ':';
  if (colon != std::string_view::npos) {
    bool wsp = false;
    bool started = false;  // WSP after ':' and before the first value byte is dropped
    for (char ch : raw.substr(colon + 1)) {
      if (ch == '\r' || ch == '\n') continue;  // unfold
      if (is_wsp(ch)) {
        wsp = true;
        continue;
      }
      if (wsp && started) out += ' ';
      wsp = false;
      started = true;
      out += ch;
    }
  }
  out += "\r\n";
  return out;
}

BodyCanonicalizer::BodyCanonicalizer(Canon c, std::optional<uint64_t> limit, Sink sink)
    : canon_(c), limit_(limit), sink_(std::move(sink)) {
  buffer_.reserve(kSinkChunk);
}

void BodyCanonicalizer::flush_buffer() {
  if (!buffer_.empty()) sink_(buffer_);
  buffer_.clear();
}

void BodyCanonicalizer::emit(char ch) {
  ++total_;
  if (limit_ && written_ >= *limit_) return;
  ++written_;
  buffer_ += ch;
  if (buffer_.size() >= kSinkChunk) flush_buffer();
}

void BodyCanonicalizer::emit_crlf() {
  emit('\r');
  emit('\n');
}

void BodyCanonicalizer::flush_deferred() {
  for (; deferred_crlf_ > 0; --deferred_crlf_) emit_crlf();
}

void BodyCanonicalizer::update(std::string_view chunk) {
  for (char ch : chunk) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (ch == '\n') {  // CRLF: the line ends
        pending_wsp_ = false;
        line_content_ = false;
        ++deferred_crlf_;
        continue;
      }
      // A bare CR is an ordinary byte of the line.
      flush_deferred();
      if (pending_wsp_) emit(' ');
      pending_wsp_ = false;
      emit('\r');
      line_content_ = any_content_ = true;
    }
    if (ch == '\r') {
      pending_cr_ = true;
      continue;
    }
    if (ch == '\n') {  // a bare LF ends the line as CRLF would
      pending_wsp_ = false;
      line_content_ = false;
      ++deferred_crlf_;
      continue;
    }
    if (canon_ == Canon::kRelaxed && is_wsp(ch)) {
      pending_wsp_ = true;
      continue;
    }
    flush_deferred();
    if (pending_wsp_) emit(' ');
    pending_wsp_ = false;
    emit(ch);
    line_content_ = any_content_ = true;
  }
}

void BodyCanonicalizer::finish() {
  if (pending_cr_) {  // a CR as the very last byte is content
    pending_cr_ = false;
    flush_deferred();
    if (pending_wsp_) emit(' ');
    emit('\r');
    any_content_ = true;
  }
  // Trailing empty lines are dropped; a last line without a line end gets one. An empty body is
  // one CRLF in simple and nothing in relaxed (RFC 6376 §3.4.3, §3.4.4 and erratum 1376).
  if (any_content_ || canon_ == Canon::kSimple) emit_crlf();
  deferred_crlf_ = 0;
  flush_buffer();
}

std::string canon_body(std::string_view body, Canon c, std::optional<uint64_t> limit) {
  std::string out;
  BodyCanonicalizer bc(c, limit, [&out](std::string_view piece) { out += piece; });
  bc.update(body);
  bc.finish();
  return out;
}

}  // namespace posthorn::msgauth
