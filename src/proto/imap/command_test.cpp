#include "proto/imap/command.hpp"

#include <gtest/gtest.h>

#include "proto/imap/reader.hpp"
#include "proto/imap/response.hpp"

namespace posthorn::proto::imap {
namespace {

TEST(ImapTag, Characters) {
  EXPECT_TRUE(is_valid_tag("a1"));
  EXPECT_TRUE(is_valid_tag("A.B-C_]"));  // "]" is an ASTRING-CHAR
  EXPECT_TRUE(is_valid_tag("x!#$&'"));
  for (const char* bad : {"", "+", "a+b", "a*", "a%", "a(", "a)", "a{", "a\"", "a\\", "a b", "a\x01",
                          "a\x7f", "\xc3\xa9"}) {
    EXPECT_FALSE(is_valid_tag(bad)) << bad;
  }
  EXPECT_EQ(leading_tag("abc NOOP"), "abc");
  EXPECT_EQ(leading_tag("abc"), "abc");
  EXPECT_FALSE(leading_tag("* NOOP"));
  EXPECT_FALSE(leading_tag("+ NOOP"));
  EXPECT_FALSE(leading_tag(" NOOP"));
}

struct OkCase {
  const char* wire;
  const char* tag;
  const char* name;
};

TEST(ParseCommand, SimpleCommandsAnyCase) {
  const OkCase cases[] = {
      {"a1 CAPABILITY", "a1", "CAPABILITY"}, {"a2 capability", "a2", "CAPABILITY"},
      {"a3 NoOp", "a3", "NOOP"},             {"a4 logout", "a4", "LOGOUT"},
      {"a5 StartTLS", "a5", "STARTTLS"},     {"t] SELECT INBOX", "t]", "SELECT"},
      {"x LIST \"\" *", "x", "LIST"},        {"u UID FETCH 1:* FLAGS", "u", "UID FETCH"},
  };
  for (const auto& c : cases) {
    auto r = parse_command(c.wire);
    ASSERT_TRUE(r) << c.wire << ": " << r.error().message;
    EXPECT_EQ(r->tag, c.tag);
    EXPECT_EQ(r->name, c.name);
  }
  EXPECT_TRUE(std::holds_alternative<Capability>(parse_command("a CAPABILITY")->args));
  EXPECT_TRUE(std::holds_alternative<Noop>(parse_command("a NOOP")->args));
  EXPECT_TRUE(std::holds_alternative<Logout>(parse_command("a LOGOUT")->args));
  EXPECT_TRUE(std::holds_alternative<StartTls>(parse_command("a STARTTLS")->args));
  auto unknown = parse_command("a getmetadata INBOX");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(std::get<Unknown>(unknown->args).name, "GETMETADATA");
}

struct ErrCase {
  const char* wire;
  std::optional<std::string> tag;
};

TEST(ParseCommand, SyntaxErrorsCarryTheTagWhenThereIsOne) {
  const ErrCase cases[] = {
      {"", std::nullopt},
      {" NOOP", std::nullopt},
      {"* NOOP", std::nullopt},
      {"+ NOOP", std::nullopt},
      {"a+b NOOP", std::nullopt},
      {"a\"b NOOP", std::nullopt},
      {"a{1} NOOP", std::nullopt},
      {"tag", "tag"},
      {"tag ", "tag"},
      {"tag  NOOP", "tag"},
      {"tag (NOOP", "tag"},
      {"tag NO(OP", "tag"},
      {"tag NOOP x", "tag"},
      {"tag NOOP ", "tag"},
      {"tag CAPABILITY now", "tag"},
      {"tag LOGOUT please", "tag"},
      {"tag STARTTLS x", "tag"},
      {"tag LOGIN", "tag"},
      {"tag LOGIN user", "tag"},
      {"tag LOGIN user ", "tag"},
      {"tag LOGIN user pass extra", "tag"},
      {"tag LOGIN \"user pass", "tag"},
      {"tag LOGIN \"us\\er\" pass", "tag"},   // only \" and \\ may be escaped
      {"tag LOGIN (user) pass", "tag"},
      {"tag LOGIN user {5}\r\nabc", "tag"},   // literal shorter than announced
      {"tag LOGIN user {3}abc", "tag"},       // no CRLF after the announcement
      {"tag AUTHENTICATE", "tag"},
      {"tag AUTHENTICATE PLAIN AGFsaWNl!", "tag"},
      {"tag AUTHENTICATE PLAIN AGF", "tag"},  // bad base64 padding
      {"tag AUTHENTICATE PLAIN == ", "tag"},
      {"tag AUTHENTICATE (PLAIN)", "tag"},
  };
  for (const auto& c : cases) {
    auto r = parse_command(c.wire);
    ASSERT_FALSE(r) << "parsed: " << c.wire;
    EXPECT_EQ(r.error().tag, c.tag) << c.wire;
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(ParseCommand, NulInLiteralIsRejected) {
  const std::string wire("t LOGIN user {3}\r\na\0c", 21);
  auto r = parse_command(wire);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().tag, "t");
}

struct LoginCase {
  std::string wire;
  std::string user;
  std::string password;
};

TEST(ParseCommand, LoginArgumentForms) {
  const LoginCase cases[] = {
      {"a LOGIN alice s3cret", "alice", "s3cret"},
      {"a login demo@example.test pw]", "demo@example.test", "pw]"},
      {"a LOGIN \"al ice\" \"p\\\"w\\\\\"", "al ice", "p\"w\\"},
      {"a LOGIN \"\" \"\"", "", ""},
      {"a LOGIN {5}\r\nalice {6}\r\ns3 ret", "alice", "s3 ret"},
      {"a LOGIN {5+}\r\nalice \"x\"", "alice", "x"},
      {"a LOGIN alice {4+}\r\n\"\r\n\\", "alice", "\"\r\n\\"},
      {"a LOGIN \"caf\xc3\xa9\" pw", "caf\xc3\xa9", "pw"},  // UTF-8 in quoted [RFC 9051]
  };
  for (const auto& c : cases) {
    auto r = parse_command(c.wire);
    ASSERT_TRUE(r) << c.wire << ": " << r.error().message;
    const auto* login = std::get_if<Login>(&r->args);
    ASSERT_NE(login, nullptr);
    EXPECT_EQ(login->userid, c.user);
    EXPECT_EQ(login->password, c.password);
  }
}

TEST(ParseCommand, QuotedStringRejectsCrLf) {
  EXPECT_FALSE(parse_command("a LOGIN \"a\rb\" pw"));
  EXPECT_FALSE(parse_command("a LOGIN \"a\nb\" pw"));
}

TEST(ParseCommand, AuthenticateForms) {
  auto r = parse_command("a AUTHENTICATE plain");
  ASSERT_TRUE(r);
  auto* auth = std::get_if<Authenticate>(&r->args);
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->mechanism, "PLAIN");
  EXPECT_FALSE(auth->initial_response);

  r = parse_command("a AUTHENTICATE PLAIN =");
  ASSERT_TRUE(r);
  auth = std::get_if<Authenticate>(&r->args);
  ASSERT_TRUE(auth->initial_response);
  EXPECT_EQ(*auth->initial_response, "");

  r = parse_command("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==");
  ASSERT_TRUE(r);
  auth = std::get_if<Authenticate>(&r->args);
  ASSERT_TRUE(auth->initial_response);
  EXPECT_EQ(*auth->initial_response, std::string("\0alice\0secret", 13));

  r = parse_command("a AUTHENTICATE SCRAM-SHA-256");
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<Authenticate>(r->args).mechanism, "SCRAM-SHA-256");
}

TEST(Reader, NstringAndAtoms) {
  Reader r("NIL \"x\" nil {1}\r\nz NILS");
  auto a = r.nstring();
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->has_value());
  ASSERT_TRUE(r.sp());
  a = r.nstring();
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ(**a, "x");
  ASSERT_TRUE(r.sp());
  a = r.nstring();
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->has_value());
  ASSERT_TRUE(r.sp());
  a = r.nstring();
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ(**a, "z");
  ASSERT_TRUE(r.sp());
  EXPECT_FALSE(r.nstring());  // NILS is an atom, not a string
  EXPECT_EQ(*r.atom(), "NILS");
  EXPECT_TRUE(r.at_end());
  EXPECT_FALSE(r.sp());
}

TEST(Response, LinesAndCodes) {
  EXPECT_EQ(tagged("a1", Status::kOk, "NOOP completed"), "a1 OK NOOP completed\r\n");
  EXPECT_EQ(tagged("a1", Status::kNo, code::kAuthenticationFailed, "Authentication failed"),
            "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
  EXPECT_EQ(untagged(Status::kBye, "Logging out"), "* BYE Logging out\r\n");
  EXPECT_EQ(untagged(Status::kOk, "CAPABILITY IMAP4rev2", "ready"), "* OK [CAPABILITY IMAP4rev2] ready\r\n");
  EXPECT_EQ(untagged_data("CAPABILITY IMAP4rev2"), "* CAPABILITY IMAP4rev2\r\n");
  EXPECT_EQ(continuation(""), "+ \r\n");
  EXPECT_EQ(continuation("abc="), "+ abc=\r\n");
  EXPECT_EQ(bad(std::string("t"), "oops"), "t BAD oops\r\n");
  EXPECT_EQ(bad(std::nullopt, "oops"), "* BAD oops\r\n");
  // Free text can never break the line.
  EXPECT_EQ(tagged("t", Status::kBad, "a\r\nb"), "t BAD a  b\r\n");
}

TEST(Response, Astring) {
  EXPECT_EQ(astring("INBOX"), "INBOX");
  EXPECT_EQ(astring("a]b"), "a]b");
  EXPECT_EQ(astring(""), "\"\"");
  EXPECT_EQ(astring("NIL"), "\"NIL\"");
  EXPECT_EQ(astring("two words"), "\"two words\"");
  EXPECT_EQ(astring("q\"b\\s"), "\"q\\\"b\\\\s\"");
  EXPECT_EQ(astring("a*b"), "\"a*b\"");
  EXPECT_EQ(astring("line\r\nbreak"), "{11}\r\nline\r\nbreak");
  EXPECT_EQ(astring("caf\xc3\xa9"), "{5}\r\ncaf\xc3\xa9");
  // Round trip through the parser.
  for (std::string v : {"INBOX", "", "NIL", "two words", "q\"b\\s", "line\r\nbreak"}) {
    auto r = parse_command("t LOGIN " + astring(v) + " x");
    ASSERT_TRUE(r) << v;
    EXPECT_EQ(std::get<Login>(r->args).userid, v);
  }
}

TEST(Response, AuthFailureMapping) {
  EXPECT_EQ(auth_failure("t", make_error(Errc::kDenied, "bad")),
            "t NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
  EXPECT_TRUE(auth_failure("t", make_error(Errc::kDenied, "encryption required"))
                  .starts_with("t NO [PRIVACYREQUIRED] "));
  EXPECT_TRUE(auth_failure("t", make_error(Errc::kUnavailable, "")).starts_with("t NO [UNAVAILABLE] "));
  EXPECT_TRUE(auth_failure("t", make_error(Errc::kInternal, "")).starts_with("t NO [UNAVAILABLE] "));
  EXPECT_TRUE(auth_failure("t", make_error(Errc::kInvalid, "")).starts_with("t BAD "));
  EXPECT_TRUE(auth_failure("t", make_error(Errc::kNotFound, "")).starts_with("t NO [CANNOT] "));
}

}  // namespace
}  // namespace posthorn::proto::imap
