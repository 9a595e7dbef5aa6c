// Tests of SEARCH / SORT / THREAD evaluation over a real SqliteMailStore in a temp directory: every
// key, i18n (RFC 2047 subjects, casemap edge cases), body search inside base64 and quoted-printable
// parts, cost order (no blob opened for metadata keys), SORT with REVERSE and several criteria,
// the RFC 5256 threading algorithms, and a 10,000-message performance sanity check.
#include "base/blocking_pool.hpp"
#include "server/imap/search_engine.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

#include "base/base64.hpp"
#include "mime/summary.hpp"
#include "base/blocking_pool.hpp"
#include "server/imap/search_casemap.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "tests/harness/drive.hpp"

namespace posthorn::server::imap {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using proto::imap::format_thread;
using proto::imap::parse_search;
using proto::imap::parse_sort;
using proto::imap::parse_thread;
using Numbers = std::vector<uint32_t>;

constexpr int64_t kDay = 86400;
constexpr int64_t k1994Feb1 = 8797 * kDay;  // 1-Feb-1994 00:00:00 UTC

std::string base64_lines(std::string_view bytes) {
  const std::string flat = base64::encode(bytes);
  std::string out;
  for (size_t i = 0; i < flat.size(); i += 76) out += flat.substr(i, 76) + "\r\n";
  return out;
}

class SearchEngineTest : public ::testing::Test {
 protected:
  SearchEngineTest() {
    static std::atomic<int> n{0};
    dir_ = fs::temp_directory_path() / ("posthorn_search_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(dir_);
  }
  ~SearchEngineTest() override {
    box_.reset();
    account_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void SetUp() override {
    auto s = store::sqlite::SqliteMailStore::open(dir_, pool_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    auto a = run(store_->account(1, {}));
    ASSERT_TRUE(a);
    account_ = *a;
    auto b = run(account_->open("INBOX"));
    ASSERT_TRUE(b);
    box_ = std::move(*b);
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    return posthorn::testing::drive(io_, std::move(op));
  }

  store::Uid append(std::string bytes, uint8_t system = 0, std::vector<std::string> keywords = {},
                    std::optional<int64_t> date = k1994Feb1) {
    store::Flags f;
    f.system = system;
    f.keywords = std::move(keywords);
    auto r = run(box_->append(store::AppendMessage{std::move(bytes), std::move(f), date}));
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->uid : 0;
  }

  // Reloads the view (sequence order = UID order) with summaries.
  void load() {
    auto view = run(box_->select(false));
    ASSERT_TRUE(view);
    std::vector<store::Uid> uids;
    for (const auto& m : view->messages) uids.push_back(m.uid);
    auto data = run(box_->fetch(uids, true));
    ASSERT_TRUE(data);
    messages_ = std::move(*data);
  }

  SearchContext ctx(bool uid = false) {
    SearchContext c;
    c.messages = messages_;
    c.recent = recent_;
    c.saved = saved_;
    c.mailbox = box_.get();
    c.uid = uid;
    c.now = now_;
    return c;
  }

  SearchOutcome outcome(std::string_view args, bool uid = false) {
    auto p = parse_search(args);
    EXPECT_TRUE(p) << args << ": " << (p ? "" : p.error().message);
    if (!p) return {};
    auto r = run(run_search(*p, ctx(uid)));
    EXPECT_TRUE(r) << args << ": " << (r ? "" : r.error().message);
    return r ? *r : SearchOutcome{};
  }
  Numbers search(std::string_view args, bool uid = false) { return outcome(args, uid).numbers; }

  Numbers sort(std::string_view args) {
    auto p = parse_sort(args);
    EXPECT_TRUE(p) << args;
    if (!p) return {};
    auto r = run(run_sort(*p, ctx()));
    EXPECT_TRUE(r);
    return r ? r->numbers : Numbers{};
  }
  std::string thread(std::string_view args) {
    auto p = parse_thread(args);
    EXPECT_TRUE(p) << args;
    if (!p) return {};
    auto r = run(run_thread(*p, ctx()));
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? format_thread(*r) : std::string();
  }

  fs::path dir_;
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  asio::io_context io_;
  BlockingPool pool_{2};
  std::unique_ptr<store::sqlite::SqliteMailStore> store_;
  std::shared_ptr<store::Account> account_;
  std::unique_ptr<store::Mailbox> box_;
  std::vector<store::MessageData> messages_;
  std::vector<store::UidRange> recent_;
  std::vector<store::Uid> saved_;
  int64_t now_ = k1994Feb1 + 10 * kDay;
};

// The corpus most key tests share (sequence number = UID = position):
//  1 plain, \Seen \Flagged, 1-Feb-1994, Date: 1 Feb 1994 21:52:25 -0800 (2 Feb in UTC)
//  2 RFC 2047 UTF-8 subject, quoted-printable body, \Answered $Forwarded, 2-Feb-1994
//  3 multipart: base64 ISO-8859-1 text part + base64 attachment, \Deleted \Draft, 5-Feb-1994
//  4 message/rfc822 inside, no Date: header, no flags, 10-Feb-1994
class KeyTest : public SearchEngineTest {
 protected:
  void SetUp() override {
    SearchEngineTest::SetUp();
    append("From: Alice Example <alice@example.test>\r\nTo: bob@example.test\r\nCc: Carol <carol@example.test>\r\n"
           "Bcc: dave@example.test\r\nSubject: Hello world\r\nDate: Tue, 1 Feb 1994 21:52:25 -0800\r\n"
           "X-Mailer: mutt 2.2\r\nMessage-ID: <one@example.test>\r\n\r\nThe quick brown fox\r\njumps.\r\n",
           store::kSeen | store::kFlagged, {}, k1994Feb1);
    append("From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.test>\r\nTo: alice@example.test\r\n"
           "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\nDate: Wed, 2 Feb 1994 10:00:00 +0000\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           "Treffen in der Hauptstra=C3=9Fe um 10 Uhr, sch=C3=B6n w=C3=A4r's. Ein sehr langer =\r\n"
           "Satz mit weichem Umbruch.\r\n",
           store::kAnswered, {"$Forwarded"}, k1994Feb1 + kDay);
    append("From: carol@example.test\r\nTo: alice@example.test\r\nSubject: Report\r\n"
           "Date: Sat, 5 Feb 1994 08:00:00 +0100\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
           "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
               base64_lines("Das Geheimnis liegt im K\xf6nigreich.\r\n") +
               "--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
               base64_lines("attachmentsecret") + "--XX--\r\n",
           store::kDeleted | store::kDraft, {"Junk"}, k1994Feb1 + 4 * kDay);
    append("From: dave@example.test\r\nTo: carol@example.test\r\nSubject: Fwd: inner\r\nMIME-Version: 1.0\r\n"
           "Content-Type: message/rfc822\r\n\r\n"
           "From: eve@example.test\r\nSubject: Inner =?ISO-8859-1?Q?Caf=E9?=\r\n\r\ninner body text\r\n",
           0, {}, k1994Feb1 + 9 * kDay);
    load();
  }
};

TEST_F(KeyTest, FlagsAndKeywords) {
  EXPECT_EQ(search("ALL"), (Numbers{1, 2, 3, 4}));
  EXPECT_EQ(search("SEEN"), (Numbers{1}));
  EXPECT_EQ(search("UNSEEN"), (Numbers{2, 3, 4}));
  EXPECT_EQ(search("FLAGGED"), (Numbers{1}));
  EXPECT_EQ(search("UNFLAGGED"), (Numbers{2, 3, 4}));
  EXPECT_EQ(search("ANSWERED"), (Numbers{2}));
  EXPECT_EQ(search("UNANSWERED"), (Numbers{1, 3, 4}));
  EXPECT_EQ(search("DELETED"), (Numbers{3}));
  EXPECT_EQ(search("UNDELETED"), (Numbers{1, 2, 4}));
  EXPECT_EQ(search("DRAFT"), (Numbers{3}));
  EXPECT_EQ(search("UNDRAFT"), (Numbers{1, 2, 4}));
  EXPECT_EQ(search("KEYWORD $forwarded"), (Numbers{2}));  // keywords compare case-insensitively
  EXPECT_EQ(search("KEYWORD Junk"), (Numbers{3}));
  EXPECT_EQ(search("UNKEYWORD Junk"), (Numbers{1, 2, 4}));
  EXPECT_EQ(search("KEYWORD nothere"), (Numbers{}));
}

TEST_F(KeyTest, RecentNewOld) {
  EXPECT_EQ(search("RECENT"), (Numbers{}));
  EXPECT_EQ(search("OLD"), (Numbers{1, 2, 3, 4}));
  recent_ = {{messages_[1].info.uid, messages_[3].info.uid}};  // 2..4 recent
  EXPECT_EQ(search("RECENT"), (Numbers{2, 3, 4}));
  EXPECT_EQ(search("NEW"), (Numbers{2, 3, 4}));
  EXPECT_EQ(search("OLD"), (Numbers{1}));
  // Not one range: the session claimed 1 and 3 only, another session 2 and 4 [RFC 3501 §2.3.2].
  recent_ = {{messages_[0].info.uid, messages_[0].info.uid}, {messages_[2].info.uid, messages_[2].info.uid}};
  EXPECT_EQ(search("RECENT"), (Numbers{1, 3}));
  EXPECT_EQ(search("OLD"), (Numbers{2, 4}));
}

TEST_F(KeyTest, SequenceUidAndSaved) {
  EXPECT_EQ(search("2:3"), (Numbers{2, 3}));
  EXPECT_EQ(search("3:2"), (Numbers{2, 3}));
  EXPECT_EQ(search("*"), (Numbers{4}));
  EXPECT_EQ(search("3:*"), (Numbers{3, 4}));
  EXPECT_EQ(search("1,4"), (Numbers{1, 4}));
  EXPECT_EQ(search("5:9"), (Numbers{}));
  const auto u = [&](size_t i) { return messages_[i].info.uid; };
  EXPECT_EQ(search("UID " + std::to_string(u(1))), (Numbers{2}));
  EXPECT_EQ(search("UID 1000:*"), (Numbers{4}));  // n:* always includes the last [RFC 9051 §6.4.8]
  EXPECT_EQ(search("UID " + std::to_string(u(0)) + ":" + std::to_string(u(2)), true), (Numbers{u(0), u(1), u(2)}));
  EXPECT_EQ(search("$"), (Numbers{}));  // nothing saved: empty
  saved_ = {u(1), u(3)};
  EXPECT_EQ(search("$"), (Numbers{2, 4}));
  EXPECT_EQ(search("UID $"), (Numbers{2, 4}));
  EXPECT_EQ(search("NOT $"), (Numbers{1, 3}));
}

TEST_F(KeyTest, SaveResult) {
  auto all = outcome("RETURN (SAVE) UNSEEN");
  ASSERT_TRUE(all.saved);
  EXPECT_EQ(all.saved->size(), 3u);
  auto minmax = outcome("RETURN (SAVE MIN MAX) UNSEEN");
  ASSERT_TRUE(minmax.saved);
  EXPECT_EQ(*minmax.saved, (std::vector<store::Uid>{messages_[1].info.uid, messages_[3].info.uid}));
  auto with_count = outcome("RETURN (SAVE MIN COUNT) UNSEEN");
  EXPECT_EQ(with_count.saved->size(), 3u);  // MIN with COUNT saves everything [RFC 5182 §2.4]
  EXPECT_FALSE(outcome("UNSEEN").saved);
}

TEST_F(KeyTest, Dates) {
  // internal dates: 1, 2, 5, 10 Feb 1994
  EXPECT_EQ(search("BEFORE 2-Feb-1994"), (Numbers{1}));
  EXPECT_EQ(search("ON 2-Feb-1994"), (Numbers{2}));
  EXPECT_EQ(search("SINCE 5-Feb-1994"), (Numbers{3, 4}));
  EXPECT_EQ(search("SINCE 11-Feb-1994"), (Numbers{}));
  // Date: headers: 1 Feb -0800 (its own day counts, not UTC's 2 Feb), 2 Feb, 5 Feb +0100, none (10 Feb internal)
  EXPECT_EQ(search("SENTON 1-Feb-1994"), (Numbers{1}));
  EXPECT_EQ(search("SENTBEFORE 2-Feb-1994"), (Numbers{1}));
  EXPECT_EQ(search("SENTSINCE 5-Feb-1994"), (Numbers{3, 4}));
  EXPECT_EQ(search("SENTON 10-Feb-1994"), (Numbers{4}));  // no Date: the internal date
  // save dates are "now" (the append): all today, none before 1-Jan-2000
  EXPECT_EQ(search("SAVEDBEFORE 1-Jan-2000"), (Numbers{}));
  EXPECT_EQ(search("SAVEDSINCE 1-Jan-2000"), (Numbers{1, 2, 3, 4}));
  EXPECT_EQ(search("SAVEDATESUPPORTED"), (Numbers{1, 2, 3, 4}));
  // YOUNGER / OLDER against now = 11 Feb 1994 00:00
  EXPECT_EQ(search("YOUNGER 172800"), (Numbers{4}));  // within 2 days: 10 Feb
  EXPECT_EQ(search("OLDER 172800"), (Numbers{1, 2, 3}));
  EXPECT_EQ(search("YOUNGER 86400"), (Numbers{4}));   // 10 Feb 00:00 is exactly 1 day ago: included
  EXPECT_EQ(search("OLDER 86401"), (Numbers{1, 2, 3}));
}

TEST_F(KeyTest, SizesAndModseq) {
  const uint64_t s2 = messages_[1].info.size;
  Numbers larger, smaller;
  for (uint32_t i = 0; i < 4; ++i) {
    if (messages_[i].info.size > s2) larger.push_back(i + 1);
    if (messages_[i].info.size < s2) smaller.push_back(i + 1);
  }
  EXPECT_EQ(search("LARGER " + std::to_string(s2)), larger);
  EXPECT_EQ(search("SMALLER " + std::to_string(s2)), smaller);
  EXPECT_EQ(search("LARGER " + std::to_string(s2 - 1)).size(), larger.size() + 1);  // N and N+1
  EXPECT_EQ(search("SMALLER " + std::to_string(s2 + 1)).size(), smaller.size() + 1);
  const auto m3 = messages_[2].info.modseq;
  auto r = outcome("MODSEQ " + std::to_string(m3));
  EXPECT_EQ(r.numbers, (Numbers{3, 4}));
  ASSERT_TRUE(r.modseq);
  EXPECT_EQ(*r.modseq, messages_[3].info.modseq);
  EXPECT_FALSE(outcome("ALL").modseq);  // only with a MODSEQ key [RFC 7162 §3.1.5]
  EXPECT_EQ(search("MODSEQ \"/flags/\\\\seen\" all " + std::to_string(m3)), (Numbers{3, 4}));
}

// RFC 7162 §3.1.5 with RFC 4731: RETURN (MIN) or (MAX) alone reports the modseq of the message
// returned, MIN and MAX together the higher of the two, anything else the highest of all matches.
TEST_F(KeyTest, ModSeqOfMinAndMaxIsThatOfTheReturnedMessage_Rfc7162_3_1_5) {
  // Modseqs out of UID order, as after flag changes.
  const store::ModSeq mod[] = {10, 40, 20, 30};
  for (size_t i = 0; i < 4; ++i) messages_[i].info.modseq = mod[i];
  auto modseq = [&](std::string_view args) { return outcome(args).modseq.value_or(0); };
  EXPECT_EQ(modseq("RETURN (MIN) 1:3 MODSEQ 1"), 10u);
  EXPECT_EQ(modseq("RETURN (MAX) 1:3 MODSEQ 1"), 20u);
  EXPECT_EQ(modseq("RETURN () 1:3 MODSEQ 1"), 40u);
  EXPECT_EQ(modseq("RETURN (MIN MAX) 1,3:4 MODSEQ 1"), 30u);
  EXPECT_EQ(modseq("RETURN (ALL) 1:3 MODSEQ 1"), 40u);
  EXPECT_EQ(modseq("RETURN (COUNT) 1:3 MODSEQ 1"), 40u);
  EXPECT_EQ(modseq("RETURN (MIN COUNT) 1:3 MODSEQ 1"), 40u);
  EXPECT_EQ(modseq("1:3 MODSEQ 1"), 40u);
  EXPECT_FALSE(outcome("RETURN (MIN) 1:3 MODSEQ 41").modseq);  // nothing matched
  EXPECT_TRUE(outcome("RETURN (MIN) 1:3 MODSEQ 41").modseq_key);
  EXPECT_FALSE(outcome("RETURN (MIN) 1:3").modseq_key);
}

TEST_F(KeyTest, AddressAndSubject) {
  EXPECT_EQ(search("FROM alice"), (Numbers{1}));
  EXPECT_EQ(search("FROM \"ALICE EXAMPLE\""), (Numbers{1}));
  EXPECT_EQ(search("FROM example.test"), (Numbers{1, 2, 3, 4}));
  EXPECT_EQ(search("FROM \"j\xc3\xbcrgen\""), (Numbers{2}));  // encoded-word display name, decoded
  EXPECT_EQ(search("FROM \"J\xc3\x9c" "RGEN M\xc3\x9cLLER\""), (Numbers{2}));  // Unicode case
  EXPECT_EQ(search("TO alice@example.test"), (Numbers{2, 3}));
  EXPECT_EQ(search("CC carol"), (Numbers{1}));
  EXPECT_EQ(search("BCC dave"), (Numbers{1}));
  EXPECT_EQ(search("SUBJECT hello"), (Numbers{1}));
  EXPECT_EQ(search("SUBJECT \"\""), (Numbers{1, 2, 3, 4}));  // every message with a Subject
  EXPECT_EQ(search("SUBJECT inner"), (Numbers{4}));
  EXPECT_EQ(search("SUBJECT \"caf\xc3\xa9\""), (Numbers{}));  // that is the embedded message's subject
}

TEST_F(KeyTest, Rfc2047SubjectFoundByCaseDifferentUtf8) {
  // "Grüße aus Köln" arrives as =?UTF-8?B?...?=; searched in other cases
  EXPECT_EQ(search("SUBJECT \"GR\xc3\x9c\xc3\x9f" "E AUS K\xc3\x96LN\""), (Numbers{2}));
  EXPECT_EQ(search("CHARSET UTF-8 SUBJECT {5}\r\nk\xc3\xb6ln"), (Numbers{2}));
  // RFC 5051 decomposes ö to O + U+0308: "KO" is a substring of "Köln", "KOLN" is not
  EXPECT_EQ(search("SUBJECT \"aus ko\""), (Numbers{2}));
  EXPECT_EQ(search("SUBJECT koln"), (Numbers{}));
  // ß has no simple titlecase mapping: "SS" does not match "ß" (documented in search_casemap.hpp)
  EXPECT_EQ(search("SUBJECT GRUSSE"), (Numbers{}));
  EXPECT_EQ(search("SUBJECT \"gr\xc3\xbc\xc3\x9f" "e\""), (Numbers{2}));
}

TEST_F(KeyTest, HeaderKey) {
  EXPECT_EQ(search("HEADER X-Mailer mutt"), (Numbers{1}));
  EXPECT_EQ(search("HEADER x-mailer \"\""), (Numbers{1}));  // present, any value
  EXPECT_EQ(search("HEADER Message-ID \"\""), (Numbers{1}));
  EXPECT_EQ(search("HEADER Subject \"k\xc3\xb6ln\""), (Numbers{2}));  // encoded words decoded
  EXPECT_EQ(search("HEADER Content-Type multipart"), (Numbers{3}));
  EXPECT_EQ(search("HEADER X-Nothing \"\""), (Numbers{}));
}

TEST_F(KeyTest, BodyInsideQuotedPrintableAndBase64) {
  EXPECT_EQ(search("BODY \"QUICK BROWN\""), (Numbers{1}));
  EXPECT_EQ(search("BODY \"hauptstra\xc3\x9f" "e\""), (Numbers{2}));   // QP-encoded UTF-8
  EXPECT_EQ(search("BODY \"langer Satz\""), (Numbers{2}));          // across a soft line break
  EXPECT_EQ(search("BODY \"K\xc3\x96NIGREICH\""), (Numbers{3}));      // base64, ISO-8859-1
  EXPECT_EQ(search("BODY attachmentsecret"), (Numbers{}));           // attachments are not text
  EXPECT_EQ(search("BODY \"inner body\""), (Numbers{4}));            // embedded message body
  EXPECT_EQ(search("BODY \"inner caf\xc3\xa9\""), (Numbers{4}));     // and its (decoded) header
  EXPECT_EQ(search("BODY hello"), (Numbers{}));                      // the top header is not body
  EXPECT_EQ(search("BODY \"\""), (Numbers{1, 2, 3, 4}));
}

TEST_F(KeyTest, TextCoversHeaderAndBody) {
  EXPECT_EQ(search("TEXT hello"), (Numbers{1}));
  EXPECT_EQ(search("TEXT fox"), (Numbers{1}));
  EXPECT_EQ(search("TEXT mutt"), (Numbers{1}));
  EXPECT_EQ(search("TEXT geheimnis"), (Numbers{3}));
  EXPECT_EQ(search("TEXT \"example.test\""), (Numbers{1, 2, 3, 4}));
  EXPECT_EQ(search("TEXT zzzz"), (Numbers{}));
}

TEST_F(KeyTest, BooleanStructure) {
  EXPECT_EQ(search("OR SEEN DELETED"), (Numbers{1, 3}));
  EXPECT_EQ(search("NOT SEEN"), (Numbers{2, 3, 4}));
  EXPECT_EQ(search("(OR SEEN ANSWERED) NOT FLAGGED"), (Numbers{2}));
  EXPECT_EQ(search("OR (FROM alice SEEN) BODY geheimnis"), (Numbers{1, 3}));
  EXPECT_EQ(search("NOT NOT SEEN"), (Numbers{1}));
  EXPECT_EQ(search("OR BODY fox OR BODY geheimnis SUBJECT report"), (Numbers{1, 3}));
  EXPECT_EQ(search("UNSEEN BODY \"\xc3\xa4r's\""), (Numbers{2}));
}

TEST_F(KeyTest, CheapKeysDecideBeforeBlobsAreRead) {
  EXPECT_EQ(outcome("SEEN FLAGGED SUBJECT hello").blobs_opened, 0u);  // summary only
  EXPECT_EQ(outcome("SEEN BODY fox").blobs_opened, 1u);               // only message 1 is read
  EXPECT_EQ(outcome("OR SEEN BODY fox").blobs_opened, 3u);            // 1 decided by SEEN
  EXPECT_EQ(outcome("BODY fox DELETED").blobs_opened, 1u);            // AND reordered: flags first
  EXPECT_EQ(outcome("ALL").blobs_opened, 0u);
  // Without a mailbox a metadata search still works; one needing bytes reports an error
  SearchContext c = ctx();
  c.mailbox = nullptr;
  EXPECT_TRUE(run(run_search(parse_search("SEEN SUBJECT x").value(), c)));
  auto r = run(run_search(parse_search("BODY x").value(), c));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInternal);
}

// A session view built from MailboxView::messages has no summaries: they are fetched on need.
TEST_F(KeyTest, ViewWithoutSummaries) {
  const Numbers by_subject = sort("(SUBJECT REVERSE DATE) UTF-8 ALL");
  const std::string threads = thread("REFERENCES UTF-8 ALL");
  for (auto& m : messages_) m.summary.clear();
  EXPECT_EQ(search("SUBJECT hello"), (Numbers{1}));
  EXPECT_EQ(search("SEEN FROM alice"), (Numbers{1}));
  EXPECT_EQ(search("UNSEEN SENTSINCE 2-Feb-1994"), (Numbers{2, 3, 4}));
  EXPECT_EQ(search("HEADER X-Mailer mutt"), (Numbers{1}));
  EXPECT_EQ(search("BODY geheimnis"), (Numbers{3}));
  EXPECT_EQ(search("BODY \"inner body\""), (Numbers{4}));
  EXPECT_EQ(sort("(SUBJECT REVERSE DATE) UTF-8 ALL"), by_subject);
  EXPECT_EQ(thread("REFERENCES UTF-8 ALL"), threads);
  EXPECT_EQ(sort("(ARRIVAL) UTF-8 ALL"), (Numbers{1, 2, 3, 4}));
  // metadata keys decide without any fetch or blob
  EXPECT_EQ(outcome("SEEN FLAGGED").blobs_opened, 0u);
}

TEST_F(KeyTest, ExpungedMessageDoesNotMatch) {
  // message 4 is expunged by another session after this view was taken
  ASSERT_TRUE(run(box_->store_flags(store::StoreFlags{{messages_[3].info.uid}, store::FlagOp::kAdd,
                                                       store::Flags{store::kDeleted, {}}, std::nullopt})));
  ASSERT_TRUE(run(box_->expunge(std::vector<store::Uid>{messages_[3].info.uid})));
  EXPECT_EQ(search("BODY inner"), (Numbers{}));
  EXPECT_EQ(search("SUBJECT inner"), (Numbers{4}));  // answered from the view the session holds
}

TEST_F(SearchEngineTest, LargeBase64BodyAcrossChunks) {
  // ~300 KB of text, base64 with 76-column lines; the needle straddles the 64 KiB boundaries.
  std::string text;
  while (text.size() < 300'000) text += "lorem ipsum dolor sit amet ";
  // The second 64 KiB read ends after 1680 base64 lines of 78 bytes and 32 more characters:
  // 1680 * 57 + 24 = 95784 decoded bytes. The needle starts 8 bytes earlier, so that boundary
  // falls inside the two bytes of its "é".
  const size_t at = 95'784 - 8;
  std::string with_needle = text;
  with_needle.insert(at, "NEEDLE-\xc3\xa9t\xc3\xa9-HERE");
  // The fifth read ends 2 base64 characters into a line (327680 = 4201 * 78 + 2): those two wait
  // for the next read, else every later quantum would be misread. A second needle lies beyond.
  with_needle.insert(250'000, "SECOND-NEEDLE");
  append("Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n" + base64_lines(with_needle));
  append("Subject: big2\r\n\r\n" + text.substr(0, 200'000) + "\r\ntail-marker\r\n");
  load();
  EXPECT_EQ(search("BODY \"needle-\xc3\x89T\xc3\x89-here\""), (Numbers{1}));
  EXPECT_EQ(search("BODY second-needle"), (Numbers{1}));
  EXPECT_EQ(search("BODY tail-marker"), (Numbers{2}));
  EXPECT_EQ(search("BODY \"amet lorem\""), (Numbers{1, 2}));
  // max_text_bytes bounds the scan: with 1 KB the tail is never reached
  SearchContext c = ctx();
  c.max_text_bytes = 1024;
  auto r = run(run_search(parse_search("BODY tail-marker").value(), c));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->numbers, (Numbers{}));
}

TEST(Casemap, Rfc5051) {
  EXPECT_EQ(casemap_fold("abcXYZ09"), "ABCXYZ09");
  EXPECT_EQ(casemap_fold("\xc3\xa9"), "E\xcc\x81");               // é -> E + U+0301
  EXPECT_EQ(casemap_fold("\xc3\x89"), "E\xcc\x81");               // É
  EXPECT_EQ(casemap_fold("\xc3\x9f"), "\xc3\x9f");                // ß unchanged (no simple mapping)
  EXPECT_EQ(casemap_fold("\xef\xac\x81"), "FI");                  // ﬁ ligature: compatibility decomposition
  EXPECT_EQ(casemap_fold("\xce\xb1\xce\xb2"), "\xce\x91\xce\x92");  // αβ -> ΑΒ
  EXPECT_EQ(casemap_fold("\xd0\xb4"), "\xd0\x94");                // д -> Д
  EXPECT_EQ(casemap_fold("\xea\xb0\x80"), "\xea\xb0\x80");        // Hangul syllable kept
  EXPECT_EQ(casemap_fold("\xf0\x90\x90\xa8"), "\xf0\x90\x90\x80");  // Deseret small -> capital (outside BMP)
  EXPECT_EQ(casemap_fold("a\xffz"), "A\xef\xbf\xbdZ");            // invalid UTF-8 -> U+FFFD
  EXPECT_TRUE(casemap_contains("Stra\xc3\x9f" "e", "STRA\xc3\x9f"));
  EXPECT_FALSE(casemap_contains("Stra\xc3\x9f" "e", "STRASSE"));
  EXPECT_TRUE(casemap_contains("anything", ""));
  SubstringMatcher m({"lo wo", "zzz", ""});
  EXPECT_FALSE(m.feed("hel"));
  EXPECT_FALSE(m.feed("lo "));
  EXPECT_FALSE(m.feed("WORLD"));
  EXPECT_TRUE(m.found(0));
  EXPECT_FALSE(m.found(1));
  EXPECT_TRUE(m.found(2));
  m.break_text();
  EXPECT_FALSE(m.feed("zz"));
  m.break_text();
  EXPECT_FALSE(m.feed("z"));  // no match across a break
  EXPECT_TRUE(m.feed("zzz"));
}

TEST(BaseSubject, Rfc5256Extraction) {
  EXPECT_EQ(base_subject("Re: hello").text, "hello");
  EXPECT_TRUE(base_subject("Re: hello").reply_or_forward);
  EXPECT_FALSE(base_subject("hello").reply_or_forward);
  EXPECT_EQ(base_subject("RE: Re: re:hello").text, "hello");
  EXPECT_EQ(base_subject("Fwd: hello (fwd)").text, "hello");
  EXPECT_EQ(base_subject("hello (fwd) (FWD)  ").text, "hello");
  EXPECT_EQ(base_subject("[list] Re: hello").text, "hello");
  EXPECT_EQ(base_subject("Re[2]: hello").text, "hello");
  EXPECT_EQ(base_subject("Fw: [list] hello").text, "hello");
  EXPECT_EQ(base_subject("[list]").text, "[list]");  // a blob alone stays
  EXPECT_FALSE(base_subject("[list] hello").reply_or_forward);
  EXPECT_EQ(base_subject("[fwd: Re: hello]").text, "hello");
  EXPECT_TRUE(base_subject("[fwd: hello]").reply_or_forward);
  EXPECT_EQ(base_subject("  hello \t  world  ").text, "hello world");
  EXPECT_EQ(base_subject("=?UTF-8?Q?Re=3A_K=C3=B6ln?=").text, "K\xc3\xb6ln");
  EXPECT_EQ(base_subject("Re: ").text, "");
  EXPECT_EQ(base_subject("Reply").text, "Reply");
}

TEST_F(SearchEngineTest, SortWithReverseAndSeveralCriteria) {
  auto msg = [](std::string from, std::string to, std::string subject, std::string date, std::string body) {
    return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + (date.empty() ? "" : "\r\nDate: " + date) +
           "\r\n\r\n" + body + "\r\n";
  };
  // seq: from / subject / Date / internal date / size
  append(msg("Zed <zed@x.test>", "b@x.test", "Re: beta", "Thu, 3 Feb 1994 10:00:00 +0000", "xx"), 0, {}, k1994Feb1 + 5 * kDay);
  append(msg("amy@x.test", "a@x.test", "alpha", "Tue, 1 Feb 1994 10:00:00 +0000", std::string(40, 'x')), 0, {}, k1994Feb1 + 1 * kDay);
  append(msg("Bob <bob@x.test>", "c@x.test", "[list] Beta", "", "x"), 0, {}, k1994Feb1 + 2 * kDay);  // no Date: internal 3 Feb
  append(msg("Amy Other <cat@x.test>", "a@x.test", "Fwd: ALPHA", "Wed, 2 Feb 1994 23:00:00 -0200", "xxxxxxxx"), 0, {}, k1994Feb1);
  load();
  EXPECT_EQ(sort("(ARRIVAL) UTF-8 ALL"), (Numbers{4, 2, 3, 1}));
  EXPECT_EQ(sort("(REVERSE ARRIVAL) UTF-8 ALL"), (Numbers{1, 3, 2, 4}));
  // sent dates (UTC): 1: 3 Feb 10:00; 2: 1 Feb 10:00; 3: internal 3 Feb 00:00; 4: 3 Feb 01:00
  EXPECT_EQ(sort("(DATE) UTF-8 ALL"), (Numbers{2, 3, 4, 1}));
  EXPECT_EQ(sort("(SUBJECT) UTF-8 ALL"), (Numbers{2, 4, 1, 3}));  // alpha, ALPHA (ties: seq), beta, Beta
  EXPECT_EQ(sort("(SUBJECT REVERSE DATE) UTF-8 ALL"), (Numbers{4, 2, 1, 3}));
  EXPECT_EQ(sort("(REVERSE SUBJECT DATE) UTF-8 ALL"), (Numbers{3, 1, 2, 4}));
  EXPECT_EQ(sort("(FROM) UTF-8 ALL"), (Numbers{2, 3, 4, 1}));  // amy, bob, cat, zed
  EXPECT_EQ(sort("(DISPLAYFROM) UTF-8 ALL"), (Numbers{4, 2, 3, 1}));  // "Amy Other", amy@x.test, Bob, Zed
  EXPECT_EQ(sort("(TO REVERSE SIZE) UTF-8 ALL"), (Numbers{2, 4, 1, 3}));
  EXPECT_EQ(sort("(SIZE) UTF-8 UNSEEN NOT 2"), (Numbers{3, 1, 4}));
  EXPECT_EQ(sort("(CC) UTF-8 ALL"), (Numbers{1, 2, 3, 4}));  // all empty: sequence order
  EXPECT_EQ(sort("(DISPLAYTO) UTF-8 ALL"), (Numbers{2, 4, 1, 3}));
}

// RFC 5256 §3 (FROM/TO/CC: the first address of the list) and RFC 5957 §3 (DISPLAYFROM/DISPLAYTO):
// the first ENVELOPE address of a group is its start marker, so a group sorts by its name, not by
// its first member (as Dovecot; imaptest sort-addresses and sort-display-to).
TEST_F(SearchEngineTest, SortOnGroupUsesTheGroupNameRfc5256Sec3Rfc5957Sec3) {
  auto msg = [](std::string from, std::string to, std::string cc) {
    return "From: " + from + "\r\nTo: " + to + "\r\nCc: " + cc + "\r\nSubject: s\r\n\r\nbody\r\n";
  };
  append(msg("m@x.test", "m@x.test", "m@x.test"));                                   // 1
  append(msg("zz: a@x.test;", "zz: a@x.test, b@x.test;", "zz: a@x.test;"));         // 2: group "zz"
  append(msg("b@x.test", "b@x.test", "b@x.test"));                                   // 3
  append(msg("aa: z@x.test;", "Zed <z@x.test>", "empty:;"));                        // 4: group "aa"
  load();
  // FROM keys: m, zz, b, aa -> aa(4) b(3) m(1) zz(2); with first members it would be 2 3 1 4.
  EXPECT_EQ(sort("(FROM) UTF-8 ALL"), (Numbers{4, 3, 1, 2}));
  EXPECT_EQ(sort("(DISPLAYFROM) UTF-8 ALL"), (Numbers{4, 3, 1, 2}));
  // TO keys: m, zz, b, z -> b m z zz; DISPLAYTO: m@x.test, zz, b@x.test, Zed.
  EXPECT_EQ(sort("(TO) UTF-8 ALL"), (Numbers{3, 1, 4, 2}));
  EXPECT_EQ(sort("(DISPLAYTO) UTF-8 ALL"), (Numbers{3, 1, 4, 2}));
  // CC keys: m, zz, b, empty -> b empty m zz.
  EXPECT_EQ(sort("(CC) UTF-8 ALL"), (Numbers{3, 4, 1, 2}));
  EXPECT_EQ(sort("(REVERSE CC) UTF-8 ALL"), (Numbers{2, 1, 4, 3}));
}

TEST_F(SearchEngineTest, OrderedSubjectThreads) {
  auto msg = [](std::string subject, std::string date) {
    return "From: a@x.test\r\nSubject: " + subject + "\r\nDate: " + date + "\r\n\r\nbody\r\n";
  };
  append(msg("Hello", "1 Feb 1994 10:00:00 +0000"));
  append(msg("Re: hello", "1 Feb 1994 12:00:00 +0000"));
  append(msg("Other", "1 Feb 1994 11:00:00 +0000"));
  append(msg("Re: Hello", "1 Feb 1994 11:30:00 +0000"));
  append(msg("single", "1 Feb 1994 09:00:00 +0000"));
  append(msg("Other", "1 Feb 1994 13:00:00 +0000"));
  load();
  EXPECT_EQ(thread("ORDEREDSUBJECT UTF-8 ALL"), "* THREAD (5)(1 (4)(2))(3 6)\r\n");
  EXPECT_EQ(thread("ORDEREDSUBJECT UTF-8 NOT 4"), "* THREAD (5)(1 2)(3 6)\r\n");
}

// Messages with Message-ID / In-Reply-To / References as in RFC 5256 and JWZ's examples.
TEST_F(SearchEngineTest, ReferencesThreads) {
  auto msg = [](std::string id, std::string refs, std::string irt, std::string subject, int hour) {
    std::string m = "From: a@x.test\r\nSubject: " + subject + "\r\nDate: 1 Feb 1994 " +
                    (hour < 10 ? "0" : "") + std::to_string(hour) + ":00:00 +0000\r\n";
    if (!id.empty()) m += "Message-ID: <" + id + ">\r\n";
    if (!refs.empty()) m += "References: " + refs + "\r\n";
    if (!irt.empty()) m += "In-Reply-To: " + irt + "\r\n";
    return m + "\r\nbody\r\n";
  };
  append(msg("a@x", "", "", "root", 1));                          // 1
  append(msg("b@x", "<a@x>", "<a@x>", "Re: root", 2));            // 2 child of 1
  append(msg("c@x", "<a@x> <b@x>", "", "Re: root", 4));            // 3 child of 2
  append(msg("d@x", "<a@x>", "", "Re: root", 3));                 // 4 child of 1, before 2's... by date
  append(msg("e@x", "<missing@x>", "", "orphan one", 5));          // 5 and 6 share a missing parent
  append(msg("f@x", "", "<missing@x>", "orphan two", 6));          // 6 (In-Reply-To only)
  append(msg("g@x", "", "", "Re: lonely", 7));                    // 7 subject-merged with 8
  append(msg("h@x", "", "", "lonely", 8));                        // 8
  append(msg("", "", "", "no id", 0));                            // 9 no Message-ID, earliest
  append(msg("a@x", "", "", "duplicate id", 9));                  // 10 duplicate Message-ID: unique
  load();
  // 1 -> (2 -> 3), 4 ; sorted by date: 2 (02:00) before 4 (03:00)
  // 5, 6: dummy parent at root with two children: ((5)(6))
  // 8 "lonely" is not a reply, 7 "Re: lonely" is: 7 becomes a child of 8
  EXPECT_EQ(thread("REFERENCES UTF-8 ALL"), "* THREAD (9)(1 (2 3)(4))((5)(6))(8 7)(10)\r\n");
  // searching first: only the matches are threaded (3 gone, 2 keeps its place)
  EXPECT_EQ(thread("REFERENCES UTF-8 NOT 3 NOT 9"), "* THREAD (1 (2)(4))((5)(6))(8 7)(10)\r\n");
}

TEST_F(SearchEngineTest, ReferencesSubjectMergeMakesDummy) {
  auto msg = [](std::string id, std::string subject, int hour) {
    return "From: a@x.test\r\nSubject: " + subject + "\r\nDate: 1 Feb 1994 0" + std::to_string(hour) +
           ":00:00 +0000\r\nMessage-ID: <" + id + ">\r\n\r\nbody\r\n";
  };
  append(msg("1@x", "same", 1));
  append(msg("2@x", "same", 2));
  append(msg("3@x", "Re: same", 3));
  load();
  // two non-replies with one subject: a dummy holds both; the reply then joins the dummy as a
  // sibling [RFC 5256 §2.4 (6)(C)(iv)]
  EXPECT_EQ(thread("REFERENCES UTF-8 ALL"), "* THREAD ((1)(2)(3))\r\n");
}

// A reply chain longer than kMaxThreadDepth: the levels past the cap hang under the last level.
TEST_F(SearchEngineTest, DeepReferenceChainIsCapped) {
  const size_t n = kMaxThreadDepth + 3;
  std::vector<store::AppendMessage> batch;
  std::string refs;
  for (size_t i = 1; i <= n; ++i) {
    std::string m = "Subject: chain\r\nMessage-ID: <" + std::to_string(i) + "@x>\r\n";
    if (!refs.empty()) m += "References:" + refs + "\r\n";
    refs += " <" + std::to_string(i) + "@x>";
    batch.push_back(store::AppendMessage{m + "\r\nx\r\n", {}, k1994Feb1 + static_cast<int64_t>(i)});
  }
  ASSERT_TRUE(run(box_->append_many(std::move(batch))));
  load();
  std::string expect = "* THREAD (1";
  for (size_t i = 2; i <= kMaxThreadDepth; ++i) expect += " " + std::to_string(i);
  expect += " ";
  for (size_t i = kMaxThreadDepth + 1; i <= n; ++i) expect += "(" + std::to_string(i) + ")";
  expect += ")\r\n";
  EXPECT_EQ(thread("REFERENCES UTF-8 ALL"), expect);
  // at the cap exactly nothing changes: one chain
  std::string chain = "* THREAD (1";
  for (size_t i = 2; i <= kMaxThreadDepth; ++i) chain += " " + std::to_string(i);
  EXPECT_EQ(thread("REFERENCES UTF-8 1:" + std::to_string(kMaxThreadDepth)), chain + ")\r\n");
}

TEST_F(SearchEngineTest, UidResults) {
  append("Subject: a\r\n\r\nx\r\n", store::kSeen);
  append("Subject: b\r\n\r\nx\r\n");
  append("Subject: c\r\n\r\nx\r\n", store::kSeen);
  load();
  // expunge the middle one so UIDs and sequence numbers differ
  ASSERT_TRUE(run(box_->store_flags(store::StoreFlags{{messages_[1].info.uid}, store::FlagOp::kAdd,
                                                       store::Flags{store::kDeleted, {}}, std::nullopt})));
  ASSERT_TRUE(run(box_->expunge(std::nullopt)));
  load();
  const store::Uid u1 = messages_[0].info.uid, u3 = messages_[1].info.uid;
  EXPECT_EQ(search("SEEN", true), (Numbers{u1, u3}));
  EXPECT_EQ(search("SEEN", false), (Numbers{1, 2}));
  auto p = parse_sort("(REVERSE SUBJECT) UTF-8 ALL").value();
  SearchContext c = ctx(true);
  auto r = run(run_sort(p, c));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->numbers, (Numbers{u3, u1}));
}

// The same on a real store: 10,000 distinct messages appended in batches, the view loaded the way
// a session would (select, then fetch with summaries), a flag-only search that opens no blob,
// and a SUBJECT search from the summaries. Figures are printed. Disabled by default: the 10,000
// durable appends alone take over two minutes on a loaded 2-core machine (ctest's limit is 300 s);
// run with --gtest_also_run_disabled_tests --gtest_filter='*RealStore*'.
TEST_F(SearchEngineTest, DISABLED_TenThousandMessagesRealStore) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int b = 0; b < 10; ++b) {
    std::vector<store::AppendMessage> batch;
    for (int k = 0; k < 1000; ++k) {
      const int i = b * 1000 + k;
      store::Flags f;
      if (i % 3 == 0) f.system |= store::kSeen;
      if (i % 7 == 0) f.system |= store::kFlagged;
      batch.push_back(store::AppendMessage{"From: user" + std::to_string(i % 50) + "@example.test\r\nSubject: message " +
                                               std::to_string(i) + "\r\n\r\nbody " + std::to_string(i) + "\r\n",
                                           f, k1994Feb1 + i});
    }
    ASSERT_TRUE(run(box_->append_many(std::move(batch))));
  }
  const auto t1 = std::chrono::steady_clock::now();
  load();
  const auto t2 = std::chrono::steady_clock::now();
  auto flags = outcome("UNSEEN FLAGGED");
  const auto t3 = std::chrono::steady_clock::now();
  auto subject = outcome("SUBJECT \"message 99\"");
  const auto t4 = std::chrono::steady_clock::now();
  EXPECT_EQ(flags.numbers.size(), 1429u - 477u);
  EXPECT_EQ(flags.blobs_opened, 0u);
  EXPECT_EQ(subject.numbers.size(), 111u);
  EXPECT_EQ(subject.blobs_opened, 0u);
  const auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("[ perf ] real store, 10000 messages: append %.0f ms, select+fetch summaries %.1f ms, "
              "SEARCH UNSEEN FLAGGED %.2f ms, SEARCH SUBJECT %.1f ms\n",
              ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4));
}

// 10,000 messages with real summaries (built in memory: appending 10,000 durable messages would
// measure fsync, not search). A flag-only search must not open one blob: the context has no
// mailbox, so any open would fail the search.
TEST(SearchPerformance, TenThousandMessagesFlagOnly) {
  std::vector<store::MessageData> messages(10'000);
  for (size_t i = 0; i < messages.size(); ++i) {
    auto& m = messages[i];
    m.info.uid = static_cast<store::Uid>(i * 2 + 1);
    m.info.modseq = i + 1;
    m.info.internal_date = k1994Feb1 + static_cast<int64_t>(i) * 60;
    m.info.size = 1000 + i;
    if (i % 3 == 0) m.info.flags.system |= store::kSeen;
    if (i % 7 == 0) m.info.flags.system |= store::kFlagged;
    if (i % 11 == 0) m.info.flags.keywords.push_back("$Important");
    m.summary = mime::encode_summary(mime::summarize(
        "From: user" + std::to_string(i % 50) + "@example.test\r\nSubject: message " + std::to_string(i) +
        "\r\nDate: 1 Feb 1994 10:00:00 +0000\r\n\r\nbody\r\n"));
  }
  SearchContext c;
  c.messages = messages;
  asio::io_context io;
  auto time = [&](std::string_view args, size_t expect) {
    auto program = parse_search(args).value();
    const auto start = std::chrono::steady_clock::now();
    auto fut = asio::co_spawn(io, run_search(program, c), asio::use_future);
    io.restart();
    io.run();
    auto r = fut.get();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(r);
    if (r) {
      EXPECT_EQ(r->numbers.size(), expect) << args;
      EXPECT_EQ(r->blobs_opened, 0u);
    }
    std::printf("[ perf ] SEARCH %-40s over 10000 messages: %8.2f ms\n", std::string(args).c_str(), ms);
    return ms;
  };
  // i % 3 != 0 and i % 7 == 0: 1429 flagged, of which 477 seen
  time("UNSEEN FLAGGED", 1429 - 477);
  time("OR KEYWORD $Important LARGER 10990 UID 1:*", 918);  // i % 11 == 0 (910) or i > 9990 (8 more)
  time("UNSEEN FLAGGED FROM user7", 0 + [&] {
    size_t n = 0;
    for (size_t i = 0; i < 10'000; ++i) n += (i % 3 != 0 && i % 7 == 0 && i % 50 == 7) ? 1 : 0;
    return n;
  }());
  time("SUBJECT \"message 99\"", 111);  // 99, 990..999, 9900..9999
  // No wall-clock bound here (it would pass or fail with the machine's load): what is asserted is
  // that no key opened a message; the speed itself is measured by bench/ (imap-bigbox).
}

}  // namespace
}  // namespace posthorn::server::imap
