#include "mime/transfer_encoding.hpp"

namespace posthorn::mime {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string decode_base64_lenient(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else continue;
    acc = ((acc << 6) | unsigned(v)) & 0xffffffu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string decode_quoted_printable(std::string_view text, bool complete) {
  std::string out;
  out.reserve(text.size());
  // out[0, kept) must stay: decoded "=XX" bytes (an encoded "=20" is data) and everything before the
  // last soft break (whitespace before "=" is followed by a printable character on its line).
  std::size_t kept = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '=') {
      // A hard line break: trailing spaces and tabs of the encoded line were added in transport
      // and are deleted [RFC 2045 §6.7 rule 3].
      if (c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
        while (out.size() > kept && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      }
      out.push_back(c);
      kept = c == '\n' ? out.size() : kept;
      continue;
    }
    if (i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
      out.push_back(char(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
      kept = out.size();
      i += 2;
      continue;
    }
    // Soft line break: "=" then optional transport padding (WSP) then CRLF or LF [RFC 2045 §6.7].
    std::size_t j = i + 1;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (j < text.size() && text[j] == '\r') ++j;
    if (j < text.size() && text[j] == '\n') {
      i = j;
      kept = out.size();
      continue;
    }
    if (j == text.size()) {  // "=" at the very end (a cut soft break): drop it
      kept = out.size();
      break;
    }
    out.push_back(c);
  }
  // The last line ends at the end of the part (its line break belongs to the boundary).
  while (complete && out.size() > kept && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  return out;
}

std::string decode_transfer_encoding(std::string_view body, std::string_view encoding, bool complete) {
  if (encoding == "base64") return decode_base64_lenient(body);
  if (encoding == "quoted-printable") return decode_quoted_printable(body, complete);
  return std::string(body);
}

}  // namespace posthorn::mime
