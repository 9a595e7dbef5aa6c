// Unit tests of the client-side wire helpers: reply parsing, EHLO capabilities, MAIL/RCPT parameters
// and the DATA encoder (CRLF normalisation, dot-stuffing, chunk boundaries).
#include <gtest/gtest.h>

#include "smtpc/protocol.hpp"

namespace posthorn::smtpc {
namespace {

Reply parse(std::initializer_list<std::string_view> lines) {
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
  Reply r = parse({"250 2.1.0 Sender ok"});
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.status, "2.1.0");
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0], "Sender ok");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.to_string(), "250 2.1.0 Sender ok");

  Reply m = parse({"550-5.1.1 The email account that you tried to reach", "550-5.1.1 does not exist.",
                   "550 5.1.1 Please try again"});
  EXPECT_EQ(m.code, 550);
  EXPECT_EQ(m.status, "5.1.1");
  EXPECT_TRUE(m.permanent());
  EXPECT_EQ(m.to_string(), "550 5.1.1 The email account that you tried to reach does not exist. Please try again");

  Reply bare = parse({"354"});  // no text at all
  EXPECT_EQ(bare.code, 354);
  EXPECT_TRUE(bare.status.empty());
  EXPECT_EQ(bare.enhanced(), "2.0.0");

  Reply no_status = parse({"421 closing"});
  EXPECT_TRUE(no_status.transient());
  EXPECT_EQ(no_status.enhanced(), "4.0.0");
  // A status of another class than the code is text, not a status.
  Reply mismatch = parse({"250 5.1.1 odd"});
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
  Reply r = parse({"250-mx.example.test Hello", "250-PIPELINING", "250-SIZE 10240000", "250-8BITMIME",
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

TEST(Commands, MailAndRcptParametersOnlyWhenOffered) {
  MailParams p;
  p.sender = "alice@here.test";
  p.size = 1234;
  p.body = Body::k8BitMime;
  p.smtputf8 = true;
  p.ret = queue::Ret::kHeaders;
  p.envid = "id+1=2";
  Capabilities none;
  none.esmtp = true;
  EXPECT_EQ(mail_command(p, none), "MAIL FROM:<alice@here.test>\r\n");
  Capabilities all;
  all.esmtp = all.eightbitmime = all.smtputf8 = all.dsn = true;
  all.size = 0;
  EXPECT_EQ(mail_command(p, all),
            "MAIL FROM:<alice@here.test> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3D2\r\n");
  MailParams bounce;
  EXPECT_EQ(mail_command(bounce, all), "MAIL FROM:<>\r\n");

  Recipient r;
  r.address = "bob@there.test";
  EXPECT_EQ(rcpt_command(r, all), "RCPT TO:<bob@there.test>\r\n");
  r.notify.failure = r.notify.delay = true;
  r.orcpt = "rfc822;Bob+x@there.test";
  EXPECT_EQ(rcpt_command(r, all), "RCPT TO:<bob@there.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;Bob+2Bx@there.test\r\n");
  EXPECT_EQ(rcpt_command(r, none), "RCPT TO:<bob@there.test>\r\n");
  r.notify = queue::Notify{};
  r.notify.never = true;
  r.orcpt.clear();
  EXPECT_EQ(rcpt_command(r, all), "RCPT TO:<bob@there.test> NOTIFY=NEVER\r\n");
  r.notify = queue::Notify{};
  r.notify.success = true;
  EXPECT_EQ(rcpt_command(r, all), "RCPT TO:<bob@there.test> NOTIFY=SUCCESS\r\n");
}

std::string encode_in_chunks(std::string_view in, size_t chunk, bool dot_stuff) {
  DataEncoder e(dot_stuff);
  std::string out;
  for (size_t i = 0; i < in.size(); i += chunk) e.encode(in.substr(i, chunk), out);
  e.finish(out);
  return out;
}

TEST(DataEncoder, NormalisesLineEndsAndDotStuffs) {
  const std::string in = "Subject: x\r\n\r\n.leading dot\nbare LF\rbare CR\r\n..two\r\nend.\r\n.";
  const std::string want =
      "Subject: x\r\n\r\n..leading dot\r\nbare LF\r\nbare CR\r\n...two\r\nend.\r\n..\r\n.\r\n";
  for (size_t chunk : {1, 2, 3, 7, 64, 1000}) EXPECT_EQ(encode_in_chunks(in, chunk, true), want) << chunk;
  // BDAT: the same normalisation without dot-stuffing or terminator.
  EXPECT_EQ(encode_in_chunks(in, 5, false),
            "Subject: x\r\n\r\n.leading dot\r\nbare LF\r\nbare CR\r\n..two\r\nend.\r\n.\r\n");
  // A CR at a chunk end followed by LF in the next chunk is one line end.
  EXPECT_EQ(encode_in_chunks("a\r\nb", 2, true), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(encode_in_chunks("a\r", 1, true), "a\r\n.\r\n");
  EXPECT_EQ(encode_in_chunks("", 1, true), ".\r\n");
  EXPECT_EQ(encode_in_chunks("\r\r\n\n", 1, false), "\r\n\r\n\r\n");
  // The SMTP smuggling vector: a bare-LF "." line never becomes an end-of-data marker.
  EXPECT_EQ(encode_in_chunks("x\n.\nMAIL FROM:<evil>\r\n", 4, true), "x\r\n..\r\nMAIL FROM:<evil>\r\n.\r\n");
}

TEST(DataEncoder, NeverEmitsStrayCrOrLf) {
  std::string in;
  const char alphabet[] = {'\r', '\n', '.', 'a'};
  uint32_t x = 12345;
  for (int i = 0; i < 5000; ++i) {
    x = x * 1103515245 + 12345;
    in += alphabet[(x >> 16) % 4];
  }
  for (size_t chunk : {1, 3, 17, 4096}) {
    const std::string out = encode_in_chunks(in, chunk, true);
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] == '\r') {
        ASSERT_TRUE(i + 1 < out.size() && out[i + 1] == '\n') << i;
      }
      if (out[i] == '\n') {
        ASSERT_TRUE(i > 0 && out[i - 1] == '\r') << i;
      }
    }
    ASSERT_TRUE(out.ends_with("\r\n.\r\n") || out == ".\r\n");
    // The only "\r\n.\r\n" is the terminator.
    EXPECT_EQ(out.find("\r\n.\r\n"), out.size() - 5);
  }
}

}  // namespace
}  // namespace posthorn::smtpc
