#include <gtest/gtest.h>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "base/random.hpp"
#include "base/result.hpp"

namespace posthorn {
namespace {

TEST(Base64, RoundTripsAndRejectsBadInput) {
  EXPECT_EQ(base64::encode(""), "");
  EXPECT_EQ(base64::encode("f"), "Zg==");
  EXPECT_EQ(base64::encode("fo"), "Zm8=");
  EXPECT_EQ(base64::encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64::decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64::decode("Zg=="), "f");
  EXPECT_EQ(base64::decode(std::string_view("AGRlbW8AcGFzcw==")), std::string("\0demo\0pass", 10));
  EXPECT_FALSE(base64::decode("Zg="));
  EXPECT_FALSE(base64::decode("Z==="));
  EXPECT_FALSE(base64::decode("Zm9v YmFy"));
  EXPECT_FALSE(base64::decode("Zh=="));  // non-canonical trailing bits
  EXPECT_FALSE(base64::decode("Zg==Zg=="));
}

TEST(Ascii, CaseAndSplit) {
  EXPECT_TRUE(ascii::iequals("EhLo", "ehlo"));
  EXPECT_FALSE(ascii::iequals("ehlo", "ehl"));
  EXPECT_EQ(ascii::upper("starttls"), "STARTTLS");
  EXPECT_EQ(ascii::trim("  a b \t"), "a b");
  auto parts = ascii::split("a,,b", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "");
}

TEST(ResultTest, CarriesErrors) {
  Result<int> ok = 5;
  Result<int> bad = make_error(Errc::kNotFound, "no such user");
  EXPECT_TRUE(ok);
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kNotFound);
  EXPECT_THROW((void)bad.value(), ResultError);
}

TEST(Random, TokensHaveRequestedLength) {
  auto a = random_token(20), b = random_token(20);
  EXPECT_EQ(a.size(), 20u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace posthorn
