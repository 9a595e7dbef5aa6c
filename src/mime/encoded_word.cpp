// Implementation notes:
// - Charsets are converted with glibc iconv: it is part of libc (no extra dependency) and handles
//   every charset seen in mail (ISO-8859-*, Windows-125x, KOI8-*, Shift_JIS, EUC-*, GB18030, Big5,
//   UTF-7, ...). Charset names are checked against a conservative alphabet before iconv_open.
// - decode_words is linear: every forward search keeps its last hit, so a value full of "=?" junk
//   is not rescanned for each candidate.
#include "mime/encoded_word.hpp"

#include <iconv.h>

#include <cerrno>
#include <map>
#include <optional>

#include "base/ascii.hpp"
#include "mime/transfer_encoding.hpp"

namespace posthorn::mime {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::size_t kMaxCharsetName = 64;
constexpr int kMaxSection = 999;  // RFC 2231 section numbers above this are ignored

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strips an RFC 2231 language suffix ("utf-8*en") and lower-cases; empty if unsafe for iconv_open.
std::string normalize_charset(std::string_view charset) {
  charset = ascii::trim(charset);
  if (auto star = charset.find('*'); star != std::string_view::npos) charset = charset.substr(0, star);
  if (charset.size() > kMaxCharsetName) return {};
  for (char c : charset) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':' || c == '+';
    if (!ok) return {};
  }
  return ascii::lower(charset);
}

bool is_utf8_compatible(std::string_view cs) {
  return cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii";
}

// "Q" encoding [RFC 2047 §4.2]: '_' is a space, =XX a byte; a malformed '=' stays literal.
std::string decode_q(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out.push_back(char(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out.push_back(char(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Forward search that remembers its last hit; valid while start positions never decrease.
class Finder {
 public:
  Finder(std::string_view text, std::string_view needle) : text_(text), needle_(needle) {}
  std::size_t next(std::size_t from) {
    if (!valid_ || hit_ < from) {
      hit_ = text_.find(needle_, from);
      valid_ = true;
    }
    return hit_;
  }

 private:
  std::string_view text_;
  std::string_view needle_;
  std::size_t hit_ = 0;
  bool valid_ = false;
};

// Next whitespace at or after `from`, remembering the last hit (same monotonic rule as Finder).
class WspFinder {
 public:
  explicit WspFinder(std::string_view text) : text_(text) {}
  std::size_t next(std::size_t from) {
    if (!valid_ || hit_ < from) {
      hit_ = from;
      while (hit_ < text_.size() && !is_wsp(text_[hit_])) ++hit_;
      valid_ = true;
    }
    return hit_;
  }

 private:
  std::string_view text_;
  std::size_t hit_ = 0;
  bool valid_ = false;
};

struct Word {
  std::string charset;
  std::string bytes;
  std::size_t end = 0;  // just past "?="
};

}  // namespace

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(char(c));
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  std::string cs = normalize_charset(charset);
  if (is_utf8_compatible(cs)) return sanitize_utf8(bytes);
  iconv_t cd = iconv_open("UTF-8", cs.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return sanitize_utf8(bytes);
  std::string out;
  std::string chunk(4096, '\0');
  char* in = const_cast<char*>(bytes.data());  // iconv's signature is not const-correct
  std::size_t in_left = bytes.size();
  while (true) {
    char* o = chunk.data();
    std::size_t o_left = chunk.size();
    std::size_t rc = in_left == 0 ? iconv(cd, nullptr, nullptr, &o, &o_left)
                                  : iconv(cd, &in, &in_left, &o, &o_left);
    int err = errno;
    out.append(chunk.data(), chunk.size() - o_left);
    if (rc != static_cast<std::size_t>(-1)) {
      if (in_left == 0) {
        // Input done; flush any shift state once more (the call above may have been the flush).
        char* f = chunk.data();
        std::size_t f_left = chunk.size();
        iconv(cd, nullptr, nullptr, &f, &f_left);
        out.append(chunk.data(), chunk.size() - f_left);
        break;
      }
      continue;
    }
    if (err == E2BIG) continue;
    out.append(kReplacement);
    if (err == EILSEQ && in_left > 0) {
      ++in;
      --in_left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset shift state after the bad byte
      continue;
    }
    break;  // EINVAL: truncated sequence at the end, or an unexpected error
  }
  iconv_close(cd);
  return sanitize_utf8(out);  // iconv output is UTF-8; this only guards against converter bugs
}

std::string decode_words(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  Finder start_finder(text, "=?");
  Finder q_finder(text, "?");
  Finder end_finder(text, "?=");
  WspFinder wsp_finder(text);

  // Parses an encoded word starting at p ("=?"); nullopt if malformed.
  auto parse_at = [&](std::size_t p) -> std::optional<Word> {
    std::size_t cs_begin = p + 2;
    std::size_t cs_end = q_finder.next(cs_begin);
    if (cs_end == std::string_view::npos || cs_end == cs_begin) return std::nullopt;
    std::size_t wsp = wsp_finder.next(cs_begin);
    if (wsp < cs_end) return std::nullopt;
    if (cs_end + 2 >= text.size() || text[cs_end + 2] != '?') return std::nullopt;
    char enc = ascii::to_lower(text[cs_end + 1]);
    if (enc != 'b' && enc != 'q') return std::nullopt;
    std::size_t t_begin = cs_end + 3;
    std::size_t t_end = end_finder.next(t_begin);
    if (t_end == std::string_view::npos || wsp < t_end) return std::nullopt;
    std::string_view payload = text.substr(t_begin, t_end - t_begin);
    Word w;
    w.charset = std::string(text.substr(cs_begin, cs_end - cs_begin));
    w.bytes = enc == 'b' ? decode_base64_lenient(payload) : decode_q(payload);
    w.end = t_end + 2;
    return w;
  };

  std::string pending;          // decoded bytes of adjacent words in pending_charset
  std::string pending_charset;  // normalized
  bool have_pending = false;
  bool last_was_word = false;
  auto flush = [&] {
    if (!have_pending) return;
    out += to_utf8(pending, pending_charset);
    pending.clear();
    have_pending = false;
  };

  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t p = start_finder.next(pos);
    if (p == std::string_view::npos) {
      flush();
      out += sanitize_utf8(text.substr(pos));
      break;
    }
    std::optional<Word> word = parse_at(p);
    if (!word) {
      flush();
      out += sanitize_utf8(text.substr(pos, p + 2 - pos));
      last_was_word = false;
      pos = p + 2;
      continue;
    }
    std::string_view between = text.substr(pos, p - pos);
    bool only_wsp = true;
    for (char c : between) only_wsp = only_wsp && is_wsp(c);
    if (!(last_was_word && only_wsp)) {
      flush();
      out += sanitize_utf8(between);
    }
    std::string cs = normalize_charset(word->charset);
    if (have_pending && cs != pending_charset) flush();
    pending_charset = cs;
    pending += word->bytes;
    have_pending = true;
    last_was_word = true;
    pos = word->end;
  }
  flush();
  return out;
}

std::vector<Parameter> decode_parameters(const std::vector<RawParameter>& raw) {
  struct Section {
    bool extended = false;
    std::string value;
  };
  struct Acc {
    std::string name;
    std::optional<std::string> plain;
    std::map<int, Section> sections;  // RFC 2231 pieces; -1 is "name*=" without a number
  };
  std::vector<Acc> accs;
  std::map<std::string, std::size_t, std::less<>> index;

  for (const RawParameter& p : raw) {
    std::string name = ascii::lower(ascii::trim(p.name));
    bool extended = false;
    int section = -2;  // -2: plain, -1: whole extended value, >=0: numbered section
    if (!name.empty() && name.back() == '*') {
      extended = true;
      name.pop_back();
      section = -1;
    }
    if (auto star = name.rfind('*'); star != std::string::npos) {
      std::string_view digits = std::string_view(name).substr(star + 1);
      bool numeric = !digits.empty();
      for (char c : digits) numeric = numeric && c >= '0' && c <= '9';
      if (numeric) {
        section = digits.size() > 4 ? kMaxSection + 1 : std::stoi(std::string(digits));
        name.resize(star);
      }
    }
    if (name.empty() || section > kMaxSection) continue;
    auto [it, inserted] = index.try_emplace(name, accs.size());
    if (inserted) accs.push_back(Acc{name, std::nullopt, {}});
    Acc& acc = accs[it->second];
    if (section == -2) {
      if (!acc.plain) acc.plain = p.value;
    } else {
      acc.sections.try_emplace(section, Section{extended, p.value});
    }
  }

  std::vector<Parameter> out;
  out.reserve(accs.size());
  for (Acc& acc : accs) {
    if (acc.sections.empty()) {
      out.push_back(Parameter{acc.name, decode_words(*acc.plain)});
      continue;
    }
    // Either "name*=" alone, or sections 0, 1, 2, ... up to the first gap [RFC 2231 §3].
    std::vector<const Section*> pieces;
    if (auto whole = acc.sections.find(-1); whole != acc.sections.end() && !acc.sections.contains(0)) {
      pieces.push_back(&whole->second);
    } else {
      for (int n = 0; acc.sections.contains(n); ++n) pieces.push_back(&acc.sections.at(n));
    }
    if (pieces.empty()) {
      out.push_back(Parameter{acc.name, acc.plain ? decode_words(*acc.plain) : std::string()});
      continue;
    }
    std::string charset;
    std::string bytes;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      std::string_view v = pieces[i]->value;
      if (!pieces[i]->extended) {
        bytes += v;
        continue;
      }
      if (i == 0) {  // charset'language'value [RFC 2231 §4]
        auto q1 = v.find('\'');
        auto q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
        if (q2 != std::string_view::npos) {
          charset = std::string(v.substr(0, q1));
          v = v.substr(q2 + 1);
        }
      }
      bytes += percent_decode(v);
    }
    out.push_back(Parameter{acc.name, to_utf8(bytes, charset)});
  }
  return out;
}

}  // namespace posthorn::mime
