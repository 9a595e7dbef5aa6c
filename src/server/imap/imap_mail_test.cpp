// In-process tests of the authenticated and selected IMAP states: the real session over the test
// harness (Listener, Authenticator, TLS on 127.0.0.1) with a real SqliteMailStore in a temp folder,
// driven by blocking clients. Two clients on one account check that changes reach other sessions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/blocking_pool.hpp"
#include "server/imap/imap_session.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "base/run_sync.hpp"
#include "tests/harness/harness.hpp"

namespace posthorn::server::imap {
namespace {

namespace fs = std::filesystem;
using testing::Client;
using testing::Harness;

constexpr const char* kUser = "demo@example.test";
constexpr const char* kPassword = "correct horse battery";

class MailServer {
 public:
  explicit MailServer(uint32_t append_limit = 1 << 20, uint32_t max_append_messages = 3) {
    static std::atomic<int> n{0};
    dir_ = fs::temp_directory_path() / ("posthorn_imap_mail_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(dir_);
    harness_.add_user(kUser, kPassword);
    auto opened = store::sqlite::SqliteMailStore::open(dir_, pool_);
    if (!opened) throw std::runtime_error(opened.error().message);
    store_ = std::move(*opened);
    auto cfg = std::make_shared<config::Config>(*harness_.config());
    cfg->imap.max_message_size = append_limit;
    cfg->imap.max_append_messages = max_append_messages;
    ImapContext ctx{.config = cfg,
                    .listener = config::Listener{.name = "imap-test", .protocol = Proto::kImap, .address = "127.0.0.1",
                                                 .port = 0, .tls = config::TlsMode::kStartTls, .sasl_mechanisms = {}},
                    .auth = &harness_.authenticator(),
                    .tls = harness_.tls(),
                    .store = store_.get(),
                    .keywords = &keywords_};
    port_ = harness_.listen(Proto::kImap, config::TlsMode::kStartTls,
                            [ctx](net::Accepted accepted) { return run_session(std::move(accepted), ctx); });
  }
  ~MailServer() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The account's storage quota (bytes, 0 = unlimited), read at the next login.
  void set_quota(uint64_t bytes) {
    auto r = run_sync(harness_.directory().set_quota(kUser, bytes));
    if (!r) throw std::runtime_error(r.error().message);
  }

  // A logged-in client.
  std::unique_ptr<Client> login() {
    auto c = std::make_unique<Client>(port_);
    c->read_line();
    c->send_line(std::string("L LOGIN ") + kUser + " \"" + kPassword + "\"");
    auto lines = c->read_until("L ");
    EXPECT_TRUE(lines.back().starts_with("L OK ")) << lines.back();
    return c;
  }

 private:
  // Destroyed in reverse order: the harness (and with it every session) before the store, the
  // store before its pool.
  fs::path dir_;
  BlockingPool pool_{2};
  std::unique_ptr<store::sqlite::SqliteMailStore> store_;
  MailboxKeywords keywords_;
  Harness harness_;
  uint16_t port_ = 0;
};

// Sends a command; returns every line up to and including the tagged reply.
std::vector<std::string> run(Client& c, const std::string& tag, const std::string& text) {
  c.send_line(tag + " " + text);
  return c.read_until(tag + " ");
}

bool has_line(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// APPENDs `message` (with a synchronizing literal) and returns the tagged reply.
std::string append(Client& c, const std::string& tag, const std::string& mailbox, const std::string& message,
                   const std::string& flags = "") {
  c.send_line(tag + " APPEND " + mailbox + (flags.empty() ? "" : " " + flags) + " {" + std::to_string(message.size()) + "}");
  const std::string cont = c.read_line();
  if (!cont.starts_with("+ ")) return cont;
  c.send(message);
  c.send("\r\n");
  return c.read_until(tag + " ").back();
}

const std::string kMessage =
    "From: Alice <alice@example.test>\r\n"
    "To: demo@example.test\r\n"
    "Subject: Hello\r\n"
    "Message-ID: <1@example.test>\r\n"
    "\r\n"
    "Hi there.\r\n";

TEST(ImapMail, CapabilitiesAfterLogin) {
  MailServer server;
  auto c = server.login();
  auto lines = run(*c, "a", "CAPABILITY");
  const std::string caps = lines[0] + " ";
  for (const char* cap : {"IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "LIST-STATUS", "SPECIAL-USE",
                          "APPENDLIMIT=1048576", "MULTIAPPEND", "BINARY", "UNSELECT", "NAMESPACE", "ENABLE"}) {
    EXPECT_NE(caps.find(std::string(" ") + cap + " "), std::string::npos) << cap << " in " << caps;
  }
  for (const char* cap : {"ESEARCH", "SEARCHRES", "CONTEXT=SEARCH", "SORT", "SORT=DISPLAY", "ESORT",
                          "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "WITHIN", "PARTIAL"}) {
    EXPECT_NE(caps.find(std::string(" ") + cap + " "), std::string::npos) << cap << " in " << caps;
  }
}

// RFC 3501 §6.3.8 / RFC 9051 §6.3.9: a LIST pattern is list-mailbox syntax, not a mailbox name; one
// that is not valid modified UTF-7 (a bare "&") is matched as written: OK, and here nothing matches.
TEST(ImapMail, ListPatternWithBareAmpersandIsMatchedLiterallyRfc3501Sec6_3_8) {
  MailServer server;
  auto c = server.login();
  EXPECT_EQ(run(*c, "a", "CREATE a&-b").back(), "a OK CREATE completed");
  for (const std::string& pattern : {std::string("!#$&'+,-.0123456789:;<=>?@^_`|[}%*"),
                                    std::string("\"!#$&'+,-.0123456789:;<=>?@^_`|[}%*\""), std::string("&"),
                                    std::string("\"&AGE\"")}) {
    auto lines = run(*c, "b", "LIST \"\" " + pattern);
    ASSERT_EQ(lines.size(), 1u) << pattern << "\n" << joined(lines);
    EXPECT_EQ(lines.back(), "b OK LIST completed") << pattern;
  }
  // Valid modified UTF-7 is still decoded: "a&-*" matches the mailbox named "a&b".
  auto lines = run(*c, "c", "LIST \"\" a&-*");
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren) \"/\" a&-b")) << joined(lines);
  lines = run(*c, "d", "LSUB \"\" a&*");
  EXPECT_EQ(lines.back(), "d OK LSUB completed") << joined(lines);
}

TEST(ImapMail, ListShowsDefaultMailboxesWithAttributes) {
  MailServer server;
  auto c = server.login();
  auto lines = run(*c, "a", "LIST \"\" *");
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren) \"/\" INBOX")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren \\Sent) \"/\" Sent")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren \\Trash) \"/\" Trash")) << joined(lines);
  EXPECT_EQ(lines.back(), "a OK LIST completed");
  lines = run(*c, "b", "LIST \"\" \"\"");
  EXPECT_EQ(lines[0], "* LIST (\\Noselect) \"/\" \"\"");
  lines = run(*c, "c", "LIST (SPECIAL-USE) \"\" * RETURN (STATUS (MESSAGES UNSEEN SIZE))");
  EXPECT_FALSE(has_line(lines, "* LIST (\\HasNoChildren) \"/\" INBOX"));
  EXPECT_TRUE(has_line(lines, "* STATUS Sent (MESSAGES 0 UNSEEN 0 SIZE 0)")) << joined(lines);
  lines = run(*c, "d", "NAMESPACE");
  EXPECT_EQ(lines[0], "* NAMESPACE ((\"\" \"/\")) NIL NIL");
}

TEST(ImapMail, CreateRenameDeleteSubscribe) {
  MailServer server;
  auto c = server.login();
  EXPECT_EQ(run(*c, "a", "CREATE Projects/2026").back(), "a OK CREATE completed");
  EXPECT_TRUE(run(*c, "b", "CREATE Projects/2026").back().starts_with("b NO [ALREADYEXISTS] "));
  auto lines = run(*c, "c", "LIST \"\" Projects*");
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasChildren) \"/\" Projects")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren) \"/\" Projects/2026")) << joined(lines);
  lines = run(*c, "c2", "LIST \"\" %");
  EXPECT_FALSE(has_line(lines, "* LIST (\\HasNoChildren) \"/\" Projects/2026"));
  EXPECT_EQ(run(*c, "d", "RENAME Projects Work").back(), "d OK RENAME completed");
  lines = run(*c, "e", "LIST Work *");
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren) \"/\" Work/2026")) << joined(lines);
  EXPECT_EQ(run(*c, "f", "SUBSCRIBE Work/2026").back(), "f OK SUBSCRIBE completed");
  lines = run(*c, "g", "LSUB \"\" *");
  EXPECT_TRUE(has_line(lines, "* LSUB () \"/\" Work/2026")) << joined(lines);
  lines = run(*c, "g2", "LIST (SUBSCRIBED) \"\" Work*");
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren \\Subscribed) \"/\" Work/2026")) << joined(lines);
  EXPECT_EQ(run(*c, "h", "DELETE Work/2026").back(), "h OK DELETE completed");
  EXPECT_TRUE(run(*c, "i", "DELETE Nope").back().starts_with("i NO [NONEXISTENT]"));
  EXPECT_TRUE(run(*c, "j", "DELETE INBOX").back().starts_with("j NO "));
  EXPECT_TRUE(run(*c, "k", "SELECT Nope").back().starts_with("k NO [NONEXISTENT]"));
  // Modified UTF-7 in and out; invalid mUTF-7 refused.
  EXPECT_EQ(run(*c, "l", "CREATE Entw&APw-rfe").back(), "l OK CREATE completed");
  lines = run(*c, "m", "LIST \"\" Entw*");
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe")) << joined(lines);
  EXPECT_TRUE(run(*c, "n", "CREATE &AGE-").back().starts_with("n NO [CANNOT]"));
  EXPECT_TRUE(run(*c, "o", "CREATE ../x").back().starts_with("o NO [CANNOT]"));
  // CREATE-SPECIAL-USE.
  EXPECT_EQ(run(*c, "p", "CREATE Later (USE (\\Archive))").back(), "p OK CREATE completed");
  EXPECT_TRUE(run(*c, "q", "CREATE Odd (USE (\\Bogus))").back().starts_with("q NO [USEATTR]"));
}

// RFC 3501 §6.3.9: LSUB with "%" lists an unsubscribed parent of a subscribed mailbox, which the
// pattern does not reach, with \Noselect; existing or not, and not when "*" lists the child.
TEST(ImapMail, LsubPercentListsUnsubscribedParentsAsNoselect_Rfc3501_6_3_9) {
  MailServer server;
  auto c = server.login();
  run(*c, "a", "CREATE top/mid/leaf");
  run(*c, "a2", "CREATE top-sibling");
  run(*c, "b", "SUBSCRIBE top/mid/leaf");
  run(*c, "b2", "SUBSCRIBE ghost/child");  // neither exists
  auto lines = run(*c, "c", "LSUB \"\" %");
  EXPECT_TRUE(has_line(lines, "* LSUB (\\Noselect) \"/\" top")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* LSUB (\\Noselect) \"/\" ghost")) << joined(lines);
  EXPECT_FALSE(has_line(lines, "* LSUB (\\Noselect) \"/\" top-sibling")) << joined(lines);
  lines = run(*c, "d", "LSUB \"\" top/%");
  EXPECT_TRUE(has_line(lines, "* LSUB (\\Noselect) \"/\" top/mid")) << joined(lines);
  EXPECT_EQ(lines.size(), 2u) << joined(lines);
  lines = run(*c, "e", "LSUB \"\" top*");
  EXPECT_EQ(joined(lines), "* LSUB () \"/\" top/mid/leaf\ne OK LSUB completed\n");
  // A subscribed parent is listed as itself.
  run(*c, "f", "SUBSCRIBE top");
  lines = run(*c, "g", "LSUB \"\" top");
  EXPECT_EQ(joined(lines), "* LSUB () \"/\" top\ng OK LSUB completed\n");
}

// RFC 5258 §3.5 (and its examples, as Dovecot): with RECURSIVEMATCH a parent gets CHILDINFO only
// for a subscribed descendant that is not itself listed by one of the patterns.
TEST(ImapMail, RecursiveMatchChildInfoOnlyForUnlistedChildren_Rfc5258_3_5) {
  MailServer server;
  auto c = server.login();
  run(*c, "a", "CREATE box/test2/test1");
  run(*c, "a2", "CREATE box/test8/test8");
  run(*c, "a3", "CREATE box/test8/test9");
  run(*c, "b", "SUBSCRIBE box/test2/test1");
  run(*c, "b2", "SUBSCRIBE box/test8/test8");
  run(*c, "b3", "SUBSCRIBE box/test8/test9");
  auto lines = run(*c, "c", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (box/test2)");
  EXPECT_EQ(joined(lines), "* LIST (\\HasChildren) \"/\" box/test2 (\"CHILDINFO\" (\"SUBSCRIBED\"))\nc OK LIST completed\n");
  lines = run(*c, "d", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (box/test2 box/test2/test1)");
  EXPECT_EQ(joined(lines), "* LIST (\\HasNoChildren \\Subscribed) \"/\" box/test2/test1\nd OK LIST completed\n");
  // One child listed, another not: CHILDINFO still.
  lines = run(*c, "e", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" box*test8");
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasChildren) \"/\" box/test8 (\"CHILDINFO\" (\"SUBSCRIBED\"))")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* LIST (\\HasNoChildren \\Subscribed) \"/\" box/test8/test8")) << joined(lines);
}

// RFC 7162 §3.1: FETCH (MODSEQ), FETCH (CHANGEDSINCE) and the other CONDSTORE-enabling commands
// send * OK [HIGHESTMODSEQ] once, when they turn CONDSTORE on with a mailbox selected.
TEST(ImapMail, CondstoreEnablingFetchSendsHighestModseq_Rfc7162_3_1) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  ASSERT_TRUE(append(*a, "a0", "INBOX", kMessage).starts_with("a0 OK"));
  run(*a, "a1", "SELECT INBOX");
  run(*b, "b1", "SELECT INBOX");
  run(*a, "s", "STATUS Sent (UIDNEXT)");  // not CONDSTORE-enabling
  auto lines = run(*a, "a2", "FETCH 1 (MODSEQ)");
  ASSERT_GE(lines.size(), 3u) << joined(lines);
  EXPECT_TRUE(lines[0].starts_with("* OK [HIGHESTMODSEQ ") && lines[0].ends_with("] Highest")) << joined(lines);
  EXPECT_TRUE(lines[1].starts_with("* 1 FETCH (MODSEQ (")) << joined(lines);
  lines = run(*a, "a3", "FETCH 1 (MODSEQ)");
  EXPECT_EQ(lines.size(), 2u) << joined(lines);
  lines = run(*b, "b2", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)");
  EXPECT_TRUE(lines[0].starts_with("* OK [HIGHESTMODSEQ ")) << joined(lines);
}

TEST(ImapMail, AppendSelectFetchRoundTrip) {
  MailServer server;
  auto c = server.login();
  const std::string reply = append(*c, "a", "INBOX", kMessage, "(\\Flagged $Work) \" 7-Jul-2026 10:00:00 +0200\"");
  EXPECT_TRUE(reply.starts_with("a OK [APPENDUID ") && reply.ends_with(" 1] APPEND completed")) << reply;
  auto lines = run(*c, "b", "SELECT INBOX");
  EXPECT_TRUE(has_line(lines, "* 1 EXISTS")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* 1 RECENT")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* OK [UIDNEXT 2] Predicted next UID")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* OK [UNSEEN 1] First unseen")) << joined(lines);
  EXPECT_EQ(lines.back(), "b OK [READ-WRITE] SELECT completed");
  lines = run(*c, "c", "FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE UID)");
  EXPECT_EQ(lines[0], "* 1 FETCH (FLAGS (\\Flagged \\Recent $Work) INTERNALDATE \"07-Jul-2026 08:00:00 +0000\" RFC822.SIZE " +
                          std::to_string(kMessage.size()) + " UID 1)");
  lines = run(*c, "d", "FETCH 1 ENVELOPE");
  EXPECT_EQ(lines[0],
            "* 1 FETCH (ENVELOPE (NIL \"Hello\" ((\"Alice\" NIL \"alice\" \"example.test\")) ((\"Alice\" NIL \"alice\" "
            "\"example.test\")) ((\"Alice\" NIL \"alice\" \"example.test\")) ((NIL NIL \"demo\" \"example.test\")) NIL "
            "NIL NIL \"<1@example.test>\"))");
  // BODY.PEEK does not set \Seen; a partial range; header fields.
  lines = run(*c, "e", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.2>)");
  EXPECT_EQ(joined(lines), "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\nSubject: Hello\n\n BODY[TEXT]<0> {2}\nHi)\ne OK FETCH completed\n");
  lines = run(*c, "f", "FETCH 1 FLAGS");
  EXPECT_EQ(lines[0], "* 1 FETCH (FLAGS (\\Flagged \\Recent $Work))");
  // BODY[] sets \Seen and says so.
  lines = run(*c, "g", "UID FETCH 1 BODY[]");
  EXPECT_EQ(lines[0], "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Seen \\Recent $Work) BODY[] {" + std::to_string(kMessage.size()) + "}");
  EXPECT_EQ(lines.back(), "g OK FETCH completed");
  lines = run(*c, "h", "FETCH 1 (BODYSTRUCTURE)");
  EXPECT_EQ(lines[0], "* 1 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1 NIL NIL NIL NIL))");
  EXPECT_TRUE(run(*c, "i", "FETCH 2 FLAGS").back().starts_with("i BAD "));
  EXPECT_EQ(run(*c, "j", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1000)").back(), "j OK FETCH completed");
  lines = run(*c, "k", "FETCH 1 (BINARY.SIZE[1] BINARY[1])");
  EXPECT_EQ(lines[0], "* 1 FETCH (BINARY.SIZE[1] 11 BINARY[1] {11}");
  lines = run(*c, "l", "SEARCH ALL");
  EXPECT_EQ(joined(lines), "* SEARCH 1\nl OK SEARCH completed\n");
}

// RFC 3501 §9 / RFC 9051 §4.3: a literal carries no NUL, and BODY[] and RFC822* are never a literal8
// [RFC 9051 §7.5.2]: a NUL of the message goes out as 0x80 (as Dovecot does), the length unchanged.
// BINARY data holding NUL goes in a literal8 "~{n}" with the exact octets [RFC 3516 §4.3], judged on
// the octets a partial range sends.
TEST(ImapMail, FetchOfDataWithNulUsesNoNulLiteralOrLiteral8_Rfc3516_4_3) {
  MailServer server;
  auto c = server.login();
  const std::string body("\0-\xe4\r\n\0\r\n", 8);
  const std::string msg = "From: a@example.test\r\nSubject: nul\r\nMIME-Version: 1.0\r\n"
                          "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + body;
  c->send_line("a APPEND INBOX ~{" + std::to_string(msg.size()) + "}");
  ASSERT_TRUE(c->read_line().starts_with("+ "));
  c->send(msg);
  c->send("\r\n");
  ASSERT_TRUE(c->read_until("a ").back().starts_with("a OK ")) << "literal8 APPEND";
  run(*c, "b", "SELECT INBOX");
  const std::string masked("\x80-\xe4\n\x80\n", 6);  // body as lines, NUL as 0x80
  auto lines = run(*c, "c", "FETCH 1 (BODY.PEEK[1])");
  EXPECT_EQ(joined(lines), "* 1 FETCH (BODY[1] {8}\n" + masked + ")\nc OK FETCH completed\n");
  lines = run(*c, "d", "FETCH 1 (BODY.PEEK[TEXT]<3.3>)");
  EXPECT_EQ(joined(lines), "* 1 FETCH (BODY[TEXT]<3> {3}\n\n\x80)\nd OK FETCH completed\n");
  lines = run(*c, "e", "FETCH 1 (BODY.PEEK[])");
  EXPECT_EQ(lines[0], "* 1 FETCH (BODY[] {" + std::to_string(msg.size()) + "}");
  EXPECT_EQ(joined(lines).find('\0'), std::string::npos) << joined(lines);
  EXPECT_NE(joined(lines).find(masked), std::string::npos) << joined(lines);
  lines = run(*c, "f", "FETCH 1 (RFC822.TEXT)");
  EXPECT_EQ(lines[0], "* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822.TEXT {8}");
  EXPECT_EQ(joined(lines).find('\0'), std::string::npos) << joined(lines);
  lines = run(*c, "g", "FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])");
  EXPECT_EQ(joined(lines), "* 1 FETCH (BINARY[1] ~{8}\n" + std::string("\0-\xe4\n\0\n", 6) +
                               " BINARY.SIZE[1] 8)\ng OK FETCH completed\n");
  // A partial range without NUL is a plain literal; one with NUL a literal8.
  lines = run(*c, "h", "FETCH 1 (BINARY.PEEK[1]<1.2> BINARY.PEEK[1]<3.3>)");
  EXPECT_EQ(joined(lines), "* 1 FETCH (BINARY[1]<1> {2}\n-\xe4 BINARY[1]<3> ~{3}\n\n" + std::string(1, '\0') +
                               ")\nh OK FETCH completed\n");
}

// A message with the given subject, sender and body.
std::string message(const std::string& subject, const std::string& from, const std::string& body,
                    const std::string& extra = "") {
  return "From: " + from + "\r\nTo: demo@example.test\r\nSubject: " + subject + "\r\n" + extra + "\r\n" + body + "\r\n";
}

TEST(ImapMail, SearchSortThreadAndEsearch) {
  MailServer server;
  auto c = server.login();
  ASSERT_TRUE(append(*c, "a1", "INBOX", message("beta", "Zed <z@example.test>", "Grüße aus Köln",
                                                 "Message-ID: <a@x>\r\nContent-Type: text/plain; charset=utf-8\r\n"),
                     "(\\Seen)").starts_with("a1 OK"));
  ASSERT_TRUE(append(*c, "a2", "INBOX", message("Re: beta", "Amy <a@example.test>", "a reply",
                                                 "Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n")).starts_with("a2 OK"));
  ASSERT_TRUE(append(*c, "a3", "INBOX", message("alpha", "Bob <b@example.test>", "something else"),
                     "(\\Flagged)").starts_with("a3 OK"));
  run(*c, "s", "SELECT INBOX");
  EXPECT_EQ(run(*c, "b", "SEARCH UNSEEN")[0], "* SEARCH 2 3");
  EXPECT_EQ(run(*c, "c", "UID SEARCH FLAGGED")[0], "* SEARCH 3");
  // Body search with i;unicode-casemap folding, decoded from UTF-8.
  EXPECT_EQ(run(*c, "d2", "SEARCH CHARSET UTF-8 BODY \"köln\"")[0], "* SEARCH 1");
  EXPECT_EQ(run(*c, "e", "SEARCH OR FROM amy SUBJECT alpha")[0], "* SEARCH 2 3");
  EXPECT_EQ(run(*c, "f", "SEARCH NOT 2:3")[0], "* SEARCH 1");
  EXPECT_TRUE(run(*c, "g", "SEARCH CHARSET KOI8-R ALL").back().starts_with("g NO [BADCHARSET"));
  EXPECT_TRUE(run(*c, "h", "SEARCH FROBNICATE").back().starts_with("h BAD "));
  // ESEARCH with a correlator [RFC 4731].
  EXPECT_EQ(run(*c, "i", "SEARCH RETURN (MIN MAX COUNT) ALL")[0], "* ESEARCH (TAG \"i\") MIN 1 MAX 3 COUNT 3");
  EXPECT_EQ(run(*c, "j", "UID SEARCH RETURN () UNSEEN")[0], "* ESEARCH (TAG \"j\") UID ALL 2:3");
  // SORT, ESORT, THREAD [RFC 5256, RFC 5267].
  EXPECT_EQ(run(*c, "k", "SORT (SUBJECT) UTF-8 ALL")[0], "* SORT 3 1 2");
  EXPECT_EQ(run(*c, "l", "SORT (REVERSE DISPLAYFROM) UTF-8 ALL")[0], "* SORT 1 3 2");
  EXPECT_EQ(run(*c, "m", "SORT RETURN (MIN MAX) (SUBJECT) UTF-8 ALL")[0], "* ESEARCH (TAG \"m\") MIN 3 MAX 2");
  EXPECT_EQ(run(*c, "n", "THREAD REFERENCES UTF-8 ALL")[0], "* THREAD (1 2)(3)");
  EXPECT_EQ(run(*c, "o", "THREAD ORDEREDSUBJECT UTF-8 ALL")[0], "* THREAD (1 2)(3)");
  EXPECT_TRUE(run(*c, "p", "THREAD X-UNKNOWN UTF-8 ALL").back().starts_with("p BAD "));
  // After ENABLE IMAP4rev2 a plain SEARCH answers ESEARCH [RFC 9051 §6.4.4].
  run(*c, "q", "ENABLE IMAP4rev2");
  EXPECT_EQ(run(*c, "r", "SEARCH FLAGGED")[0], "* ESEARCH (TAG \"r\") ALL 3");
}

TEST(ImapMail, SearchResSavesAResultForLaterCommands) {
  MailServer server;
  auto c = server.login();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(append(*c, "p" + std::to_string(i), "INBOX", kMessage).starts_with("p"));
  run(*c, "s", "SELECT INBOX");
  // RETURN (SAVE) alone sends no ESEARCH [RFC 5182 §2.1].
  EXPECT_EQ(joined(run(*c, "a", "SEARCH RETURN (SAVE) 2:3")), "a OK SEARCH completed\n");
  EXPECT_EQ(run(*c, "b", "FETCH $ (UID)")[0], "* 2 FETCH (UID 2)");
  EXPECT_EQ(run(*c, "c", "STORE $ +FLAGS.SILENT (\\Deleted)").back(), "c OK STORE completed");
  EXPECT_EQ(run(*c, "d", "SEARCH DELETED")[0], "* SEARCH 2 3");
  EXPECT_EQ(run(*c, "e", "SEARCH UID $")[0], "* SEARCH 2 3");
  // MIN alone saves only the minimum [RFC 5182 §2.4].
  run(*c, "f", "SEARCH RETURN (SAVE MIN) ALL");
  EXPECT_EQ(run(*c, "g", "UID SEARCH $")[0], "* SEARCH 1");
  // A failed SAVE search empties "$".
  EXPECT_TRUE(run(*c, "h", "SEARCH RETURN (SAVE) FROBNICATE").back().starts_with("h BAD"));
  EXPECT_EQ(run(*c, "i", "SEARCH $")[0], "* SEARCH");
  // Expunged messages drop out of "$".
  run(*c, "j", "SEARCH RETURN (SAVE) DELETED");
  run(*c, "k", "EXPUNGE");
  EXPECT_EQ(run(*c, "l", "SEARCH $")[0], "* SEARCH");
  // "$" belongs to the selected mailbox: gone after a new SELECT.
  run(*c, "m", "SEARCH RETURN (SAVE) ALL");
  run(*c, "n", "SELECT INBOX");
  EXPECT_EQ(run(*c, "o", "SEARCH $")[0], "* SEARCH");
}

TEST(ImapMail, ContextSearchUpdatesFollowOtherSessions) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*a, "p" + std::to_string(i), "INBOX", kMessage).starts_with("p"));
  run(*a, "s", "SELECT INBOX");
  run(*b, "s", "SELECT INBOX");
  EXPECT_EQ(run(*a, "B01", "UID SEARCH RETURN (UPDATE) UNSEEN")[0], "* ESEARCH (TAG \"B01\") UID ALL 1:3");
  // Another session marks message 2 seen and appends a new message: REMOVEFROM and ADDTO.
  run(*b, "b1", "STORE 2 +FLAGS (\\Seen)");
  ASSERT_TRUE(append(*b, "b2", "INBOX", kMessage).starts_with("b2 OK"));
  auto lines = run(*a, "n1", "NOOP");
  EXPECT_TRUE(has_line(lines, "* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 2)")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* ESEARCH (TAG \"B01\") UID ADDTO (0 4)")) << joined(lines);
  // Another session's expunge of a message in the result: REMOVEFROM, numbered as before the
  // expunge, then the EXPUNGE [RFC 5267 §4.3]. Not while FETCH by number holds the expunge back.
  run(*b, "b3", "STORE 3 +FLAGS (\\Deleted)");
  run(*b, "b4", "EXPUNGE");
  lines = run(*a, "f1", "FETCH 1 UID");
  for (const auto& l : lines) EXPECT_EQ(l.find("REMOVEFROM"), std::string::npos) << joined(lines);
  lines = run(*a, "n2", "NOOP");
  EXPECT_EQ(joined(lines), "* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 3)\n* 3 EXPUNGE\nn2 OK NOOP completed\n");
  // The session's own EXPUNGE, by sequence number: the number before the expunge.
  EXPECT_EQ(run(*a, "B02", "SEARCH RETURN (UPDATE) ALL")[0], "* ESEARCH (TAG \"B02\") ALL 1:3");
  run(*a, "a1", "STORE 2 +FLAGS.SILENT (\\Deleted)");
  lines = run(*a, "a2", "EXPUNGE");
  EXPECT_EQ(joined(lines), "* ESEARCH (TAG \"B02\") REMOVEFROM (0 2)\n* 2 EXPUNGE\na2 OK EXPUNGE completed\n");
  run(*a, "c0", "CANCELUPDATE \"B02\"");
  // After CANCELUPDATE nothing more is sent.
  EXPECT_EQ(run(*a, "c", "CANCELUPDATE \"B01\"").back(), "c OK CANCELUPDATE completed");
  ASSERT_TRUE(append(*b, "b5", "INBOX", kMessage).starts_with("b5 OK"));
  lines = run(*a, "n3", "NOOP");
  for (const auto& l : lines) EXPECT_EQ(l.find("ESEARCH"), std::string::npos) << joined(lines);
  // The number of updated searches is bounded: the ninth gets NOUPDATE but its result.
  for (int i = 0; i < 8; ++i) run(*a, "U" + std::to_string(i), "SEARCH RETURN (UPDATE) ALL");
  lines = run(*a, "U8", "SEARCH RETURN (UPDATE) ALL");
  EXPECT_TRUE(has_line(lines, "* NO [NOUPDATE \"U8\"] Too many searches are being updated")) << joined(lines);
  EXPECT_TRUE(lines[0].starts_with("* ESEARCH (TAG \"U8\") ALL ")) << joined(lines);
}

TEST(ImapMail, AppendLimitsAtNAndNPlusOne) {
  MailServer server(2000);
  auto c = server.login();
  const std::string at_limit = "Subject: x\r\n\r\n" + std::string(2000 - 14, 'a');
  ASSERT_EQ(at_limit.size(), 2000u);
  EXPECT_TRUE(append(*c, "a", "INBOX", at_limit).starts_with("a OK [APPENDUID "));
  // N+1: refused before the literal is sent, and the connection carries on.
  c->send_line("b APPEND INBOX {2001}");
  EXPECT_TRUE(c->read_line().starts_with("b NO [TOOBIG]"));
  EXPECT_EQ(run(*c, "c", "NOOP").back(), "c OK NOOP completed");
  // To a mailbox that does not exist: TRYCREATE.
  EXPECT_TRUE(append(*c, "d", "Nowhere", kMessage).starts_with("d NO [TRYCREATE]"));
  // MULTIAPPEND at the message-count limit (3) and above it.
  c->send("e APPEND INBOX {3+}\r\nA\r\n {3+}\r\nB\r\n {3+}\r\nC\r\n\r\n");
  auto reply = c->read_until("e ").back();
  EXPECT_TRUE(reply.starts_with("e OK [APPENDUID ") && reply.ends_with(" 2:4] APPEND completed")) << reply;
  c->send("f APPEND INBOX {1+}\r\nA {1+}\r\nB {1+}\r\nC {1+}\r\nD\r\n");
  EXPECT_TRUE(c->read_until("f ").back().starts_with("f NO [LIMIT]"));
  // STATUS with APPENDLIMIT and SIZE.
  auto lines = run(*c, "g", "STATUS INBOX (MESSAGES UIDNEXT APPENDLIMIT)");
  EXPECT_EQ(lines[0], "* STATUS INBOX (MESSAGES 4 UIDNEXT 5 APPENDLIMIT 2000)");
}

TEST(ImapMail, FlagChangesReachTheOtherSession) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  ASSERT_TRUE(append(*a, "a1", "INBOX", kMessage).starts_with("a1 OK"));
  run(*a, "a2", "SELECT INBOX");
  run(*b, "b1", "SELECT INBOX");
  auto lines = run(*a, "a3", "STORE 1 +FLAGS (\\Answered)");
  EXPECT_EQ(lines[0], "* 1 FETCH (FLAGS (\\Answered \\Recent))");
  lines = run(*b, "b2", "NOOP");
  EXPECT_TRUE(has_line(lines, "* 1 FETCH (FLAGS (\\Answered))")) << joined(lines);
  // Own changes are not echoed back at the next command.
  lines = run(*a, "a4", "NOOP");
  EXPECT_EQ(lines.size(), 1u) << joined(lines);
  // New mail appears as EXISTS in both.
  ASSERT_TRUE(append(*b, "b3", "INBOX", kMessage).starts_with("b3 OK"));
  lines = run(*a, "a5", "NOOP");
  EXPECT_TRUE(has_line(lines, "* 2 EXISTS")) << joined(lines);
  // STORE .SILENT in rev1 without CONDSTORE sends nothing.
  lines = run(*a, "a6", "STORE 1:2 +FLAGS.SILENT (\\Seen)");
  EXPECT_EQ(lines.size(), 1u) << joined(lines);
  // Invalid flags are a BAD.
  EXPECT_TRUE(run(*a, "a7", "STORE 1 +FLAGS (\\Bogus)").back().starts_with("a7 BAD"));
  EXPECT_TRUE(run(*a, "a8", "STORE 1 +FLAGS (\\Recent)").back().starts_with("a8 OK"));
}

// RFC 3501 §2.3.2: new mail is \Recent in exactly one session, the first told of it; the other
// selected session and STATUS of a third do not count it.
TEST(ImapMail, RecentGoesToOneSessionOnly_Rfc3501_2_3_2) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  auto c = server.login();
  run(*a, "a1", "SELECT INBOX");
  run(*b, "b1", "SELECT INBOX");
  ASSERT_TRUE(append(*c, "c1", "INBOX", kMessage).starts_with("c1 OK"));
  EXPECT_EQ(run(*c, "c2", "STATUS INBOX (RECENT)")[0], "* STATUS INBOX (RECENT 1)");
  auto lines = run(*a, "a2", "NOOP");
  EXPECT_TRUE(has_line(lines, "* 1 EXISTS")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* 1 RECENT")) << joined(lines);
  lines = run(*b, "b2", "NOOP");
  EXPECT_TRUE(has_line(lines, "* 1 EXISTS")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* 0 RECENT")) << joined(lines);
  EXPECT_EQ(run(*a, "a3", "FETCH 1 FLAGS")[0], "* 1 FETCH (FLAGS (\\Recent))");
  EXPECT_EQ(run(*b, "b3", "FETCH 1 FLAGS")[0], "* 1 FETCH (FLAGS ())");
  EXPECT_EQ(run(*b, "b4", "SEARCH RECENT")[0], "* SEARCH");
  EXPECT_EQ(run(*a, "a4", "SEARCH RECENT")[0], "* SEARCH 1");
  EXPECT_EQ(run(*c, "c3", "STATUS INBOX (RECENT)")[0], "* STATUS INBOX (RECENT 0)");
  // A later SELECT does not see it as recent either.
  lines = run(*c, "c4", "SELECT INBOX");
  EXPECT_TRUE(has_line(lines, "* 0 RECENT")) << joined(lines);
}

// RFC 3501 §7.2.6: a keyword new to the mailbox is announced with FLAGS and PERMANENTFLAGS to
// every session that has it selected, the acting one included, before the FETCH that shows it.
TEST(ImapMail, NewKeywordsAreAnnouncedInFlags_Rfc3501_7_2_6) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  auto c = server.login();
  ASSERT_TRUE(append(*a, "a0", "INBOX", kMessage).starts_with("a0 OK"));
  run(*a, "a1", "SELECT INBOX");
  run(*b, "b1", "SELECT INBOX");
  const std::string base = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  auto lines = run(*a, "a2", "STORE 1 +FLAGS (Work)");
  ASSERT_GE(lines.size(), 4u) << joined(lines);
  EXPECT_EQ(lines[0], "* FLAGS (" + base + " Work)");
  EXPECT_EQ(lines[1], "* OK [PERMANENTFLAGS (" + base + " Work \\*)] Flags permitted");
  EXPECT_EQ(lines[2], "* 1 FETCH (FLAGS (\\Recent Work))");
  lines = run(*b, "b2", "NOOP");
  ASSERT_GE(lines.size(), 4u) << joined(lines);
  EXPECT_EQ(lines[0], "* FLAGS (" + base + " Work)");
  EXPECT_EQ(lines[2], "* 1 FETCH (FLAGS (Work))");
  // Known already: not announced again; .SILENT still announces a new one.
  lines = run(*a, "a3", "STORE 1 -FLAGS (Work)");
  EXPECT_FALSE(lines[0].starts_with("* FLAGS")) << joined(lines);
  lines = run(*a, "a4", "STORE 1 +FLAGS.SILENT (Home)");
  EXPECT_EQ(joined(lines), "* FLAGS (" + base + " Work Home)\n* OK [PERMANENTFLAGS (" + base +
                               " Work Home \\*)] Flags permitted\na4 OK STORE completed\n");
  // A message appended elsewhere with a new keyword: FLAGS before EXISTS.
  ASSERT_TRUE(append(*c, "c1", "INBOX", kMessage, "($Todo)").starts_with("c1 OK"));
  lines = run(*b, "b3", "NOOP");
  ASSERT_GE(lines.size(), 3u) << joined(lines);
  EXPECT_EQ(lines[0], "* FLAGS (" + base + " Work Home $Todo)") << joined(lines);
  EXPECT_EQ(lines[2], "* 2 EXISTS") << joined(lines);
  // The acting session's own APPEND to its selected mailbox: FLAGS before its EXISTS.
  a->send_line("a5 APPEND INBOX (Mine) {" + std::to_string(kMessage.size()) + "}");
  ASSERT_TRUE(a->read_line().starts_with("+ "));
  a->send(kMessage + "\r\n");
  lines = a->read_until("a5 ");
  ASSERT_GE(lines.size(), 4u) << joined(lines);
  EXPECT_EQ(lines[0], "* FLAGS (" + base + " Work Home $Todo Mine)") << joined(lines);
  EXPECT_EQ(lines[2], "* 3 EXISTS") << joined(lines);
  // COPY from another mailbox brings a new keyword: FLAGS before EXISTS.
  ASSERT_TRUE(append(*c, "c2", "Archive", kMessage, "(Copied)").starts_with("c2 OK"));
  run(*c, "c3", "SELECT Archive");
  EXPECT_TRUE(run(*c, "c4", "COPY 1 INBOX").back().starts_with("c4 OK"));
  lines = run(*a, "a6", "NOOP");
  ASSERT_GE(lines.size(), 3u) << joined(lines);
  EXPECT_EQ(lines[0], "* FLAGS (" + base + " Work Home $Todo Mine Copied)") << joined(lines);
  EXPECT_EQ(lines[2], "* 4 EXISTS") << joined(lines);
}

// RFC 9051 §6.4.6 / RFC 3501 §6.4.6: STORE answers with the flags of every message of the set,
// also those that had them already (set by this or, a moment before, by another session: the
// client must not wait for a change notice that may come later or never). .SILENT stays silent.
// RFC 3501 §7.2.6: a keyword stays one of the mailbox's FLAGS for a session that selects it while no
// message carries the keyword any more, as for the sessions selected before. (imaptest's own_flags
// stress: a session not told of a keyword took it for unused and changed it under its owner.)
TEST(ImapMail, SelectListsKeywordsNoMessageCarriesNow_Rfc3501_7_2_6) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  ASSERT_TRUE(append(*a, "a", "INBOX", kMessage).starts_with("a OK"));
  run(*a, "b", "SELECT INBOX");
  EXPECT_EQ(run(*a, "c", "STORE 1 +FLAGS ($Label4)").back(), "c OK STORE completed");
  auto lines = run(*a, "d", "STORE 1 -FLAGS ($Label4)");
  EXPECT_TRUE(has_line(lines, "* 1 FETCH (FLAGS (\\Recent))")) << joined(lines);
  lines = run(*b, "e", "SELECT INBOX");
  EXPECT_TRUE(has_line(lines, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label4)")) << joined(lines);
  // A keyword a STORE only clears is defined as well (the client may look it up in FLAGS).
  EXPECT_EQ(run(*b, "f", "STORE 1 -FLAGS ($Never)").back(), "f OK STORE completed");
  lines = run(*a, "g", "SELECT INBOX");
  EXPECT_TRUE(has_line(lines, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label4 $Never)")) << joined(lines);
}

TEST(ImapMail, StoreReportsFlagsOfUnchangedMessagesToo_Rfc3501_6_4_6) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(append(*a, "p" + std::to_string(i), "INBOX", kMessage, "(\\Seen)").starts_with("p"));
  run(*a, "a1", "SELECT INBOX");
  run(*b, "b1", "SELECT INBOX");
  auto lines = run(*b, "b2", "STORE 1:2 +FLAGS (\\Seen)");
  EXPECT_EQ(joined(lines), "* 1 FETCH (FLAGS (\\Seen))\n* 2 FETCH (FLAGS (\\Seen))\nb2 OK STORE completed\n");
  lines = run(*b, "b3", "UID STORE 2 -FLAGS (\\Flagged)");
  EXPECT_EQ(joined(lines), "* 2 FETCH (FLAGS (\\Seen) UID 2)\nb3 OK STORE completed\n");
  EXPECT_EQ(run(*b, "b4", "STORE 1:2 +FLAGS.SILENT (\\Seen)").size(), 1u);
  // Another session set the flag first: the own STORE still reports message 1.
  run(*a, "a2", "STORE 1 +FLAGS.SILENT (\\Flagged)");
  lines = run(*b, "b5", "STORE 1 +FLAGS (\\Flagged)");
  EXPECT_TRUE(has_line(lines, "* 1 FETCH (FLAGS (\\Flagged \\Seen))")) << joined(lines);
}

// RFC 2180 §4.2 / RFC 3501 §6.4.6: a STORE on a message another session expunged, which this
// session has not been told of yet, answers with the message's last known flags with the change
// applied (a new keyword announced in FLAGS first), and the EXPUNGE follows later.
TEST(ImapMail, StoreOnMessageExpungedElsewhereReportsItsFlags_Rfc2180_4_2) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(append(*a, "p" + std::to_string(i), "INBOX", kMessage).starts_with("p"));
  run(*a, "a1", "SELECT INBOX");
  run(*b, "b1", "SELECT INBOX");
  auto c = server.login();
  run(*c, "c1", "SELECT INBOX (CONDSTORE)");
  run(*a, "a2", "STORE 2 +FLAGS.SILENT (\\Deleted \\Seen)");
  auto lines = run(*b, "b2", "NOOP");
  EXPECT_TRUE(has_line(lines, "* 2 FETCH (FLAGS (\\Deleted \\Seen))")) << joined(lines);
  run(*a, "a3", "EXPUNGE");
  lines = run(*b, "b3", "STORE 2 +FLAGS (NewKw)");
  EXPECT_FALSE(has_line(lines, "* 2 EXPUNGE")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* 2 FETCH (FLAGS (\\Deleted \\Seen NewKw))")) << joined(lines);
  bool flags_first = false;
  for (const auto& l : lines) {
    if (l.starts_with("* FLAGS (") && l.find("NewKw") != std::string::npos) flags_first = true;
    if (l.starts_with("* 2 FETCH")) break;
  }
  EXPECT_TRUE(flags_first) << joined(lines);
  EXPECT_EQ(lines.back(), "b3 OK STORE completed");
  // Removing a keyword the session was never told of still announces it in FLAGS first
  // [RFC 3501 §7.2.6].
  lines = run(*b, "b4", "STORE 1:2 -FLAGS (\\Seen OtherKw)");
  EXPECT_TRUE(has_line(lines, "* 2 FETCH (FLAGS (\\Deleted NewKw))")) << joined(lines);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines[0].starts_with("* FLAGS (") && lines[0].find("OtherKw") != std::string::npos) << joined(lines);
  // c never learned of the flags a set: its last known are none. With CONDSTORE the FETCH
  // carries a MODSEQ [RFC 7162 §3.2].
  lines = run(*c, "c2", "STORE 2 +FLAGS (\\Flagged)");
  bool with_modseq = false;
  for (const auto& l : lines) with_modseq |= l.starts_with("* 2 FETCH (FLAGS (\\Flagged) MODSEQ (");
  EXPECT_TRUE(with_modseq) << joined(lines);
  lines = run(*b, "b5", "NOOP");
  EXPECT_TRUE(has_line(lines, "* 2 EXPUNGE")) << joined(lines);
  lines = run(*b, "b6", "FETCH 1:* FLAGS");
  EXPECT_EQ(joined(lines), "* 1 FETCH (FLAGS ())\nb6 OK FETCH completed\n");
}

TEST(ImapMail, ExpungeReachesTheOtherSessionOnlyWhereAllowed) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*a, "p" + std::to_string(i), "INBOX", kMessage).starts_with("p"));
  run(*a, "a1", "SELECT INBOX");
  run(*b, "b1", "SELECT INBOX");
  run(*a, "a2", "STORE 2 +FLAGS.SILENT (\\Deleted)");
  auto lines = run(*a, "a3", "EXPUNGE");
  EXPECT_EQ(joined(lines), "* 2 EXPUNGE\na3 OK EXPUNGE completed\n");
  // b: FETCH by sequence number must not announce the expunge; message 2 is still there for it.
  lines = run(*b, "b2", "FETCH 1:* UID");
  EXPECT_FALSE(has_line(lines, "* 2 EXPUNGE")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "* 3 FETCH (UID 3)")) << joined(lines);
  // UID FETCH may announce it.
  lines = run(*b, "b3", "UID FETCH 1:* UID");
  EXPECT_TRUE(has_line(lines, "* 2 EXPUNGE")) << joined(lines);
  lines = run(*b, "b4", "FETCH 2 UID");
  EXPECT_EQ(lines[0], "* 2 FETCH (UID 3)");
  // UID EXPUNGE only removes the given UIDs.
  run(*a, "a4", "STORE 1:2 +FLAGS.SILENT (\\Deleted)");
  lines = run(*a, "a5", "UID EXPUNGE 3");
  EXPECT_EQ(joined(lines), "* 2 EXPUNGE\na5 OK EXPUNGE completed\n");
  // CLOSE expunges silently; EXAMINE is read-only.
  EXPECT_EQ(run(*a, "a6", "CLOSE").size(), 1u);
  lines = run(*a, "a7", "EXAMINE INBOX");
  EXPECT_TRUE(has_line(lines, "* 0 EXISTS")) << joined(lines);
  EXPECT_EQ(lines.back(), "a7 OK [READ-ONLY] EXAMINE completed");
  EXPECT_TRUE(run(*a, "a8", "EXPUNGE").back().starts_with("a8 NO [READ-ONLY]"));
  EXPECT_EQ(run(*a, "a9", "UNSELECT").back(), "a9 OK UNSELECT completed");
  EXPECT_TRUE(run(*a, "a10", "FETCH 1 FLAGS").back().starts_with("a10 BAD No mailbox selected"));
}

TEST(ImapMail, IdleReceivesExistsAtOnce) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  run(*a, "a1", "SELECT INBOX");
  a->send_line("a2 IDLE");
  EXPECT_EQ(a->read_line(), "+ idling");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(append(*b, "b1", "INBOX", kMessage).starts_with("b1 OK"));
  EXPECT_EQ(a->read_line(), "* 1 EXISTS");
  EXPECT_EQ(a->read_line(), "* 1 RECENT");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // A flag change while idling.
  run(*b, "b2", "SELECT INBOX");
  run(*b, "b3", "STORE 1 +FLAGS.SILENT (\\Flagged)");
  EXPECT_EQ(a->read_line(), "* 1 FETCH (FLAGS (\\Flagged \\Recent))");
  a->send_line("DONE");
  EXPECT_EQ(a->read_line(), "a2 OK IDLE terminated");
  EXPECT_EQ(run(*a, "a3", "NOOP").back(), "a3 OK NOOP completed");
  // Anything but DONE ends IDLE with BAD.
  a->send_line("a4 IDLE");
  EXPECT_EQ(a->read_line(), "+ idling");
  a->send_line("NOPE");
  EXPECT_EQ(a->read_line(), "a4 BAD Expected DONE");
}

TEST(ImapMail, CopyMoveWithCopyUid) {
  MailServer server;
  auto a = server.login();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*a, "p" + std::to_string(i), "INBOX", kMessage).starts_with("p"));
  run(*a, "a1", "SELECT INBOX");
  auto lines = run(*a, "a2", "COPY 1:2 Archive");
  EXPECT_TRUE(lines.back().starts_with("a2 OK [COPYUID ") && lines.back().ends_with(" 1:2 1:2] COPY completed"))
      << lines.back();
  lines = run(*a, "a3", "UID MOVE 2:3 Trash");
  ASSERT_EQ(lines.size(), 4u) << joined(lines);
  EXPECT_TRUE(lines[0].starts_with("* OK [COPYUID ") && lines[0].ends_with(" 2:3 1:2] Moved")) << lines[0];
  EXPECT_EQ(lines[1], "* 3 EXPUNGE");
  EXPECT_EQ(lines[2], "* 2 EXPUNGE");
  EXPECT_EQ(lines[3], "a3 OK MOVE completed");
  EXPECT_TRUE(run(*a, "a4", "COPY 1 Nowhere").back().starts_with("a4 NO [TRYCREATE]"));
  lines = run(*a, "a5", "STATUS Trash (MESSAGES)");
  EXPECT_EQ(lines[0], "* STATUS Trash (MESSAGES 2)");
}

TEST(ImapMail, CondstoreAndQresync) {
  MailServer server;
  auto a = server.login();
  auto b = server.login();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*a, "p" + std::to_string(i), "INBOX", kMessage).starts_with("p"));
  auto lines = run(*a, "a1", "ENABLE QRESYNC");
  EXPECT_EQ(lines[0], "* ENABLED QRESYNC");
  lines = run(*a, "a2", "SELECT INBOX");
  std::string validity, highest;
  for (const auto& l : lines) {
    if (l.starts_with("* OK [UIDVALIDITY ")) validity = l.substr(18, l.find(']') - 18);
    if (l.starts_with("* OK [HIGHESTMODSEQ ")) highest = l.substr(20, l.find(']') - 20);
  }
  ASSERT_FALSE(validity.empty());
  ASSERT_FALSE(highest.empty());
  run(*a, "a3", "UNSELECT");
  // Meanwhile b flags message 1 and expunges message 2.
  run(*b, "b1", "SELECT INBOX");
  run(*b, "b2", "STORE 1 +FLAGS (\\Flagged)");
  run(*b, "b3", "STORE 2 +FLAGS (\\Deleted)");
  run(*b, "b4", "EXPUNGE");
  lines = run(*a, "a4", "SELECT INBOX (QRESYNC (" + validity + " " + highest + " 1:3))");
  EXPECT_TRUE(has_line(lines, "* VANISHED (EARLIER) 2")) << joined(lines);
  bool fetched = false;
  for (const auto& l : lines) fetched = fetched || (l.starts_with("* 1 FETCH (UID 1 FLAGS (\\Flagged") && l.find("MODSEQ (") != std::string::npos);
  EXPECT_TRUE(fetched) << joined(lines);
  // UNCHANGEDSINCE: a stale modseq fails with MODIFIED.
  lines = run(*a, "a5", "STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)");
  EXPECT_EQ(lines.back(), "a5 OK [MODIFIED 1] Conditional STORE failed");
  lines = run(*a, "a6", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + highest + " VANISHED)");
  EXPECT_TRUE(has_line(lines, "* VANISHED (EARLIER) 2")) << joined(lines);
  // Expunges in QRESYNC mode are VANISHED.
  run(*b, "b5", "UID STORE 3 +FLAGS (\\Deleted)");
  run(*b, "b6", "EXPUNGE");
  lines = run(*a, "a7", "NOOP");
  EXPECT_TRUE(has_line(lines, "* VANISHED 3")) << joined(lines);
  EXPECT_TRUE(run(*b, "b7", "SELECT INBOX (QRESYNC (1 1))").back().starts_with("b7 BAD"));
}

TEST(ImapMail, FetchFlagsOfManyMessagesStreams) {
  constexpr int kCommands = 10;
  constexpr int kPerCommand = 1000;
  MailServer server(1 << 20, kPerCommand);
  auto c = server.login();
  for (int k = 0; k < kCommands; ++k) {
    std::string cmd = "m" + std::to_string(k) + " APPEND INBOX";
    for (int i = 0; i < kPerCommand; ++i) cmd += " {" + std::to_string(kMessage.size()) + "+}\r\n" + kMessage;
    c->send(cmd + "\r\n");
    ASSERT_TRUE(c->read_until("m" + std::to_string(k) + " ").back().starts_with("m" + std::to_string(k) + " OK"));
  }
  run(*c, "s", "SELECT INBOX");
  const auto start = std::chrono::steady_clock::now();
  auto lines = run(*c, "f", "FETCH 1:* (FLAGS)");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_EQ(lines.size(), size_t{kCommands * kPerCommand} + 1);
  EXPECT_EQ(lines[0], "* 1 FETCH (FLAGS (\\Recent))");
  EXPECT_EQ(lines[kCommands * kPerCommand - 1], "* 10000 FETCH (FLAGS (\\Recent))");
  std::printf("FETCH 1:* (FLAGS) of %d messages: %lld ms (sanitizer build)\n", kCommands * kPerCommand,
              static_cast<long long>(ms.count()));
}

// QUOTA [RFC 9208]: one root "" per account; only limited resources are reported.
TEST(ImapQuota, NoLimitMeansARootWithoutResources) {
  MailServer server;
  auto c = server.login();
  const std::string caps = run(*c, "a", "CAPABILITY")[0] + " ";
  for (const char* cap : {"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"}) {
    EXPECT_NE(caps.find(std::string(" ") + cap + " "), std::string::npos) << cap;
  }
  auto lines = run(*c, "b", "GETQUOTAROOT INBOX");
  EXPECT_EQ(lines, (std::vector<std::string>{"* QUOTAROOT INBOX \"\"", "b OK GETQUOTAROOT completed"}));
  lines = run(*c, "c", "GETQUOTA \"\"");
  EXPECT_EQ(lines, (std::vector<std::string>{"c OK GETQUOTA completed"}));
  EXPECT_EQ(run(*c, "d", "GETQUOTA \"#user/demo\"").back(), "d NO [NONEXISTENT] No such quota root");
  EXPECT_EQ(run(*c, "e", "SETQUOTA \"\" (STORAGE 100)").back(), "e NO [NOPERM] Quotas are set by the administrator");
  // The mailbox need not exist [RFC 9208 §4.1.2].
  lines = run(*c, "g", "GETQUOTAROOT Nowhere/New");
  EXPECT_EQ(lines[0], "* QUOTAROOT Nowhere/New \"\"");
  EXPECT_TRUE(run(*c, "h", "GETQUOTAROOT \"\"").back().starts_with("h NO [CANNOT] "));
}

TEST(ImapQuota, StorageLimitAtNAndNPlusOne) {
  MailServer server;
  // Room for exactly two copies of kMessage.
  const uint64_t limit = 2 * kMessage.size();
  server.set_quota(limit);
  auto c = server.login();
  EXPECT_TRUE(append(*c, "a1", "INBOX", kMessage).starts_with("a1 OK [APPENDUID ")) << "first";
  auto lines = run(*c, "q1", "GETQUOTAROOT INBOX");
  ASSERT_EQ(lines.size(), 3u) << joined(lines);
  EXPECT_EQ(lines[0], "* QUOTAROOT INBOX \"\"");
  // KiB rounded up: a message of ~120 bytes uses 1 KiB of a 1 KiB limit.
  EXPECT_EQ(lines[1], "* QUOTA \"\" (STORAGE 1 1)");
  // One byte less room: the second copy is refused (N+1). The limit is read at login.
  server.set_quota(limit - 1);
  auto tight = server.login();
  EXPECT_EQ(append(*tight, "t1", "INBOX", kMessage), "t1 NO [OVERQUOTA] mailbox storage quota exceeded");
  server.set_quota(limit);
  auto exact = server.login();
  EXPECT_TRUE(append(*exact, "a2", "INBOX", kMessage).starts_with("a2 OK [APPENDUID ")) << "at the limit (N)";
  EXPECT_EQ(append(*c, "a3", "INBOX", kMessage), "a3 NO [OVERQUOTA] mailbox storage quota exceeded");
  run(*c, "s", "SELECT INBOX");
  EXPECT_EQ(run(*c, "c1", "COPY 1 Archive").back(), "c1 NO [OVERQUOTA] mailbox storage quota exceeded");
  // MOVE within the account does not change its usage: allowed at the limit.
  EXPECT_TRUE(run(*c, "m1", "MOVE 1 Archive").back().starts_with("m1 OK")) << "move";
  // After expunging one message there is room again.
  run(*c, "d1", "STORE 1 +FLAGS.SILENT (\\Deleted)");
  lines = run(*c, "st", "STATUS INBOX (DELETED DELETED-STORAGE)");
  EXPECT_EQ(lines[0], "* STATUS INBOX (DELETED 1 DELETED-STORAGE 1)") << joined(lines);
  run(*c, "x1", "EXPUNGE");
  lines = run(*c, "st2", "STATUS INBOX (DELETED DELETED-STORAGE)");
  EXPECT_EQ(lines[0], "* STATUS INBOX (DELETED 0 DELETED-STORAGE 0)") << joined(lines);
  EXPECT_TRUE(append(*c, "a4", "INBOX", kMessage).starts_with("a4 OK [APPENDUID ")) << "into the freed room";
}

// REPLACE / UID REPLACE [RFC 8508]: the new message's APPENDUID, then the old one's EXPUNGE.
TEST(ImapReplace, ReplaceAndUidReplace) {
  MailServer server;
  auto c = server.login();
  ASSERT_TRUE(append(*c, "a1", "Drafts", kMessage, "(\\Draft)").starts_with("a1 OK"));
  ASSERT_TRUE(append(*c, "a2", "Drafts", kMessage, "(\\Draft)").starts_with("a2 OK"));
  const auto caps = run(*c, "cap", "CAPABILITY")[0] + " ";
  EXPECT_NE(caps.find(" REPLACE "), std::string::npos) << caps;
  run(*c, "s", "SELECT Drafts");
  const std::string edited = kMessage + "edited\r\n";
  // Synchronising literal, same mailbox: the new message shows up as EXISTS after the EXPUNGE.
  c->send_line("r1 REPLACE 1 Drafts (\\Seen \\Draft) {" + std::to_string(edited.size()) + "}");
  ASSERT_TRUE(c->read_line().starts_with("+ "));
  c->send(edited + "\r\n");
  auto lines = c->read_until("r1 ");
  ASSERT_EQ(lines.size(), 5u) << joined(lines);
  EXPECT_TRUE(lines[0].starts_with("* OK [APPENDUID ")) << lines[0];
  EXPECT_TRUE(lines[0].ends_with(" 3] Replacement Message ID")) << lines[0];
  EXPECT_EQ(lines[1], "* 1 EXPUNGE");
  EXPECT_EQ(lines[2], "* 2 EXISTS");
  EXPECT_EQ(lines[3], "* 2 RECENT");  // IMAP4rev1 session
  EXPECT_EQ(lines[4], "r1 OK REPLACE completed");
  lines = run(*c, "f", "UID FETCH 1:* (FLAGS RFC822.SIZE)");
  ASSERT_EQ(lines.size(), 3u) << joined(lines);
  EXPECT_NE(lines[0].find("UID 2"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("UID 3"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\\Seen"), std::string::npos) << lines[1];
  EXPECT_NE(joined(lines).find("RFC822.SIZE " + std::to_string(edited.size())), std::string::npos) << joined(lines);
  // Non-synchronising literal, another mailbox, by UID: no EXISTS here.
  c->send("r2 UID REPLACE 2 INBOX {" + std::to_string(kMessage.size()) + "+}\r\n" + kMessage + "\r\n");
  lines = c->read_until("r2 ");
  ASSERT_EQ(lines.size(), 3u) << joined(lines);
  EXPECT_TRUE(lines[0].ends_with(" 1] Replacement Message ID")) << lines[0];
  EXPECT_EQ(lines[1], "* 1 EXPUNGE");
  EXPECT_EQ(lines[2], "r2 OK UID REPLACE completed");
  // The replaced message is gone; a number past the end is BAD; a failed append changes nothing.
  c->send("r3 UID REPLACE 2 INBOX {" + std::to_string(kMessage.size()) + "+}\r\n" + kMessage + "\r\n");
  EXPECT_EQ(c->read_until("r3 ").back(), "r3 NO [NONEXISTENT] No such message");
  c->send("r4 REPLACE 2 INBOX {" + std::to_string(kMessage.size()) + "+}\r\n" + kMessage + "\r\n");
  EXPECT_EQ(c->read_until("r4 ").back(), "r4 BAD Invalid message sequence number");
  c->send("r5 REPLACE 1 Nowhere {" + std::to_string(kMessage.size()) + "+}\r\n" + kMessage + "\r\n");
  EXPECT_TRUE(c->read_until("r5 ").back().starts_with("r5 NO [TRYCREATE] ")) << "missing target";
  lines = run(*c, "n", "NOOP");
  EXPECT_EQ(lines, (std::vector<std::string>{"n OK NOOP completed"}));
  EXPECT_EQ(run(*c, "st", "STATUS INBOX (MESSAGES)")[0], "* STATUS INBOX (MESSAGES 1)");
  run(*c, "e", "EXAMINE Drafts");
  c->send("r6 REPLACE 1 Drafts {" + std::to_string(kMessage.size()) + "+}\r\n" + kMessage + "\r\n");
  EXPECT_EQ(c->read_until("r6 ").back(), "r6 NO [READ-ONLY] Mailbox is read-only");
  run(*c, "u", "UNSELECT");
  c->send("r7 REPLACE 1 Drafts {" + std::to_string(kMessage.size()) + "+}\r\n" + kMessage + "\r\n");
  EXPECT_EQ(c->read_until("r7 ").back(), "r7 BAD No mailbox selected");
}

// REPLACE over quota: the append fails and the old message stays.
TEST(ImapReplace, OverQuotaKeepsTheOldMessage) {
  MailServer server;
  server.set_quota(kMessage.size());
  auto c = server.login();
  ASSERT_TRUE(append(*c, "a1", "INBOX", kMessage).starts_with("a1 OK"));
  run(*c, "s", "SELECT INBOX");
  c->send("r1 REPLACE 1 INBOX {" + std::to_string(kMessage.size()) + "+}\r\n" + kMessage + "\r\n");
  EXPECT_EQ(c->read_until("r1 ").back(), "r1 NO [OVERQUOTA] mailbox storage quota exceeded");
  EXPECT_EQ(run(*c, "st", "STATUS INBOX (MESSAGES DELETED)")[0], "* STATUS INBOX (MESSAGES 1 DELETED 0)");
}

}  // namespace
}  // namespace posthorn::server::imap
