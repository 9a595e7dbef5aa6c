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
      {"a\rb\r\n", "a\rb\r\n"},                        // a CR inside a line is kept
  };
  for (const auto& c : cases) {
    EXPECT_EQ(dot_stuff(c.in), c.out) << "input: " << c.in;
  }
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
