#include "proto/imap/fetch_format.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mime/section.hpp"
#include "mime/summary.hpp"
#include "proto/imap/response.hpp"

namespace posthorn::proto::imap {
namespace {

struct Case {
  const char* name;
  std::string message;
  std::string envelope;
  std::string body;            // BODY (non-extended)
  std::string bodystructure;   // BODYSTRUCTURE
};

// Expected strings: Dovecot 2.3.19's FETCH (ENVELOPE BODY BODYSTRUCTURE) for the same message, with
// its string tokens re-quoted by our rule (quoted unless CR/LF/8-bit, then a literal), checked by
// hand against RFC 3501 §7.4.2; where we deliberately differ from Dovecot the case says why.
const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
    {"plain",  // RFC 3501 §7.4.2 ENVELOPE example; Dovecot lower-cases "US-ASCII", we keep values as written
     "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
      "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
      "Subject: afternoon meeting\r\n"
      "To: mooch@owatagu.siam.edu.example\r\n"
      "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
      "\r\n"
      "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n",
     "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon meeting\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((NIL NIL \"mooch\" \"owatagu.siam.edu.example\")) NIL NIL NIL \"<B27397-0100000@Blurdybloop.example>\")",
     "(\"text\" \"plain\" (\"charset\" \"US-ASCII\") NIL NIL \"7bit\" 55 1)",
     "(\"text\" \"plain\" (\"charset\" \"US-ASCII\") NIL NIL \"7bit\" 55 1 NIL NIL NIL NIL)",
    },
    {"no_content_type",
     "From: a@example.com\r\n"
      "To: b@example.com\r\n"
      "Subject: no mime\r\n"
      "\r\n"
      "line one\r\n"
      "line two\r\n",
     "(NIL \"no mime\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"b\" \"example.com\")) NIL NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL)",
    },
    {"alternative",
     "From: a@example.com\r\n"
      "Subject: alt\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/alternative; boundary=\"XX\"\r\n"
      "\r\n"
      "--XX\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "plain\r\n"
      "--XX\r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "<p>html</p>\r\n"
      "--XX--\r\n",
     "(NIL \"alt\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 0)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 11 0) \"alternative\")",
     "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 11 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"XX\") NIL NIL NIL)",
    },
    {"mixed_attachment",
     "From: a@example.com\r\n"
      "Subject: attachment\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b1\r\n"
      "\r\n"
      "--b1\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n"
      "\r\n"
      "see attached\r\n"
      "--b1\r\n"
      "Content-Type: application/pdf; name*=utf-8''%C3%A9t%C3%A9.pdf\r\n"
      "Content-Disposition: attachment; filename=\"report.pdf\"; size=4\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "AAECAw==\r\n"
      "--b1--\r\n",
     "(NIL \"attachment\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0)(\"application\" \"pdf\" (\"name*\" \"utf-8''%C3%A9t%C3%A9.pdf\") NIL NIL \"base64\" 8) \"mixed\")",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL)(\"application\" \"pdf\" (\"name*\" \"utf-8''%C3%A9t%C3%A9.pdf\") NIL NIL \"base64\" 8 NIL (\"attachment\" (\"filename\" \"report.pdf\" \"size\" \"4\")) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)",
    },
    {"nested",
     "From: a@example.com\r\n"
      "Subject: nested\r\n"
      "Content-Type: multipart/mixed; boundary=outer\r\n"
      "\r\n"
      "--outer\r\n"
      "Content-Type: multipart/alternative; boundary=inner\r\n"
      "\r\n"
      "--inner\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "hi\r\n"
      "--inner\r\n"
      "Content-Type: text/html\r\n"
      "\r\n"
      "<b>hi</b>\r\n"
      "--inner--\r\n"
      "--outer\r\n"
      "Content-Type: image/png\r\n"
      "Content-ID: <img1@example.com>\r\n"
      "Content-Disposition: inline\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "iVBORw0KGgo=\r\n"
      "--outer--\r\n",
     "(NIL \"nested\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0) \"alternative\")(\"image\" \"png\" NIL \"<img1@example.com>\" NIL \"base64\" 12) \"mixed\")",
     "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"inner\") NIL NIL NIL)(\"image\" \"png\" NIL \"<img1@example.com>\" NIL \"base64\" 12 NIL (\"inline\" NIL) NIL NIL) \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)",
    },
    {"rfc822_attachment",
     "From: a@example.com\r\n"
      "Subject: fwd\r\n"
      "Content-Type: multipart/mixed; boundary=m\r\n"
      "\r\n"
      "--m\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "forwarded below\r\n"
      "--m\r\n"
      "Content-Type: message/rfc822\r\n"
      "Content-Description: forwarded\r\n"
      "\r\n"
      "From: Inner <inner@example.org>\r\n"
      "To: x@example.org\r\n"
      "Subject: inner subject\r\n"
      "Date: Tue, 1 Jan 2019 00:00:00 +0000\r\n"
      "Message-ID: <inner@example.org>\r\n"
      "\r\n"
      "inner body\r\n"
      "line 2\r\n"
      "--m--\r\n",
     "(NIL \"fwd\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 15 0)(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7bit\" 167 (\"Tue, 1 Jan 2019 00:00:00 +0000\" \"inner subject\" ((\"Inner\" NIL \"inner\" \"example.org\")) ((\"Inner\" NIL \"inner\" \"example.org\")) ((\"Inner\" NIL \"inner\" \"example.org\")) ((NIL NIL \"x\" \"example.org\")) NIL NIL NIL \"<inner@example.org>\") (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 1) 7) \"mixed\")",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 15 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7bit\" 167 (\"Tue, 1 Jan 2019 00:00:00 +0000\" \"inner subject\" ((\"Inner\" NIL \"inner\" \"example.org\")) ((\"Inner\" NIL \"inner\" \"example.org\")) ((\"Inner\" NIL \"inner\" \"example.org\")) ((NIL NIL \"x\" \"example.org\")) NIL NIL NIL \"<inner@example.org>\") (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 1 NIL NIL NIL NIL) 7 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"m\") NIL NIL NIL)",
    },
    {"missing_final_boundary",
     "From: a@example.com\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n"
      "\r\n"
      "--b\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "one\r\n"
      "--b\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "two, never closed\r\n",
     "(NIL NIL ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 19 1) \"mixed\")",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 19 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
    },
    {"no_boundary_param",
     "From: a@example.com\r\n"
      "Content-Type: multipart/mixed\r\n"
      "\r\n"
      "just text\r\n",
     "(NIL NIL ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)",
    },
    {"encoded_words",
     "From: =?iso-8859-1?q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n"
      "To: =?utf-8?b?5pel5pys?= <jp@example.jp>\r\n"
      "Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
      " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\r\n"
      "\r\n"
      "x\r\n",
     "(NIL \"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\" ((\"=?iso-8859-1?q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?iso-8859-1?q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?iso-8859-1?q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?utf-8?b?5pel5pys?=\" NIL \"jp\" \"example.jp\")) NIL NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
    },
    {"eight_bit_header",
     "From: J\xc3\xbcrgen <j@example.de>\r\n"
      "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n"
      "\r\n"
      "Gr\xc3\xbc\xc3\x9f" "e\r\n",
     "(NIL {7}\r\n"
      "Gr\xc3\xbc\xc3\x9f" "e (({7}\r\n"
      "J\xc3\xbcrgen NIL \"j\" \"example.de\")) (({7}\r\n"
      "J\xc3\xbcrgen NIL \"j\" \"example.de\")) (({7}\r\n"
      "J\xc3\xbcrgen NIL \"j\" \"example.de\")) NIL NIL NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 9 1)",
     "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 9 1 NIL NIL NIL NIL)",
    },
    {"group",
     "From: boss@example.com\r\n"
      "To: Team: alice@example.com, \"Bob B\" <bob@example.com>;, carol@example.com\r\n"
      "Cc: undisclosed-recipients:;\r\n"
      "Subject: group\r\n"
      "\r\n"
      "x\r\n",
     "(NIL \"group\" ((NIL NIL \"boss\" \"example.com\")) ((NIL NIL \"boss\" \"example.com\")) ((NIL NIL \"boss\" \"example.com\")) ((NIL NIL \"Team\" NIL)(NIL NIL \"alice\" \"example.com\")(\"Bob B\" NIL \"bob\" \"example.com\")(NIL NIL NIL NIL)(NIL NIL \"carol\" \"example.com\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
    },
    {"empty",  // Dovecot refuses to store it; the RFC 2045 defaults, checked by hand
     "",
     "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    },
    {"flowed",
     "From: a@example.com\r\n"
      "Subject: flowed\r\n"
      "Content-Type: text/plain; charset=\"utf-8\"; format=flowed; delsp=yes\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "Content-Language: en, de\r\n"
      "Content-Location: http://example.com/x\r\n"
      "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
      "Content-Description: a text\r\n"
      "\r\n"
      "soft =\r\n"
      "break\r\n",
     "(NIL \"flowed\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\" \"delsp\" \"yes\") NIL \"a text\" \"quoted-printable\" 15 2)",
     "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\" \"delsp\" \"yes\") NIL \"a text\" \"quoted-printable\" 15 2 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" NIL (\"en\" \"de\") \"http://example.com/x\")",
    },
    {"quoted_specials",  // Dovecot writes host "MISSING_DOMAIN" for "nohost"; we write ""
     "From: \"Doe, John \\\"JD\\\" (x)\" <john@example.com>\r\n"
      "Sender: secretary@example.com\r\n"
      "Reply-To: <@relay1.example,@relay2.example:john@example.com>\r\n"
      "To: nohost, \"Name\" <\"quoted local\"@example.com>\r\n"
      "Bcc: hidden@example.com\r\n"
      "In-Reply-To: <parent@example.com>\r\n"
      "Subject: \"quoted\" \\ backslash\r\n"
      "\r\n"
      "x\r\n",
     "(NIL \"\\\"quoted\\\" \\\\ backslash\" ((\"Doe, John \\\"JD\\\" (x)\" NIL \"john\" \"example.com\")) ((NIL NIL \"secretary\" \"example.com\")) ((NIL \"@relay1.example,@relay2.example\" \"john\" \"example.com\")) ((NIL NIL \"nohost\" \"\")(\"Name\" NIL \"quoted local\" \"example.com\")) NIL ((NIL NIL \"hidden\" \"example.com\")) \"<parent@example.com>\" NIL)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
    },
    {"rfc822_root",
     "From: a@example.com\r\n"
      "Content-Type: message/rfc822\r\n"
      "\r\n"
      "Subject: wrapped\r\n"
      "From: w@example.com\r\n"
      "\r\n"
      "wrapped body\r\n",
     "(NIL NIL ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 55 (NIL \"wrapped\" ((NIL NIL \"w\" \"example.com\")) ((NIL NIL \"w\" \"example.com\")) ((NIL NIL \"w\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 1) 4)",
     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 55 (NIL \"wrapped\" ((NIL NIL \"w\" \"example.com\")) ((NIL NIL \"w\" \"example.com\")) ((NIL NIL \"w\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)",
    },
  };
  return kCases;
}

TEST(FetchFormat, HandCheckedTable) {
  ASSERT_GE(cases().size(), 12u);
  for (const Case& c : cases()) {
    mime::MessageSummary s = mime::summarize(c.message);
    EXPECT_EQ(format_envelope(s.envelope), c.envelope) << c.name;
    EXPECT_EQ(format_body_structure(s, false), c.body) << c.name;
    EXPECT_EQ(format_body_structure(s, true), c.bodystructure) << c.name;
    // The cached (encoded, decoded) summary formats the same.
    auto decoded = mime::decode_summary(mime::encode_summary(s));
    ASSERT_TRUE(decoded.has_value()) << c.name;
    EXPECT_EQ(format_body_structure(*decoded, true), c.bodystructure) << c.name;
  }
}

TEST(FetchFormat, StringValue) {
  EXPECT_EQ(string_value(""), "\"\"");
  EXPECT_EQ(string_value("NIL"), "\"NIL\"");
  EXPECT_EQ(string_value("a \"b\" \\"), "\"a \\\"b\\\" \\\\\"");
  EXPECT_EQ(string_value("caf\xc3\xa9"), "{5}\r\ncaf\xc3\xa9");
  EXPECT_EQ(string_value("a\r\nb"), "{4}\r\na\r\nb");
  EXPECT_EQ(string_value(std::string("a\0b", 3)), "\"ab\"");
  EXPECT_EQ(string_value(std::string("\xc3\0\xa9", 3)), "{2}\r\n\xc3\xa9");
  EXPECT_EQ(astring("atom"), "atom");
}

TEST(FetchFormat, NonAsciiParametersUseRfc2231) {
  mime::MessageSummary s = mime::summarize(
      "Content-Type: application/octet-stream; name=\"=?utf-8?q?=C3=A9t=C3=A9.txt?=\"; x=\"a%b\"\r\n"
      "Content-Disposition: attachment; filename*=utf-8''line%0D%0Abreak\r\n"
      "\r\nx");
  EXPECT_EQ(format_body_structure(s, true),
            "(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%C3%A9t%C3%A9.txt\" \"x\" \"a%b\") NIL NIL \"7bit\" 1"
            " NIL (\"attachment\" (\"filename*\" \"utf-8''line%0D%0Abreak\")) NIL NIL)");
}

TEST(FetchFormat, MultipartExtensionData) {
  mime::MessageSummary s = mime::summarize(
      "Content-Type: multipart/related; boundary=b; type=\"text/html\"\r\n"
      "Content-Disposition: inline\r\n"
      "Content-Language: en\r\n"
      "Content-Location: http://example.com/\r\n"
      "\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n");
  EXPECT_EQ(format_body_structure(s, true),
            "((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL) \"related\""
            " (\"boundary\" \"b\" \"type\" \"text/html\") (\"inline\" NIL) (\"en\") \"http://example.com/\")");
  EXPECT_EQ(format_body_structure(s, false),
            "((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0) \"related\")");
}

// RFC 2046 §5.2.1 forbids encoding message/rfc822; the parser leaves it unparsed and the formatter
// still writes the message/rfc822 grammar (NIL envelope, empty body) so clients can parse it.
TEST(FetchFormat, OpaqueMessageAndEmptyMultipart) {
  mime::MessageSummary s = mime::summarize(
      "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5\r\n");
  EXPECT_EQ(format_body_structure(s, false),
            "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 22 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
            " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 1)");
  // A multipart cut by the nesting cap: one empty text/plain child, as Dovecot writes.
  mime::MessageOptions options;
  options.max_depth = 1;
  s = mime::summarize(
      "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n\r\nx\r\n--b--\r\n--a--\r\n",
      options);
  EXPECT_TRUE(s.root.children.at(0).opaque);
  EXPECT_EQ(format_body_structure(s, true),
            "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\""
            " (\"boundary\" \"b\") NIL NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL)");
}

TEST(FetchFormat, EnvelopeEdgeCases) {
  mime::Envelope e;
  EXPECT_EQ(format_envelope(e), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
  e.subject = "";
  e.date = "x";
  mime::Address empty_group_start;
  empty_group_start.is_group_start = true;
  empty_group_start.mailbox = "g";
  mime::Address group_end;
  group_end.is_group_end = true;
  e.to = {empty_group_start, group_end};
  mime::Address odd;
  odd.raw_name = "N\xc3\xa9";
  odd.mailbox = "m";
  e.cc = {odd};
  EXPECT_EQ(format_envelope(e),
            "(\"x\" \"\" NIL NIL NIL ((NIL NIL \"g\" NIL)(NIL NIL NIL NIL)) (({3}\r\nN\xc3\xa9 NIL \"m\" \"\")) NIL NIL NIL)");
}

TEST(FetchFormat, DeepNestingFormatsEveryLevel) {
  std::string nested;
  for (int i = 0; i < 1000; ++i) nested += "Content-Type: message/rfc822\r\n\r\n";
  mime::MessageSummary s = mime::summarize(nested);
  std::string bs = format_body_structure(s, true);
  // 100 parsed levels open a body and an envelope each; the opaque 101st opens its body, a NIL
  // envelope, the empty text/plain body and that body's charset parameter list.
  EXPECT_EQ(std::count(bs.begin(), bs.end(), '('), 2 * 100 + 4);
  EXPECT_EQ(std::count(bs.begin(), bs.end(), '('), std::count(bs.begin(), bs.end(), ')'));
}

// RFC 3501 §9 / RFC 9051 §4.3: a literal is CHAR8 (%x01-ff), so BODY[] data holding NUL has each NUL
// sent as 0x80 (Dovecot's choice; the length stays); RFC 3516 §4.3: BINARY data holding NUL goes
// in a literal8 "~{n}".
TEST(FetchFormat, SectionDataWithNulIsMaskedForLiteralsRfc3501Sec9) {
  std::string data("\0-\xe4\n\r\n\0\0", 8);
  EXPECT_EQ(mask_nul_octets(data), 3u);
  EXPECT_EQ(data, std::string("\x80-\xe4\n\r\n\x80\x80", 8));
  EXPECT_EQ(data.find('\0'), std::string::npos);
  std::string clean = "no nul here\r\n";
  EXPECT_EQ(mask_nul_octets(clean), 0u);
  EXPECT_EQ(clean, "no nul here\r\n");
  std::string empty;
  EXPECT_EQ(mask_nul_octets(empty), 0u);
}

TEST(FetchFormat, SectionLiteralOpeningRfc3516Sec43) {
  EXPECT_EQ(section_literal_open(7, true), " ~{7}\r\n");
  EXPECT_EQ(section_literal_open(7, false), " {7}\r\n");
  EXPECT_EQ(section_literal_open(0, false), " {0}\r\n");
}

}  // namespace
}  // namespace posthorn::proto::imap
