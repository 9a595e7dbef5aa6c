#include "proto/smtp/reply_reader.hpp"

#include "base/ascii.hpp"

namespace posthorn::proto::smtp {

std::string ReceivedReply::to_string() const {
  std::string out = code == 0 ? std::string() : std::to_string(code);
  if (!status.empty()) out += (out.empty() ? "" : " ") + status;
  for (const auto& l : lines) {
    if (l.empty()) continue;
    if (!out.empty()) out += ' ';
    out += l;
  }
  return out;
}

std::string ReceivedReply::enhanced() const {
  if (!status.empty()) return status;
  if (code >= 200 && code < 400) return "2.0.0";
  if (code >= 500) return "5.0.0";
  return "4.0.0";
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "5.1.1 " at the start of `text` whose class digit matches the reply's: its length, else 0.
size_t enhanced_prefix(std::string_view text, char cls) {
  if (text.size() < 5 || text[0] != cls || text[1] != '.') return 0;
  size_t i = 2;
  size_t n = 0;
  while (i < text.size() && is_digit(text[i]) && n < 3) ++i, ++n;
  if (n == 0 || i >= text.size() || text[i] != '.') return 0;
  ++i;
  n = 0;
  while (i < text.size() && is_digit(text[i]) && n < 3) ++i, ++n;
  if (n == 0) return 0;
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

}  // namespace

ReplyParser::State ReplyParser::feed(std::string_view line) {
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) || line[0] < '2' ||
      line[0] > '5') {
    return State::kError;
  }
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return State::kError;
  const uint16_t code = uint16_t((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
  if (started_ && code != reply_.code) return State::kError;
  if (reply_.lines.size() >= kMaxLines) return State::kError;
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  if (size_t n = enhanced_prefix(text, line[0]); n > 0) {
    if (!started_) reply_.status = std::string(text.substr(0, n));
    text.remove_prefix(n);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  }
  started_ = true;
  reply_.code = code;
  reply_.lines.emplace_back(text);
  return (line.size() > 3 && line[3] == '-') ? State::kMore : State::kDone;
}

ReceivedReply ReplyParser::take() {
  ReceivedReply r = std::move(reply_);
  reply_ = ReceivedReply{};
  started_ = false;
  return r;
}

bool Capabilities::has_auth(std::string_view mech) const {
  for (const auto& m : auth) {
    if (m == mech) return true;
  }
  return false;
}

Capabilities parse_ehlo(const ReceivedReply& reply) {
  Capabilities caps;
  if (reply.code != 250) return caps;
  caps.esmtp = true;
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    const std::string upper = ascii::upper(ascii::trim(reply.lines[i]));
    std::vector<std::string_view> words;
    for (auto w : ascii::split(upper, ' ')) {
      if (!w.empty()) words.push_back(w);
    }
    if (words.empty()) continue;
    const std::string_view kw = words[0];
    if (kw == "PIPELINING") caps.pipelining = true;
    else if (kw == "STARTTLS") caps.starttls = true;
    else if (kw == "8BITMIME") caps.eightbitmime = true;
    else if (kw == "SMTPUTF8") caps.smtputf8 = true;
    else if (kw == "DSN") caps.dsn = true;
    else if (kw == "CHUNKING") caps.chunking = true;
    else if (kw == "ENHANCEDSTATUSCODES") caps.enhanced_status = true;
    else if (kw == "SIZE") {
      uint64_t v = 0;
      bool ok = true;
      if (words.size() > 1) {
        for (char c : words[1]) {
          if (!is_digit(c) || v > (UINT64_MAX - 9) / 10) {
            ok = false;
            break;
          }
          v = v * 10 + uint64_t(c - '0');
        }
      }
      caps.size = ok ? v : 0;
    } else if (kw == "AUTH" || kw.starts_with("AUTH=")) {
      // "AUTH PLAIN LOGIN" and the old "AUTH=PLAIN LOGIN" form.
      size_t first = 1;
      if (kw.starts_with("AUTH=")) {
        caps.auth.emplace_back(kw.substr(5));
      }
      for (size_t w = first; w < words.size(); ++w) caps.auth.emplace_back(words[w]);
    }
  }
  return caps;
}

}  // namespace posthorn::proto::smtp
