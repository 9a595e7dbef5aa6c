// Reading SMTP replies as a client: single and multiline, enhanced status codes, malformed input, the
// line limit, and the EHLO capability list.
#include <gtest/gtest.h>

#include "proto/smtp/reply_reader.hpp"

namespace posthorn::proto::smtp {
namespace {

ReceivedReply parse(std::initializer_list<std::string_view> lines) {
  ReplyParser p;
  size_t i = 0;
  for (auto l : lines) {
    auto s = p.feed(l);
    ++i;
    if (i < lines.size()) {
      EXPECT_EQ(s, ReplyParser::State::kMore) << l;
    } else {
      EXPECT_EQ(s, ReplyParser::State::kDone) << l;
    }
  }
  return p.take();
}

TEST(ReplyParser, SingleAndMultiline) {
  ReceivedReply r = parse({"250 2.1.0 Sender ok"});
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.status, "2.1.0");
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0], "Sender ok");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.to_string(), "250 2.1.0 Sender ok");

  ReceivedReply m = parse({"550-5.1.1 The email account that you tried to reach", "550-5.1.1 does not exist.",
                   "550 5.1.1 Please try again"});
  EXPECT_EQ(m.code, 550);
  EXPECT_EQ(m.status, "5.1.1");
  EXPECT_TRUE(m.permanent());
  EXPECT_EQ(m.to_string(), "550 5.1.1 The email account that you tried to reach does not exist. Please try again");

  ReceivedReply bare = parse({"354"});  // no text at all
  EXPECT_EQ(bare.code, 354);
  EXPECT_TRUE(bare.status.empty());
  EXPECT_EQ(bare.enhanced(), "2.0.0");

  ReceivedReply no_status = parse({"421 closing"});
  EXPECT_TRUE(no_status.transient());
  EXPECT_EQ(no_status.enhanced(), "4.0.0");
  // A status of another class than the code is text, not a status.
  ReceivedReply mismatch = parse({"250 5.1.1 odd"});
  EXPECT_TRUE(mismatch.status.empty());
  EXPECT_EQ(mismatch.lines[0], "5.1.1 odd");
  EXPECT_EQ(parse({"451 4.7.650 The mail server is unavailable"}).status, "4.7.650");
}

TEST(ReplyParser, RejectsMalformed) {
  for (std::string_view bad : {"", "25", "abc hello", "250x", "650 no such class", "199 too low"}) {
    ReplyParser p;
    EXPECT_EQ(p.feed(bad), ReplyParser::State::kError) << bad;
  }
  ReplyParser p;
  EXPECT_EQ(p.feed("250-first"), ReplyParser::State::kMore);
  EXPECT_EQ(p.feed("251 other code"), ReplyParser::State::kError);
}

TEST(ReplyParser, LineLimitAtNAndNPlusOne) {
  ReplyParser p;
  for (size_t i = 0; i + 1 < ReplyParser::kMaxLines; ++i) ASSERT_EQ(p.feed("250-x"), ReplyParser::State::kMore);
  EXPECT_EQ(p.feed("250 last"), ReplyParser::State::kDone);  // line kMaxLines: accepted
  EXPECT_EQ(p.take().lines.size(), ReplyParser::kMaxLines);
  for (size_t i = 0; i < ReplyParser::kMaxLines; ++i) ASSERT_EQ(p.feed("250-x"), ReplyParser::State::kMore);
  EXPECT_EQ(p.feed("250 one too many"), ReplyParser::State::kError);
}

TEST(Ehlo, Capabilities) {
  ReceivedReply r = parse({"250-mx.example.test Hello", "250-PIPELINING", "250-SIZE 10240000", "250-8BITMIME",
                   "250-smtputf8", "250-DSN", "250-CHUNKING", "250-ENHANCEDSTATUSCODES", "250-STARTTLS",
                   "250-AUTH=LOGIN", "250 AUTH PLAIN LOGIN CRAM-MD5"});
  Capabilities c = parse_ehlo(r);
  EXPECT_TRUE(c.esmtp && c.pipelining && c.eightbitmime && c.smtputf8 && c.dsn && c.chunking &&
              c.enhanced_status && c.starttls);
  ASSERT_TRUE(c.size);
  EXPECT_EQ(*c.size, 10240000u);
  EXPECT_TRUE(c.has_auth("PLAIN"));
  EXPECT_TRUE(c.has_auth("LOGIN"));
  EXPECT_TRUE(c.has_auth("CRAM-MD5"));
  EXPECT_FALSE(c.has_auth("XOAUTH2"));

  Capabilities plain = parse_ehlo(parse({"250 mx.example.test"}));
  EXPECT_TRUE(plain.esmtp);
  EXPECT_FALSE(plain.pipelining);
  EXPECT_FALSE(plain.size);
  EXPECT_FALSE(parse_ehlo(parse({"502 5.5.1 no EHLO"})).esmtp);
  EXPECT_EQ(*parse_ehlo(parse({"250-x", "250 SIZE"})).size, 0u);  // SIZE without a number: no fixed limit
}

}  // namespace
}  // namespace posthorn::proto::smtp
