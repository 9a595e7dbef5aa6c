// Unit tests of SelectedView: sequence numbers, set resolution, and how other sessions' changes
// become EXPUNGE / VANISHED / EXISTS / RECENT / FETCH responses, and when expunges are held back.
#include "server/imap/selected_view.hpp"

#include <gtest/gtest.h>

#include "server/imap/mailbox_keywords.hpp"

namespace posthorn::server::imap {
namespace {

store::MailboxView make_view(std::vector<store::Uid> uids, store::Uid first_recent = 0) {
  store::MailboxView v;
  v.mailbox.uid_validity = 7;
  v.mailbox.uid_next = uids.empty() ? 1 : uids.back() + 1;
  v.mailbox.highest_modseq = 10;
  for (auto u : uids) {
    store::MessageInfo m;
    m.uid = u;
    v.messages.push_back(m);
  }
  v.first_recent = first_recent;
  return v;
}

store::MessageInfo info(store::Uid uid, store::ModSeq modseq, uint8_t flags = 0) {
  store::MessageInfo m;
  m.uid = uid;
  m.modseq = modseq;
  m.flags.system = flags;
  return m;
}

TEST(SelectedView, ResolveBySequenceAndUid) {
  SelectedView v;
  v.open(make_view({3, 5, 9}), false);
  EXPECT_EQ(*v.resolve(*proto::imap::parse_sequence_set("1:*"), false), (std::vector<store::Uid>{3, 5, 9}));
  EXPECT_EQ(*v.resolve(*proto::imap::parse_sequence_set("2"), false), (std::vector<store::Uid>{5}));
  EXPECT_FALSE(v.resolve(*proto::imap::parse_sequence_set("4"), false));  // beyond EXISTS
  EXPECT_EQ(*v.resolve(*proto::imap::parse_sequence_set("4:9"), true), (std::vector<store::Uid>{5, 9}));
  EXPECT_EQ(*v.resolve(*proto::imap::parse_sequence_set("100:*"), true), (std::vector<store::Uid>{9}));
  EXPECT_EQ(v.seq_of(9), 3u);
  EXPECT_FALSE(v.seq_of(4));
  SelectedView empty;
  empty.open(make_view({}), false);
  EXPECT_TRUE(empty.resolve(*proto::imap::parse_sequence_set("1:*"), false)->empty());
}

TEST(SelectedView, ChangesBecomeResponsesAndExpungesWaitWhenNotAllowed) {
  SelectedView v;
  v.open(make_view({1, 2, 3}, 3), false);
  const ViewOptions rev1{};
  store::Changes c;
  c.vanished = {2};
  c.changed = {info(3, 11, store::kSeen), info(4, 12)};
  c.highest_modseq = 12;
  c.uid_next = 5;
  c.claimed_recent = store::UidRange{4, 4};
  // During FETCH by sequence number: no EXPUNGE; new mail and flags may go out.
  EXPECT_EQ(v.apply(c, false, rev1), "* 4 EXISTS\r\n* 2 RECENT\r\n* 3 FETCH (FLAGS (\\Seen \\Recent))\r\n");
  EXPECT_TRUE(v.has_pending_expunges());
  EXPECT_EQ(v.exists(), 4u);
  EXPECT_EQ(v.highest_modseq(), 12u);
  // At the next allowed point the held-back expunge is reported.
  EXPECT_EQ(v.release_expunges(rev1), "* 2 EXPUNGE\r\n");
  EXPECT_EQ(v.exists(), 3u);
  EXPECT_EQ(v.seq_of(4), 3u);
  // Own flag change is not echoed.
  v.note_own_change(1, 13);
  store::Changes own;
  own.changed = {info(1, 13, store::kFlagged)};
  own.highest_modseq = 13;
  EXPECT_EQ(v.apply(own, true, rev1), "");
  // QRESYNC: VANISHED instead of EXPUNGE, and UID/MODSEQ in FETCH; rev2: no RECENT.
  const ViewOptions q{.condstore = true, .qresync = true, .recent = false};
  store::Changes c2;
  c2.vanished = {1, 3};
  c2.changed = {info(4, 14, store::kAnswered)};
  c2.highest_modseq = 14;
  EXPECT_EQ(v.apply(c2, true, q), "* VANISHED 1,3\r\n* 1 FETCH (FLAGS (\\Answered) UID 4 MODSEQ (14))\r\n");
  EXPECT_EQ(v.exists(), 1u);
}

TEST(SelectedView, KeepsFlagsThroughChangesAndExpunges) {
  SelectedView v;
  store::MailboxView mv = make_view({1, 2, 3, 4});
  mv.messages[0].flags.system = store::kSeen;
  mv.messages[1].flags.keywords = {"$Label1", "Work"};
  v.open(mv, false);
  EXPECT_EQ(v.flags_at(1), (store::Flags{store::kSeen, {}}));
  EXPECT_EQ(v.flags_at(2), (store::Flags{0, {"$Label1", "Work"}}));
  EXPECT_EQ(v.flags_at(3), store::Flags{});
  // Another session's changes (keywords dropped, keywords added), an own change (not echoed but
  // kept) and a new message.
  store::MessageInfo later = info(3, 11, store::kFlagged);
  later.flags.keywords = {"Later"};
  v.note_own_change(4, 12);
  store::Changes c;
  c.changed = {info(2, 11, store::kAnswered), later, info(4, 12, store::kDraft), info(5, 13, store::kSeen)};
  c.highest_modseq = 13;
  c.uid_next = 6;
  EXPECT_EQ(v.apply(c, true, ViewOptions{.recent = false}),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 Work Later)\r\n"
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 Work Later \\*)] Flags permitted\r\n"
            "* 5 EXISTS\r\n* 2 FETCH (FLAGS (\\Answered))\r\n* 3 FETCH (FLAGS (\\Flagged Later))\r\n");
  EXPECT_EQ(v.flags_at(2), (store::Flags{store::kAnswered, {}}));
  EXPECT_EQ(v.flags_at(3), (store::Flags{store::kFlagged, {"Later"}}));
  EXPECT_EQ(v.flags_at(4), (store::Flags{store::kDraft, {}}));
  EXPECT_EQ(v.flags_at(5), (store::Flags{store::kSeen, {}}));
  // Expunges move the flags with the sequence numbers; a message's keywords go with it.
  v.expunge({1, 3}, ViewOptions{});
  ASSERT_EQ(v.exists(), 3u);
  EXPECT_EQ(v.flags_at(1), (store::Flags{store::kAnswered, {}}));
  EXPECT_EQ(v.flags_at(2), (store::Flags{store::kDraft, {}}));
  EXPECT_EQ(v.flags_at(3), (store::Flags{store::kSeen, {}}));
  // Held-back expunges (another session's) take the flags away when released.
  store::Changes gone;
  gone.vanished = {4};
  gone.highest_modseq = 14;
  v.apply(gone, false, ViewOptions{});
  EXPECT_EQ(v.flags_at(2), (store::Flags{store::kDraft, {}}));
  v.release_expunges(ViewOptions{});
  EXPECT_EQ(v.flags_at(2), (store::Flags{store::kSeen, {}}));
}

// RFC 3501 §2.3.2: a message is \Recent only in the session that claimed it. The view marks the
// UIDs SELECT claimed and those a later claim gave it, not every new message it hears of.
TEST(SelectedView, RecentIsOnlyWhatThisSessionClaimed_Rfc3501_2_3_2) {
  SelectedView v;
  v.open(make_view({1, 2, 3}, 2), false);  // SELECT claimed 2 and 3
  EXPECT_EQ(v.recent_count(), 2u);
  EXPECT_FALSE(v.is_recent(1));
  EXPECT_TRUE(v.is_recent(3));
  // New mail another session claimed first: EXISTS, but not recent here.
  store::Changes c;
  c.changed = {info(4, 11)};
  c.highest_modseq = 11;
  c.uid_next = 5;
  EXPECT_EQ(v.apply(c, true, ViewOptions{}), "* 4 EXISTS\r\n* 2 RECENT\r\n");
  EXPECT_FALSE(v.is_recent(4));
  // New mail this session claimed: recent, and the ranges need not touch.
  store::Changes d;
  d.changed = {info(5, 12), info(6, 12)};
  d.highest_modseq = 12;
  d.uid_next = 7;
  d.claimed_recent = store::UidRange{5, 6};
  EXPECT_EQ(v.apply(d, true, ViewOptions{}), "* 6 EXISTS\r\n* 4 RECENT\r\n");
  EXPECT_EQ(v.recent(), (std::vector<store::UidRange>{{2, 3}, {5, 6}}));
  EXPECT_FALSE(v.is_recent(4));
  EXPECT_TRUE(v.is_recent(6));
  // Expunged recent messages no longer count.
  v.expunge({3, 5}, ViewOptions{});
  EXPECT_EQ(v.recent_count(), 2u);
  // A read-only view never takes a claim.
  SelectedView ro;
  ro.open(make_view({1}), true);
  d.changed = {info(2, 12)};
  d.uid_next = 3;
  d.claimed_recent = store::UidRange{2, 2};
  EXPECT_EQ(ro.apply(d, true, ViewOptions{}), "* 2 EXISTS\r\n* 0 RECENT\r\n");
}

// RFC 3501 §7.2.6: FLAGS (and PERMANENTFLAGS) list every keyword before a response shows it; a
// keyword known already (in any case) is not announced again.
TEST(SelectedView, NewKeywordsAreAnnouncedInFlagsFirst_Rfc3501_7_2_6) {
  SelectedView v;
  store::MailboxView mv = make_view({1, 2});
  mv.messages[0].flags.keywords = {"Work"};
  v.open(mv, false);
  const std::string base = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  EXPECT_EQ(v.flags_response(), "* FLAGS (" + base + " Work)\r\n* OK [PERMANENTFLAGS (" + base +
                                    " Work \\*)] Flags permitted\r\n");
  store::Flags own{0, {"work", "$Todo"}};
  const std::string announced = "* FLAGS (" + base + " Work $Todo)\r\n* OK [PERMANENTFLAGS (" + base +
                                " Work $Todo \\*)] Flags permitted\r\n";
  EXPECT_EQ(v.learn_keywords(own), announced);
  EXPECT_EQ(v.learn_keywords(own), "");
  // Another session's new keyword on a new message: FLAGS before EXISTS.
  store::MessageInfo m = info(3, 11);
  m.flags.keywords = {"Later"};
  store::Changes c;
  c.changed = {m};
  c.highest_modseq = 11;
  c.uid_next = 4;
  EXPECT_EQ(v.apply(c, true, ViewOptions{.recent = false}),
            "* FLAGS (" + base + " Work $Todo Later)\r\n* OK [PERMANENTFLAGS (" + base +
                " Work $Todo Later \\*)] Flags permitted\r\n* 3 EXISTS\r\n");
  // Read-only: PERMANENTFLAGS is empty.
  SelectedView ro;
  ro.open(mv, true);
  EXPECT_EQ(ro.flags_response(), "* FLAGS (" + base + " Work)\r\n* OK [PERMANENTFLAGS ()] Flags permitted\r\n");
}

TEST(SelectedView, OwnExpungeReportsHighestFirstAndCloseFreesMemory) {
  SelectedView v;
  v.open(make_view({1, 2, 3, 4}), false);
  EXPECT_EQ(v.expunge({2, 4, 99}, ViewOptions{}), "* 4 EXPUNGE\r\n* 2 EXPUNGE\r\n");
  EXPECT_EQ(v.uids(), (std::vector<store::Uid>{1, 3}));
  v.close();
  EXPECT_FALSE(v.is_open());
  EXPECT_EQ(v.uids().capacity(), 0u);
}

// RFC 3501 §7.2.6: FLAGS on SELECT lists the keywords defined in the mailbox (MailboxKeywords), also
// those no message carries at the moment, then the ones on messages; each once, case-insensitively.
TEST(SelectedView, FlagsListDefinedKeywordsNoMessageCarries_Rfc3501_7_2_6) {
  auto mv = make_view({1, 2});
  mv.messages[0].flags.keywords = {"$Work"};
  SelectedView v;
  v.open(mv, false, {"$Label4", "$work"});
  EXPECT_EQ(v.known_keywords(), (std::vector<std::string>{"$Label4", "$work"}));
  EXPECT_NE(v.flags_response().find("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label4 $work)\r\n"),
            std::string::npos)
      << v.flags_response();
  SelectedView plain;
  plain.open(mv, false);
  EXPECT_EQ(plain.known_keywords(), (std::vector<std::string>{"$Work"}));
}

// The keywords registry: first-recorded order, case-insensitive, per mailbox and account, bounded.
TEST(MailboxKeywords, RecordsPerMailboxInOrderAndStaysBounded) {
  MailboxKeywords k;
  k.add(1, 10, {"$A", "$b"});
  k.add(1, 10, {"$B", "$c", "$a"});
  k.add(2, 10, {"$Other"});
  EXPECT_EQ(k.get(1, 10), (std::vector<std::string>{"$A", "$b", "$c"}));
  EXPECT_EQ(k.get(2, 10), (std::vector<std::string>{"$Other"}));
  EXPECT_TRUE(k.get(1, 11).empty());
  // At N per mailbox accepted, N+1 left to the messages.
  std::vector<std::string> many;
  for (size_t i = 0; i < MailboxKeywords::kMaxPerMailbox + 1; ++i) many.push_back("k" + std::to_string(i));
  k.add(3, 1, many);
  EXPECT_EQ(k.get(3, 1).size(), MailboxKeywords::kMaxPerMailbox);
  // Past the total, whole mailboxes are forgotten, oldest first.
  store::MailboxId box = 100;
  while (k.total() + MailboxKeywords::kMaxPerMailbox <= MailboxKeywords::kMaxTotal) k.add(4, box++, many);
  k.add(5, 1, many);
  EXPECT_LE(k.total(), MailboxKeywords::kMaxTotal);
  EXPECT_TRUE(k.get(1, 10).empty());
  EXPECT_EQ(k.get(5, 1).size(), MailboxKeywords::kMaxPerMailbox);
}

}  // namespace
}  // namespace posthorn::server::imap
