// Trace fields and submission hygiene.
#include <gtest/gtest.h>

#include "delivery/message_prep.hpp"

namespace posthorn::delivery {
namespace {

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

// Issue 28: what the submission check of the header From and Sender sees.
TEST(MessagePrep, HeaderSendersFromAndSender) {
  const std::string in =
      "From: \"Bob, B.\" <bob@example.test>, alice@Example.Test (Alice)\r\n"
      "To: carol@example.test\r\nsender: ALICE@example.test\r\n"
      "From: team: dave@example.test, eve@example.test;\r\n\r\nFrom: body@example.test\r\n";
  const HeaderSenders got = header_senders(in, 20);
  EXPECT_FALSE(got.too_many);
  EXPECT_EQ(got.addresses, (std::vector<std::string>{"bob@example.test", "alice@Example.Test", "dave@example.test",
                                                     "eve@example.test"}));
  EXPECT_TRUE(header_senders("Subject: none\r\n\r\nbody\r\n", 20).addresses.empty());
  EXPECT_EQ(header_senders("From: bob\r\n\r\n", 20).addresses, std::vector<std::string>{"bob"});
  // At N distinct addresses fine, at N+1 too many.
  std::string many = "From: ";
  for (int i = 0; i < 21; ++i) many += (i ? ", u" : "u") + std::to_string(i) + "@x.test";
  many += "\r\n\r\n";
  EXPECT_TRUE(header_senders(many, 21).addresses.size() == 21 && !header_senders(many, 21).too_many);
  EXPECT_TRUE(header_senders(many, 20).too_many);
}

}  // namespace
}  // namespace posthorn::delivery
