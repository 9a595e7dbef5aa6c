#include <gtest/gtest.h>

#include "proto/smtp/command.hpp"

namespace posthorn::proto::smtp {
namespace {

struct Case {
  std::string_view line;
  Verb verb;
  std::string_view arg;  // the domain, mechanism, topic or raw arguments, as the command carries it
};

std::string arg_of(const Command& c) {
  if (auto* h = std::get_if<Hello>(&c)) return h->domain;
  if (auto* a = std::get_if<Auth>(&c)) {
    return a->initial_response ? a->mechanism + " " + *a->initial_response : a->mechanism;
  }
  if (auto* h = std::get_if<Help>(&c)) return h->topic;
  if (auto* v = std::get_if<Vrfy>(&c)) return v->argument;
  if (auto* e = std::get_if<Expn>(&c)) return e->argument;
  if (auto* d = std::get_if<Deferred>(&c)) return d->arguments;
  if (auto* m = std::get_if<MailFrom>(&c)) return m->sender.address();
  if (auto* r = std::get_if<RcptTo>(&c)) return r->recipient.address();
  if (auto* b = std::get_if<Bdat>(&c)) return std::to_string(b->size) + (b->last ? " LAST" : "");
  return "";
}

TEST(SmtpCommand, ParsesValidCommands) {
  const Case cases[] = {
      {"EHLO client.example.org", Verb::kEhlo, "client.example.org"},
      {"ehlo client.example.org", Verb::kEhlo, "client.example.org"},
      {"EhLo localhost", Verb::kEhlo, "localhost"},
      {"EHLO [127.0.0.1]", Verb::kEhlo, "[127.0.0.1]"},
      {"EHLO [IPv6:::1]", Verb::kEhlo, "[IPv6:::1]"},
      {"EHLO [IPv6:2001:db8::1]", Verb::kEhlo, "[IPv6:2001:db8::1]"},
      {"EHLO [IPv6:2001:db8:0:0:0:0:0:1]", Verb::kEhlo, "[IPv6:2001:db8:0:0:0:0:0:1]"},
      {"EHLO [IPv6:::ffff:192.0.2.1]", Verb::kEhlo, "[IPv6:::ffff:192.0.2.1]"},
      {"EHLO [x-tag:stuff]", Verb::kEhlo, "[x-tag:stuff]"},
      {"EHLO my_host.lan", Verb::kEhlo, "my_host.lan"},
      {"EHLO client.example.org  ", Verb::kEhlo, "client.example.org"},
      {"HELO mail.example.com", Verb::kHelo, "mail.example.com"},
      {"LHLO mx.example.com", Verb::kLhlo, "mx.example.com"},
      {"STARTTLS", Verb::kStartTls, ""},
      {"starttls ", Verb::kStartTls, ""},
      {"AUTH PLAIN", Verb::kAuth, "PLAIN"},
      {"auth plain AGRlbW8AcGFzcw==", Verb::kAuth, "PLAIN AGRlbW8AcGFzcw=="},
      {"AUTH PLAIN =", Verb::kAuth, "PLAIN ="},
      {"AUTH scram-sha-256", Verb::kAuth, "SCRAM-SHA-256"},
      {"AUTH SCRAM-SHA-256-PLUS", Verb::kAuth, "SCRAM-SHA-256-PLUS"},
      {"RSET", Verb::kRset, ""},
      {"NOOP", Verb::kNoop, ""},
      {"NOOP anything at all", Verb::kNoop, ""},
      {"QUIT", Verb::kQuit, ""},
      {"HELP", Verb::kHelp, ""},
      {"HELP AUTH", Verb::kHelp, "AUTH"},
      {"VRFY postmaster", Verb::kVrfy, "postmaster"},
      {"EXPN staff", Verb::kExpn, "staff"},
      {"MAIL FROM:<a@example.org>", Verb::kMail, "a@example.org"},
      {"mail from:<>", Verb::kMail, ""},
      {"RCPT TO:<b@example.org>", Verb::kRcpt, "b@example.org"},
      {"DATA", Verb::kData, ""},
      {"BDAT 100 LAST", Verb::kBdat, "100 LAST"},
      {"ETRN example.org", Verb::kEtrn, "example.org"},
  };
  for (const auto& c : cases) {
    auto r = parse_command(c.line);
    ASSERT_TRUE(r) << c.line << ": " << r.error().text;
    EXPECT_EQ(verb_of(*r), c.verb) << c.line;
    EXPECT_EQ(arg_of(*r), c.arg) << c.line;
  }
}

TEST(SmtpCommand, TypedArguments) {
  auto r = parse_command("AUTH login");
  ASSERT_TRUE(r);
  const auto& auth = std::get<Auth>(*r);
  EXPECT_EQ(auth.mechanism, "LOGIN");
  EXPECT_FALSE(auth.initial_response.has_value());
  auto d = parse_command("RCPT TO:<x@y>");
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<RcptTo>(*d).recipient.domain, "y");
  auto h = parse_command("LHLO a.b");
  ASSERT_TRUE(h);
  EXPECT_EQ(std::get<Hello>(*h).verb, Verb::kLhlo);
}

struct BadCase {
  std::string_view line;
  uint16_t code;
  std::string_view status;
};

TEST(SmtpCommand, RejectsBadCommands) {
  const BadCase cases[] = {
      {"", 500, "5.5.2"},
      {"   ", 500, "5.5.2"},
      {"FOO", 500, "5.5.2"},
      {"EHLOX foo", 500, "5.5.2"},
      {"EHL", 500, "5.5.2"},
      {"GET / HTTP/1.1", 500, "5.5.2"},
      {"NOOP\x01", 500, "5.5.2"},
      {std::string_view("NOOP\0x", 6), 500, "5.5.2"},
      {"EHLO", 501, "5.5.4"},
      {"EHLO ", 501, "5.5.4"},
      {"HELO", 501, "5.5.4"},
      {"LHLO", 501, "5.5.4"},
      {"EHLO two words", 501, "5.5.4"},
      {"EHLO -bad.example", 501, "5.5.4"},
      {"EHLO bad-.example", 501, "5.5.4"},
      {"EHLO a..b", 501, "5.5.4"},
      {"EHLO .a", 501, "5.5.4"},
      {"EHLO a@b", 501, "5.5.4"},
      {"EHLO [1.2.3]", 501, "5.5.4"},
      {"EHLO [1.2.3.256]", 501, "5.5.4"},
      {"EHLO [IPv6:1::2::3]", 501, "5.5.4"},
      {"EHLO [IPv6:12345::]", 501, "5.5.4"},
      {"EHLO [IPv6:1:2:3:4:5:6:7]", 501, "5.5.4"},
      {"EHLO [IPv6:1:2:3:4:5:6:7:8:9]", 501, "5.5.4"},
      {"EHLO [tag:]", 501, "5.5.4"},
      {"EHLO []", 501, "5.5.4"},
      {"EHLO [no-colon]", 501, "5.5.4"},
      {"STARTTLS now", 501, "5.5.4"},
      {"RSET x", 501, "5.5.4"},
      {"QUIT please", 501, "5.5.4"},
      {"DATA x", 501, "5.5.4"},
      {"AUTH", 501, "5.5.4"},
      {"AUTH PL@IN", 501, "5.5.4"},
      {"AUTH ABCDEFGHIJKLMNOPQRSTU", 501, "5.5.4"},
      {"AUTH PLAIN a b", 501, "5.5.4"},
      {"VRFY", 501, "5.5.4"},
      {"EXPN", 501, "5.5.4"},
  };
  for (const auto& c : cases) {
    auto r = parse_command(c.line);
    ASSERT_FALSE(r) << c.line;
    EXPECT_EQ(r.error().reply.code, c.code) << c.line;
    EXPECT_EQ(r.error().reply.status, c.status) << c.line;
    EXPECT_FALSE(r.error().text.empty()) << c.line;
  }
}

TEST(SmtpCommand, DomainAndLiteralPredicates) {
  EXPECT_TRUE(is_domain("a"));
  EXPECT_TRUE(is_domain("xn--bcher-kva.example"));
  EXPECT_FALSE(is_domain(""));
  EXPECT_FALSE(is_domain(std::string(64, 'a') + ".example"));
  EXPECT_TRUE(is_domain(std::string(63, 'a') + ".example"));
  EXPECT_FALSE(is_domain("a.b."));
  EXPECT_TRUE(is_address_literal("[192.0.2.1]"));
  EXPECT_TRUE(is_address_literal("[IPv6:::]"));
  EXPECT_TRUE(is_address_literal("[ipv6:fe80::1]"));
  EXPECT_FALSE(is_address_literal("192.0.2.1"));
  EXPECT_FALSE(is_address_literal("[192.0.2.1"));
  EXPECT_FALSE(is_address_literal("[IPv6:1.2.3.4]"));
}

TEST(SmtpCommand, VerbNames) {
  EXPECT_EQ(verb_name(Verb::kStartTls), "STARTTLS");
  EXPECT_EQ(verb_name(Verb::kLhlo), "LHLO");
  EXPECT_EQ(verb_name(Verb::kEtrn), "ETRN");
}

}  // namespace
}  // namespace posthorn::proto::smtp
