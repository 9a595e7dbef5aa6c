#include <gtest/gtest.h>

#include <string>

#include "mime/envelope.hpp"
#include "mime/message.hpp"

namespace posthorn::mime {
namespace {

TEST(Envelope, FieldsAndDefaults) {
  std::string msg =
      "Date: Thu, 26 Nov 2026 17:00:00 +0000\r\n"
      "From: =?utf-8?q?J=C3=B6rg?= <j@x.de>\r\n"
      "To: a@b, undisclosed-recipients:;\r\n"
      "Subject: =?iso-8859-1?q?caf=E9?=\r\n"
      " again\r\n"
      "Message-ID: <m1@x.de>\r\n"
      "Reply-To:\r\n"
      "\r\n"
      "body";
  Envelope e = parse_envelope(msg);
  EXPECT_EQ(e.date, "Thu, 26 Nov 2026 17:00:00 +0000");
  EXPECT_EQ(e.subject, "=?iso-8859-1?q?caf=E9?= again");
  EXPECT_EQ(decoded_subject(e), "caf\xc3\xa9 again");
  EXPECT_EQ(e.message_id, "<m1@x.de>");
  EXPECT_FALSE(e.in_reply_to.has_value());
  ASSERT_EQ(e.from.size(), 1u);
  EXPECT_EQ(e.from[0].name, "J\xc3\xb6rg");
  EXPECT_EQ(e.sender, e.from);    // absent Sender
  EXPECT_EQ(e.reply_to, e.from);  // empty Reply-To
  ASSERT_EQ(e.to.size(), 3u);
  EXPECT_TRUE(e.to[1].is_group_start);
  EXPECT_TRUE(e.cc.empty());
  EXPECT_TRUE(e.bcc.empty());
}

TEST(Envelope, EmptyMessageAndEmbeddedMessage) {
  Envelope e = parse_envelope("");
  EXPECT_FALSE(e.subject.has_value());
  EXPECT_TRUE(e.from.empty());
  EXPECT_TRUE(e.sender.empty());
  EXPECT_EQ(decoded_subject(e), "");

  std::string msg =
      "Subject: outer\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: inner\r\nFrom: i@x\r\nSender: s@x\r\n\r\nbody\r\n";
  Part root = parse_message(msg);
  ASSERT_TRUE(root.is_message());
  const Part& inner = root.children[0];
  e = parse_envelope(std::string_view(msg).substr(inner.header_offset, inner.header_size + inner.body_size));
  EXPECT_EQ(e.subject, "inner");
  ASSERT_EQ(e.sender.size(), 1u);
  EXPECT_EQ(e.sender[0].mailbox, "s");
  EXPECT_EQ(e.reply_to[0].mailbox, "i");
}

}  // namespace
}  // namespace posthorn::mime
