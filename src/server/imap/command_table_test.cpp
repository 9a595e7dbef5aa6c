// The IMAP command table: one entry per command the parser knows, the wrong-state replies as the
// session gave them before the table, and the RFC 9051 §7.5.1 by-sequence rule.
#include "server/imap/command_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <variant>

#include "proto/imap/command.hpp"

namespace posthorn::server::imap {
namespace {

namespace pi = proto::imap;
using S = SessionState;

// One valid line for every command proto/imap parses (not to Unknown).
const char* const kSamples[] = {
    "a CAPABILITY", "a NOOP", "a LOGOUT", "a STARTTLS", "a AUTHENTICATE PLAIN", "a LOGIN u p",
    "a ENABLE CONDSTORE", "a SELECT INBOX", "a EXAMINE INBOX", "a NAMESPACE", "a CREATE x", "a DELETE x",
    "a RENAME x y", "a SUBSCRIBE x", "a UNSUBSCRIBE x", "a LIST \"\" *", "a LSUB \"\" *",
    "a STATUS INBOX (MESSAGES)", "a APPEND INBOX {1+}\r\nx", "a IDLE", "a GETQUOTA \"\"",
    "a GETQUOTAROOT INBOX", "a SETQUOTA \"\" (STORAGE 10)", "a COMPRESS DEFLATE", "a UNAUTHENTICATE",
    "a ID NIL", "a CHECK", "a CLOSE", "a UNSELECT", "a EXPUNGE", "a UID EXPUNGE 1", "a FETCH 1 FLAGS",
    "a UID FETCH 1 FLAGS", "a STORE 1 +FLAGS (\\Seen)", "a UID STORE 1 +FLAGS (\\Seen)", "a COPY 1 x",
    "a UID COPY 1 x", "a MOVE 1 x", "a UID MOVE 1 x", "a REPLACE 1 x {1+}\r\nx", "a UID REPLACE 1 x {1+}\r\nx",
    "a SEARCH ALL", "a UID SEARCH ALL", "a SORT (DATE) UTF-8 ALL", "a UID SORT (DATE) UTF-8 ALL",
    "a THREAD REFERENCES UTF-8 ALL", "a UID THREAD REFERENCES UTF-8 ALL", "a CANCELUPDATE \"t\"",
};

TEST(CommandTable, EveryParsedCommandHasExactlyOneEntry) {
  std::set<std::string> parsed;
  for (const char* line : kSamples) {
    auto cmd = pi::parse_command(line);
    ASSERT_TRUE(cmd) << line << ": " << cmd.error().message;
    EXPECT_FALSE(std::holds_alternative<pi::Unknown>(cmd->args)) << line;
    parsed.insert(cmd->name);
    int entries = 0;
    for (const auto& e : command_table()) entries += e.name == cmd->name ? 1 : 0;
    EXPECT_EQ(entries, 1) << cmd->name;
    ASSERT_NE(find_command(cmd->name), nullptr) << cmd->name;
  }
  // And nothing in the table the parser does not know (an entry its samples miss).
  for (const auto& e : command_table()) EXPECT_TRUE(parsed.contains(std::string(e.name))) << e.name;
  EXPECT_EQ(parsed.size(), command_table().size());
  EXPECT_EQ(find_command("GETMETADATA"), nullptr);
}

TEST(CommandTable, EveryEntryHasOneHandlerAndAState) {
  for (const auto& e : command_table()) {
    EXPECT_NE(e.tagged == nullptr, e.direct == nullptr) << e.name;
    EXPECT_NE(e.states, 0) << e.name;
    EXPECT_EQ(e.has(cmdflag::kUid), e.name.starts_with("UID ")) << e.name;
    EXPECT_FALSE(e.has(cmdflag::kUid) && e.has(cmdflag::kBySequence)) << e.name;
  }
}

// The replies of the session before the table (the if-chains of imap_session.cpp), per state.
TEST(CommandTable, WrongStateRepliesAreUnchanged) {
  const std::set<std::string> any = {"CAPABILITY", "NOOP", "LOGOUT", "ID"};
  const std::set<std::string> pre_auth = {"STARTTLS", "AUTHENTICATE", "LOGIN"};
  const std::set<std::string> selected = {"CHECK",       "CLOSE",     "UNSELECT",   "EXPUNGE",     "UID EXPUNGE",
                                          "FETCH",       "UID FETCH", "STORE",      "UID STORE",   "COPY",
                                          "UID COPY",    "MOVE",      "UID MOVE",   "REPLACE",     "UID REPLACE",
                                          "SEARCH",      "UID SEARCH", "SORT",      "UID SORT",    "THREAD",
                                          "UID THREAD",  "CANCELUPDATE"};
  for (const auto& e : command_table()) {
    const std::string name(e.name);
    SCOPED_TRACE(name);
    if (any.contains(name)) {
      for (S s : {S::kNotAuthenticated, S::kAuthenticated, S::kSelected}) EXPECT_EQ(refusal(&e, s), "");
    } else if (pre_auth.contains(name)) {
      EXPECT_EQ(refusal(&e, S::kNotAuthenticated), "");
      const std::string_view after = name == "STARTTLS" ? "STARTTLS not available" : "Already authenticated";
      EXPECT_EQ(refusal(&e, S::kAuthenticated), after);
      EXPECT_EQ(refusal(&e, S::kSelected), after);
    } else if (selected.contains(name)) {
      EXPECT_EQ(refusal(&e, S::kNotAuthenticated), "Unknown command or not available");
      EXPECT_EQ(refusal(&e, S::kAuthenticated), "No mailbox selected");
      EXPECT_EQ(refusal(&e, S::kSelected), "");
      EXPECT_TRUE(e.needs_store());
    } else {  // the authenticated state
      EXPECT_EQ(refusal(&e, S::kNotAuthenticated), "Unknown command or not available");
      EXPECT_EQ(refusal(&e, S::kAuthenticated), "");
      EXPECT_EQ(refusal(&e, S::kSelected), "");
    }
  }
  for (S s : {S::kNotAuthenticated, S::kAuthenticated, S::kSelected}) {
    EXPECT_EQ(refusal(nullptr, s), "Unknown command or not available");
  }
  // IDLE and COMPRESS answer for themselves and never needed the store; NOOP and ID work without it.
  for (const char* name : {"IDLE", "COMPRESS", "NOOP", "ID", "LOGIN"}) EXPECT_FALSE(find_command(name)->needs_store()) << name;
  for (const char* name : {"LIST", "SELECT", "ENABLE", "FETCH"}) EXPECT_TRUE(find_command(name)->needs_store()) << name;
}

// [RFC 9051 §7.5.1]: no EXPUNGE at the end of FETCH, STORE, SEARCH (and SORT, THREAD) by sequence
// number; their UID forms, and every other command, may announce one.
TEST(CommandTable, BySequenceRule) {
  const std::set<std::string> by_sequence = {"FETCH", "STORE", "SEARCH", "SORT", "THREAD"};
  for (const auto& e : command_table()) {
    EXPECT_EQ(e.has(cmdflag::kBySequence), by_sequence.contains(std::string(e.name))) << e.name;
  }
  EXPECT_TRUE(find_command("FETCH")->has(cmdflag::kBySequence));
  EXPECT_FALSE(find_command("UID FETCH")->has(cmdflag::kBySequence));
  EXPECT_TRUE(find_command("UID FETCH")->has(cmdflag::kUid));
}

TEST(CommandTable, ReadWriteCommands) {
  const std::set<std::string> writing = {"EXPUNGE", "UID EXPUNGE", "STORE",   "UID STORE",
                                         "MOVE",    "UID MOVE",    "REPLACE", "UID REPLACE"};
  for (const auto& e : command_table()) {
    EXPECT_EQ(e.has(cmdflag::kReadWrite), writing.contains(std::string(e.name))) << e.name;
  }
}

}  // namespace
}  // namespace posthorn::server::imap
