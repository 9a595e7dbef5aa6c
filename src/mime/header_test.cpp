#include <gtest/gtest.h>

#include <string>

#include "mime/header.hpp"

namespace posthorn::mime {
namespace {

TEST(SplitHeader, CrlfAndBareLf) {
  std::string crlf = "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n";
  HeaderSplit s = split_header(crlf);
  EXPECT_EQ(s.header_end, 24u);
  EXPECT_EQ(s.body_start, 26u);
  EXPECT_EQ(crlf.substr(s.body_start), "body\r\n");

  std::string lf = "From: a@b\nSubject: hi\n\nbody\n";
  s = split_header(lf);
  EXPECT_EQ(s.header_end, 22u);
  EXPECT_EQ(s.body_start, 23u);
  EXPECT_EQ(lf.substr(s.body_start), "body\n");
}

TEST(SplitHeader, EmptyMissingBlankLineAndLeadingBlank) {
  EXPECT_EQ(split_header("").header_end, 0u);
  EXPECT_EQ(split_header("").body_start, 0u);
  HeaderSplit s = split_header("From: a@b\r\nSubject: x\r\n");  // headers only
  EXPECT_EQ(s.header_end, 23u);
  EXPECT_EQ(s.body_start, 23u);
  s = split_header("Subject: no newline");
  EXPECT_EQ(s.header_end, 19u);
  EXPECT_EQ(s.body_start, 19u);
  s = split_header("\r\nbody only");
  EXPECT_EQ(s.header_end, 0u);
  EXPECT_EQ(s.body_start, 2u);
  s = split_header("A: b\r\n\n");  // CRLF header, LF blank line
  EXPECT_EQ(s.header_end, 6u);
  EXPECT_EQ(s.body_start, 7u);
}

TEST(ParseHeader, FoldingPreservedAndUnfolded) {
  std::string msg = "Subject: hello\r\n  world\r\nX-Long:\tone\n\ttwo\nTo : a@b\r\n\r\nbody";
  HeaderSplit s = split_header(msg);
  Header h = parse_header(std::string_view(msg).substr(0, s.header_end));
  ASSERT_EQ(h.fields.size(), 3u);
  EXPECT_EQ(h.fields[0].name, "Subject");
  EXPECT_EQ(h.fields[0].raw_value, " hello\r\n  world");
  EXPECT_EQ(h.fields[0].value, "hello  world");
  EXPECT_EQ(h.fields[1].raw_value, "\tone\n\ttwo");
  EXPECT_EQ(h.fields[1].value, "one\ttwo");
  EXPECT_EQ(h.fields[2].name, "To");
  EXPECT_EQ(h.fields[2].value, "a@b");
  ASSERT_NE(h.find("SUBJECT"), nullptr);
  EXPECT_EQ(h.find("subject")->value, "hello  world");
  EXPECT_EQ(h.find("Cc"), nullptr);
  EXPECT_FALSE(h.truncated);
}

TEST(ParseHeader, EightBitJunkAndStrayLines) {
  std::string msg =
      "  leading continuation\r\n"
      "Subject: caf\xc3\xa9 \xff\xfe\r\n"
      "this line has no colon\r\n"
      ": empty name\r\n"
      "Received: one\r\n"
      "Received: two\r\n";
  Header h = parse_header(msg);
  ASSERT_EQ(h.fields.size(), 3u);
  EXPECT_EQ(h.fields[0].value, "caf\xc3\xa9 \xff\xfe");
  auto all = h.find_all("received");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1]->value, "two");
}

TEST(ParseHeader, VeryLongFieldAndFieldCap) {
  std::string big = "X-Big: " + std::string(5'000'000, 'a') + "\r\n";
  Header h = parse_header(big);
  ASSERT_EQ(h.fields.size(), 1u);
  EXPECT_EQ(h.fields[0].value.size(), 5'000'000u);

  std::string many;
  for (int i = 0; i < 20'000; ++i) many += "X-N: " + std::to_string(i) + "\r\n";
  many += "Subject: last\r\n\r\nbody";
  HeaderSplit s = split_header(many);
  h = parse_header(std::string_view(many).substr(0, s.header_end), HeaderOptions{.max_fields = 10'000});
  EXPECT_EQ(h.fields.size(), 10'000u);
  EXPECT_TRUE(h.truncated);
  EXPECT_EQ(h.fields.back().value, "9999");
  EXPECT_EQ(std::string_view(many).substr(s.body_start), "body");
}

TEST(Unfold, RemovesLineEndsAndTrims) {
  EXPECT_EQ(unfold(" a\r\n b \t"), "a b");
  EXPECT_EQ(unfold(""), "");
}

}  // namespace
}  // namespace posthorn::mime
