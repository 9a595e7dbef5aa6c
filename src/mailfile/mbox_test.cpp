// Tests of the streaming mbox reader: splitting, separators, mboxrd/mboxo unescaping, From-line
// dates, Status/X-Status/X-Keywords, malformed entries with line numbers, limits, chunk boundaries.
#include "mailfile/mbox.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace posthorn::mailfile {
namespace {

std::vector<MboxEntry> read_all(const std::string& text, MboxOptions options = {}) {
  MboxReader reader(std::make_unique<std::istringstream>(text), options);
  std::vector<MboxEntry> out;
  while (true) {
    auto e = reader.next();
    EXPECT_TRUE(e);
    if (!e || !*e) break;
    out.push_back(std::move(**e));
  }
  return out;
}

constexpr const char* kFrom = "From alice@example.org Mon Jan  2 15:04:05 2006\n";
constexpr int64_t kFromDate = 1136214245;  // 2006-01-02T15:04:05Z

TEST(MboxDate, AsctimeForms) {
  EXPECT_EQ(parse_from_line_date(kFrom), kFromDate);
  EXPECT_EQ(parse_from_line_date("From MAILER-DAEMON Mon Jan 2 15:04:05 2006"), kFromDate);
  EXPECT_EQ(parse_from_line_date("From a@b Mon Jan  2 15:04:05 2006 +0100"), kFromDate - 3600);
  EXPECT_EQ(parse_from_line_date("From a@b Mon Jan  2 15:04:05 -0130 2006"), kFromDate + 5400);
  EXPECT_EQ(parse_from_line_date("From a@b Mon Jan  2 15:04 2006"), kFromDate - 5);
  EXPECT_EQ(parse_from_line_date("From a@b Mon Jan  2 15:04:05 2006 remote from host"), kFromDate);
  EXPECT_EQ(parse_from_line_date("From a@b Mon, 2 Jan 2006 15:04:05 +0000"), kFromDate);
  EXPECT_EQ(parse_from_line_date("From  Thu Jan  1 00:00:00 1970"), 0);
  EXPECT_EQ(parse_from_line_date("From a@b Thu Feb 29 12:00:00 2024"), 1709208000);
}

TEST(MboxDate, Unreadable) {
  EXPECT_EQ(parse_from_line_date("From here to eternity"), std::nullopt);
  EXPECT_EQ(parse_from_line_date("From a@b Mon Foo  2 15:04:05 2006"), std::nullopt);
  EXPECT_EQ(parse_from_line_date("From a@b Mon Jan  2 25:04:05 2006"), std::nullopt);
  EXPECT_EQ(parse_from_line_date("From a@b Mon Jan  2 15:04:05"), std::nullopt);  // no year
  EXPECT_EQ(parse_from_line_date("From a@b Mon Jan 32 15:04:05 2006"), std::nullopt);
  EXPECT_EQ(parse_from_line_date("Frm a@b Mon Jan  2 15:04:05 2006"), std::nullopt);
}

TEST(MboxSplit, TwoMessagesSeparatorRemoved) {
  const std::string text = std::string(kFrom) + "Subject: one\n\nbody one\n\n" + kFrom + "Subject: two\n\nbody two\n\n";
  auto e = read_all(text);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].bytes, "Subject: one\n\nbody one\n");
  EXPECT_EQ(e[0].line, 1u);
  EXPECT_EQ(e[0].internal_date, kFromDate);
  EXPECT_TRUE(e[0].error.empty());
  EXPECT_EQ(e[1].bytes, "Subject: two\n\nbody two\n");
  EXPECT_EQ(e[1].line, 6u);
}

TEST(MboxSplit, FromWithoutBlankLineBeforeIsBody) {
  const std::string text = std::string(kFrom) + "Subject: x\n\nline\nFrom me to you\n";
  auto e = read_all(text);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].bytes, "Subject: x\n\nline\nFrom me to you\n");
}

TEST(MboxSplit, TrailingBlankLinesOfAMessageAreKeptButOne) {
  const std::string text = std::string(kFrom) + "S: x\n\nbody\n\n\n" + kFrom + "S: y\n\nb\n";
  auto e = read_all(text);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].bytes, "S: x\n\nbody\n\n");
  EXPECT_EQ(e[1].bytes, "S: y\n\nb\n");  // no final separator: nothing dropped
}

TEST(MboxSplit, CrlfLines) {
  const std::string text = "From a@b Mon Jan  2 15:04:05 2006\r\nS: x\r\n\r\nb\r\n\r\nFrom a@b Mon Jan  2 15:04:05 2006\r\nS: y\r\n\r\nc\r\n";
  auto e = read_all(text);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].bytes, "S: x\r\n\r\nb\r\n");
  EXPECT_EQ(e[1].bytes, "S: y\r\n\r\nc\r\n");
}

TEST(MboxSplit, NoFinalNewline) {
  auto e = read_all(std::string(kFrom) + "S: x\n\nlast line");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].bytes, "S: x\n\nlast line");
}

TEST(MboxSplit, EmptyFileAndLeadingBlankLines) {
  EXPECT_TRUE(read_all("").empty());
  auto e = read_all(std::string("\n\n") + kFrom + "S: x\n\nb\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e[0].error.empty());
  EXPECT_EQ(e[0].line, 3u);
}

TEST(MboxUnescape, MboxrdRemovesOneQuote) {
  const std::string text = std::string(kFrom) + "S: x\n\n>From a\n>>From b\n>>>From c\n> From d\n>Fromage\nFrom e\n";
  auto e = read_all(text);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].bytes, "S: x\n\nFrom a\n>From b\n>>From c\n> From d\n>Fromage\nFrom e\n");
}

TEST(MboxUnescape, MboxoOnlySingleQuote) {
  const std::string text = std::string(kFrom) + "S: x\n\n>From a\n>>From b\n";
  MboxOptions o;
  o.format = MboxFormat::kMboxo;
  auto e = read_all(text, o);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].bytes, "S: x\n\nFrom a\n>>From b\n");
}

TEST(MboxFlags, StatusXStatusKeywordsAppliedAndStripped) {
  const std::string text = std::string(kFrom) +
                           "Subject: s\nStatus: RO\nX-Status: AFDT\nX-Keywords: $Forwarded, Work  bad\\kw\n"
                           "X-UID: 7\nX-IMAPbase: 1 2\nX-Other: kept\n\nStatus: in body stays\n";
  auto e = read_all(text);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].bytes, "Subject: s\nX-Other: kept\n\nStatus: in body stays\n");
  EXPECT_EQ(e[0].flags.system, store::kSeen | store::kAnswered | store::kFlagged | store::kDeleted | store::kDraft);
  EXPECT_EQ(e[0].flags.keywords, (std::vector<std::string>{"$Forwarded", "Work"}));
  ASSERT_EQ(e[0].warnings.size(), 1u);
  EXPECT_NE(e[0].warnings[0].find("bad\\kw"), std::string::npos);
}

TEST(MboxFlags, OldOnlyIsUnseenAndFoldedStatusStripped) {
  store::Flags f;
  std::vector<std::string> w;
  EXPECT_EQ(strip_mbox_headers("Status: O\nA: b\n\nx", f, w), "A: b\n\nx");
  EXPECT_EQ(f.system, 0);
  EXPECT_EQ(strip_mbox_headers("X-Keywords: a,\n b\nA: b\r\n\r\nx", f, w), "A: b\r\n\r\nx");
  EXPECT_EQ(f.keywords, (std::vector<std::string>{"a", "b"}));
}

TEST(MboxMalformed, BadFromLineReportedWithLineAndSkipped) {
  const std::string text = std::string(kFrom) + "S: 1\n\nb\n\nFrom nowhere in particular\nS: 2\n\nb\n\n" + kFrom +
                           "S: 3\n\nb\n";
  auto e = read_all(text);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_TRUE(e[0].error.empty());
  EXPECT_EQ(e[1].line, 6u);
  EXPECT_NE(e[1].error.find("From nowhere in particular"), std::string::npos) << e[1].error;
  EXPECT_TRUE(e[1].bytes.empty());
  EXPECT_TRUE(e[2].error.empty());
  EXPECT_EQ(e[2].bytes, "S: 3\n\nb\n");
}

TEST(MboxMalformed, EmptyMessage) {
  auto e = read_all(std::string(kFrom) + "\n" + kFrom + "S: x\n\nb\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].error, "empty message");
  EXPECT_EQ(e[0].line, 1u);
  EXPECT_TRUE(e[1].error.empty());
}

TEST(MboxMalformed, TextBeforeFirstFrom) {
  auto e = read_all(std::string("garbage\nmore\n\n") + kFrom + "S: x\n\nb\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, 1u);
  EXPECT_FALSE(e[0].error.empty());
  EXPECT_TRUE(e[1].error.empty());
  EXPECT_EQ(e[1].line, 4u);
  auto only = read_all("Subject: not an mbox\n\nbody\n");
  ASSERT_EQ(only.size(), 1u);
  EXPECT_FALSE(only[0].error.empty());
}

TEST(MboxLimits, MessageSizeAtNAndNPlusOne) {
  const std::string msg = "S: x\n\n0123456789\n";  // 17 bytes
  MboxOptions o;
  o.max_message_bytes = msg.size();
  auto ok = read_all(std::string(kFrom) + msg, o);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_TRUE(ok[0].error.empty());
  o.max_message_bytes = msg.size() - 1;
  auto big = read_all(std::string(kFrom) + msg + "\n" + kFrom + msg, o);
  ASSERT_EQ(big.size(), 2u);
  EXPECT_NE(big[0].error.find("larger than 16 bytes"), std::string::npos);
  EXPECT_NE(big[1].error.find("larger"), std::string::npos);
  EXPECT_EQ(big[1].line, 6u);
}

TEST(MboxStreaming, TinyChunksGiveTheSameResult) {
  std::string text;
  for (int i = 0; i < 50; ++i) {
    text += std::string(kFrom) + "Subject: " + std::to_string(i) + "\nStatus: R\n\n>From x\nline\n\n";
  }
  MboxOptions o;
  o.chunk_bytes = 3;
  auto a = read_all(text, o);
  auto b = read_all(text);
  ASSERT_EQ(a.size(), 50u);
  ASSERT_EQ(b.size(), 50u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].bytes, b[i].bytes);
    EXPECT_EQ(a[i].bytes, "Subject: " + std::to_string(i) + "\n\nFrom x\nline\n");
    EXPECT_EQ(a[i].flags.system, store::kSeen);
  }
}

TEST(MboxStreaming, VeryLongLineIsKeptWhole) {
  const std::string long_line(3 * 1024 * 1024 + 17, 'x');  // longer than the 1 MiB read piece
  auto e = read_all(std::string(kFrom) + "S: x\n\n" + long_line + "\n\n" + kFrom + "S: y\n\nb\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].bytes, "S: x\n\n" + long_line + "\n");
  EXPECT_EQ(e[1].line, 6u);
}

TEST(MboxReaderOpen, MissingFile) {
  auto r = MboxReader::open("/nonexistent/posthorn.mbox");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kNotFound);
}

}  // namespace
}  // namespace posthorn::mailfile
