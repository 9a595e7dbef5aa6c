// The DATA/BDAT encoder: CRLF normalisation, dot-stuffing, chunk boundaries; and that what it writes,
// read by the server's DataReader, is the message again (one grammar both ways).
#include <gtest/gtest.h>

#include "proto/smtp/data_reader.hpp"
#include "proto/smtp/data_writer.hpp"

namespace posthorn::proto::smtp {
namespace {

std::string encode_in_chunks(std::string_view in, size_t chunk, bool dot_stuff) {
  DataEncoder e(dot_stuff);
  std::string out;
  for (size_t i = 0; i < in.size(); i += chunk) e.encode(in.substr(i, chunk), out);
  e.finish(out);
  return out;
}

TEST(DataEncoder, NormalisesLineEndsAndDotStuffs) {
  const std::string in = "Subject: x\r\n\r\n.leading dot\nbare LF\rbare CR\r\n..two\r\nend.\r\n.";
  const std::string want =
      "Subject: x\r\n\r\n..leading dot\r\nbare LF\r\nbare CR\r\n...two\r\nend.\r\n..\r\n.\r\n";
  for (size_t chunk : {1, 2, 3, 7, 64, 1000}) EXPECT_EQ(encode_in_chunks(in, chunk, true), want) << chunk;
  // BDAT: the same normalisation without dot-stuffing or terminator.
  EXPECT_EQ(encode_in_chunks(in, 5, false),
            "Subject: x\r\n\r\n.leading dot\r\nbare LF\r\nbare CR\r\n..two\r\nend.\r\n.\r\n");
  // A CR at a chunk end followed by LF in the next chunk is one line end.
  EXPECT_EQ(encode_in_chunks("a\r\nb", 2, true), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(encode_in_chunks("a\r", 1, true), "a\r\n.\r\n");
  EXPECT_EQ(encode_in_chunks("", 1, true), ".\r\n");
  EXPECT_EQ(encode_in_chunks("\r\r\n\n", 1, false), "\r\n\r\n\r\n");
  // The SMTP smuggling vector: a bare-LF "." line never becomes an end-of-data marker.
  EXPECT_EQ(encode_in_chunks("x\n.\nMAIL FROM:<evil>\r\n", 4, true), "x\r\n..\r\nMAIL FROM:<evil>\r\n.\r\n");
}

TEST(DataEncoder, NeverEmitsStrayCrOrLf) {
  std::string in;
  const char alphabet[] = {'\r', '\n', '.', 'a'};
  uint32_t x = 12345;
  for (int i = 0; i < 5000; ++i) {
    x = x * 1103515245 + 12345;
    in += alphabet[(x >> 16) % 4];
  }
  for (size_t chunk : {1, 3, 17, 4096}) {
    const std::string out = encode_in_chunks(in, chunk, true);
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] == '\r') {
        ASSERT_TRUE(i + 1 < out.size() && out[i + 1] == '\n') << i;
      }
      if (out[i] == '\n') {
        ASSERT_TRUE(i > 0 && out[i - 1] == '\r') << i;
      }
    }
    ASSERT_TRUE(out.ends_with("\r\n.\r\n") || out == ".\r\n");
    // The only "\r\n.\r\n" is the terminator.
    EXPECT_EQ(out.find("\r\n.\r\n"), out.size() - 5);
  }
}

// RFC 5321 §4.5.2: dot-stuffing by the client and its removal by the server are inverses; the message
// arrives with CRLF line ends, never refused for bare CR/LF, and never ends early.
TEST(DataEncoder, WhatItWritesDataReaderReadsBack) {
  uint32_t x = 777;
  const char alphabet[] = {'\r', '\n', '.', 'a', ' '};
  for (int round = 0; round < 200; ++round) {
    std::string in;
    const int n = 1 + round * 7;
    for (int i = 0; i < n; ++i) {
      x = x * 1103515245 + 12345;
      in += alphabet[(x >> 16) % 5];
    }
    const std::string wire = encode_in_chunks(in, 1 + round % 13, true);
    DataReader reader(1 << 20);
    for (size_t i = 0; i < wire.size(); i += 5) reader.feed(std::string_view(wire).substr(i, 5));
    ASSERT_TRUE(reader.done()) << round;
    EXPECT_FALSE(reader.bare_cr() || reader.bare_lf()) << round;
    // The message is the input with each line end made CRLF and a final CRLF added.
    std::string normal;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '\r') {
        normal += "\r\n";
        if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
      } else if (in[i] == '\n') {
        normal += "\r\n";
      } else {
        normal += in[i];
      }
    }
    if (!normal.ends_with("\r\n")) normal += "\r\n";
    EXPECT_EQ(reader.message(), normal) << round;
  }
}

}  // namespace
}  // namespace posthorn::proto::smtp
