#include "proto/imap/mutf7.hpp"

#include <cstdint>
#include <vector>

#include "proto/imap/response.hpp"

namespace posthorn::proto::imap {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_value(char c) {
  const size_t pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Decodes one code point at s[i]; advances i. -1 on malformed input.
int64_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  int len = 0;
  uint32_t cp = 0;
  if (b0 < 0x80) {
    ++i;
    return b0;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return -1;
  }
  if (i + static_cast<size_t>(len) > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((b & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  i += static_cast<size_t>(len);
  return cp;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (next_code_point(s, i) < 0) return false;
  }
  return true;
}

Result<std::string> mutf7_decode(std::string_view wire) {
  std::string out;
  size_t i = 0;
  while (i < wire.size()) {
    const char c = wire[i];
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return make_error(Errc::kInvalid, "Mailbox name is not valid modified UTF-7");
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    const size_t end = wire.find('-', i + 1);
    if (end == std::string_view::npos) return make_error(Errc::kInvalid, "Unterminated modified UTF-7 sequence");
    if (end == i + 1) {  // "&-"
      out += '&';
      i = end + 1;
      continue;
    }
    uint32_t bits = 0;
    int nbits = 0;
    std::vector<uint16_t> units;
    for (size_t k = i + 1; k < end; ++k) {
      const int v = b64_value(wire[k]);
      if (v < 0) return make_error(Errc::kInvalid, "Invalid base64 in mailbox name");
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push_back(static_cast<uint16_t>((bits >> nbits) & 0xffff));
      }
    }
    if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) {
      return make_error(Errc::kInvalid, "Invalid padding in modified UTF-7");
    }
    for (size_t k = 0; k < units.size(); ++k) {
      uint32_t cp = units[k];
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (k + 1 >= units.size() || units[k + 1] < 0xdc00 || units[k + 1] > 0xdfff) {
          return make_error(Errc::kInvalid, "Unpaired surrogate in mailbox name");
        }
        cp = 0x10000 + ((cp - 0xd800) << 10) + (units[k + 1] - 0xdc00u);
        ++k;
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return make_error(Errc::kInvalid, "Unpaired surrogate in mailbox name");
      } else if (cp >= 0x20 && cp < 0x7f) {
        return make_error(Errc::kInvalid, "Printable ASCII must not be encoded in a mailbox name");
      }
      put_utf8(out, cp);
    }
    if (units.empty()) return make_error(Errc::kInvalid, "Empty modified UTF-7 sequence");
    i = end + 1;
  }
  return out;
}

Result<std::string> mutf7_encode(std::string_view utf8) {
  std::string out;
  size_t i = 0;
  std::vector<uint16_t> pending;
  auto flush = [&] {
    if (pending.empty()) return;
    out += '&';
    uint32_t bits = 0;
    int nbits = 0;
    for (uint16_t unit : pending) {
      bits = (bits << 16) | unit;
      nbits += 16;
      while (nbits >= 6) {
        nbits -= 6;
        out += kAlphabet[(bits >> nbits) & 0x3f];
      }
    }
    if (nbits > 0) out += kAlphabet[(bits << (6 - nbits)) & 0x3f];
    out += '-';
    pending.clear();
  };
  while (i < utf8.size()) {
    const int64_t cp = next_code_point(utf8, i);
    if (cp < 0) return make_error(Errc::kInvalid, "Mailbox name is not valid UTF-8");
    if (cp >= 0x20 && cp < 0x7f) {
      flush();
      if (cp == '&') {
        out += "&-";
      } else {
        out += static_cast<char>(cp);
      }
    } else if (cp < 0x10000) {
      pending.push_back(static_cast<uint16_t>(cp));
    } else {
      const uint32_t v = static_cast<uint32_t>(cp) - 0x10000;
      pending.push_back(static_cast<uint16_t>(0xd800 + (v >> 10)));
      pending.push_back(static_cast<uint16_t>(0xdc00 + (v & 0x3ff)));
    }
  }
  flush();
  return out;
}

Result<std::string> mailbox_from_wire(std::string_view wire, bool utf8) {
  if (!utf8) return mutf7_decode(wire);
  if (!valid_utf8(wire)) return make_error(Errc::kInvalid, "Mailbox name is not valid UTF-8");
  return std::string(wire);
}

std::string mailbox_to_wire(std::string_view utf8_name, bool utf8) {
  if (!utf8) {
    auto encoded = mutf7_encode(utf8_name);
    return astring(encoded ? *encoded : std::string(utf8_name));
  }
  // utf8-quoted [RFC 6855 §3]: 8-bit bytes may stand in a quoted string after UTF8=ACCEPT.
  bool quotable = valid_utf8(utf8_name);
  bool eight_bit = false;
  for (char c : utf8_name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) quotable = false;
    if (u >= 0x80) eight_bit = true;
  }
  if (eight_bit && quotable) return quoted(utf8_name);
  return astring(utf8_name);
}

}  // namespace posthorn::proto::imap
