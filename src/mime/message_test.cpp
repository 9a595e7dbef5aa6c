#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mime/message.hpp"

namespace posthorn::mime {
namespace {

std::string_view body_of(std::string_view msg, const Part& p) { return msg.substr(p.body_offset, p.body_size); }
std::string_view header_of(std::string_view msg, const Part& p) {
  return msg.substr(p.header_offset, p.header_size);
}

TEST(MimeValue, ParametersQuotedCommentsAndCase) {
  MimeValue v = parse_mime_value("Attachment (c) ; FileName=\"a \\\"b\\\";c.txt\"; size = 12 (bytes);junk; =x");
  EXPECT_EQ(v.value, "attachment");
  ASSERT_EQ(v.params.size(), 2u);
  EXPECT_EQ(*v.param("filename"), "a \"b\";c.txt");
  EXPECT_EQ(*v.param("size"), "12");
  EXPECT_EQ(v.param("junk"), nullptr);

  ContentType ct = parse_content_type("Text/HTML; charset=\"UTF-8\"");
  EXPECT_EQ(ct.type, "text");
  EXPECT_EQ(ct.subtype, "html");
  EXPECT_EQ(*ct.param("charset"), "UTF-8");
  ct = parse_content_type("garbage");
  EXPECT_EQ(ct.type, "text");
  EXPECT_EQ(ct.subtype, "plain");
  EXPECT_EQ(*ct.param("charset"), "us-ascii");
  ct = parse_content_type("application/x-thing; name*0*=utf-8''%C3%A9; name*1=.bin");
  EXPECT_EQ(*ct.param("name"), "\xc3\xa9.bin");
}

TEST(Message, EmptyAndHeadersOnly) {
  Part p = parse_message("");
  EXPECT_EQ(p.header_size, 0u);
  EXPECT_EQ(p.body_size, 0u);
  EXPECT_EQ(p.content_type.type, "text");
  EXPECT_EQ(*p.content_type.param("charset"), "us-ascii");
  EXPECT_TRUE(p.children.empty());

  std::string msg = "From: a@b\r\nSubject: x\r\n";
  p = parse_message(msg);
  EXPECT_EQ(p.header_size, msg.size());
  EXPECT_EQ(p.body_offset, msg.size());
  EXPECT_EQ(p.body_size, 0u);
  EXPECT_EQ(p.body_lines, 0u);
}

TEST(Message, SinglePartFields) {
  std::string msg =
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: Quoted-Printable\r\n"
      "Content-ID: <id@x>\r\n"
      "Content-Description: =?utf-8?q?hi?=\r\n"
      "Content-Language: en, de\r\n"
      "Content-Location: http://x/\r\n a\r\n"
      "Content-Disposition: inline\r\n"
      "\r\n"
      "line1\r\nline2\r\n";
  Part p = parse_message(msg);
  EXPECT_EQ(p.encoding, "quoted-printable");
  EXPECT_EQ(p.id, "<id@x>");
  EXPECT_EQ(p.description, "=?utf-8?q?hi?=");
  ASSERT_EQ(p.language.size(), 2u);
  EXPECT_EQ(p.language[1], "de");
  EXPECT_EQ(p.location, "http://x/a");
  EXPECT_EQ(p.disposition.value, "inline");
  EXPECT_EQ(body_of(msg, p), "line1\r\nline2\r\n");
  EXPECT_EQ(p.body_lines, 2u);
  EXPECT_EQ(header_of(msg, p).substr(header_of(msg, p).size() - 10), "inline\r\n\r\n");
  EXPECT_EQ(p.header_size + p.body_size, msg.size());
}

const std::string kNested =
    "From: a@b\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "\r\n"
    "plain\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<b>html</b>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner message\r\n"
    "Content-Type: multipart/mixed; boundary=m\r\n"
    "\r\n"
    "--m\r\n"
    "Content-Type: application/octet-stream; name=x.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAAA\r\n"
    "--m--\r\n"
    "\r\n"
    "--outer-- \t\r\n"
    "epilogue\r\n";

TEST(Message, NestedMultipartsAndRfc822) {
  const std::string& msg = kNested;
  Part root = parse_message(msg);
  ASSERT_TRUE(root.is_multipart());
  ASSERT_EQ(root.children.size(), 2u);
  const Part& alt = root.children[0];
  EXPECT_EQ(alt.content_type.subtype, "alternative");
  ASSERT_EQ(alt.children.size(), 2u);
  EXPECT_EQ(header_of(msg, alt.children[0]), "\r\n");
  EXPECT_EQ(body_of(msg, alt.children[0]), "plain");
  EXPECT_EQ(alt.children[0].content_type.type, "text");
  EXPECT_EQ(body_of(msg, alt.children[1]), "<b>html</b>");
  EXPECT_EQ(alt.children[1].content_type.subtype, "html");
  EXPECT_EQ(body_of(msg, alt).substr(0, 9), "--inner\r\n");
  EXPECT_EQ(body_of(msg, alt).substr(body_of(msg, alt).size() - 9), "--inner--");

  const Part& rfc = root.children[1];
  ASSERT_TRUE(rfc.is_message());
  const Part& embedded = rfc.children[0];
  EXPECT_EQ(embedded.header_offset, rfc.body_offset);
  EXPECT_EQ(embedded.body_offset + embedded.body_size, rfc.body_offset + rfc.body_size);
  EXPECT_EQ(header_of(msg, embedded).substr(0, 23), "Subject: inner message\r");
  ASSERT_EQ(embedded.children.size(), 1u);
  const Part& bin = embedded.children[0];
  EXPECT_EQ(bin.encoding, "base64");
  EXPECT_EQ(*bin.content_type.param("name"), "x.bin");
  EXPECT_EQ(body_of(msg, bin), "AAAA");
  EXPECT_EQ(bin.body_lines, 0u);
  EXPECT_EQ(body_of(msg, rfc).substr(body_of(msg, rfc).size() - 7), "--m--\r\n");
  EXPECT_EQ(root.body_offset + root.body_size, msg.size());
  EXPECT_EQ(root.body_lines, 0u);  // not counted for multiparts
  EXPECT_EQ(rfc.body_lines, 9u);  // the CRLF before "--outer--" belongs to the delimiter
  EXPECT_EQ(alt.children[1].body_lines, 0u);
}

TEST(Message, MissingFinalBoundaryAndBrokenBoundaries) {
  std::string msg =
      "Content-Type: multipart/mixed; boundary=b\r\n"
      "\r\n"
      "--b\r\n"
      "\r\n"
      "one\r\n"
      "--bogus\r\n"
      "--b extra\r\n"
      "--b\r\n"
      "Content-Type: multipart/alternative; boundary=c\r\n"
      "\r\n"
      "--c\r\n"
      "\r\n"
      "inner without close\r\n"
      "--b\r\n"
      "\r\n"
      "last part, no close delimiter\r\n";
  Part root = parse_message(msg);
  ASSERT_EQ(root.children.size(), 3u);
  EXPECT_EQ(body_of(msg, root.children[0]), "one\r\n--bogus\r\n--b extra");
  ASSERT_EQ(root.children[1].children.size(), 1u);
  EXPECT_EQ(body_of(msg, root.children[1].children[0]), "inner without close");
  EXPECT_EQ(body_of(msg, root.children[2]), "last part, no close delimiter\r\n");

  // No boundary parameter, or no delimiter line at all: a multipart with no children.
  EXPECT_TRUE(parse_message("Content-Type: multipart/mixed\r\n\r\n--x\r\n").children.empty());
  EXPECT_TRUE(parse_message("Content-Type: multipart/mixed; boundary=z\r\n\r\nhi\r\n").children.empty());

  // Bare LF line ends and a body that starts with the delimiter.
  std::string lf = "Content-Type: multipart/mixed; boundary=q\n\n--q\nX: y\n\nbody\n--q--\n";
  root = parse_message(lf);
  ASSERT_EQ(root.children.size(), 1u);
  EXPECT_EQ(body_of(lf, root.children[0]), "body");
  EXPECT_EQ(header_of(lf, root.children[0]), "X: y\n\n");
}

TEST(Message, DigestDefaultsAndEncodedRfc822) {
  std::string msg =
      "Content-Type: multipart/digest; boundary=d\r\n\r\n"
      "--d\r\n\r\nSubject: one\r\n\r\nbody one\r\n"
      "--d--\r\n";
  Part root = parse_message(msg);
  ASSERT_EQ(root.children.size(), 1u);
  ASSERT_TRUE(root.children[0].is_message());
  EXPECT_EQ(body_of(msg, root.children[0].children[0]), "body one");

  std::string enc = "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA==\r\n";
  root = parse_message(enc);
  EXPECT_TRUE(root.children.empty());
  EXPECT_TRUE(root.opaque);
}

TEST(Message, EightBitHeadersAndEncodedWords) {
  std::string msg =
      "From: =?utf-8?q?J=C3=B6rg?= <j@x>\r\n"
      "Subject: caf\xc3\xa9 \xff\r\n"
      "Content-Type: text/plain; name=\"\xc3\xa9t\xc3\xa9.txt\"\r\n"
      "\r\nbody";
  Part root = parse_message(msg);
  EXPECT_EQ(*root.content_type.param("name"), "\xc3\xa9t\xc3\xa9.txt");
  EXPECT_EQ(body_of(msg, root), "body");
}

TEST(Message, ThousandDeepNestingIsCapped) {
  std::string msg;
  const int kDepth = 1000;
  for (int i = 0; i < kDepth; ++i) {
    msg += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  msg += "\r\nleaf\r\n";
  for (int i = kDepth - 1; i >= 0; --i) msg += "--b" + std::to_string(i) + "--\r\n";
  auto start = std::chrono::steady_clock::now();
  Part root = parse_message(msg);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  std::size_t depth = 0;
  const Part* p = &root;
  while (!p->children.empty()) {
    ASSERT_EQ(p->children.size(), 1u);
    p = &p->children[0];
    ++depth;
  }
  EXPECT_EQ(depth, 100u);
  EXPECT_TRUE(p->opaque);
  EXPECT_TRUE(p->is_multipart());
  EXPECT_EQ(p->body_offset + p->body_size <= msg.size(), true);

  // Nested message/rfc822 1,000 deep: same cap.
  std::string nested;
  for (int i = 0; i < kDepth; ++i) nested += "Content-Type: message/rfc822\r\n\r\n";
  nested += "Subject: bottom\r\n\r\nx";
  root = parse_message(nested);
  depth = 0;
  p = &root;
  while (!p->children.empty()) {
    p = &p->children[0];
    ++depth;
  }
  EXPECT_EQ(depth, 100u);
  EXPECT_TRUE(p->opaque);
}

TEST(Message, PartCapBoundsWideMessages) {
  std::string msg = "Content-Type: multipart/mixed; boundary=w\r\n\r\n";
  for (int i = 0; i < 50'000; ++i) msg += "--w\r\n\r\nx\r\n";
  msg += "--w--\r\n";
  MessageOptions options;
  options.max_parts = 1'000;
  Part root = parse_message(msg, options);
  EXPECT_EQ(root.children.size(), 999u);  // the root counts as one part
  EXPECT_TRUE(root.truncated);
  EXPECT_EQ(body_of(msg, root.children[998]), "x");
}

}  // namespace
}  // namespace posthorn::mime

namespace posthorn::mime {
namespace {

// Every part lies inside its parent's body, and header + body tile the part.
void check_invariants(std::string_view msg, const Part& p, std::size_t begin, std::size_t end) {
  ASSERT_EQ(p.header_offset, begin);
  ASSERT_EQ(p.header_offset + p.header_size, p.body_offset);
  ASSERT_EQ(p.body_offset + p.body_size, end);
  ASSERT_LE(end, msg.size());
  std::size_t prev_end = p.body_offset;
  for (const Part& c : p.children) {
    ASSERT_GE(c.header_offset, prev_end);
    std::size_t c_end = c.body_offset + c.body_size;
    ASSERT_LE(c_end, end);
    check_invariants(msg, c, c.header_offset, c_end);
    prev_end = c_end;
  }
}

TEST(Message, MutatedInputsKeepOffsetInvariants) {
  std::uint32_t state = 12345;
  auto rnd = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  const std::string pieces[] = {"\r\n", "\n", "--outer", "--inner--", "--m", "\r\n\r\n", ":", ";", "\"",
                                "=?", "?=", "\xff", "Content-Type: message/rfc822\r\n", "boundary=x"};
  for (int iter = 0; iter < 3'000; ++iter) {
    std::string msg = kNested;
    int edits = 1 + int(rnd() % 8);
    for (int e = 0; e < edits && !msg.empty(); ++e) {
      std::size_t at = rnd() % msg.size();
      switch (rnd() % 3) {
        case 0: msg.erase(at, 1 + rnd() % 16); break;
        case 1: msg.insert(at, pieces[rnd() % std::size(pieces)]); break;
        default: msg[at] = char(rnd()); break;
      }
    }
    if (rnd() % 4 == 0) msg.resize(rnd() % (msg.size() + 1));
    Part root = parse_message(msg);
    check_invariants(msg, root, 0, msg.size());
    if (HasFatalFailure()) {
      ADD_FAILURE() << "iteration " << iter;
      return;
    }
  }
}

}  // namespace
}  // namespace posthorn::mime

namespace posthorn::mime {
namespace {

TEST(Message, BoundaryPrefixesAndMidLineDashes) {
  std::string msg =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n"
      "Content-Type: multipart/mixed; boundary=bb\r\n\r\n"
      "--bb\r\n\r\nnot a delimiter: --b\r\n--bb--\r\n"
      "--b\r\n\r\nsecond\r\n"
      "--b--\r\n";
  Part root = parse_message(msg);
  ASSERT_EQ(root.children.size(), 2u);
  ASSERT_EQ(root.children[0].children.size(), 1u);
  EXPECT_EQ(body_of(msg, root.children[0].children[0]), "not a delimiter: --b");
  EXPECT_EQ(body_of(msg, root.children[1]), "second");
}

}  // namespace
}  // namespace posthorn::mime
