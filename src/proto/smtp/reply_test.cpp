#include <gtest/gtest.h>

#include "proto/smtp/reply.hpp"

namespace posthorn::proto::smtp {
namespace {

TEST(SmtpReply, FormatsSingleLines) {
  EXPECT_EQ(format(kC250Ok), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(format(kC221Bye), "221 2.0.0 Bye\r\n");
  EXPECT_EQ(format(kC235AuthOk), "235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(format(kC220ReadyToStartTls), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(format(kC538EncryptionRequired),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  EXPECT_EQ(format(kC501ArgSyntax, "EHLO requires a domain"), "501 5.5.4 EHLO requires a domain\r\n");
  EXPECT_EQ(format(kC220ServiceReady, "mx.example.org ESMTP Posthorn"), "220 mx.example.org ESMTP Posthorn\r\n");
  EXPECT_EQ(format(Reply{250, "", ""}), "250\r\n");
}

TEST(SmtpReply, FormatsContinuations) {
  EXPECT_EQ(format_continue(""), "334 \r\n");
  EXPECT_EQ(format_continue("VXNlcm5hbWU6"), "334 VXNlcm5hbWU6\r\n");
}

TEST(SmtpReply, FormatsMultiline) {
  EXPECT_EQ(format_multiline(250, "", {"a", "b"}), "250-a\r\n250 b\r\n");
  EXPECT_EQ(format_multiline(250, "", {"only"}), "250 only\r\n");
  EXPECT_EQ(format_multiline(250, "", {"mx.example", "PIPELINING", "AUTH PLAIN LOGIN"}),
            "250-mx.example\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n");
  EXPECT_EQ(format_multiline(214, "2.0.0", {"one", "two"}), "214-2.0.0 one\r\n214 2.0.0 two\r\n");
  EXPECT_EQ(format_multiline(250, "", {}), "250\r\n");
}

TEST(SmtpReply, MapsAuthErrorsInOnePlace) {
  auto code_of = [](Errc c, std::string msg) {
    Reply r = to_auth_reply(make_error(c, std::move(msg)));
    return std::to_string(r.code) + " " + std::string(r.status);
  };
  EXPECT_EQ(code_of(Errc::kDenied, "bad"), "535 5.7.8");
  EXPECT_EQ(code_of(Errc::kDenied, "encryption required"), "538 5.7.11");
  EXPECT_EQ(code_of(Errc::kUnavailable, "throttled"), "454 4.7.0");
  EXPECT_EQ(code_of(Errc::kInvalid, "malformed"), "501 5.5.2");
  EXPECT_EQ(code_of(Errc::kNotFound, "no such mechanism"), "504 5.5.4");
  EXPECT_EQ(code_of(Errc::kInternal, "db down"), "454 4.7.0");
  EXPECT_TRUE(is_error(kC421Timeout));
  EXPECT_FALSE(is_error(kC334AuthContinue));
}

TEST(SmtpReply, MapsMailErrorsInOnePlace) {
  auto code_of = [](Errc c) {
    Reply r = to_mail_reply(make_error(c, "x"));
    return std::to_string(r.code) + " " + std::string(r.status);
  };
  EXPECT_EQ(code_of(Errc::kNotFound), "550 5.1.1");
  EXPECT_EQ(code_of(Errc::kOverQuota), "452 4.2.2");
  EXPECT_EQ(code_of(Errc::kTooBig), "552 5.3.4");
  EXPECT_EQ(code_of(Errc::kDenied), "554 5.7.1");
  EXPECT_EQ(code_of(Errc::kInvalid), "554 5.6.0");
  EXPECT_EQ(code_of(Errc::kUnavailable), "451 4.3.0");
  EXPECT_EQ(code_of(Errc::kInternal), "451 4.3.0");
  EXPECT_EQ(code_of(Errc::kConflict), "451 4.3.0");
}

}  // namespace
}  // namespace posthorn::proto::smtp
