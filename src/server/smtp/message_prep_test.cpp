// Trace fields and submission hygiene.
#include <gtest/gtest.h>

#include "server/smtp/message_prep.hpp"

namespace posthorn::server::smtp {
namespace {

TEST(MessagePrep, Rfc5322Date) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1748959509), "Tue, 3 Jun 2025 14:05:09 +0000");
}

TEST(MessagePrep, TraceFields) {
  EXPECT_EQ(return_path_field(""), "Return-Path: <>\r\n");
  EXPECT_EQ(return_path_field("a@b.c"), "Return-Path: <a@b.c>\r\n");
  TraceInfo t{"client.example", "192.0.2.1", "mx.example.test", "ESMTPS", "ABC", "u@example.test",
              "TLSv1.3 TLS_AES_256_GCM_SHA384", 0};
  EXPECT_EQ(received_field(t),
            "Received: from client.example ([192.0.2.1])\r\n"
            "\tby mx.example.test (Posthorn) with ESMTPS id ABC\r\n"
            "\t(TLSv1.3 TLS_AES_256_GCM_SHA384)\r\n"
            "\tfor <u@example.test>; Thu, 1 Jan 1970 00:00:00 +0000\r\n");
  // A client-chosen name cannot break out of the field.
  t.helo = "evil\r\nX-Injected: 1";
  t.tls.clear();
  t.recipient.clear();
  const std::string r = received_field(t);
  EXPECT_EQ(r.find("\r\nX-Injected"), std::string::npos);
  EXPECT_EQ(r, "Received: from evil??X-Injected: 1 ([192.0.2.1])\r\n"
               "\tby mx.example.test (Posthorn) with ESMTPS id ABC; Thu, 1 Jan 1970 00:00:00 +0000\r\n");
}

TEST(MessagePrep, SubmissionAddsMessageIdAndDateAndDropsBcc) {
  const std::string in =
      "From: demo@example.test\r\nTo: a@b.c\r\nBcc: hidden@x.y,\r\n  other@x.y\r\nSubject: hi\r\n\r\nBcc: body line\r\n";
  const std::string out = prepare_submission(in, "example.test", 0);
  EXPECT_TRUE(out.starts_with("From: demo@example.test\r\nTo: a@b.c\r\nSubject: hi\r\nMessage-ID: <")) << out;
  EXPECT_NE(out.find("@example.test>\r\nDate: Thu, 1 Jan 1970 00:00:00 +0000\r\n\r\nBcc: body line\r\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_EQ(out.find("other@x.y"), std::string::npos);
}

TEST(MessagePrep, SubmissionKeepsExistingFields) {
  const std::string in = "Message-ID: <x@y>\r\ndate: Mon, 2 Jun 2025 10:00:00 +0000\r\n\r\nbody\r\n";
  EXPECT_EQ(prepare_submission(in, "example.test", 0), in);
  // No header at all, and a header without a body.
  EXPECT_TRUE(prepare_submission("\r\nbody\r\n", "d", 0).ends_with("\r\n\r\nbody\r\n"));
  EXPECT_TRUE(prepare_submission("Subject: x", "d", 0).starts_with("Subject: x\r\nMessage-ID: <"));
}

}  // namespace
}  // namespace posthorn::server::smtp
