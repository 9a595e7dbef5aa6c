// DATA reader: terminator, dot-unstuffing, size limit and every SMTP smuggling vector; the bare
// CR/LF check that DATA and BDAT share (LineEndCheck).
#include <gtest/gtest.h>

#include "proto/smtp/data_reader.hpp"

namespace posthorn::proto::smtp {
namespace {

struct Outcome {
  bool done = false;
  std::size_t consumed = 0;
  std::string message;
  bool bare_lf = false;
  bool bare_cr = false;
};

// Feeds `input` in chunks of `chunk` bytes (0: all at once).
Outcome run(std::string_view input, std::size_t chunk = 0, uint64_t max = 1 << 20) {
  DataReader r(max);
  Outcome o;
  std::size_t pos = 0;
  while (pos < input.size() && !r.done()) {
    std::size_t n = chunk == 0 ? input.size() - pos : std::min(chunk, input.size() - pos);
    pos += r.feed(input.substr(pos, n));
  }
  o.done = r.done();
  o.consumed = pos;
  o.message = r.message();
  o.bare_lf = r.bare_lf();
  o.bare_cr = r.bare_cr();
  return o;
}

TEST(DataReader, EndsOnlyAtCrlfDotCrlf) {
  for (std::size_t chunk : {0u, 1u, 2u, 3u, 7u}) {
    auto o = run("Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n", chunk);
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.message, "Subject: x\r\n\r\nhello\r\n");
    EXPECT_EQ(o.consumed, std::string_view("Subject: x\r\n\r\nhello\r\n.\r\n").size());
    EXPECT_FALSE(o.bare_lf);
    EXPECT_FALSE(o.bare_cr);
  }
}

TEST(DataReader, EmptyMessage) {
  auto o = run(".\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.message, "");
}

TEST(DataReader, DotUnstuffing) {
  auto o = run("..leading\r\n...two\r\n.x\r\n.\r\n", 1);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.message, ".leading\r\n..two\r\nx\r\n");
  // ".." alone is a stuffed "." line, not the end.
  auto d = run("a\r\n..\r\nb\r\n.\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.message, "a\r\n.\r\nb\r\n");
}

// The smuggling vectors: none of them ends the data; each marks the message refused.
TEST(DataReader, SmugglingVectorsNeverEndEarly) {
  struct Vector {
    std::string_view name;
    std::string_view bytes;
    bool lf;
    bool cr;
  };
  const Vector vectors[] = {
      {"\\n.\\n", "a\n.\nMAIL FROM:<x@y>\n", true, false},
      {"\\r.\\r", "a\r.\rMAIL FROM:<x@y>\r", false, true},
      {"\\n.\\r\\n", "a\n.\r\nMAIL FROM:<x@y>\r\n", true, false},
      {"\\r\\n.\\n", "a\r\n.\nMAIL FROM:<x@y>\r\n", true, false},
      {"\\r.\\r\\n", "a\r.\r\nMAIL FROM:<x@y>\r\n", false, true},
      {"\\r\\n.\\r", "a\r\n.\rMAIL FROM:<x@y>\r\n", false, true},
      {"\\n.\\r", "a\n.\rMAIL FROM:<x@y>\r\n", true, true},
      {"\\r.\\n", "a\r.\nMAIL FROM:<x@y>\r\n", true, true},
      {"\\r\\r\\n.\\r\\n", "a\r\r\n.\r\n", false, true},  // the CRLF after a bare CR is real: ends
      {"bare LF", "line\nmore\r\n", true, false},
      {"bare CR", "line\rmore\r\n", false, true},
      {"\\n\\r.\\r\\n", "a\n\r.\r\nx\r\n", true, true},
  };
  for (const auto& v : vectors) {
    for (std::size_t chunk : {0u, 1u, 2u}) {
      auto o = run(v.bytes, chunk);
      const bool ends_here = v.name == "\\r\\r\\n.\\r\\n";
      EXPECT_EQ(o.done, ends_here) << v.name << " chunk " << chunk;
      EXPECT_EQ(o.bare_lf, v.lf) << v.name;
      EXPECT_EQ(o.bare_cr, v.cr) << v.name;
    }
    // Followed by a real terminator, the data ends there and the flags stay set.
    std::string with_end = std::string(v.bytes) + "\r\n.\r\n";
    auto o = run(with_end);
    EXPECT_TRUE(o.done) << v.name;
    EXPECT_TRUE(o.bare_lf || o.bare_cr) << v.name;
  }
}

TEST(DataReader, SmuggledCommandStaysInTheMessage) {
  // A server that ends DATA at "\n.\n" would run the MAIL command; this reader keeps it as data.
  auto o = run("Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil@x.y>\r\n\r\n.\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.bare_lf);
  EXPECT_NE(o.message.find("MAIL FROM:<evil@x.y>"), std::string::npos);
}

TEST(DataReader, SizeLimitAtNAndNPlusOne) {
  const std::string body(98, 'x');  // + CRLF = 100 bytes
  {
    DataReader r(100);
    r.feed(body + "\r\n.\r\n");
    EXPECT_TRUE(r.done());
    EXPECT_FALSE(r.too_big());
    EXPECT_EQ(r.size(), 100u);
    EXPECT_EQ(r.message().size(), 100u);
  }
  {
    DataReader r(100);
    r.feed(body + "x\r\n.\r\n");
    EXPECT_TRUE(r.done());
    EXPECT_TRUE(r.too_big());
    EXPECT_EQ(r.size(), 101u);
    EXPECT_LE(r.message().size(), 100u);  // nothing past the limit is kept
  }
}

TEST(DataReader, StuffedDotsDoNotCountTowardsSize) {
  DataReader r(3);
  r.feed("..\r\n.\r\n");  // the message is ".\r\n": 3 bytes
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.too_big());
  EXPECT_EQ(r.message(), ".\r\n");
}

// RFC 5321 §2.3.8 (issue 28 item 5a): the check BDAT chunks get, in any chunking. A CRLF split
// across two chunks is a CRLF; a CR at the very end of the data is bare; NUL is not a line end.
TEST(LineEndCheck, FindsBareCrAndLfAcrossChunks) {
  struct Case {
    std::string_view bytes;
    bool lf;
    bool cr;
  };
  const Case cases[] = {
      {"a\r\nb\r\n", false, false}, {"a\nb\r\n", true, false},   {"a\rb\r\n", false, true},
      {"a\r\r\n", false, true},      {"\n", true, false},           {"a\r", false, true},
      {"a\n\r", true, true},          {std::string_view("a\0b\r\n", 5), false, false},
      {"", false, false},
  };
  for (const auto& c : cases) {
    for (std::size_t chunk : {1u, 2u, 3u, 100u}) {
      LineEndCheck check;
      for (std::size_t pos = 0; pos < c.bytes.size(); pos += chunk) check.feed(c.bytes.substr(pos, chunk));
      check.finish();
      EXPECT_EQ(check.bare_lf(), c.lf) << ::testing::PrintToString(std::string(c.bytes)) << " chunk " << chunk;
      EXPECT_EQ(check.bare_cr(), c.cr) << ::testing::PrintToString(std::string(c.bytes)) << " chunk " << chunk;
      EXPECT_EQ(check.clean(), !c.lf && !c.cr);
    }
  }
  // A CR ending one chunk, its LF starting the next: clean.
  LineEndCheck split;
  split.feed("Subject: x\r");
  split.feed("\nbody\r");
  split.feed("\n");
  split.finish();
  EXPECT_TRUE(split.clean());
}

// DataReader flags the same bytes the shared check flags, however they are chunked.
TEST(DataReader, AgreesWithLineEndCheck) {
  const std::string_view inputs[] = {"a\rb\r\n.\r\n", "a\nb\r\n.\r\n", "a\r\n..\r\n.\r\n",
                                     std::string_view("a\0\r\n.\r\n", 8), "x\r\n.\rq\r\n.\r\n"};
  for (auto in : inputs) {
    LineEndCheck check;
    check.feed(in);
    check.finish();
    for (std::size_t chunk : {0u, 1u, 3u}) {
      auto o = run(in, chunk);
      EXPECT_TRUE(o.done);
      EXPECT_EQ(o.bare_lf, check.bare_lf()) << ::testing::PrintToString(std::string(in));
      EXPECT_EQ(o.bare_cr, check.bare_cr()) << ::testing::PrintToString(std::string(in));
    }
  }
}

}  // namespace
}  // namespace posthorn::proto::smtp
