#include "proto/pop3/reply.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace posthorn::proto::pop3 {
namespace {

TEST(Pop3Reply, SingleLine) {
  EXPECT_EQ(ok("Logged in."), "+OK Logged in.\r\n");
  EXPECT_EQ(ok(""), "+OK\r\n");
  EXPECT_EQ(err("Unknown command"), "-ERR Unknown command\r\n");
  EXPECT_EQ(err("Authentication failed", RespCode::kAuth), "-ERR [AUTH] Authentication failed\r\n");
  EXPECT_EQ(err("x", RespCode::kSysTemp), "-ERR [SYS/TEMP] x\r\n");
  EXPECT_EQ(err("x", RespCode::kSysPerm), "-ERR [SYS/PERM] x\r\n");
  EXPECT_EQ(err("x", RespCode::kInUse), "-ERR [IN-USE] x\r\n");
  EXPECT_EQ(err("x", RespCode::kLoginDelay), "-ERR [LOGIN-DELAY] x\r\n");
  EXPECT_EQ(continuation(""), "+ \r\n");
  EXPECT_EQ(continuation("cj1hYmM="), "+ cj1hYmM=\r\n");
}

TEST(Pop3Reply, MultilineStuffsDotsAndTerminates) {
  EXPECT_EQ(multiline("Capability list follows", {"USER", "SASL PLAIN", ".hidden", "..two"}),
            "+OK Capability list follows\r\nUSER\r\nSASL PLAIN\r\n..hidden\r\n...two\r\n.\r\n");
  EXPECT_EQ(multiline("", {}), "+OK\r\n.\r\n");
  EXPECT_EQ(multiline("x", {"."}), "+OK x\r\n..\r\n.\r\n");
}

struct StuffCase {
  std::string in;
  std::string out;
};

TEST(Pop3Reply, DotStuff) {
  const std::vector<StuffCase> cases = {
      {"", ""},
      {"a\r\n", "a\r\n"},
      {"a", "a\r\n"},                                  // final line without newline
      {"a\r\nb", "a\r\nb\r\n"},
      {"a\nb\n", "a\r\nb\r\n"},                        // bare LF -> CRLF
      {"a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n"},             // mixed endings
      {".\r\n", "..\r\n"},                             // a lone dot is not the terminator
      {".a\r\n..b\r\nc.d\r\n", "..a\r\n...b\r\nc.d\r\n"},
      {"x\n.\n", "x\r\n..\r\n"},                       // bare LF then a dot line
      {".", "..\r\n"},
      {"\r\n", "\r\n"},
      {"\n\n", "\r\n\r\n"},
      {"a\r", "a\r\n"},                                // trailing CR completes to CRLF
      {"a\rb\r\n", "a\r\nb\r\n"},                      // a bare CR ends the line: never a stray CR
      {"a\r\r\n.b", "a\r\n\r\n..b\r\n"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(dot_stuff(c.in), c.out) << "input: " << c.in;
  }
}

// Feeding the text in pieces of every size gives the same bytes as one piece: state (a CR at the
// end of one piece, a dot at the start of the next) carries across boundaries.
TEST(Pop3Reply, DotStufferIsIndependentOfPieceSize) {
  const std::string text = "From: a\r\n.Subject\r\n\r\n.\r\nline\rbare cr\nbare lf\r\n..two\r\n.";
  const std::string whole = dot_stuff(text);
  EXPECT_EQ(whole, "From: a\r\n..Subject\r\n\r\n..\r\nline\r\nbare cr\r\nbare lf\r\n...two\r\n..\r\n");
  for (size_t size = 1; size <= text.size(); ++size) {
    DotStuffer stuffer;
    std::string out;
    for (size_t pos = 0; pos < text.size(); pos += size) stuffer.feed(std::string_view(text).substr(pos, size), out);
    stuffer.finish(out);
    EXPECT_EQ(out, whole) << "piece size " << size;
  }
}

std::string top(std::string_view text, uint64_t lines, size_t piece = 1 << 20) {
  DotStuffer stuffer(lines);
  std::string out;
  for (size_t pos = 0; pos < text.size() && !stuffer.done(); pos += piece) {
    stuffer.feed(text.substr(pos, piece), out);
  }
  stuffer.finish(out);
  return out;
}

TEST(Pop3Reply, DotStufferStopsAfterTopLines) {
  const std::string msg = "A: 1\r\nB: 2\r\n\r\none\r\n.two\r\nthree\r\n";
  EXPECT_EQ(top(msg, 0), "A: 1\r\nB: 2\r\n\r\n");
  EXPECT_EQ(top(msg, 1), "A: 1\r\nB: 2\r\n\r\none\r\n");
  EXPECT_EQ(top(msg, 2), "A: 1\r\nB: 2\r\n\r\none\r\n..two\r\n");
  EXPECT_EQ(top(msg, 3), dot_stuff(msg));
  EXPECT_EQ(top(msg, 100), dot_stuff(msg));  // more lines than the body has: the whole message
  for (size_t piece = 1; piece < msg.size(); ++piece) EXPECT_EQ(top(msg, 1, piece), top(msg, 1)) << piece;
  // Bare LF endings count as lines too; a header without an empty line is the whole message.
  EXPECT_EQ(top("A: 1\n\nx\ny\n", 1), "A: 1\r\n\r\nx\r\n");
  EXPECT_EQ(top("A: 1\r\nB: 2", 0), "A: 1\r\nB: 2\r\n");
  // A message whose body has no final newline.
  EXPECT_EQ(top("A: 1\r\n\r\nlast", 5), "A: 1\r\n\r\nlast\r\n");
}

TEST(Pop3Reply, MaildropErrorMapping) {
  EXPECT_EQ(maildrop_reply(make_error(Errc::kNotFound, "no such message")),
            "-ERR Message was removed by another session\r\n");
  EXPECT_EQ(maildrop_reply(make_error(Errc::kUnavailable, "x")),
            "-ERR [SYS/TEMP] Mail storage temporarily unavailable\r\n");
  EXPECT_EQ(maildrop_reply(make_error(Errc::kInternal, "sqlite: disk I/O error at /var/x")),
            "-ERR [SYS/TEMP] Internal error, try again later\r\n");
}

TEST(Pop3Reply, ErrorMapping) {
  EXPECT_EQ(to_reply(make_error(Errc::kDenied, "bad")), "-ERR [AUTH] Authentication failed\r\n");
  EXPECT_EQ(to_reply(make_error(Errc::kDenied, "encryption required")), "-ERR [AUTH] Encryption required\r\n");
  EXPECT_EQ(to_reply(make_error(Errc::kUnavailable, "throttled")),
            "-ERR [SYS/TEMP] Temporary failure, try again later\r\n");
  EXPECT_EQ(to_reply(make_error(Errc::kInvalid, "x")), "-ERR Malformed authentication exchange\r\n");
  EXPECT_EQ(to_reply(make_error(Errc::kNotFound, "x")), "-ERR Unsupported authentication mechanism\r\n");
  // Internal detail never reaches the client.
  EXPECT_EQ(to_reply(make_error(Errc::kInternal, "sqlite: disk I/O error at /var/x")),
            "-ERR [SYS/TEMP] Internal error, try again later\r\n");
}

}  // namespace
}  // namespace posthorn::proto::pop3
