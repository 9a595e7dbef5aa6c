// Tests for the hashing helpers: known SHA-256 vectors (FIPS 180-2 examples) and the streaming form.
#include "base/crypto.hpp"

#include <gtest/gtest.h>

#include <string>

namespace posthorn {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(char('a' + i % 26));
  Sha256 h;
  for (size_t pos = 0; pos < data.size(); pos += 4093) h.update(std::string_view(data).substr(pos, 4093));
  EXPECT_EQ(h.hex(), sha256_hex(data));
}

}  // namespace
}  // namespace posthorn
