#include "proto/pop3/command.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace posthorn::proto::pop3 {
namespace {

struct Good {
  std::string line;
  Command expected;
};

TEST(Pop3Command, ParsesValidCommands) {
  const std::vector<Good> cases = {
      {"USER alice@example.test", User{"alice@example.test"}},
      {"user alice", User{"alice"}},
      {"UsEr Alice", User{"Alice"}},
      {"PASS secret", Pass{"secret"}},
      {"PASS correct horse battery", Pass{"correct horse battery"}},
      {"pass  leading space", Pass{" leading space"}},
      {"PASS trailing ", Pass{"trailing "}},
      {"PASS p\xc3\xa4ss", Pass{"p\xc3\xa4ss"}},
      {"AUTH", Auth{}},
      {"auth plain", Auth{"PLAIN", std::nullopt}},
      {"AUTH PLAIN =", Auth{"PLAIN", std::string()}},
      {"AUTH PLAIN AGFsaWNlAHNlY3JldA==", Auth{"PLAIN", std::string("\0alice\0secret", 13)}},
      {"AUTH SCRAM-SHA-256", Auth{"SCRAM-SHA-256", std::nullopt}},
      {"AUTH scram-sha-256-plus", Auth{"SCRAM-SHA-256-PLUS", std::nullopt}},
      {"CAPA", Capa{}},
      {"capa", Capa{}},
      {"STLS", Stls{}},
      {"QUIT", Quit{}},
      {"Quit", Quit{}},
      {"NOOP", Noop{}},
      {"RSET", Rset{}},
      {"STAT", Stat{}},
      {"list", List{}},
      {"LIST 1", List{1}},
      {"RETR 12", Retr{12}},
      {"RETR 012", Retr{12}},
      {"RETR 0", Retr{0}},  // a number, but no message: the session says so
      {"RETR 999999999", Retr{999999999}},
      {"DELE 3", Dele{3}},
      {"TOP 1 10", Top{1, 10}},
      {"TOP 1 0", Top{1, 0}},
      {"TOP 2 999999999999999999", Top{2, 999999999999999999ull}},
      {"UIDL", Uidl{}},
      {"uidl 7", Uidl{7}},
      {"UTF8", Utf8{}},
      {"USER j\xc3\xb6rg@example.test", User{"j\xc3\xb6rg@example.test"}},  // RFC 6856
      {"APOP mrose c4c9334bac560ecc979e58001b3e22fb", Apop{}},
  };
  for (const auto& c : cases) {
    auto parsed = parse_command(c.line);
    ASSERT_TRUE(parsed) << c.line << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, c.expected) << c.line;
  }
}

struct Bad {
  std::string line;
  Errc code;
  std::string message;
};

TEST(Pop3Command, RejectsInvalidCommands) {
  const std::string arg40(40, 'a');
  const std::vector<Bad> cases = {
      {"", Errc::kNotFound, "Unknown command"},
      {" USER a", Errc::kNotFound, "Unknown command"},
      {"HELO", Errc::kNotFound, "Unknown command"},
      {"USERS alice", Errc::kNotFound, "Unknown command"},
      {"CAPAB", Errc::kNotFound, "Unknown command"},
      {"XYZ a  b", Errc::kNotFound, "Unknown command"},
      {"US3R a", Errc::kNotFound, "Unknown command"},
      {"EHLO example.test", Errc::kNotFound, "Unknown command"},
      {"USER", Errc::kInvalid, "Missing argument"},
      {"USER ", Errc::kInvalid, "Invalid argument separator"},
      {"USER a b", Errc::kInvalid, "Too many arguments"},
      {"USER  a", Errc::kInvalid, "Invalid argument separator"},
      {"USER a\tb", Errc::kInvalid, "Invalid characters in argument"},
      {"PASS", Errc::kInvalid, "Missing argument"},
      {"PASS ", Errc::kInvalid, "Missing argument"},
      {std::string("PASS a\0b", 8), Errc::kInvalid, "Invalid characters in password"},
      {"PASS a\rb", Errc::kInvalid, "Invalid characters in password"},
      {"CAPA x", Errc::kInvalid, "Too many arguments"},
      {"QUIT now", Errc::kInvalid, "Too many arguments"},
      {"STLS ", Errc::kInvalid, "Invalid argument separator"},
      {"NOOP 1", Errc::kInvalid, "Too many arguments"},
      {"RSET 1", Errc::kInvalid, "Too many arguments"},
      {"AUTH PLAIN x y", Errc::kInvalid, "Too many arguments"},
      {"AUTH PL@IN", Errc::kInvalid, "Invalid mechanism name"},
      {"AUTH ABCDEFGHIJKLMNOPQRSTU", Errc::kInvalid, "Invalid mechanism name"},  // 21 chars
      {"AUTH PLAIN not!base64", Errc::kInvalid, "Invalid base64 data"},
      {"AUTH PLAIN AGFsaWNl=", Errc::kInvalid, "Invalid base64 data"},
      {"AUTH  PLAIN", Errc::kInvalid, "Invalid argument separator"},
      {"RETR " + arg40 + "a", Errc::kInvalid, "Argument too long"},
      {"RETR", Errc::kInvalid, "Missing argument"},
      {"RETR x", Errc::kInvalid, "Invalid message number"},
      {"RETR -1", Errc::kInvalid, "Invalid message number"},
      {"RETR +1", Errc::kInvalid, "Invalid message number"},
      {"RETR 1000000000", Errc::kInvalid, "Invalid message number"},  // 10 digits
      {"RETR 1 2", Errc::kInvalid, "Too many arguments"},
      {"DELE", Errc::kInvalid, "Missing argument"},
      {"LIST 1 2", Errc::kInvalid, "Too many arguments"},
      {"LIST a", Errc::kInvalid, "Invalid message number"},
      {"UIDL 1x", Errc::kInvalid, "Invalid message number"},
      {"TOP 1", Errc::kInvalid, "Missing argument"},
      {"TOP 1 -2", Errc::kInvalid, "Invalid number of lines"},
      {"TOP 1 2 3", Errc::kInvalid, "Too many arguments"},
      {"STAT 1", Errc::kInvalid, "Too many arguments"},
      {"UTF8 x", Errc::kInvalid, "Too many arguments"},
      {"USER a\x7f", Errc::kInvalid, "Invalid characters in argument"},
      {"TOP 1 " + arg40 + "1", Errc::kInvalid, "Argument too long"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_command(c.line);
    ASSERT_FALSE(parsed) << c.line;
    EXPECT_EQ(parsed.error().code, c.code) << c.line;
    EXPECT_EQ(parsed.error().message, c.message) << c.line;
  }
}

TEST(Pop3Command, MechanismNameOfTwentyCharactersIsAccepted) {
  auto parsed = parse_command("AUTH ABCDEFGHIJKLMNOPQRST");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::get<Auth>(*parsed).mechanism, "ABCDEFGHIJKLMNOPQRST");
}

TEST(Pop3Command, ArgumentLimitIsFortyCharacters) {
  // 40 characters pass the RFC 2449 length check (then fail as a number); 41 do not.
  EXPECT_EQ(parse_command("RETR " + std::string(40, '1')).error().message, "Invalid message number");
  EXPECT_EQ(parse_command("RETR " + std::string(41, '1')).error().message, "Argument too long");
}

TEST(Pop3Command, LineLimitIs255OctetsWithCrlf) {
  // "USER " + name: 253 octets without CRLF is the most [RFC 2449 §4].
  const std::string at_limit = "USER " + std::string(kMaxCommandLine - 5, 'u');
  ASSERT_EQ(at_limit.size(), 253u);
  auto ok = parse_command(at_limit);
  ASSERT_TRUE(ok);
  EXPECT_EQ(std::get<User>(*ok).name.size(), 248u);  // USER is not held to 40 characters
  auto too_long = parse_command(at_limit + "u");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().message, "Line too long");
}

TEST(Pop3Command, PassAndAuthMayExceedTheLineLimit) {
  const std::string password(1000, 'p');
  auto pass = parse_command("PASS " + password);
  ASSERT_TRUE(pass);
  EXPECT_EQ(std::get<Pass>(*pass).password, password);

  const std::string raw(600, 'x');
  std::string b64;
  // 600 'x' bytes: "eHh4" repeated 200 times.
  for (int i = 0; i < 200; ++i) b64 += "eHh4";
  auto auth = parse_command("AUTH PLAIN " + b64);
  ASSERT_TRUE(auth);
  EXPECT_EQ(std::get<Auth>(*auth).initial_response, raw);
}

TEST(Pop3Command, KeywordNames) {
  EXPECT_EQ(keyword(Command{User{"a"}}), "USER");
  EXPECT_EQ(keyword(Command{Pass{"a"}}), "PASS");
  EXPECT_EQ(keyword(Command{Auth{}}), "AUTH");
  EXPECT_EQ(keyword(Command{Capa{}}), "CAPA");
  EXPECT_EQ(keyword(Command{Stls{}}), "STLS");
  EXPECT_EQ(keyword(Command{Quit{}}), "QUIT");
  EXPECT_EQ(keyword(Command{Noop{}}), "NOOP");
  EXPECT_EQ(keyword(Command{Rset{}}), "RSET");
  EXPECT_EQ(keyword(Command{Top{1, 2}}), "TOP");
  EXPECT_EQ(keyword(Command{Stat{}}), "STAT");
  EXPECT_EQ(keyword(Command{List{}}), "LIST");
  EXPECT_EQ(keyword(Command{Retr{1}}), "RETR");
  EXPECT_EQ(keyword(Command{Dele{1}}), "DELE");
  EXPECT_EQ(keyword(Command{Uidl{}}), "UIDL");
  EXPECT_EQ(keyword(Command{Apop{}}), "APOP");
  EXPECT_EQ(keyword(Command{Utf8{}}), "UTF8");
}

}  // namespace
}  // namespace posthorn::proto::pop3
