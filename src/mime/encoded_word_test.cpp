#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mime/encoded_word.hpp"

namespace posthorn::mime {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, SanitizeReplacesInvalidSequences) {
  EXPECT_EQ(sanitize_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(sanitize_utf8("a\xff" "b"), "a" + kFffd + "b");
  EXPECT_EQ(sanitize_utf8("\xc0\xaf"), kFffd + kFffd);        // overlong '/'
  EXPECT_EQ(sanitize_utf8("\xed\xa0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(sanitize_utf8("\xe2\x82"), kFffd + kFffd);        // truncated
  EXPECT_EQ(sanitize_utf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
}

TEST(Charset, ConvertsKnownKeepsUnknown) {
  EXPECT_EQ(to_utf8("caf\xe9", "ISO-8859-1"), "caf\xc3\xa9");
  EXPECT_EQ(to_utf8("\x80", "windows-1252"), "\xe2\x82\xac");
  EXPECT_EQ(to_utf8("\xd0\xcf\xd3", "koi8-r"), "\xd0\xbf\xd0\xbe\xd1\x81");  // пос
  EXPECT_EQ(to_utf8("abc\xff", "x-no-such-charset"), "abc" + kFffd);
  EXPECT_EQ(to_utf8("abc", "../../etc/passwd"), "abc");
  EXPECT_EQ(to_utf8("abc\xc3\xa9", ""), "abc\xc3\xa9");
  EXPECT_EQ(to_utf8("a\xff", "utf-8"), "a" + kFffd);
  // Invalid byte in a multibyte charset: replaced, conversion continues.
  std::string sjis_bad = "a\x82";  // truncated Shift_JIS lead byte at the end
  std::string r = to_utf8(sjis_bad, "Shift_JIS");
  EXPECT_EQ(r.substr(0, 1), "a");
  EXPECT_NE(r.find(kFffd), std::string::npos);
}

TEST(EncodedWords, BAndQ) {
  EXPECT_EQ(decode_words("=?UTF-8?B?Y2Fmw6k=?="), "caf\xc3\xa9");
  EXPECT_EQ(decode_words("=?iso-8859-1?q?caf=E9_au_lait?="), "caf\xc3\xa9 au lait");
  EXPECT_EQ(decode_words("Re: =?utf-8?Q?hello?= world"), "Re: hello world");
  EXPECT_EQ(decode_words("plain text"), "plain text");
  EXPECT_EQ(decode_words(""), "");
}

TEST(EncodedWords, AdjacentWordsJoinedWithoutWhitespace) {
  EXPECT_EQ(decode_words("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
  EXPECT_EQ(decode_words("=?utf-8?q?a?=   \t =?utf-8?q?b?= c"), "ab c");
  // A UTF-8 character split across two B words survives [RFC 2047 §5 forbids it; mailers do it].
  EXPECT_EQ(decode_words("=?utf-8?B?w6E=?= =?utf-8?B?w6k=?="), "\xc3\xa1\xc3\xa9");
  EXPECT_EQ(decode_words("=?utf-8?B?ww==?= =?utf-8?B?qQ==?="), "\xc3\xa9");
  // Different charsets are converted separately.
  EXPECT_EQ(decode_words("=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?="), "\xc3\xa9\xc3\xa9");
  // Text between words is kept.
  EXPECT_EQ(decode_words("=?utf-8?q?a?= x =?utf-8?q?b?="), "a x b");
}

TEST(EncodedWords, MalformedKeptAsWritten) {
  EXPECT_EQ(decode_words("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
  EXPECT_EQ(decode_words("=?utf-8?q?no end"), "=?utf-8?q?no end");
  EXPECT_EQ(decode_words("=??q?a?="), "=??q?a?=");
  EXPECT_EQ(decode_words("=?utf-8?q?a b?="), "=?utf-8?q?a b?=");
  EXPECT_EQ(decode_words("=?=?utf-8?q?ok?="), "=?ok");
  EXPECT_EQ(decode_words("=?utf-8?q?=ZZ?="), "=ZZ");
  EXPECT_EQ(decode_words("8bit \xc3\xa9 and \xff"), "8bit \xc3\xa9 and " + kFffd);
  EXPECT_EQ(decode_words("=?bogus-charset?q?caf=E9?="), "caf" + kFffd);
  EXPECT_EQ(decode_words("=?utf-8*en?q?hi?="), "hi");  // RFC 2231 §5 language in a word
}

TEST(EncodedWords, LinearOnJunk) {
  std::string junk;
  for (int i = 0; i < 200'000; ++i) junk += "=?a";
  auto start = std::chrono::steady_clock::now();
  std::string out = decode_words(junk);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(out, junk);
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(Rfc2231, ContinuationsAndCharset) {
  std::vector<RawParameter> raw = {
      {"charset", "us-ascii"},
      {"title*0*", "us-ascii'en'This%20is%20even%20more%20"},
      {"title*1*", "%2A%2A%2Afun%2A%2A%2A%20"},
      {"title*2", "isn't it!"},
  };
  auto params = decode_parameters(raw);
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].name, "charset");
  EXPECT_EQ(params[0].value, "us-ascii");
  EXPECT_EQ(params[1].name, "title");
  EXPECT_EQ(params[1].value, "This is even more ***fun*** isn't it!");
}

TEST(Rfc2231, ExtendedWholeValueAndPrecedence) {
  auto params = decode_parameters({{"filename", "fallback.txt"}, {"FileName*", "iso-8859-1''caf%E9.txt"}});
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].value, "caf\xc3\xa9.txt");

  params = decode_parameters({{"name", "=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="}});
  EXPECT_EQ(params[0].value, "r\xc3\xa9sum\xc3\xa9.pdf");

  // Gap after section 0: the value stops there. Missing quotes: plain percent-decoding.
  params = decode_parameters({{"a*0", "x"}, {"a*2", "z"}, {"b*", "no%20quotes"}});
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].value, "x");
  EXPECT_EQ(params[1].value, "no quotes");

  // Sections out of order, an unknown charset, a bad escape, junk section numbers.
  params = decode_parameters({{"f*1", "b"}, {"f*0*", "x-unknown''a%FF%G1"}, {"f*99999", "q"}});
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].value, "a" + kFffd + "%G1b");
}

}  // namespace
}  // namespace posthorn::mime
