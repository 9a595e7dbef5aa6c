// MAIL FROM / RCPT TO / BDAT argument grammar and ESMTP parameters.
#include <gtest/gtest.h>

#include "proto/smtp/command.hpp"
#include "proto/smtp/envelope.hpp"

namespace posthorn::proto::smtp {
namespace {

TEST(SmtpEnvelope, MailFromPlainAndNull) {
  auto m = parse_mail_from("FROM:<a@example.org>");
  ASSERT_TRUE(m) << m.error.text;
  EXPECT_EQ(m.value->sender.local, "a");
  EXPECT_EQ(m.value->sender.domain, "example.org");
  EXPECT_FALSE(m.value->size);
  auto null = parse_mail_from("from:<>");
  ASSERT_TRUE(null);
  EXPECT_TRUE(null.value->sender.empty());
  EXPECT_EQ(null.value->sender.address(), "");
  // A space after the colon is tolerated (real clients send it).
  auto spaced = parse_mail_from("FROM: <a@example.org>");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(spaced.value->sender.address(), "a@example.org");
}

TEST(SmtpEnvelope, MailFromParameters) {
  auto m = parse_mail_from("FROM:<a@example.org> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<>");
  ASSERT_TRUE(m) << m.error.text;
  EXPECT_EQ(*m.value->size, 12345u);
  EXPECT_EQ(m.value->body, Body::k8BitMime);
  EXPECT_TRUE(m.value->smtputf8);
  EXPECT_EQ(m.value->ret, Ret::kHdrs);
  EXPECT_EQ(m.value->envid, "QQ+1");
  EXPECT_EQ(*m.value->auth, "<>");
  auto b = parse_mail_from("FROM:<a@example.org> body=binarymime ret=full size=0");
  ASSERT_TRUE(b) << b.error.text;
  EXPECT_EQ(b.value->body, Body::kBinaryMime);
  EXPECT_EQ(b.value->ret, Ret::kFull);
  EXPECT_EQ(*b.value->size, 0u);
  auto seven = parse_mail_from("FROM:<a@example.org> BODY=7BIT");
  ASSERT_TRUE(seven);
  EXPECT_EQ(seven.value->body, Body::k7Bit);
}

TEST(SmtpEnvelope, MailFromErrors) {
  struct Bad {
    std::string_view args;
    uint16_t code;
    std::string_view status;
  };
  const Bad cases[] = {
      {"TO:<a@b.c>", 501, "5.5.4"},
      {"FROM:a@b.c", 501, "5.1.7"},
      {"FROM:<a@b.c", 501, "5.1.7"},
      {"FROM:<a>", 501, "5.1.7"},
      {"FROM:<@b.c>", 501, "5.1.7"},
      {"FROM:<a@>", 501, "5.1.7"},
      {"FROM:<a@b..c>", 501, "5.1.7"},
      {"FROM:<a@b.c.>", 501, "5.1.7"},
      {"FROM:<a@b@c.d>", 501, "5.1.7"},
      {"FROM:<a..b@c.d>", 501, "5.1.7"},
      {"FROM:<.a@c.d>", 501, "5.1.7"},
      {"FROM:<a b@c.d>", 501, "5.1.7"},
      {"FROM:<a@b.c>SIZE=1", 501, "5.1.7"},
      {"FROM:<a@b.c> SIZE=x", 555, "5.5.4"},
      {"FROM:<a@b.c> SIZE=", 555, "5.5.4"},
      {"FROM:<a@b.c> SIZE", 555, "5.5.4"},
      {"FROM:<a@b.c> SIZE=99999999999999999999", 555, "5.5.4"},
      {"FROM:<a@b.c> BODY=9BIT", 555, "5.5.4"},
      {"FROM:<a@b.c> SMTPUTF8=yes", 555, "5.5.4"},
      {"FROM:<a@b.c> RET=ALL", 555, "5.5.4"},
      {"FROM:<a@b.c> ENVID=a+zz", 555, "5.5.4"},
      {"FROM:<a@b.c> ENVID=" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       555, "5.5.4"},  // 101 characters
      {"FROM:<a@b.c> XFOO=1", 555, "5.5.4"},
      {"FROM:<a@b.c> SIZE=1 SIZE=2", 501, "5.5.4"},
      {"FROM:<a@b.c> =1", 555, "5.5.4"},
  };
  for (const auto& c : cases) {
    auto m = parse_mail_from(c.args);
    ASSERT_FALSE(m) << c.args;
    EXPECT_EQ(m.error.code, c.code) << c.args;
    EXPECT_EQ(m.error.status, c.status) << c.args;
  }
  // ENVID of exactly 100 characters is accepted.
  EXPECT_TRUE(parse_mail_from("FROM:<a@b.c> ENVID=" + std::string(100, 'a')));
}

TEST(SmtpEnvelope, RcptToParameters) {
  auto r = parse_rcpt_to("TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+40example.org");
  ASSERT_TRUE(r) << r.error.text;
  EXPECT_EQ(r.value->recipient.address(), "b@example.org");
  EXPECT_EQ(r.value->notify, kNotifySuccess | kNotifyFailure);
  EXPECT_EQ(r.value->orcpt, "rfc822;b@example.org");
  auto never = parse_rcpt_to("TO:<b@example.org> NOTIFY=never");
  ASSERT_TRUE(never);
  EXPECT_EQ(never.value->notify, kNotifyNever);
  auto delay = parse_rcpt_to("TO:<b@example.org> NOTIFY=DELAY");
  ASSERT_TRUE(delay);
  EXPECT_EQ(delay.value->notify, kNotifyDelay);
  const std::string_view bad[] = {
      "TO:<b@example.org> NOTIFY=NEVER,SUCCESS", "TO:<b@example.org> NOTIFY=SOMETIMES",
      "TO:<b@example.org> NOTIFY=",              "TO:<b@example.org> ORCPT=b@example.org",
      "TO:<b@example.org> ORCPT=;b",             "TO:<b@example.org> ORCPT=rfc822;",
      "TO:<b@example.org> SIZE=10",              "TO:<b@example.org> ORCPT=rfc822;a+4",
  };
  for (auto args : bad) {
    auto p = parse_rcpt_to(args);
    ASSERT_FALSE(p) << args;
    EXPECT_EQ(p.error.code, 555) << args;
  }
  EXPECT_FALSE(parse_rcpt_to("TO:<>"));
  EXPECT_EQ(parse_rcpt_to("TO:<>").error.status, "5.1.3");
  EXPECT_FALSE(parse_rcpt_to("FROM:<a@b.c>"));
}

TEST(SmtpEnvelope, PostmasterWithoutDomain) {
  auto r = parse_rcpt_to("TO:<Postmaster>");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r.value->postmaster);
  auto other = parse_rcpt_to("TO:<webmaster>");
  EXPECT_FALSE(other);
}

// Address forms a relay check must see through: the parsed domain is the one that decides.
TEST(SmtpEnvelope, AddressTricks) {
  struct Case {
    std::string_view path;
    bool ok;
    std::string_view local;
    std::string_view domain;
  };
  const Case cases[] = {
      {"<@relay.example,@other.example:user@remote.example>", true, "user", "remote.example"},
      {"<@[10.0.0.1]:user@remote.example>", true, "user", "remote.example"},
      {"<\"user@remote.example\"@local.test>", true, "\"user@remote.example\"", "local.test"},
      {"<\"user\\\"x\"@local.test>", true, "\"user\\\"x\"", "local.test"},
      {"<user%remote.example@local.test>", true, "user%remote.example", "local.test"},
      {"<remote.example!user@local.test>", true, "remote.example!user", "local.test"},
      {"<user@[127.0.0.1]>", true, "user", "[127.0.0.1]"},
      {"<user@[IPv6:::1]>", true, "user", "[IPv6:::1]"},
      {"<用户@例子.测试>", true, "用户", "例子.测试"},
      {"<user@remote.example@local.test>", false, "", ""},
      {"<remote.example!user>", false, "", ""},
      {"<user>", false, "", ""},
      {"<user@local.test.>", false, "", ""},
      {"<user@.local.test>", false, "", ""},
      {"<user@[300.0.0.1]>", false, "", ""},
      {"<@relay.example:>", false, "", ""},
      {"<@relay.example user@x.y>", false, "", ""},
      {"<\"unterminated@local.test>", false, "", ""},
      {"<user@local.test>>", false, "", ""},
      {"<<user@local.test>>", false, "", ""},
  };
  for (const auto& c : cases) {
    auto m = parse_path(c.path, false);
    ASSERT_EQ(m.has_value(), c.ok) << c.path;
    if (!m) continue;
    EXPECT_EQ(m->local, c.local) << c.path;
    EXPECT_EQ(m->domain, c.domain) << c.path;
  }
  EXPECT_TRUE(parse_path("<用户@例子.测试>", false)->non_ascii());
  EXPECT_FALSE(parse_path("<a@b.c>", false)->non_ascii());
  EXPECT_TRUE(parse_path("<\"a b\"@b.c>", false)->quoted());
  // A quoted local part may hold '>' and still end at the right bracket.
  auto q = parse_rcpt_to("TO:<\"a>b\"@local.test> NOTIFY=NEVER");
  ASSERT_TRUE(q) << q.error.text;
  EXPECT_EQ(q.value->recipient.local, "\"a>b\"");
}

TEST(SmtpEnvelope, Bdat) {
  auto b = parse_bdat("100 LAST");
  ASSERT_TRUE(b);
  EXPECT_EQ(b.value->size, 100u);
  EXPECT_TRUE(b.value->last);
  auto z = parse_bdat("0 last");
  ASSERT_TRUE(z);
  EXPECT_EQ(z.value->size, 0u);
  EXPECT_TRUE(z.value->last);
  auto m = parse_bdat("65536");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m.value->last);
  for (std::string_view bad : {"", "x", "10 FIRST", "10 LAST more", "-1", "1e3"}) {
    EXPECT_FALSE(parse_bdat(bad)) << bad;
  }
}

TEST(SmtpEnvelope, Xtext) {
  EXPECT_EQ(*xtext_decode("a+2Bb+3D"), "a+b=");
  EXPECT_FALSE(xtext_decode("a+2"));
  EXPECT_FALSE(xtext_decode("a b"));
  EXPECT_FALSE(xtext_decode("a=b"));
  EXPECT_EQ(xtext_encode("a+b= c"), "a+2Bb+3D+20c");
  EXPECT_EQ(*xtext_decode(xtext_encode("x\x01y+z")), "x\x01y+z");
}

// RFC 3461 §4: hexchar is "+" followed by two upper-case hex digits (lower case is read too);
// xchar excludes "+" and "=", so a trailing "+", controls and bytes over 126 are not xtext.
TEST(SmtpEnvelope, XtextRfc3461Section4Grammar) {
  EXPECT_EQ(*xtext_decode("abc+41"), "abcA");
  EXPECT_EQ(*xtext_decode("rfc822;a+2Bb+3Dc@d.test"), "rfc822;a+b=c@d.test");
  EXPECT_EQ(*xtext_decode("a+2b"), "a+");
  EXPECT_FALSE(xtext_decode("abc+"));
  EXPECT_FALSE(xtext_decode("abc+zz"));
  EXPECT_FALSE(xtext_decode("a\x01"));
  EXPECT_FALSE(xtext_decode("a\x80"));
  EXPECT_EQ(xtext_encode("a b\x80"), "a+20b+80");
  EXPECT_EQ(xtext_encode("rfc822;a+b=c@d.test"), "rfc822;a+2Bb+3Dc@d.test");
}

TEST(SmtpEnvelope, CommandsCarryErrorsWithTheirReply) {
  auto r = parse_command("RCPT TO:<a@b.c> FOO=1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reply.code, 555);
  EXPECT_EQ(r.error().reply.status, "5.5.4");
  auto m = parse_command("MAIL FROM:<bad");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().reply.status, "5.1.7");
  auto b = parse_command("BDAT 10 LAST");
  ASSERT_TRUE(b);
  EXPECT_EQ(std::get<Bdat>(*b).size, 10u);
}

}  // namespace
}  // namespace posthorn::proto::smtp
