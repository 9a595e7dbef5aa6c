// Tests of the authenticated/selected-state command parser, sequence sets, modified UTF-7 and dates.
#include <gtest/gtest.h>

#include "proto/imap/command.hpp"
#include "proto/imap/datetime.hpp"
#include "proto/imap/list_pattern.hpp"
#include "proto/imap/response.hpp"
#include "proto/imap/mutf7.hpp"
#include "proto/imap/sequence_set.hpp"

namespace posthorn::proto::imap {
namespace {

template <class T>
T parse_as(const std::string& wire) {
  auto r = parse_command(wire);
  EXPECT_TRUE(r) << wire << ": " << (r ? "" : r.error().message);
  if (!r) return T{};
  const T* v = std::get_if<T>(&r->args);
  EXPECT_NE(v, nullptr) << wire;
  return v ? *v : T{};
}

void expect_bad(const std::string& wire) {
  auto r = parse_command(wire);
  EXPECT_FALSE(r) << wire;
  if (!r) {
    EXPECT_EQ(r.error().tag, std::optional<std::string>("a")) << wire;
  }
}

TEST(SequenceSet, ParseAndResolve) {
  auto s = parse_sequence_set("1,3:5,7:*");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ranges.size(), 3u);
  EXPECT_TRUE(s->contains_star());
  EXPECT_EQ(s->to_string(), "1,3:5,7:*");
  auto r = s->resolve(10);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[2], (SeqRange{7, 10}));
  // n:* with n past the largest is largest:n; merged and sorted.
  r = parse_sequence_set("20:*,4:2,3")->resolve(10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (SeqRange{2, 4}));
  EXPECT_EQ(r[1], (SeqRange{10, 20}));
  EXPECT_TRUE(parse_sequence_set("*")->resolve(0).empty());
  EXPECT_TRUE(parse_sequence_set("1:*")->resolve(0).empty());
  EXPECT_EQ(parse_sequence_set("1:*,2")->resolve(0).size(), 1u);
  EXPECT_TRUE(parse_sequence_set("$")->saved);
  EXPECT_EQ(parse_sequence_set("4294967295")->ranges[0].first, 4294967295u);
  for (const char* bad : {"", "0", "1:0", "1,,2", "a", "1:", ":1", "4294967296", "01", "1,", "$,1"}) {
    EXPECT_FALSE(parse_sequence_set(bad)) << bad;
  }
  EXPECT_EQ(compact_set({1, 2, 3, 5, 7, 8}), "1:3,5,7:8");
  EXPECT_EQ(compact_set({}), "");
}

TEST(ModifiedUtf7, RoundTripAndRejects) {
  const std::pair<const char*, const char*> cases[] = {
      {"INBOX", "INBOX"},
      {"R&-D", "R&D"},
      {"&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},               // 日本語 (RFC 3501 example)
      {"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
      {"Entw&APw-rfe", "Entw\xc3\xbc" "rfe"},
      {"&2D3eAA-", "\xf0\x9f\x98\x80"},  // U+1F600 as a surrogate pair
  };
  for (const auto& [wire, utf8] : cases) {
    auto d = mutf7_decode(wire);
    ASSERT_TRUE(d) << wire;
    EXPECT_EQ(*d, utf8);
    EXPECT_EQ(*mutf7_encode(utf8), wire);
  }
  for (const char* bad : {"&", "&ZeVnLIqe", "&AGE-" /* encodes 'a' */, "&2D0-" /* lone high surrogate */,
                          "caf\xc3\xa9", "a\tb", "&AOl-" /* non-zero padding bits */, "&Ze!-"}) {
    EXPECT_FALSE(mutf7_decode(bad)) << bad;
  }
  EXPECT_FALSE(mutf7_encode("\xc3"));
  EXPECT_FALSE(mutf7_encode("\xed\xa0\x80"));  // encoded surrogate
  // UTF-8 mode takes names as they are, validated.
  EXPECT_EQ(*mailbox_from_wire("caf\xc3\xa9", true), "caf\xc3\xa9");
  EXPECT_FALSE(mailbox_from_wire("caf\xc3", true));
  EXPECT_EQ(mailbox_to_wire("caf\xc3\xa9", false), "caf&AOk-");
  EXPECT_EQ(mailbox_to_wire("caf\xc3\xa9", true), "\"caf\xc3\xa9\"");
  EXPECT_EQ(mailbox_to_wire("a b", false), "\"a b\"");
}

TEST(DateTime, ParseAndFormat) {
  EXPECT_EQ(parse_date_time("17-Jul-1996 02:44:25 -0700"), 837596665);
  EXPECT_EQ(parse_date_time(" 7-Jul-1996 02:44:25 +0000"), 836707465);
  EXPECT_EQ(parse_date_time("01-Jan-1970 00:00:00 +0000"), 0);
  EXPECT_EQ(parse_date("1-Feb-2000"), 949363200);
  EXPECT_EQ(parse_date("29-Feb-2000"), 951782400);
  for (const char* bad : {"30-Feb-2000 00:00:00 +0000", "17-Jux-1996 02:44:25 -0700", "17-Jul-1996 24:00:00 +0000",
                          "17-Jul-1996 02:44:25 +0060", "17-Jul-1996 02:44:25", "17-Jul-96 02:44:25 +0000"}) {
    EXPECT_FALSE(parse_date_time(bad)) << bad;
  }
  EXPECT_FALSE(parse_date("29-Feb-1900"));
  EXPECT_EQ(format_date_time(837596665), "17-Jul-1996 09:44:25 +0000");
  EXPECT_EQ(format_date_time(0), "01-Jan-1970 00:00:00 +0000");
}

TEST(ParseMailboxCommands, SelectExamineWithParameters) {
  auto s = parse_as<Select>("a SELECT INBOX");
  EXPECT_EQ(s.mailbox, "INBOX");
  EXPECT_FALSE(s.read_only);
  s = parse_as<Select>("a EXAMINE \"Sent Items\" (CONDSTORE)");
  EXPECT_TRUE(s.read_only);
  EXPECT_TRUE(s.condstore);
  EXPECT_EQ(s.mailbox, "Sent Items");
  s = parse_as<Select>("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))");
  ASSERT_TRUE(s.qresync);
  EXPECT_EQ(s.qresync->uid_validity, 67890007u);
  EXPECT_EQ(s.qresync->modseq, 20050715194045000u);
  EXPECT_EQ(s.qresync->known_uids->to_string(), "41,43:211,214:541");
  s = parse_as<Select>("a SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000 15000,22500,27000)))");
  ASSERT_TRUE(s.qresync && s.qresync->seq_match_uids);
  EXPECT_EQ(s.qresync->seq_match_uids->to_string(), "15000,22500,27000");
  s = parse_as<Select>("a SELECT INBOX (QRESYNC (1 2 (1 5)))");
  ASSERT_TRUE(s.qresync && s.qresync->seq_match_seqs);
  EXPECT_FALSE(s.qresync->known_uids);
  expect_bad("a SELECT");
  expect_bad("a SELECT INBOX (FOO)");
  expect_bad("a SELECT INBOX (QRESYNC (0 1))");
  expect_bad("a SELECT INBOX (QRESYNC (1))");
  expect_bad("a SELECT INBOX extra");
}

TEST(ParseMailboxCommands, CreateDeleteRenameSubscribe) {
  auto c = parse_as<Create>("a CREATE Archive/2026");
  EXPECT_EQ(c.mailbox, "Archive/2026");
  c = parse_as<Create>("a CREATE MySent (USE (\\Sent))");
  ASSERT_EQ(c.use.size(), 1u);
  EXPECT_EQ(c.use[0], "\\Sent");
  EXPECT_EQ(parse_as<Delete>("a DELETE {3}\r\nfoo").mailbox, "foo");
  auto r = parse_as<Rename>("a RENAME a \"b c\"");
  EXPECT_EQ(r.from, "a");
  EXPECT_EQ(r.to, "b c");
  EXPECT_TRUE(parse_as<Subscribe>("a SUBSCRIBE x").subscribe);
  EXPECT_FALSE(parse_as<Subscribe>("a UNSUBSCRIBE x").subscribe);
  expect_bad("a CREATE");
  expect_bad("a CREATE x (USE)");
  expect_bad("a RENAME a");
  expect_bad("a DELETE a b");
}

TEST(ParseMailboxCommands, ListForms) {
  auto l = parse_as<List>("a LIST \"\" *");
  EXPECT_FALSE(l.extended);
  EXPECT_EQ(l.reference, "");
  ASSERT_EQ(l.patterns.size(), 1u);
  EXPECT_EQ(l.patterns[0], "*");
  l = parse_as<List>("a LIST \"\" %/]x");
  EXPECT_EQ(l.patterns[0], "%/]x");
  l = parse_as<List>("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX* \"Sent\") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))");
  EXPECT_TRUE(l.extended && l.select_subscribed && l.select_recursive);
  EXPECT_EQ(l.patterns.size(), 2u);
  EXPECT_TRUE(l.return_children && l.return_special_use);
  ASSERT_TRUE(l.return_status);
  EXPECT_EQ(l.return_status->size(), 3u);
  EXPECT_EQ((*l.return_status)[2], StatusItem::kSize);
  l = parse_as<List>("a LIST (SPECIAL-USE) \"\" *");
  EXPECT_TRUE(l.select_special_use);
  l = parse_as<List>("a LIST \"\" * RETURN ()");
  EXPECT_TRUE(l.extended);
  l = parse_as<List>("a LSUB \"\" *");
  EXPECT_TRUE(l.lsub);
  expect_bad("a LIST (RECURSIVEMATCH) \"\" *");
  expect_bad("a LIST (BOGUS) \"\" *");
  expect_bad("a LIST \"\" * RETURN (BOGUS)");
  expect_bad("a LIST \"\"");
  expect_bad("a LSUB (SUBSCRIBED) \"\" *");
  expect_bad("a LIST \"\" ()");
}

TEST(ParseMailboxCommands, StatusEnableIdNamespace) {
  auto s = parse_as<StatusCmd>("a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)");
  EXPECT_EQ(s.items.size(), 9u);
  EXPECT_EQ(s.items[8], StatusItem::kAppendLimit);
  expect_bad("a STATUS INBOX ()");
  expect_bad("a STATUS INBOX (BOGUS)");
  expect_bad("a STATUS INBOX");
  auto e = parse_as<Enable>("a ENABLE condstore QRESYNC");
  ASSERT_EQ(e.capabilities.size(), 2u);
  EXPECT_EQ(e.capabilities[0], "CONDSTORE");
  expect_bad("a ENABLE");
  auto id = parse_as<Id>("a ID (\"name\" \"mutt\" \"version\" NIL)");
  ASSERT_EQ(id.params.size(), 2u);
  EXPECT_FALSE(id.params[1].second);
  EXPECT_TRUE(parse_as<Id>("a ID NIL").params.empty());
  expect_bad("a ID (\"name\")");
  std::string many = "a ID (";
  for (int i = 0; i < 31; ++i) many += "\"k" + std::to_string(i) + "\" \"v\" ";
  many.back() = ')';
  expect_bad(many);
  parse_as<Namespace>("a NAMESPACE");
  parse_as<Idle>("a IDLE");
  parse_as<Unauthenticate>("a UNAUTHENTICATE");
  expect_bad("a NAMESPACE x");
  expect_bad("a IDLE now");
  auto cancel = parse_as<CancelUpdate>("a CANCELUPDATE \"B01\" \"B02\"");
  EXPECT_EQ(cancel.tags, (std::vector<std::string>{"B01", "B02"}));
  expect_bad("a CANCELUPDATE");
  expect_bad("a CANCELUPDATE \"B01\" ");
  expect_bad("a CANCELUPDATE (B01)");
}

TEST(ParseMailboxCommands, AppendForms) {
  auto a = parse_as<Append>("a APPEND INBOX {5}\r\nhello");
  ASSERT_EQ(a.messages.size(), 1u);
  EXPECT_EQ(a.messages[0].bytes, "hello");
  EXPECT_FALSE(a.messages[0].internal_date);
  a = parse_as<Append>("a APPEND Drafts (\\Seen $Label) \" 7-Jul-1996 02:44:25 +0000\" {3+}\r\nabc");
  ASSERT_EQ(a.messages[0].flags.size(), 2u);
  EXPECT_EQ(a.messages[0].flags[0], "\\Seen");
  EXPECT_EQ(a.messages[0].internal_date, 836707465);
  // MULTIAPPEND and literal8 with a NUL byte.
  a = parse_as<Append>(std::string("a APPEND x {1}\r\na (\\Flagged) ~{3}\r\nb\0c", 38));
  ASSERT_EQ(a.messages.size(), 2u);
  EXPECT_EQ(a.messages[1].bytes, std::string("b\0c", 3));
  EXPECT_TRUE(a.messages[1].binary);
  a = parse_as<Append>("a APPEND x UTF8 (~{2}\r\nhi)");
  EXPECT_EQ(a.messages[0].bytes, "hi");
  expect_bad("a APPEND x");
  expect_bad("a APPEND x \"hi\"");
  expect_bad("a APPEND x \"bad date\" {1}\r\na");
  expect_bad(std::string("a APPEND x {3}\r\nb\0c", 19));  // NUL only in literal8
}

TEST(ParseMessageCommands, FetchAttributes) {
  using K = FetchAtt::Kind;
  auto f = parse_as<Fetch>("a FETCH 1:* FLAGS");
  ASSERT_EQ(f.atts.size(), 1u);
  EXPECT_EQ(f.atts[0].kind, K::kFlags);
  EXPECT_FALSE(f.uid);
  EXPECT_EQ(parse_as<Fetch>("a FETCH 1 ALL").atts.size(), 4u);
  EXPECT_EQ(parse_as<Fetch>("a FETCH 1 fast").atts.size(), 3u);
  EXPECT_EQ(parse_as<Fetch>("a FETCH 1 FULL").atts.back().kind, K::kBody);
  f = parse_as<Fetch>(
      "a UID FETCH 1,2 (UID ENVELOPE BODY BODYSTRUCTURE INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT "
      "BODY[] BODY.PEEK[1.2.MIME]<0.100> BODY[HEADER.FIELDS (From \"To\")] BODY[2.HEADER.FIELDS.NOT (X)] "
      "BINARY[1.2] BINARY.PEEK[]<5.6> BINARY.SIZE[3] MODSEQ SAVEDATE PREVIEW (LAZY) BODY[TEXT] BODY[1.TEXT])");
  EXPECT_TRUE(f.uid);
  ASSERT_EQ(f.atts.size(), 21u);
  EXPECT_EQ(f.atts[9].kind, K::kBodySection);
  EXPECT_TRUE(f.atts[9].section.part.empty());
  const FetchAtt& mime = f.atts[10];
  EXPECT_TRUE(mime.peek);
  EXPECT_EQ(mime.section.to_string(), "1.2.MIME");
  EXPECT_EQ(mime.partial, (Partial{0, 100}));
  EXPECT_EQ(f.atts[11].section.to_string(), "HEADER.FIELDS (FROM TO)");
  EXPECT_EQ(f.atts[12].section.to_string(), "2.HEADER.FIELDS.NOT (X)");
  EXPECT_EQ(f.atts[13].kind, K::kBinary);
  EXPECT_EQ(f.atts[13].section.to_string(), "1.2");
  EXPECT_TRUE(f.atts[14].peek);
  EXPECT_EQ(f.atts[15].kind, K::kBinarySize);
  EXPECT_EQ(f.atts[18].kind, K::kPreview);
  EXPECT_TRUE(f.atts[18].lazy);
  EXPECT_EQ(f.atts[20].section.to_string(), "1.TEXT");
  f = parse_as<Fetch>("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
  EXPECT_EQ(f.changed_since, 12345u);
  EXPECT_TRUE(f.vanished);
  EXPECT_TRUE(parse_as<Fetch>("a FETCH $ FLAGS").set.saved);
  for (const char* bad : {"a FETCH 1", "a FETCH 0 FLAGS", "a FETCH 1 (FLAGS", "a FETCH 1 BOGUS", "a FETCH 1 (ALL)",
                          "a FETCH 1 BODY[0]", "a FETCH 1 BODY[MIME]", "a FETCH 1 BODY[1.BOGUS]",
                          "a FETCH 1 BODY[]<0.0>", "a FETCH 1 BINARY[HEADER]", "a FETCH 1 BINARY.SIZE[1]<0.1>",
                          "a FETCH 1 BODY[HEADER.FIELDS ()]", "a FETCH 1 FLAGS (VANISHED)",
                          "a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)", "a FETCH 1 FLAGS (BOGUS 1)", "a FETCH 1 ()"}) {
    expect_bad(bad);
  }
}

TEST(ParseMessageCommands, StoreCopyMoveExpungeSearch) {
  auto s = parse_as<Store>("a STORE 1:3 +FLAGS.SILENT (\\Deleted $Junk)");
  EXPECT_EQ(s.op, StoreOp::kAdd);
  EXPECT_TRUE(s.silent);
  EXPECT_EQ(s.flags.size(), 2u);
  s = parse_as<Store>("a UID STORE 5 (UNCHANGEDSINCE 320162338) -FLAGS \\Seen \\Flagged");
  EXPECT_TRUE(s.uid);
  EXPECT_EQ(s.op, StoreOp::kRemove);
  EXPECT_EQ(s.unchanged_since, 320162338u);
  EXPECT_EQ(s.flags.size(), 2u);
  s = parse_as<Store>("a STORE 1 FLAGS ()");
  EXPECT_EQ(s.op, StoreOp::kReplace);
  EXPECT_TRUE(s.flags.empty());
  expect_bad("a STORE 1 +FLAGZ (\\Seen)");
  expect_bad("a STORE 1 +FLAGS");
  expect_bad("a STORE 1 (FOO 1) FLAGS ()");
  auto c = parse_as<Copy>("a COPY 2:4 Trash");
  EXPECT_FALSE(c.move);
  c = parse_as<Copy>("a UID MOVE 1:* \"Old Mail\"");
  EXPECT_TRUE(c.move && c.uid);
  EXPECT_EQ(c.mailbox, "Old Mail");
  expect_bad("a COPY 1");
  EXPECT_FALSE(parse_as<Expunge>("a EXPUNGE").uids);
  EXPECT_EQ(parse_as<Expunge>("a UID EXPUNGE 3:5").uids->to_string(), "3:5");
  expect_bad("a UID EXPUNGE");
  expect_bad("a UID BOGUS 1");
  auto search = parse_command("a UID SEARCH CHARSET UTF-8 TEXT {3}\r\nabc");
  ASSERT_TRUE(search);
  EXPECT_EQ(search->name, "UID SEARCH");
  EXPECT_EQ(std::get<Search>(search->args).args, "CHARSET UTF-8 TEXT {3}\r\nabc");
  EXPECT_TRUE(std::get<Search>(search->args).uid);
  EXPECT_EQ(parse_command("a SORT (DATE) UTF-8 ALL")->name, "SORT");
  EXPECT_EQ(parse_command("a THREAD REFERENCES UTF-8 ALL")->name, "THREAD");
}

}  // namespace
}  // namespace posthorn::proto::imap

namespace posthorn::proto::imap {
namespace {

TEST(ListPattern, Wildcards) {
  EXPECT_TRUE(list_match("*", "a/b/c", '/'));
  EXPECT_TRUE(list_match("%", "a", '/'));
  EXPECT_FALSE(list_match("%", "a/b", '/'));
  EXPECT_TRUE(list_match("a/%", "a/b", '/'));
  EXPECT_FALSE(list_match("a/%", "a/b/c", '/'));
  EXPECT_TRUE(list_match("a*c", "a/b/c", '/'));
  EXPECT_FALSE(list_match("a%c", "a/b/c", '/'));
  EXPECT_TRUE(list_match("inbox", "INBOX", '/'));
  EXPECT_TRUE(list_match("Inbox/%", "INBOX/x", '/'));
  EXPECT_FALSE(list_match("inboxes", "INBOXes", '/'));
  EXPECT_FALSE(list_match("abc", "ABC", '/'));
  // A pattern full of wildcards stays fast (quadratic, not exponential).
  const std::string many(4000, '*');
  EXPECT_FALSE(list_match(many + "x", std::string(4000, 'a'), '/'));
  EXPECT_TRUE(list_match_prefix("a/%", "a", '/'));
  EXPECT_FALSE(list_match_prefix("b/%", "a", '/'));
  EXPECT_TRUE(list_match_prefix("*", "a", '/'));
  EXPECT_EQ(join_list_pattern("", "*", '/'), "*");
  EXPECT_EQ(join_list_pattern("a/", "*", '/'), "a/*");
  EXPECT_EQ(join_list_pattern("a", "%", '/'), "a/%");
  EXPECT_EQ(join_list_pattern("a", "/x", '/'), "/x");
}

TEST(StoreFailure, OneMapping) {
  EXPECT_EQ(store_failure("a", make_error(Errc::kNotFound, "No such mailbox")), "a NO [NONEXISTENT] No such mailbox\r\n");
  EXPECT_EQ(store_failure("a", make_error(Errc::kNotFound, "x"), StoreCall::kDestination), "a NO [TRYCREATE] x\r\n");
  EXPECT_EQ(store_failure("a", make_error(Errc::kExists, "x")), "a NO [ALREADYEXISTS] x\r\n");
  EXPECT_EQ(store_failure("a", make_error(Errc::kOverQuota, "x")), "a NO [OVERQUOTA] x\r\n");
  EXPECT_EQ(store_failure("a", make_error(Errc::kTooBig, "x")), "a NO [TOOBIG] x\r\n");
  EXPECT_EQ(store_failure("a", make_error(Errc::kDenied, "x")), "a NO [NOPERM] x\r\n");
  EXPECT_EQ(store_failure("a", make_error(Errc::kConflict, "x"), StoreCall::kDelete), "a NO [HASCHILDREN] x\r\n");
  EXPECT_EQ(store_failure("a", make_error(Errc::kInternal, "")), "a NO [SERVERBUG] Failed\r\n");
}

}  // namespace
}  // namespace posthorn::proto::imap

namespace posthorn::proto::imap {
namespace {

std::string repeat(const std::string& item, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? " " : "") + item;
  return out;
}

// Every parser limit at N (accepted) and N+1 (BAD).
TEST(ParserLimits, AtNAndNPlusOne) {
  std::string id30 = "a ID (";
  for (int i = 0; i < 30; ++i) id30 += "\"k" + std::to_string(i) + "\" \"v\" ";
  id30.back() = ')';
  EXPECT_TRUE(parse_command(id30));
  EXPECT_TRUE(parse_command("a LIST \"\" (" + repeat("x", 100) + ")"));
  EXPECT_FALSE(parse_command("a LIST \"\" (" + repeat("x", 101) + ")"));
  EXPECT_TRUE(parse_command("a FETCH 1 (" + repeat("UID", 100) + ")"));
  EXPECT_FALSE(parse_command("a FETCH 1 (" + repeat("UID", 101) + ")"));
  EXPECT_TRUE(parse_command("a FETCH 1 BODY[HEADER.FIELDS (" + repeat("X", 100) + ")]"));
  EXPECT_FALSE(parse_command("a FETCH 1 BODY[HEADER.FIELDS (" + repeat("X", 101) + ")]"));
  std::string deep(100 * 2 - 1, '.');
  for (size_t i = 0; i < deep.size(); i += 2) deep[i] = '1';
  EXPECT_TRUE(parse_command("a FETCH 1 BODY[" + deep + "]"));
  EXPECT_FALSE(parse_command("a FETCH 1 BODY[" + deep + ".1]"));
  EXPECT_TRUE(parse_sequence_set("4294967295"));
  EXPECT_FALSE(parse_sequence_set("4294967296"));
}

}  // namespace
}  // namespace posthorn::proto::imap
