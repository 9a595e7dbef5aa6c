#include "base/random.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace posthorn {

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), int(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");  // a broken RNG is a bug we must not mask
  }
  return out;
}

std::string random_token(size_t n) {
  static constexpr std::string_view kChars =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";  // no look-alikes
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    for (unsigned char b : random_bytes(n)) {
      if (out.size() == n) break;
      if (b < 256 - 256 % kChars.size()) out += kChars[b % kChars.size()];  // no modulo bias
    }
  }
  return out;
}

std::string random_hex(size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : random_bytes(bytes)) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace posthorn
