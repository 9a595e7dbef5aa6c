#include "mime/section.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace posthorn::mime {
namespace {

// The structure of the RFC 3501 §6.4.5 example; every leaf body is a unique token.
const std::string kExample =
    "Subject: root\r\n"
    "Content-Type: multipart/mixed; boundary=r\r\n"
    "\r\n"
    "--r\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "P1\r\n"
    "--r\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "P2\r\n"
    "--r\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: three\r\n"
    "Content-Type: multipart/mixed; boundary=t\r\n"
    "\r\n"
    "--t\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "P3.1\r\n"
    "--t\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "P3.2\r\n"
    "--t--\r\n"
    "--r\r\n"
    "Content-Type: multipart/mixed; boundary=f\r\n"
    "\r\n"
    "--f\r\n"
    "Content-Type: image/gif\r\n"
    "\r\n"
    "P4.1\r\n"
    "--f\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: four-two\r\n"
    "Content-Type: multipart/mixed; boundary=g\r\n"
    "\r\n"
    "--g\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "P4.2.1\r\n"
    "--g\r\n"
    "Content-Type: multipart/alternative; boundary=h\r\n"
    "\r\n"
    "--h\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "P4.2.2.1\r\n"
    "--h\r\n"
    "Content-Type: text/richtext\r\n"
    "\r\n"
    "P4.2.2.2\r\n"
    "--h--\r\n"
    "--g--\r\n"
    "--f--\r\n"
    "--r--\r\n";

// The section's bytes, or "<none>".
std::string section(const std::string& msg, std::initializer_list<std::uint32_t> path,
                    SectionPart which = SectionPart::kAll) {
  std::vector<std::uint32_t> p(path);
  Part root = parse_message(msg);
  auto r = find_section(root, p, which);
  if (!r) return "<none>";
  EXPECT_LE(r->offset + r->size, msg.size());
  return msg.substr(r->offset, r->size);
}

TEST(Section, Rfc3501Example) {
  EXPECT_EQ(section(kExample, {1}), "P1");
  EXPECT_EQ(section(kExample, {2}), "P2");
  EXPECT_EQ(section(kExample, {3, 1}), "P3.1");
  EXPECT_EQ(section(kExample, {3, 2}), "P3.2");
  EXPECT_EQ(section(kExample, {4, 1}), "P4.1");
  EXPECT_EQ(section(kExample, {4, 2, 1}), "P4.2.1");
  EXPECT_EQ(section(kExample, {4, 2, 2, 1}), "P4.2.2.1");
  EXPECT_EQ(section(kExample, {4, 2, 2, 2}), "P4.2.2.2");
  EXPECT_EQ(section(kExample, {4, 1}, SectionPart::kMime), "Content-Type: image/gif\r\n\r\n");
  EXPECT_EQ(section(kExample, {3}, SectionPart::kHeader),
            "Subject: three\r\nContent-Type: multipart/mixed; boundary=t\r\n\r\n");
  EXPECT_TRUE(section(kExample, {3}, SectionPart::kText).starts_with("--t\r\n"));
  EXPECT_TRUE(section(kExample, {3}, SectionPart::kText).ends_with("--t--"));  // the CRLF before "--r" is the delimiter's
  EXPECT_TRUE(section(kExample, {3}).starts_with("Subject: three\r\n"));  // BODY[3]: the whole message
  EXPECT_TRUE(section(kExample, {4, 2}, SectionPart::kHeader).starts_with("Subject: four-two\r\n"));
  EXPECT_EQ(section(kExample, {3}, SectionPart::kMime), "Content-Type: message/rfc822\r\n\r\n");
  EXPECT_EQ(section(kExample, {4, 2, 2}, SectionPart::kMime), "Content-Type: multipart/alternative; boundary=h\r\n\r\n");
  // The root.
  EXPECT_EQ(section(kExample, {}), kExample);
  EXPECT_EQ(section(kExample, {}, SectionPart::kHeader), "Subject: root\r\nContent-Type: multipart/mixed; boundary=r\r\n\r\n");
  EXPECT_TRUE(section(kExample, {}, SectionPart::kText).starts_with("--r\r\nContent-Type: text/plain"));
}

TEST(Section, MissingSections) {
  EXPECT_EQ(section(kExample, {0}), "<none>");
  EXPECT_EQ(section(kExample, {5}), "<none>");          // 4 parts: 5 is one past the end
  EXPECT_EQ(section(kExample, {4}), section(kExample, {4}));
  EXPECT_NE(section(kExample, {4}), "<none>");
  EXPECT_EQ(section(kExample, {1, 1}), "<none>");       // below a leaf
  EXPECT_EQ(section(kExample, {3, 3}), "<none>");
  EXPECT_EQ(section(kExample, {3, 0}), "<none>");
  EXPECT_EQ(section(kExample, {1}, SectionPart::kHeader), "<none>");  // HEADER needs message/rfc822
  EXPECT_EQ(section(kExample, {4}, SectionPart::kText), "<none>");
  EXPECT_EQ(section(kExample, {}, SectionPart::kMime), "<none>");
  EXPECT_EQ(section(kExample, {4, 2, 2, 3}), "<none>");
  EXPECT_EQ(section(kExample, {4, 2, 2, 1, 1}), "<none>");
}

TEST(Section, NonMultipartMessageHasOnlyPartOne) {
  const std::string msg = "Subject: s\r\n\r\nbody\r\n";
  EXPECT_EQ(section(msg, {1}), "body\r\n");
  EXPECT_EQ(section(msg, {2}), "<none>");
  EXPECT_EQ(section(msg, {1, 1}), "<none>");
  EXPECT_EQ(section(msg, {1}, SectionPart::kHeader), "<none>");
  EXPECT_EQ(section(msg, {}, SectionPart::kText), "body\r\n");
  EXPECT_EQ(section("", {1}), "");
  EXPECT_EQ(section("", {}), "");

  // A message whose own type is message/rfc822: part 1 is the embedded message, 1.1 its body.
  const std::string wrapped = "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner\r\n";
  EXPECT_EQ(section(wrapped, {1}), "Subject: in\r\n\r\ninner\r\n");
  EXPECT_EQ(section(wrapped, {1}, SectionPart::kHeader), "Subject: in\r\n\r\n");
  EXPECT_EQ(section(wrapped, {1}, SectionPart::kText), "inner\r\n");
  EXPECT_EQ(section(wrapped, {1, 1}), "inner\r\n");
  EXPECT_EQ(section(wrapped, {1, 2}), "<none>");
}

TEST(Section, OpaquePartsHaveNoSubparts) {
  std::string nested;
  for (int i = 0; i < 5; ++i) nested += "Content-Type: message/rfc822\r\n\r\n";
  nested += "Subject: bottom\r\n\r\nx";
  MessageOptions options;
  options.max_depth = 2;
  Part root = parse_message(nested, options);
  // root -> A (depth 1) -> B (depth 2, opaque: the cap); 1 is the root, 1.1 is A, 1.1.1 is B.
  std::vector<std::uint32_t> ok = {1, 1, 1};
  std::vector<std::uint32_t> too_deep = {1, 1, 1, 1};
  std::vector<std::uint32_t> parsed = {1, 1};
  EXPECT_TRUE(find_section(root, parsed, SectionPart::kHeader).has_value());
  EXPECT_TRUE(find_section(root, ok, SectionPart::kAll).has_value());
  EXPECT_FALSE(find_section(root, ok, SectionPart::kHeader).has_value());  // opaque: not parsed
  EXPECT_FALSE(find_section(root, too_deep, SectionPart::kAll).has_value());
}

}  // namespace
}  // namespace posthorn::mime
