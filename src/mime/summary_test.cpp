#include "mime/summary.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

#include "mime/transfer_encoding.hpp"

namespace posthorn::mime {
namespace {

using std::chrono::steady_clock;

// A message with most of what the encoding has to carry: nested multiparts, an embedded message
// with its own multipart, groups, routes, RFC 2231 and RFC 2047 parameters, 8-bit bytes, languages.
const std::string kTricky =
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "From: =?iso-8859-1?q?Andr=E9?= <andre@example.com>, \"Q, \\\"x\\\"\" <@r1,@r2:q@x.org>\r\n"
    "To: Team: a@b.c, \"B\" <b@c.d>;, nohost\r\n"
    "Cc: undisclosed-recipients:;\r\n"
    "Subject: =?utf-8?b?w6k=?= \xc3\xa9 raw\r\n"
    "Message-ID: <1@x>\r\n"
    "In-Reply-To: <0@x>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=iso-8859-1; format=flowed\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "Content-Language: en, fr\r\n"
    "\r\n"
    "Caf=E9 =\r\n"
    "au lait\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-ID: <h@x>\r\n"
    "Content-Description: =?utf-8?q?d=C3=A9?=\r\n"
    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
    "Content-Location: http://x/\r\n y\r\n"
    "\r\n"
    "<p>Caf&eacute;</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream; name*0*=utf-8''%C3%A9t%C3%A9; name*1=.bin\r\n"
    "Content-Disposition: attachment; filename=\"a b.bin\"; size=3\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: inner@example.com\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/mixed; boundary=x\r\n"
    "\r\n"
    "--x\r\n"
    "\r\n"
    "inner text\r\n"
    "--x--\r\n"
    "--outer--\r\n"
    "epilogue\r\n";

MessageSummary round_trip(const MessageSummary& s) {
  const std::string bytes = encode_summary(s);
  auto decoded = decode_summary(bytes);
  EXPECT_TRUE(decoded.has_value());
  // The envelope alone, read past the tree without building it, is the same envelope.
  auto envelope = decode_envelope(bytes);
  EXPECT_TRUE(envelope.has_value());
  if (envelope) {
    EXPECT_EQ(*envelope, s.envelope);
  }
  return decoded.has_value() ? *decoded : MessageSummary{};
}

TEST(Summary, TrickyMessageContents) {
  MessageSummary s = summarize(kTricky);
  ASSERT_EQ(s.root.children.size(), 3u);
  EXPECT_EQ(s.root.children[0].children.size(), 2u);
  EXPECT_TRUE(s.root.children[2].is_message());
  ASSERT_EQ(s.embedded.size(), 1u);
  EXPECT_EQ(s.embedded[0].subject, "inner");
  ASSERT_EQ(s.embedded[0].from.size(), 1u);
  EXPECT_EQ(s.embedded[0].from[0].mailbox, "inner");
  EXPECT_EQ(s.envelope.message_id, "<1@x>");
  EXPECT_EQ(s.envelope.to.size(), 5u);  // group start, 2 members, group end, nohost
  EXPECT_EQ(s.preview, "Caf\xc3\xa9 au lait");
  EXPECT_EQ(round_trip(s), s);
}

TEST(Summary, RoundTripsAssortedMessages) {
  std::string deep_rfc822;
  for (int i = 0; i < 30; ++i) deep_rfc822 += "Subject: level " + std::to_string(i) + "\r\nContent-Type: message/rfc822\r\n\r\n";
  deep_rfc822 += "Subject: bottom\r\n\r\nx";
  const std::string messages[] = {
      "",
      "Subject: only a header",
      "\r\n\r\n",
      "Content-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n",
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nno final boundary\r\n",
      "Content-Type: text/plain; charset=utf-8\r\nSubject: \xff\xfe junk\r\n\r\n\xff\x80\x00 bytes",
      "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5",
      deep_rfc822,
      kTricky,
  };
  for (const std::string& m : messages) {
    MessageSummary s = summarize(m);
    EXPECT_EQ(round_trip(s), s) << m;
  }
  MessageSummary deep = summarize(deep_rfc822);
  EXPECT_EQ(deep.embedded.size(), 30u);
  EXPECT_EQ(deep.embedded.back().subject, "bottom");
  EXPECT_EQ(deep.embedded.front().subject, "level 1");
}

TEST(Summary, EmptyMessage) {
  MessageSummary s = summarize("");
  EXPECT_EQ(s.root.content_type.type, "text");
  EXPECT_FALSE(s.envelope.subject.has_value());
  EXPECT_TRUE(s.envelope.from.empty());
  EXPECT_TRUE(s.embedded.empty());
  EXPECT_EQ(s.preview, "");
}

TEST(SummaryEncoding, EveryTruncationFails) {
  std::string bytes = encode_summary(summarize(kTricky));
  ASSERT_TRUE(decode_summary(bytes).has_value());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_summary(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.has_value()) << n;
    EXPECT_EQ(r.error().code, Errc::kInvalid);
  }
  EXPECT_FALSE(decode_summary(bytes + '\0').has_value());  // trailing bytes
}

TEST(SummaryEncoding, EnvelopeAloneNeedsTheTreeAndTheEnvelope) {
  const MessageSummary s = summarize(kTricky);
  const std::string bytes = encode_summary(s);
  // Where the envelope ends: the encoding of a summary with no embedded envelopes and no preview
  // is the tree, the envelope, a zero count and an empty string.
  MessageSummary head = s;
  head.embedded.clear();
  head.preview.clear();
  const std::size_t envelope_end = encode_summary(head).size() - 2;
  for (std::size_t n = 0; n < envelope_end; ++n) {
    auto r = decode_envelope(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.has_value()) << n;
    EXPECT_EQ(r.error().code, Errc::kInvalid);
  }
  auto whole = decode_envelope(std::string_view(bytes).substr(0, envelope_end));
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(*whole, s.envelope);
  std::string wrong = bytes;
  wrong[0] = char(2);
  EXPECT_FALSE(decode_envelope(wrong).has_value());
}

TEST(SummaryEncoding, WrongVersionFails) {
  std::string bytes = encode_summary(summarize(kTricky));
  for (int v : {0, 2, 255}) {
    bytes[0] = char(v);
    EXPECT_FALSE(decode_summary(bytes).has_value()) << v;
  }
}

// Any mutation either fails or decodes to something that encodes back to the same bytes (the
// encoding is canonical), and never crashes (ASan/UBSan builds check the rest).
TEST(SummaryEncoding, MutationsAndRandomBytes) {
  std::string bytes = encode_summary(summarize(kTricky));
  std::mt19937 rng(42);
  int accepted = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::string m = bytes;
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) m[rng() % m.size()] = char(rng());
    auto r = decode_summary(m);
    if (r.has_value()) {
      ++accepted;
      EXPECT_EQ(encode_summary(*r), m);
    }
  }
  for (int round = 0; round < 20'000; ++round) {
    std::string m(rng() % 200, '\0');
    for (char& c : m) c = char(rng());
    if (!m.empty() && round % 2 == 0) m[0] = 1;  // get past the version byte half the time
    auto r = decode_summary(m);
    if (r.has_value()) {
      EXPECT_EQ(encode_summary(*r), m);
    }
  }
  // Mutations that only change string bytes are valid; most others are not.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 20'000);
}

// Forged lengths and counts must not allocate: they are checked against the bytes left.
TEST(SummaryEncoding, ForgedLengthsFailFast) {
  const std::string huge = "\xff\xff\xff\xff\xff\xff\xff\xff\x7f";  // 2^63 - 1
  auto start = steady_clock::now();
  // Version, then header_offset = header_size = 2^64 - 1: header_offset + header_size wraps.
  const std::string max64 = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
  EXPECT_FALSE(decode_summary("\x01" + max64 + max64 + "\x00\x00" + std::string(100, '\x00')).has_value());
  // A content type string of length 2^63 - 1.
  EXPECT_FALSE(decode_summary(std::string("\x01\x00\x00\x00\x00", 5) + huge).has_value());
  // A parameter count of 2^63 - 1.
  EXPECT_FALSE(decode_summary(std::string("\x01\x00\x00\x00\x00\x04text\x05plain", 16) + huge).has_value());
  // A varint longer than 64 bits, and a non-canonical one.
  EXPECT_FALSE(decode_summary("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02").has_value());
  EXPECT_FALSE(decode_summary(std::string("\x01\x80\x00", 3)).has_value());
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(1));
}

// Flags are canonical: a bool byte of 2 or a flag byte with unknown bits is invalid.
TEST(SummaryEncoding, NonCanonicalFlagsFail) {
  MessageSummary s;
  s.envelope.subject = "x";
  std::string bytes = encode_summary(s);
  ASSERT_TRUE(decode_summary(bytes).has_value());
  std::string subject_flag = std::string("\x01\x01x", 3);
  auto at = bytes.find(subject_flag);
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 2;
  EXPECT_FALSE(decode_summary(bytes).has_value());
}

Part chain(std::size_t levels) {
  Part root;
  Part* p = &root;
  for (std::size_t i = 1; i < levels; ++i) {
    p->content_type = ContentType{"multipart", "mixed", {}};
    p = &p->children.emplace_back();
  }
  return root;
}

TEST(SummaryEncoding, DepthLimitAtNAndNPlusOne) {
  MessageSummary s;
  s.root = chain(kMaxSummaryDepth + 1);
  EXPECT_EQ(round_trip(s), s);
  s.root = chain(kMaxSummaryDepth + 2);
  auto r = decode_summary(encode_summary(s));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kInvalid);
}

TEST(SummaryEncoding, EmbeddedCountMustMatchTree) {
  MessageSummary s = summarize(kTricky);
  s.embedded.push_back(s.embedded[0]);
  EXPECT_FALSE(decode_summary(encode_summary(s)).has_value());
  s.embedded.clear();
  EXPECT_FALSE(decode_summary(encode_summary(s)).has_value());
}

// ---------------------------------------------------------------- preview

std::string preview_of(std::string_view headers, std::string_view body) {
  return summarize(std::string(headers) + "\r\n" + std::string(body)).preview;
}

TEST(Preview, TransferEncodingsAndCharsets) {
  EXPECT_EQ(preview_of("Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset=utf-8\r\n",
                       "caf=C3=A9=\r\n cr=C3=A8me"),
            "caf\xc3\xa9 cr\xc3\xa8me");
  EXPECT_EQ(preview_of("Content-Transfer-Encoding: BASE64\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n",
                       "aGVsbG8g\r\nd8O2cmxk\r\n"),
            "hello w\xc3\xb6rld");
  EXPECT_EQ(preview_of("Content-Type: text/plain; charset=iso-8859-1\r\n", "gr\xfc\xdf Gott"), "gr\xc3\xbc\xc3\x9f Gott");
  EXPECT_EQ(preview_of("Content-Type: text/plain; charset=windows-1252\r\n", "\x93quoted\x94"),
            "\xe2\x80\x9cquoted\xe2\x80\x9d");
  // No Content-Type: us-ascii; 8-bit junk becomes U+FFFD, never invalid UTF-8.
  EXPECT_EQ(preview_of("", "a\xff" "b"), "a\xef\xbf\xbd" "b");
}

TEST(Preview, HtmlIsStripped) {
  EXPECT_EQ(preview_of("Content-Type: text/html\r\n",
                       "<html><head><title>T</title><style>p{}</style></head><body>"
                       "<!-- c --><p>Hello&nbsp;<b>w</b>orld &amp; &#233;&#x20AC; &bogus;</p><br>x"
                       "<script>alert(1)</script></body></html>"),
            "Hello world & \xc3\xa9\xe2\x82\xac &bogus; x");
}

TEST(Preview, PlainPreferredOverHtmlAndAttachmentsSkipped) {
  std::string msg =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nattached\r\n"
      "--b\r\nContent-Type: text/html\r\n\r\n<i>html</i>\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\n plain \r\n text \r\n"
      "--b--\r\n";
  EXPECT_EQ(summarize(msg).preview, "plain text");
  // HTML when there is no text/plain; embedded messages are not entered.
  msg = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\ninner\r\n"
        "--b\r\nContent-Type: text/html\r\n\r\n<i>html</i>\r\n"
        "--b--\r\n";
  EXPECT_EQ(summarize(msg).preview, "html");
  EXPECT_EQ(summarize("Content-Type: image/png\r\n\r\nxyz").preview, "");
}

TEST(Preview, AtMost200CharactersNeverSplitting) {
  std::string e300;
  for (int i = 0; i < 300; ++i) e300 += "\xc3\xa9";
  std::string p = preview_of("Content-Type: text/plain; charset=utf-8\r\n", e300);
  EXPECT_EQ(p, e300.substr(0, 400));  // 200 characters, 400 bytes
  std::string a200(200, 'a');
  EXPECT_EQ(preview_of("", a200), a200);
  EXPECT_EQ(preview_of("", a200 + "b"), a200);
  // The 201st character is a space that collapses away.
  EXPECT_EQ(preview_of("", std::string(199, 'a') + "  \r\n\tb"), std::string(199, 'a') + " ");
}

TEST(Preview, ScansAtMost8KiB) {
  std::string spaces(kPreviewScanBytes - 1, ' ');
  EXPECT_EQ(preview_of("", spaces + "x"), "x");      // the last byte scanned
  EXPECT_EQ(preview_of("", spaces + " x"), "");      // one byte past the limit
  // A UTF-8 character cut by the scan limit is dropped, not turned into U+FFFD.
  std::string body = std::string(kPreviewScanBytes - 1, ' ') + "\xc3\xa9";
  EXPECT_EQ(preview_of("Content-Type: text/plain; charset=utf-8\r\n", body), "");
}

TEST(TransferEncoding, QuotedPrintableEdges) {
  EXPECT_EQ(decode_quoted_printable("a=3Db=3db"), "a=b=b");
  EXPECT_EQ(decode_quoted_printable("soft= \t\r\nbreak=\nx"), "softbreakx");
  EXPECT_EQ(decode_quoted_printable("bad=ZZ=4"), "bad=ZZ=4");
  EXPECT_EQ(decode_quoted_printable("cut="), "cut");
}

// RFC 2045 §6.7 rule 3: trailing spaces and tabs of an encoded line are transport padding and are
// deleted before a hard line break (and at the end of the part); whitespace before a soft break
// "=" stays (a printable "=" follows it), and an encoded "=20" or "=09" is data.
TEST(TransferEncoding, QuotedPrintableDeletesTrailingWhitespaceRfc2045Sec6_7Rule3) {
  EXPECT_EQ(decode_quoted_printable("hello  \r\nbar"), "hello\r\nbar");
  EXPECT_EQ(decode_quoted_printable("hello \t\nbar \t"), "hello\nbar");
  EXPECT_EQ(decode_quoted_printable("foo\t=\r\nbar"), "foo\tbar");
  EXPECT_EQ(decode_quoted_printable("foo = \t\r\nbar\r\n"), "foo bar\r\n");
  EXPECT_EQ(decode_quoted_printable("foo=20\r\nx=09 \r\n"), "foo \r\nx\t\r\n");
  EXPECT_EQ(decode_quoted_printable("a  ", false), "a  ");  // a piece that continues
  // imaptest's fetch-binary-mime-qp part: 65 bytes decoded, as Dovecot answers.
  const std::string part =
      "hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\nfoo =\r\n=62\r\n"
      "foo  \r\nbar=\r\n\r\nfoo_bar\r\n";
  EXPECT_EQ(decode_quoted_printable(part),
            "hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n");
  EXPECT_EQ(decode_quoted_printable(part).size(), 65u);
  EXPECT_EQ(decode_base64_lenient("aGk=\r\nignored"), "hi");
  EXPECT_EQ(decode_base64_lenient("a G\tk"), "hi");
  EXPECT_EQ(decode_transfer_encoding("=41", "7bit"), "=41");
}

// ---------------------------------------------------------------- hostile input

TEST(SummaryBounds, ThousandDeepNesting) {
  std::string multi;
  for (int i = 0; i < 1000; ++i) {
    multi += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" + std::to_string(i) + "\r\n";
  }
  multi += "\r\nleaf\r\n";
  std::string rfc822;
  for (int i = 0; i < 1000; ++i) rfc822 += "Subject: s\r\nContent-Type: message/rfc822\r\n\r\n";
  MessageOptions unlimited;
  unlimited.max_depth = 100'000;  // clamped to kMaxSummaryDepth
  for (const std::string* m : {&multi, &rfc822}) {
    for (const MessageOptions& o : {MessageOptions{}, unlimited}) {
      auto start = steady_clock::now();
      MessageSummary s = summarize(*m, o);
      EXPECT_EQ(round_trip(s), s);
      EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(10));
    }
  }
  EXPECT_EQ(summarize(rfc822).embedded.size(), 100u);
  EXPECT_EQ(summarize(rfc822, unlimited).embedded.size(), kMaxSummaryDepth);
}

TEST(SummaryBounds, HundredThousandAddresses) {
  std::string to = "To: ";
  for (int i = 0; i < 100'000; ++i) to += "u" + std::to_string(i) + "@example.com, ";
  auto start = steady_clock::now();
  MessageSummary s = summarize(to + "\r\n\r\nbody");
  EXPECT_EQ(s.envelope.to.size(), AddressOptions{}.max_addresses);
  EXPECT_EQ(round_trip(s), s);
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(s.preview, "body");
}

TEST(SummaryBounds, BrokenBoundariesAndJunk) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::string m = kTricky;
    for (int k = 0; k < 20; ++k) m[rng() % m.size()] = char(rng());
    if (round % 3 == 0) m.resize(rng() % m.size());
    MessageSummary s = summarize(m);
    EXPECT_EQ(round_trip(s), s);
    EXPECT_LE(s.preview.size(), 4 * kPreviewChars);
  }
  std::string junk(100'000, '\0');
  for (char& c : junk) c = char(rng());
  MessageSummary s = summarize("Content-Type: multipart/mixed; boundary=\"\xff\"\r\n\r\n" + junk);
  EXPECT_EQ(round_trip(s), s);
}

// A delivery to several accounts parses the message once and shifts the summary by each account's
// prefix (delivery/intake.cpp): the result must be what parsing the prefixed message gives.
TEST(SummaryTest, WithPrefixEqualsTheSummaryOfThePrefixedMessage) {
  const std::string prefix = "Return-Path: <x@y>\r\nReceived: from a ([127.0.0.1])\r\n\tby b; now\r\n";
  const std::vector<std::string> messages = {
      kTricky,
      "Subject: plain\r\n\r\nbody\r\n",
      "\r\nbody after an empty header\r\n",
      "Subject: no body\r\n",
      "X-A: 1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/mixed; "
      "boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
      "",
  };
  for (const std::string& m : messages) {
    if (!joins_header(m)) {
      EXPECT_TRUE(m.empty()) << m;
      continue;
    }
    EXPECT_EQ(with_prefix(summarize(m), prefix.size()), summarize(prefix + m)) << m;
  }
}

TEST(SummaryTest, JoinsHeaderOnlyWhenThePrefixBecomesPartOfTheHeader) {
  EXPECT_TRUE(joins_header("Subject: x\r\n\r\nb"));
  EXPECT_TRUE(joins_header("\r\nbody"));
  EXPECT_FALSE(joins_header(" folded: onto the prefix\r\n\r\n"));  // would continue the last prefix field
  EXPECT_FALSE(joins_header("no colon at all\r\n"));
  EXPECT_FALSE(joins_header("first line\r\nSubject: x\r\n"));
  EXPECT_FALSE(joins_header(":empty name\r\n"));
  MessageOptions small;
  small.header.max_fields = 20;
  std::string many;
  for (int i = 0; i < 10; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_FALSE(joins_header(many + "\r\n", small));  // near the field cap
  EXPECT_TRUE(joins_header(many + "\r\n"));
}

}  // namespace
}  // namespace posthorn::mime
