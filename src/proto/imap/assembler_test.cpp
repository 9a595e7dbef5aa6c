#include "proto/imap/assembler.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/imap/command.hpp"
#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap {
namespace {

using Kind = Progress::Kind;

// Splits a wire stream the way the session reads it (lines, then announced literal bytes) and feeds
// the assembler, literal bytes in chunks of `chunk`. Returns the completed commands, or stops at the
// first error.
struct Fed {
  std::vector<std::string> commands;
  std::vector<Progress> literal_requests;  // each kNeedLiteral the assembler returned after a line
  std::optional<AssemblyError> error;
};

Fed feed_stream(CommandAssembler& a, std::string_view wire, size_t chunk) {
  Fed out;
  Progress p = Progress::need_line();
  size_t pos = 0;
  while (pos < wire.size()) {
    if (p.kind == Kind::kNeedLiteral) {
      const size_t n = std::min<size_t>({chunk, static_cast<size_t>(p.literal_size), wire.size() - pos});
      p = a.feed_literal(wire.substr(pos, n));
      pos += n;
      continue;
    }
    const size_t eol = wire.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    p = a.feed_line(wire.substr(pos, eol - pos));
    pos = eol + 2;
    if (p.kind == Kind::kNeedLiteral) out.literal_requests.push_back(p);
    if (p.kind == Kind::kComplete) out.commands.push_back(a.take());
    if (p.kind == Kind::kError) {
      out.error = p.error;
      break;
    }
  }
  return out;
}

TEST(CommandAssembler, SimpleLineCompletesAtOnce) {
  CommandAssembler a;
  EXPECT_TRUE(a.idle());
  const Progress p = a.feed_line("a1 NOOP");
  EXPECT_EQ(p.kind, Kind::kComplete);
  EXPECT_EQ(a.take(), "a1 NOOP");
  EXPECT_TRUE(a.idle());
}

TEST(CommandAssembler, SynchronizingLiteralAsksForBytes) {
  CommandAssembler a;
  Progress p = a.feed_line("a1 LOGIN {4}");
  ASSERT_EQ(p.kind, Kind::kNeedLiteral);
  EXPECT_EQ(p.literal_size, 4u);
  EXPECT_TRUE(p.synchronizing);
  p = a.feed_literal("user");
  ASSERT_EQ(p.kind, Kind::kNeedLine);
  p = a.feed_line(" {5+}");
  ASSERT_EQ(p.kind, Kind::kNeedLiteral);
  EXPECT_EQ(p.literal_size, 5u);
  EXPECT_FALSE(p.synchronizing);
  p = a.feed_literal("pa\r\ns");
  ASSERT_EQ(p.kind, Kind::kNeedLine);
  p = a.feed_line("");
  ASSERT_EQ(p.kind, Kind::kComplete);
  const std::string wire = a.take();
  EXPECT_EQ(wire, "a1 LOGIN {4}\r\nuser {5+}\r\npa\r\ns");
  auto cmd = parse_command(wire);
  ASSERT_TRUE(cmd) << cmd.error().message;
  const auto& login = std::get<Login>(cmd->args);
  EXPECT_EQ(login.userid, "user");
  EXPECT_EQ(login.password, "pa\r\ns");
}

TEST(CommandAssembler, LiteralFedByteByByte) {
  CommandAssembler a;
  Progress p = a.feed_line("t LOGIN {11}");
  ASSERT_EQ(p.kind, Kind::kNeedLiteral);
  const std::string bytes = "hello world";
  for (size_t i = 0; i < bytes.size(); ++i) {
    p = a.feed_literal(bytes.substr(i, 1));
    if (i + 1 < bytes.size()) {
      ASSERT_EQ(p.kind, Kind::kNeedLiteral);
      EXPECT_EQ(p.literal_size, bytes.size() - i - 1);
      EXPECT_FALSE(p.synchronizing);  // the continuation was already sent
    }
  }
  ASSERT_EQ(p.kind, Kind::kNeedLine);
  ASSERT_EQ(a.feed_line(" x").kind, Kind::kComplete);
  EXPECT_EQ(a.take(), "t LOGIN {11}\r\nhello world x");
}

TEST(CommandAssembler, ZeroLengthLiteral) {
  CommandAssembler a;
  Progress p = a.feed_line("t LOGIN {0}");
  ASSERT_EQ(p.kind, Kind::kNeedLiteral);
  EXPECT_EQ(p.literal_size, 0u);
  p = a.feed_literal("");
  ASSERT_EQ(p.kind, Kind::kNeedLine);
  ASSERT_EQ(a.feed_line(" {0+}").kind, Kind::kNeedLiteral);
  ASSERT_EQ(a.feed_literal("").kind, Kind::kNeedLine);
  ASSERT_EQ(a.feed_line("").kind, Kind::kComplete);
  auto cmd = parse_command(a.take());
  ASSERT_TRUE(cmd);
  EXPECT_EQ(std::get<Login>(cmd->args).userid, "");
  EXPECT_EQ(std::get<Login>(cmd->args).password, "");
}

TEST(CommandAssembler, LiteralContainingBracesIsNotReannounced) {
  // The bytes of a literal are never scanned for "{n}"; only the line after it is.
  CommandAssembler a;
  ASSERT_EQ(a.feed_line("t LOGIN {3}").kind, Kind::kNeedLiteral);
  ASSERT_EQ(a.feed_literal("{9}").kind, Kind::kNeedLine);
  ASSERT_EQ(a.feed_line(" pw").kind, Kind::kComplete);
  EXPECT_EQ(a.take(), "t LOGIN {3}\r\n{9} pw");
}

struct AnnouncementCase {
  const char* line;
  bool is_literal;
  uint64_t size;
  bool sync;
};

TEST(CommandAssembler, LiteralAnnouncementTable) {
  const AnnouncementCase cases[] = {
      {"a LOGIN {5}", true, 5, true},
      {"a LOGIN {5+}", true, 5, false},
      {"a APPEND x ~{7}", true, 7, true},
      {"a LOGIN {}", false, 0, false},
      {"a LOGIN {+}", false, 0, false},
      {"a LOGIN {5a}", false, 0, false},
      {"a LOGIN 5}", false, 0, false},
      {"a LOGIN {5} ", false, 0, false},
      {"a LOGIN {5++}", false, 0, false},
      {"a LOGIN {-5}", false, 0, false},
      {"}", false, 0, false},
      {"{1}", true, 1, true},
      {"a X {4294967296}", true, 4294967296ull, true},
      {"a X {99999999999999999999999999}", true, UINT64_MAX, true},
  };
  for (const auto& c : cases) {
    const auto lit = trailing_literal(c.line);
    ASSERT_EQ(lit.has_value(), c.is_literal) << c.line;
    if (lit) {
      EXPECT_EQ(lit->size, c.size) << c.line;
      EXPECT_EQ(lit->synchronizing, c.sync) << c.line;
    }
  }
}

TEST(CommandAssembler, FourGigabyteSyncLiteralRefusedWithoutReading) {
  CommandAssembler a(AssemblerOptions{.max_literal_size = 8192, .max_command_size = 65536});
  const Progress p = a.feed_line("big LOGIN {4294967296}");
  ASSERT_EQ(p.kind, Kind::kError);
  EXPECT_EQ(p.error.code, AssemblyError::Code::kLiteralTooBig);
  EXPECT_EQ(p.error.tag, "big");
  EXPECT_FALSE(p.error.must_close);  // the client waits for "+": reply NO [TOOBIG] and carry on
  EXPECT_TRUE(a.idle());
  // The next command is independent.
  ASSERT_EQ(a.feed_line("n NOOP").kind, Kind::kComplete);
  EXPECT_EQ(a.take(), "n NOOP");
}

TEST(CommandAssembler, NonSyncLiteralOverLimitMustClose) {
  CommandAssembler a(AssemblerOptions{.max_literal_size = 8192, .max_command_size = 65536});
  const Progress p = a.feed_line("big LOGIN {4294967296+}");
  ASSERT_EQ(p.kind, Kind::kError);
  EXPECT_EQ(p.error.code, AssemblyError::Code::kLiteralTooBig);
  EXPECT_TRUE(p.error.must_close);
}

TEST(CommandAssembler, LiteralLimitAtNAndNPlusOne) {
  CommandAssembler a(AssemblerOptions{.max_literal_size = 10, .max_command_size = 1000});
  Progress p = a.feed_line("a LOGIN {10}");
  ASSERT_EQ(p.kind, Kind::kNeedLiteral);
  a.reset();
  p = a.feed_line("a LOGIN {11}");
  ASSERT_EQ(p.kind, Kind::kError);
  EXPECT_EQ(p.error.code, AssemblyError::Code::kLiteralTooBig);
}

TEST(CommandAssembler, CommandLimitAtNAndNPlusOne) {
  // Limit 20: "a LOGIN {4}" (11) + CRLF (2) + 4 + " x" (2) = 19 fits; " xy" would be 20; " xyz" is 21.
  CommandAssembler a(AssemblerOptions{.max_literal_size = 100, .max_command_size = 20});
  ASSERT_EQ(a.feed_line("a LOGIN {4}").kind, Kind::kNeedLiteral);
  ASSERT_EQ(a.feed_literal("user").kind, Kind::kNeedLine);
  ASSERT_EQ(a.feed_line(" xy").kind, Kind::kComplete);
  EXPECT_EQ(a.take().size(), 20u);

  ASSERT_EQ(a.feed_line("a LOGIN {4}").kind, Kind::kNeedLiteral);
  ASSERT_EQ(a.feed_literal("user").kind, Kind::kNeedLine);
  const Progress p = a.feed_line(" xyz");
  ASSERT_EQ(p.kind, Kind::kError);
  EXPECT_EQ(p.error.code, AssemblyError::Code::kCommandTooBig);
  EXPECT_EQ(p.error.tag, "a");
  EXPECT_FALSE(p.error.must_close);
}

TEST(CommandAssembler, LiteralPushingCommandOverLimitIsRefusedBeforeReading) {
  CommandAssembler a(AssemblerOptions{.max_literal_size = 100, .max_command_size = 20});
  // 11 + 2 + 8 = 21 > 20.
  Progress p = a.feed_line("a LOGIN {8}");
  ASSERT_EQ(p.kind, Kind::kError);
  EXPECT_EQ(p.error.code, AssemblyError::Code::kCommandTooBig);
  EXPECT_FALSE(p.error.must_close);
  p = a.feed_line("a LOGIN {8+}");
  ASSERT_EQ(p.kind, Kind::kError);
  EXPECT_TRUE(p.error.must_close);
  // 11 + 2 + 7 = 20 fits.
  EXPECT_EQ(a.feed_line("a LOGIN {7}").kind, Kind::kNeedLiteral);
}

TEST(CommandAssembler, ErrorWithoutValidTagHasNoTag) {
  CommandAssembler a(AssemblerOptions{.max_literal_size = 10, .max_command_size = 100});
  const Progress p = a.feed_line("* LOGIN {4294967296}");
  ASSERT_EQ(p.kind, Kind::kError);
  EXPECT_FALSE(p.error.tag.has_value());
}

TEST(CommandAssembler, StreamOfPipelinedCommandsInAnyChunking) {
  const std::string wire =
      "a1 CAPABILITY\r\n"
      "a2 LOGIN {4+}\r\nuser {6+}\r\nse}{r3\r\n"
      "a3 LOGIN \"q\\\"u\" {2}\r\n\r\n\r\n"
      "a4 LOGOUT\r\n";
  for (size_t chunk : {1, 2, 3, 7, 100}) {
    CommandAssembler a;
    const Fed fed = feed_stream(a, wire, chunk);
    ASSERT_FALSE(fed.error) << chunk;
    ASSERT_EQ(fed.commands.size(), 4u) << chunk;
    EXPECT_EQ(fed.commands[0], "a1 CAPABILITY");
    EXPECT_EQ(fed.commands[1], "a2 LOGIN {4+}\r\nuser {6+}\r\nse}{r3");
    EXPECT_EQ(fed.commands[3], "a4 LOGOUT");
    ASSERT_EQ(fed.literal_requests.size(), 3u);
    EXPECT_FALSE(fed.literal_requests[0].synchronizing);
    EXPECT_TRUE(fed.literal_requests[2].synchronizing);
    auto cmd = parse_command(fed.commands[2]);
    ASSERT_TRUE(cmd) << cmd.error().message;
    EXPECT_EQ(std::get<Login>(cmd->args).userid, "q\"u");
    EXPECT_EQ(std::get<Login>(cmd->args).password, "\r\n");
  }
}

// A big APPEND literal the session spooled (issue 28 item 2): the command keeps its announcement but
// not its bytes, and the parser hands the message on by reference; MULTIAPPEND mixes both kinds.
constexpr AssemblerOptions kBig{.max_literal_size = 1 << 20, .max_command_size = 4 << 20};

TEST(CommandAssembler, LiteralKeptElsewhereIsCarriedByReference) {
  CommandAssembler a(kBig);
  ASSERT_EQ(a.feed_line("t APPEND INBOX (\\Seen) {5}").kind, Kind::kNeedLiteral);
  ASSERT_EQ(a.feed_literal("hello").kind, Kind::kNeedLine);
  ASSERT_EQ(a.feed_line(" ~{300000+}").kind, Kind::kNeedLiteral);
  ASSERT_EQ(a.literal_kept_elsewhere(true).kind, Kind::kNeedLine);
  ASSERT_EQ(a.feed_line(" {400000}").kind, Kind::kNeedLiteral);
  ASSERT_EQ(a.literal_kept_elsewhere(false).kind, Kind::kNeedLine);
  ASSERT_EQ(a.feed_line("").kind, Kind::kComplete);
  const AssembledCommand cmd = a.take_command();
  EXPECT_EQ(cmd.text, "t APPEND INBOX (\\Seen) {5}\r\nhello ~{300000+}\r\n {400000}\r\n");
  ASSERT_EQ(cmd.external.size(), 2u);
  EXPECT_EQ(cmd.external[0], (ExternalLiteral{cmd.text.find(" {400000}"), 300000, true}));
  EXPECT_EQ(cmd.external[1], (ExternalLiteral{cmd.text.size(), 400000, false}));
  EXPECT_TRUE(a.idle());
  auto parsed = parse_command(cmd);
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto& append = std::get<Append>(parsed->args);
  ASSERT_EQ(append.messages.size(), 3u);
  EXPECT_EQ(append.messages[0].bytes, "hello");
  EXPECT_FALSE(append.messages[0].external);
  EXPECT_EQ(append.messages[0].size, 5u);
  EXPECT_EQ(append.messages[1].external, 0u);
  EXPECT_TRUE(append.messages[1].binary);
  EXPECT_EQ(append.messages[1].size, 300000u);
  EXPECT_TRUE(append.messages[1].bytes.empty());
  EXPECT_EQ(append.messages[2].external, 1u);
  EXPECT_FALSE(append.messages[2].binary);
  EXPECT_EQ(append.messages[2].size, 400000u);
}

// A literal kept elsewhere is a message or nothing: where another string stands, or with a NUL in
// a plain literal (NUL is for literal8 only [RFC 3516 §4.3]), the command is refused (BAD).
TEST(CommandAssembler, LiteralKeptElsewhereOnlyWhereAMessageStands) {
  auto assemble = [](std::string_view first, bool has_nul, std::string_view rest) {
    CommandAssembler a(kBig);
    EXPECT_EQ(a.feed_line(first).kind, Kind::kNeedLiteral);
    EXPECT_EQ(a.literal_kept_elsewhere(has_nul).kind, Kind::kNeedLine);
    EXPECT_EQ(a.feed_line(rest).kind, Kind::kComplete);
    return a.take_command();
  };
  EXPECT_TRUE(parse_command(assemble("t APPEND INBOX {300000}", false, "")));
  EXPECT_TRUE(parse_command(assemble("t APPEND INBOX ~{300000}", true, "")));
  EXPECT_TRUE(parse_command(assemble("t UID REPLACE 4 INBOX {300000}", false, "")));
  EXPECT_FALSE(parse_command(assemble("t APPEND INBOX {300000}", true, "")));
  EXPECT_FALSE(parse_command(assemble("t APPEND {300000}", false, " x")));  // as the mailbox name
  EXPECT_FALSE(parse_command(assemble("t SEARCH TEXT {300000}", false, "")));
  EXPECT_FALSE(parse_command(assemble("t LOGIN {300000}", false, " x")));
  // The sizes in the text and in the record must agree.
  auto cmd = assemble("t APPEND INBOX {300000}", false, "");
  cmd.external[0].size = 299999;
  EXPECT_FALSE(parse_command(cmd));
  // Only when announced and nothing of it fed yet.
  CommandAssembler a(kBig);
  EXPECT_THROW(a.literal_kept_elsewhere(false), std::logic_error);
  ASSERT_EQ(a.feed_line("t APPEND INBOX {3}").kind, Kind::kNeedLiteral);
  ASSERT_EQ(a.feed_literal("a").kind, Kind::kNeedLiteral);
  EXPECT_THROW(a.literal_kept_elsewhere(false), std::logic_error);
}

TEST(CommandAssembler, AppendCommandsAreRecognisedFromTheirFirstLine) {
  EXPECT_TRUE(is_append_command("a APPEND INBOX {5}"));
  EXPECT_TRUE(is_append_command("a append INBOX {5}"));
  EXPECT_TRUE(is_append_command("a REPLACE 1 INBOX {5}"));
  EXPECT_TRUE(is_append_command("a uid replace 1 INBOX {5}"));
  EXPECT_FALSE(is_append_command("a APPENDX INBOX {5}"));
  EXPECT_FALSE(is_append_command("a UID FETCH 1 {5}"));
  EXPECT_FALSE(is_append_command("a SEARCH APPEND {5}"));
  EXPECT_FALSE(is_append_command("APPEND"));
}

TEST(CommandAssembler, MisuseIsABug) {
  CommandAssembler a;
  EXPECT_THROW(a.feed_literal("x"), std::logic_error);
  EXPECT_THROW(a.take(), std::logic_error);
  ASSERT_EQ(a.feed_line("a LOGIN {2}").kind, Kind::kNeedLiteral);
  EXPECT_THROW(a.feed_line("oops"), std::logic_error);
  EXPECT_THROW(a.feed_literal("toolong"), std::logic_error);
}

}  // namespace
}  // namespace posthorn::proto::imap
