// The behavioural suite of a MailStore, run on every backend (issue 20: one parameterised suite,
// not a copy): mailbox tree, messages, flags, UIDPLUS, QRESYNC changes, \Recent, quota at N and
// N+1, delivery with one blob, chunked reads, reopening, change events, concurrent appends, POP3's
// maildrop. A backend's test file defines a MailStoreBackend and instantiates the suite:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, MailStoreContract, ::testing::Values(BackendParam{"sqlite", make}));
// Include this header in exactly one source file of a test binary (it defines the tests).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <atomic>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>

#include "base/blocking_pool.hpp"
#include "base/crypto.hpp"
#include "mime/summary.hpp"
#include "store/store.hpp"
#include "tests/harness/backend_context.hpp"
#include "tests/harness/drive.hpp"
#include "tests/harness/temp_dir.hpp"

namespace posthorn::store::contract {

namespace fs = std::filesystem;
namespace asio = boost::asio;

// One backend's data (a folder, a database) for one test, and what the suite needs to know of it.
class MailStoreBackend {
 public:
  virtual ~MailStoreBackend() = default;
  // Opens a store on this data; after the previous store was destroyed, the same data again.
  virtual Result<std::unique_ptr<MailStore>> open() = 0;
  // Distinct message blobs stored.
  virtual std::size_t blob_count() = 0;
  // True when a write left temporary files behind.
  virtual bool temp_files_left() { return false; }
  // Checks (with EXPECT_*) what the backend keeps of `bytes`, stored once for `account`.
  virtual void check_stored(const std::string& bytes, AccountId account) {
    (void)bytes;
    (void)account;
  }
  // Committed write transactions so far, for a backend that counts them.
  virtual std::optional<uint64_t> transactions() { return std::nullopt; }
};

using BackendContext = posthorn::testing::BackendContext;
using BackendParam = posthorn::testing::BackendParamOf<MailStoreBackend>;
inline std::string backend_name(const ::testing::TestParamInfo<BackendParam>& info) { return info.param.name; }

inline std::string message(std::string_view subject, std::string_view body = "hello\n") {
  return "From: a@example.test\nTo: b@example.test\nSubject: " + std::string(subject) + "\n\n" + std::string(body);
}

inline AppendMessage msg(std::string_view subject, Flags flags = {}, std::optional<int64_t> date = std::nullopt) {
  return AppendMessage{message(subject), std::move(flags), date};
}

inline std::vector<Uid> uids_of(const std::vector<MessageInfo>& infos) {
  std::vector<Uid> out;
  for (const auto& i : infos) out.push_back(i.uid);
  return out;
}

// Coroutines spawned by the tests take their arguments by value (DESIGN.md §3).
inline asio::awaitable<Result<std::vector<Uid>>> append_n(std::shared_ptr<Account> account, int worker, int n) {
  auto open = account->open("INBOX");
  auto box = co_await std::move(open);
  if (!box) co_return box.error();
  std::vector<Uid> uids;
  for (int i = 0; i < n; ++i) {
    auto task = (*box)->append(msg("w" + std::to_string(worker) + "m" + std::to_string(i)));
    auto r = co_await std::move(task);
    if (!r) co_return r.error();
    uids.push_back(r->uid);
  }
  co_return uids;
}

class MailStoreContract : public ::testing::TestWithParam<BackendParam> {
 protected:
  ~MailStoreContract() override {
    store_.reset();
    backend_.reset();
  }
  void SetUp() override {
    BackendContext context{io_, pool_, dir_};
    backend_ = GetParam().make(context);
    ASSERT_TRUE(backend_);
    reopen();
  }

  void reopen() {
    store_.reset();
    auto s = backend_->open();
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  // Runs one store call to completion (drive_each: a store's LISTEN loop keeps io_ busy).
  template <class T>
  T run(asio::awaitable<T> op) {
    return posthorn::testing::drive_each(io_, std::move(op));
  }

  std::shared_ptr<Account> account(AccountId id, Limits limits = {}) {
    auto a = run(store_->account(id, limits));
    EXPECT_TRUE(a) << a.error().message;
    return *a;
  }
  std::unique_ptr<Mailbox> open(Account& a, std::string name) {
    auto m = run(a.open(std::move(name)));
    EXPECT_TRUE(m) << m.error().message;
    return std::move(*m);
  }
  AppendResult append(Mailbox& box, AppendMessage m) {
    auto r = run(box.append(std::move(m)));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : AppendResult{};
  }
  void mark_deleted(Mailbox& box, std::vector<Uid> uids) {
    Flags del;
    del.system = kDeleted;
    auto r = run(box.store_flags(StoreFlags{std::move(uids), FlagOp::kAdd, del, std::nullopt}));
    ASSERT_TRUE(r) << r.error().message;
  }
  std::size_t blob_count() { return backend_->blob_count(); }

  posthorn::testing::TempDir tmp_{"posthorn_mail_store_contract"};
  const fs::path dir_ = tmp_.path();
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  asio::io_context io_;
  BlockingPool pool_{4};
  std::unique_ptr<MailStoreBackend> backend_;
  std::unique_ptr<MailStore> store_;
};

TEST_P(MailStoreContract, NewAccountHasDefaultMailboxesSubscribed) {
  auto a = account(1);
  auto boxes = run(a->list_mailboxes()).value();
  std::vector<std::string> names;
  for (const auto& b : boxes) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}));
  std::map<std::string, SpecialUse> uses;
  for (const auto& b : boxes) {
    uses[b.name] = b.special_use;
    EXPECT_TRUE(b.subscribed) << b.name;
    EXPECT_GT(b.uid_validity, 0u);
    EXPECT_EQ(b.uid_next, 1u);
  }
  EXPECT_EQ(uses["Sent"], SpecialUse::kSent);
  EXPECT_EQ(uses["Drafts"], SpecialUse::kDrafts);
  EXPECT_EQ(uses["Trash"], SpecialUse::kTrash);
  EXPECT_EQ(uses["Junk"], SpecialUse::kJunk);
  EXPECT_EQ(uses["Archive"], SpecialUse::kArchive);
  EXPECT_EQ(uses["INBOX"], SpecialUse::kNone);
  EXPECT_EQ(run(a->list_subscriptions()).value().size(), 6u);
  EXPECT_EQ(run(a->find_mailbox("inbox")).value().name, "INBOX");
  EXPECT_EQ(run(store_->account(0, {})).error().code, Errc::kNotFound);
}

// UIDs come back in numeric order everywhere, also past 9 and 99 (PostgreSQL once sorted a UID
// selected as text by its text: 1, 10, 100, 11, ...).
TEST_P(MailStoreContract, UidsAreInNumericOrderPastTwoDigits) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  std::vector<Uid> want;
  for (Uid u = 1; u <= 105; ++u) {
    append(*box, msg("n" + std::to_string(u)));
    want.push_back(u);
  }
  auto view = run(box->select(true)).value();
  std::vector<Uid> seen;
  for (const auto& m : view.messages) seen.push_back(m.uid);
  EXPECT_EQ(seen, want);
  std::vector<Uid> fetched;
  for (const auto& m : run(box->fetch(want, false)).value()) fetched.push_back(m.info.uid);
  EXPECT_EQ(fetched, want);
  std::vector<Uid> summarized;
  for (const auto& m : run(box->summaries(want)).value()) summarized.push_back(m.info.uid);
  EXPECT_EQ(summarized, want);
  mark_deleted(*box, {9, 10, 11, 100});
  EXPECT_EQ(run(box->expunge(std::nullopt)).value().expunged, (std::vector<Uid>{9, 10, 11, 100}));
  auto later = run(box->changes_since(view.mailbox.highest_modseq, false)).value();
  EXPECT_EQ(later.vanished, (std::vector<Uid>{9, 10, 11, 100}));
}

TEST_P(MailStoreContract, CreateRenameDeleteMailboxes) {
  auto a = account(1);
  auto c = run(a->create_mailbox("Work/2024/Q1", SpecialUse::kNone));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(run(a->find_mailbox("Work")));
  EXPECT_TRUE(run(a->find_mailbox("Work/2024")));
  EXPECT_EQ(run(a->create_mailbox("Work/2024", SpecialUse::kNone)).error().code, Errc::kExists);
  const auto q1 = run(a->find_mailbox("Work/2024/Q1")).value();

  // Children follow a rename and keep their id and UIDVALIDITY.
  ASSERT_TRUE(run(a->rename_mailbox("Work", "Job")));
  EXPECT_EQ(run(a->find_mailbox("Work")).error().code, Errc::kNotFound);
  auto moved = run(a->find_mailbox("Job/2024/Q1")).value();
  EXPECT_EQ(moved.id, q1.id);
  EXPECT_EQ(moved.uid_validity, q1.uid_validity);
  EXPECT_EQ(run(a->rename_mailbox("Job", "Sent")).error().code, Errc::kExists);
  EXPECT_EQ(run(a->rename_mailbox("Nope", "X")).error().code, Errc::kNotFound);
  EXPECT_EQ(run(a->rename_mailbox("Job", "Job/inner")).error().code, Errc::kInvalid);
  // Rename creates missing parents of the target.
  ASSERT_TRUE(run(a->rename_mailbox("Job/2024", "Old/Years/2024")));
  EXPECT_TRUE(run(a->find_mailbox("Old/Years")));
  EXPECT_EQ(run(a->find_mailbox("Old/Years/2024/Q1")).value().id, q1.id);

  // Delete: INBOX denied, parent with children conflicts, leaf works.
  EXPECT_EQ(run(a->delete_mailbox("INBOX")).error().code, Errc::kDenied);
  EXPECT_EQ(run(a->delete_mailbox("Old/Years")).error().code, Errc::kConflict);
  EXPECT_EQ(run(a->delete_mailbox("Missing")).error().code, Errc::kNotFound);
  ASSERT_TRUE(run(a->delete_mailbox("Old/Years/2024/Q1")));
  EXPECT_EQ(run(a->find_mailbox("Old/Years/2024/Q1")).error().code, Errc::kNotFound);

  // UIDVALIDITY of a re-created name is new (and larger), even within one second.
  auto first = run(a->create_mailbox("Again", SpecialUse::kNone)).value();
  ASSERT_TRUE(run(a->delete_mailbox("Again")));
  auto second = run(a->create_mailbox("Again", SpecialUse::kNone)).value();
  EXPECT_GT(second.uid_validity, first.uid_validity);
  EXPECT_NE(second.id, first.id);

  // A Mailbox handle of a deleted mailbox reports kNotFound.
  auto box = open(*a, "Again");
  ASSERT_TRUE(run(a->delete_mailbox("Again")));
  EXPECT_EQ(run(box->status()).error().code, Errc::kNotFound);
  EXPECT_EQ(run(box->append(msg("x"))).error().code, Errc::kNotFound);
}

TEST_P(MailStoreContract, InvalidMailboxNamesAreRejected) {
  auto a = account(1);
  for (std::string bad : std::vector<std::string>{"", "a//b", "/a", "a/", "..", "a/./b", std::string("a\x01")}) {
    EXPECT_EQ(run(a->create_mailbox(bad, SpecialUse::kNone)).error().code, Errc::kInvalid) << bad;
    EXPECT_EQ(run(a->open(bad)).error().code, Errc::kInvalid) << bad;
    EXPECT_EQ(run(a->rename_mailbox("Sent", bad)).error().code, Errc::kInvalid) << bad;
    EXPECT_EQ(run(a->set_subscribed(bad, true)).error().code, Errc::kInvalid) << bad;
  }
  EXPECT_EQ(run(a->create_mailbox(std::string(kMaxNameBytes + 1, 'a'), SpecialUse::kNone)).error().code, Errc::kInvalid);
  EXPECT_TRUE(run(a->create_mailbox(std::string(kMaxNameBytes, 'a'), SpecialUse::kNone)));
}

TEST_P(MailStoreContract, RenameInboxMovesMessagesAndLeavesInboxEmpty) {
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  append(*inbox, msg("one"));
  append(*inbox, msg("two"));
  ASSERT_TRUE(run(a->create_mailbox("INBOX/child", SpecialUse::kNone)));
  ASSERT_TRUE(run(a->rename_mailbox("INBOX", "Old Inbox")));
  auto status = run(inbox->status()).value();
  EXPECT_EQ(status.messages, 0u);
  EXPECT_EQ(status.uid_next, 3u);  // UIDs are not reused
  auto old = open(*a, "Old Inbox");
  auto view = run(old->select(false)).value();
  EXPECT_EQ(uids_of(view.messages), (std::vector<Uid>{1, 2}));
  EXPECT_TRUE(run(a->find_mailbox("INBOX/child")));  // INBOX's children stay
  EXPECT_EQ(run(a->quota()).value().messages, 2u);
  auto changes = run(inbox->changes_since(1, false)).value();
  EXPECT_EQ(changes.vanished, (std::vector<Uid>{1, 2}));
}

TEST_P(MailStoreContract, Subscriptions) {
  auto a = account(1);
  ASSERT_TRUE(run(a->set_subscribed("Not/There", true)));  // need not exist
  ASSERT_TRUE(run(a->set_subscribed("Junk", false)));
  ASSERT_TRUE(run(a->set_subscribed("inbox", true)));  // already subscribed, canonical name
  auto subs = run(a->list_subscriptions()).value();
  EXPECT_EQ(subs, (std::vector<std::string>{"Archive", "Drafts", "INBOX", "Not/There", "Sent", "Trash"}));
  EXPECT_FALSE(run(a->find_mailbox("Junk")).value().subscribed);
  // Subscriptions follow a rename.
  ASSERT_TRUE(run(a->rename_mailbox("Drafts", "Entwürfe")));
  subs = run(a->list_subscriptions()).value();
  EXPECT_EQ(std::count(subs.begin(), subs.end(), "Entwürfe"), 1);
  EXPECT_EQ(std::count(subs.begin(), subs.end(), "Drafts"), 0);
}

TEST_P(MailStoreContract, AppendKeepsFlagsKeywordsDateAndSummary) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  Flags f;
  f.system = kSeen | kFlagged | 0x80;  // unknown bit dropped
  f.keywords = {"$Label1", "work", "WORK"};
  auto r = append(*box, msg("Hello there", f, 1'700'000'000));
  EXPECT_EQ(r.uid, 1u);
  EXPECT_GT(r.modseq, 1u);
  auto data = run(box->fetch({1}, true)).value();
  ASSERT_EQ(data.size(), 1u);
  const auto& info = data[0].info;
  EXPECT_EQ(info.flags.system, kSeen | kFlagged);
  EXPECT_EQ(info.flags.keywords, (std::vector<std::string>{"$Label1", "work"}));
  EXPECT_EQ(info.internal_date, 1'700'000'000);
  EXPECT_NEAR(double(info.save_date), double(std::time(nullptr)), 60);
  EXPECT_EQ(info.size, normalize_crlf(message("Hello there")).size());
  auto summary = mime::decode_summary(data[0].summary);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->envelope.subject, "Hello there");

  // Default internal date is now; fetch without summary leaves it empty.
  append(*box, msg("two"));
  auto both = run(box->fetch({1, 2, 99}, false)).value();
  ASSERT_EQ(both.size(), 2u);
  EXPECT_TRUE(both[1].summary.empty());
  EXPECT_NEAR(double(both[1].info.internal_date), double(std::time(nullptr)), 60);

  // summaries(): the cached parse alone, the same bytes fetch() returns; missing UIDs skipped.
  auto full = run(box->fetch({1, 2}, true)).value();
  auto alone = run(box->summaries({2, 1, 99})).value();
  ASSERT_EQ(alone.size(), 2u);
  EXPECT_EQ(alone[0].info.uid, 1u);
  EXPECT_EQ(alone[1].info.uid, 2u);
  EXPECT_EQ(alone[0].summary, full[0].summary);
  EXPECT_EQ(alone[1].summary, full[1].summary);
  EXPECT_EQ(alone[1].info.size, 0u);  // metadata is not read
  EXPECT_TRUE(run(box->summaries({})).value().empty());

  // A bad keyword fails the whole append.
  Flags bad;
  bad.keywords = {"a b"};
  EXPECT_EQ(run(box->append(msg("x", bad))).error().code, Errc::kInvalid);
  bad.keywords = {std::string(kMaxKeywordLength + 1, 'k')};
  EXPECT_EQ(run(box->append(msg("x", bad))).error().code, Errc::kInvalid);
  Flags longest;
  longest.keywords = {std::string(kMaxKeywordLength, 'k')};
  EXPECT_EQ(append(*box, msg("x", longest)).uid, 3u);
}

// A message sent as binary data (an IMAP literal8) is stored byte for byte: a bare LF stays a bare
// LF, so BINARY.SIZE and BINARY[] give back what was sent [RFC 3516 §4.3] (issue 27 defect 2);
// the same bytes sent as an ordinary literal get CRLF line ends.
TEST_P(MailStoreContract, BinaryAppendIsStoredByteForByteRfc3516) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  const std::string raw = "Content-Type: application/octet-stream\r\n\r\n" + std::string("ab\ncd\0e\n", 9);
  AppendMessage binary{raw, {}, std::nullopt};
  binary.binary = true;
  const Uid b = append(*box, std::move(binary)).uid;
  const Uid t = append(*box, AppendMessage{raw, {}, std::nullopt}).uid;
  auto data = run(box->fetch({b, t}, true)).value();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].info.size, raw.size());
  EXPECT_EQ(data[1].info.size, normalize_crlf(raw).size());
  auto blob = run(box->open_message(b)).value();
  EXPECT_EQ(run(blob->read(0, 1000)).value(), raw);
  blob = run(box->open_message(t)).value();
  EXPECT_EQ(run(blob->read(0, 1000)).value(), normalize_crlf(raw));
  // The summary's offsets are those of the stored bytes: the body is the 9 bytes as sent.
  auto summary = mime::decode_summary(data[0].summary).value();
  EXPECT_EQ(summary.root.body_size, 9u);
}

// A spooled message (a big APPEND literal, issue 28 item 2) is copied into its blob a piece at a
// time; the stored bytes, size, hash and summary are those of the same message appended from
// memory, a CRLF cut between two pieces included, and a binary one stays byte for byte.
TEST_P(MailStoreContract, SpooledAppendStoresTheSameMessageAsFromMemory) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  std::string raw = "From: a@example.test\nSubject: spooled\n\n";
  while (raw.size() < 256 * 1024 - 1) raw += "line of the body\n";
  raw.resize(256 * 1024 - 1);
  raw += "\r\n";  // CR ends the first piece, LF starts the second
  for (int i = 0; i < 40000; ++i) raw += "more " + std::to_string(i) + (i % 3 == 0 ? "\n" : "\r\n");
  auto spooled = [&](bool binary) {
    auto spool = std::make_shared<Spool>(dir_, 1024, nullptr);
    for (std::size_t i = 0; i < raw.size(); i += 10'000) EXPECT_TRUE(spool->append(std::string_view(raw).substr(i, 10'000)));
    EXPECT_TRUE(spool->on_disk());
    AppendMessage m;
    m.spool = std::move(spool);
    m.binary = binary;
    return m;
  };
  const Uid from_memory = append(*box, AppendMessage{raw, {}, std::nullopt}).uid;
  // MULTIAPPEND of a spooled and an in-memory message.
  std::vector<AppendMessage> two;
  two.push_back(spooled(false));
  two.push_back(msg("small"));
  auto many = run(box->append_many(std::move(two)));
  ASSERT_TRUE(many) << many.error().message;
  const Uid from_spool = many->at(0).uid;
  const Uid binary = append(*box, spooled(true)).uid;
  EXPECT_EQ(blob_count(), 3u);  // the spooled copy has the in-memory copy's hash: one blob
  auto data = run(box->fetch({from_memory, from_spool, binary}, true)).value();
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(data[0].info.size, normalize_crlf(raw).size());
  EXPECT_EQ(data[1].info.size, data[0].info.size);
  EXPECT_EQ(data[1].summary, data[0].summary);
  EXPECT_EQ(data[2].info.size, raw.size());
  auto read_all = [&](Uid uid) {
    auto blob = run(box->open_message(uid)).value();
    return run(blob->read(0, std::size_t(blob->size()))).value();
  };
  EXPECT_EQ(read_all(from_spool), normalize_crlf(raw));
  EXPECT_EQ(read_all(binary), raw);
  EXPECT_FALSE(backend_->temp_files_left());
}

TEST_P(MailStoreContract, UidsGrowAndAreNeverReused) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  for (Uid expect = 1; expect <= 3; ++expect) EXPECT_EQ(append(*box, msg("m")).uid, expect);
  ASSERT_NO_FATAL_FAILURE(mark_deleted(*box, {2, 3}));
  EXPECT_EQ(run(box->expunge(std::nullopt)).value().expunged, (std::vector<Uid>{2, 3}));
  EXPECT_EQ(append(*box, msg("m")).uid, 4u);
  reopen();
  a = account(1);
  box = open(*a, "INBOX");
  EXPECT_EQ(append(*box, msg("m")).uid, 5u);
}

TEST_P(MailStoreContract, AppendManyIsAllOrNothing) {
  auto a = account(1, Limits{0, 3});
  auto box = open(*a, "INBOX");
  std::vector<AppendMessage> two{msg("a"), msg("b")};
  auto r = run(box->append_many(two)).value();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].uid, 1u);
  EXPECT_EQ(r[1].uid, 2u);
  auto over = run(box->append_many(two));
  EXPECT_EQ(over.error().code, Errc::kOverQuota);
  EXPECT_EQ(run(box->status()).value().messages, 2u);
}

TEST_P(MailStoreContract, StoreFlagsAddRemoveReplaceWithModseq) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  for (int i = 0; i < 3; ++i) append(*box, msg("m"));
  const ModSeq base = run(box->status()).value().highest_modseq;

  Flags seen;
  seen.system = kSeen;
  auto r = run(box->store_flags(StoreFlags{{1, 2}, FlagOp::kAdd, seen, std::nullopt})).value();
  EXPECT_EQ(uids_of(r.changed), (std::vector<Uid>{1, 2}));
  EXPECT_GT(r.highest_modseq, base);
  EXPECT_EQ(r.changed[0].modseq, r.highest_modseq);
  const ModSeq after_seen = r.highest_modseq;

  // No change: no modseq bump.
  r = run(box->store_flags(StoreFlags{{1}, FlagOp::kAdd, seen, std::nullopt})).value();
  EXPECT_TRUE(r.changed.empty());
  EXPECT_EQ(r.highest_modseq, after_seen);

  Flags kw;
  kw.keywords = {"Important"};
  r = run(box->store_flags(StoreFlags{{1, 2, 3}, FlagOp::kAdd, kw, std::nullopt})).value();
  EXPECT_EQ(r.changed.size(), 3u);
  Flags remove;
  remove.system = kSeen;
  remove.keywords = {"important"};  // case-insensitive
  r = run(box->store_flags(StoreFlags{{2}, FlagOp::kRemove, remove, std::nullopt})).value();
  ASSERT_EQ(r.changed.size(), 1u);
  EXPECT_EQ(r.changed[0].flags, Flags{});
  Flags replace;
  replace.system = kAnswered | kDraft;
  r = run(box->store_flags(StoreFlags{{3}, FlagOp::kReplace, replace, std::nullopt})).value();
  ASSERT_EQ(r.changed.size(), 1u);
  EXPECT_EQ(r.changed[0].flags, replace);

  // UNCHANGEDSINCE: message 1 last changed at an older modseq than 3's last change.
  const auto infos = run(box->fetch({1, 2, 3}, false)).value();
  const ModSeq m1 = infos[0].info.modseq;
  const ModSeq m3 = infos[2].info.modseq;
  ASSERT_LT(m1, m3);
  Flags flagged;
  flagged.system = kFlagged;
  r = run(box->store_flags(StoreFlags{{1, 3}, FlagOp::kAdd, flagged, m1})).value();
  EXPECT_EQ(uids_of(r.changed), (std::vector<Uid>{1}));
  EXPECT_EQ(r.conflicts, (std::vector<Uid>{3}));

  Flags bad;
  bad.keywords = {"bad(kw"};
  EXPECT_EQ(run(box->store_flags(StoreFlags{{1}, FlagOp::kAdd, bad, std::nullopt})).error().code, Errc::kInvalid);
}

TEST_P(MailStoreContract, CopyAndMoveReportUidplusMappingAndShareBlobs) {
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  auto archive = open(*a, "Archive");
  append(*archive, msg("occupies uid 1"));
  Flags f;
  f.system = kSeen;
  f.keywords = {"kept"};
  append(*inbox, msg("a", f, 1000));
  append(*inbox, msg("b"));
  append(*inbox, msg("c"));
  const std::size_t blobs = blob_count();

  auto c = run(inbox->copy({1, 3, 7}, archive->id())).value();
  EXPECT_EQ(c.source, (std::vector<Uid>{1, 3}));
  EXPECT_EQ(c.dest, (std::vector<Uid>{2, 3}));
  EXPECT_EQ(c.uid_validity, run(archive->status()).value().uid_validity);
  auto copied = run(archive->fetch({2}, false)).value();
  EXPECT_EQ(copied[0].info.flags, f);
  EXPECT_EQ(copied[0].info.internal_date, 1000);
  EXPECT_EQ(blob_count(), blobs);  // shared
  EXPECT_EQ(run(a->quota()).value().messages, 6u);

  auto m = run(inbox->move({2, 3}, archive->id())).value();
  EXPECT_EQ(m.source, (std::vector<Uid>{2, 3}));
  EXPECT_EQ(m.dest, (std::vector<Uid>{4, 5}));
  EXPECT_EQ(uids_of(run(inbox->select(false)).value().messages), (std::vector<Uid>{1}));
  EXPECT_EQ(run(a->quota()).value().messages, 6u);  // a move does not change the totals

  // The moved message's bytes are readable from the destination.
  auto blob = run(archive->open_message(5)).value();
  EXPECT_EQ(blob->read_blocking(0, 1 << 20).value(), normalize_crlf(message("c")));
  EXPECT_EQ(run(inbox->copy({1}, 9999)).error().code, Errc::kNotFound);
}

TEST_P(MailStoreContract, ExpungeAllDeletedOrOnlyGivenUids) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  for (int i = 0; i < 5; ++i) append(*box, msg("m"));
  ASSERT_NO_FATAL_FAILURE(mark_deleted(*box, {1, 2, 4}));
  auto some = run(box->expunge(std::vector<Uid>{2, 3, 4})).value();  // 3 is not \Deleted
  EXPECT_EQ(some.expunged, (std::vector<Uid>{2, 4}));
  auto rest = run(box->expunge(std::nullopt)).value();
  EXPECT_EQ(rest.expunged, (std::vector<Uid>{1}));
  EXPECT_GT(rest.highest_modseq, some.highest_modseq);
  auto none = run(box->expunge(std::nullopt)).value();
  EXPECT_TRUE(none.expunged.empty());
  EXPECT_EQ(none.highest_modseq, rest.highest_modseq);
  EXPECT_EQ(uids_of(run(box->select(false)).value().messages), (std::vector<Uid>{3, 5}));
  EXPECT_EQ(run(a->quota()).value().messages, 2u);
}

TEST_P(MailStoreContract, ChangesSinceListsChangedAndVanished) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  for (int i = 0; i < 4; ++i) append(*box, msg("m"));
  const ModSeq since = run(box->status()).value().highest_modseq;
  ASSERT_NO_FATAL_FAILURE(mark_deleted(*box, {2}));
  ASSERT_TRUE(run(box->expunge(std::nullopt)));
  Flags seen;
  seen.system = kSeen;
  ASSERT_TRUE(run(box->store_flags(StoreFlags{{3}, FlagOp::kAdd, seen, std::nullopt})));
  append(*box, msg("new"));
  auto ch = run(box->changes_since(since, false)).value();
  EXPECT_EQ(uids_of(ch.changed), (std::vector<Uid>{3, 5}));
  EXPECT_EQ(ch.vanished, (std::vector<Uid>{2}));
  EXPECT_EQ(ch.uid_next, 6u);
  EXPECT_EQ(ch.highest_modseq, run(box->status()).value().highest_modseq);
  auto all = run(box->changes_since(0, false)).value();
  EXPECT_EQ(uids_of(all.changed), (std::vector<Uid>{1, 3, 4, 5}));
  auto nothing = run(box->changes_since(ch.highest_modseq, false)).value();
  EXPECT_TRUE(nothing.changed.empty());
  EXPECT_TRUE(nothing.vanished.empty());
}

TEST_P(MailStoreContract, StatusCountersAndRecentClaimedOnce) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  Flags seen;
  seen.system = kSeen;
  Flags deleted;
  deleted.system = kDeleted;
  append(*box, msg("a", seen));
  append(*box, msg("bb"));
  append(*box, msg("ccc", deleted));
  auto s = run(box->status()).value();
  EXPECT_EQ(s.messages, 3u);
  EXPECT_EQ(s.unseen, 2u);
  EXPECT_EQ(s.recent, 3u);
  EXPECT_EQ(s.deleted, 1u);
  const uint64_t size = normalize_crlf(message("a")).size() + normalize_crlf(message("bb")).size() +
                        normalize_crlf(message("ccc")).size();
  EXPECT_EQ(s.size, size);
  EXPECT_EQ(s.deleted_size, normalize_crlf(message("ccc")).size());
  EXPECT_EQ(s.uid_next, 4u);

  // EXAMINE sees \Recent but does not claim it.
  EXPECT_EQ(run(box->select(false)).value().first_recent, 1u);
  auto other = open(*a, "INBOX");
  auto first = run(box->select(true)).value();
  EXPECT_EQ(first.first_recent, 1u);
  EXPECT_EQ(first.messages.size(), 3u);
  auto second = run(other->select(true)).value();
  EXPECT_EQ(second.first_recent, 0u);
  EXPECT_EQ(run(box->status()).value().recent, 0u);
  append(*box, msg("later"));
  EXPECT_EQ(run(box->status()).value().recent, 1u);
  EXPECT_EQ(run(other->select(true)).value().first_recent, 4u);
  EXPECT_EQ(run(box->select(true)).value().first_recent, 0u);
}

// RFC 3501 §2.3.2: new mail is \Recent in the one session that is told of it first; the others,
// and STATUS, then see it as not recent.
TEST_P(MailStoreContract, NewMailIsClaimedAsRecentByTheFirstSessionToLearnOfIt) {
  auto a = account(1);
  auto one = open(*a, "INBOX");
  auto two = open(*a, "INBOX");
  ASSERT_EQ(run(one->select(true)).value().first_recent, 0u);
  ASSERT_EQ(run(two->select(true)).value().first_recent, 0u);
  const ModSeq since = run(one->status()).value().highest_modseq;
  append(*one, msg("a"));
  append(*one, msg("b"));
  EXPECT_EQ(run(one->status()).value().recent, 2u);
  // Without a claim (QRESYNC, EXAMINE) nothing is taken.
  EXPECT_FALSE(run(two->changes_since(since, false)).value().claimed_recent);
  auto first = run(two->changes_since(since, true)).value();
  ASSERT_TRUE(first.claimed_recent);
  EXPECT_EQ(*first.claimed_recent, (UidRange{1, 2}));
  EXPECT_EQ(first.changed.size(), 2u);
  auto later = run(one->changes_since(since, true)).value();
  EXPECT_EQ(later.changed.size(), 2u);
  EXPECT_FALSE(later.claimed_recent);
  EXPECT_EQ(run(one->status()).value().recent, 0u);
  EXPECT_EQ(run(open(*a, "INBOX")->select(true)).value().first_recent, 0u);
  // A flag change of a claimed message claims nothing.
  Flags seen;
  seen.system = kSeen;
  const ModSeq before = run(one->status()).value().highest_modseq;
  run(one->store_flags(StoreFlags{{1}, FlagOp::kAdd, seen, std::nullopt}));
  EXPECT_FALSE(run(two->changes_since(before, true)).value().claimed_recent);
  append(*one, msg("c"));
  EXPECT_EQ(*run(one->changes_since(before, true)).value().claimed_recent, (UidRange{3, 3}));
}

TEST_P(MailStoreContract, QuotaBytesAndMessagesAtNAndNPlusOne) {
  const uint64_t one = normalize_crlf(message("q")).size();
  {  // bytes: exactly 2 messages fit
    auto a = account(1, Limits{2 * one, 0});
    auto box = open(*a, "INBOX");
    append(*box, msg("q"));
    append(*box, msg("q"));
    EXPECT_EQ(run(box->append(msg("q"))).error().code, Errc::kOverQuota);
    auto q = run(a->quota()).value();
    EXPECT_EQ(q.storage_bytes, 2 * one);
    EXPECT_EQ(q.limits.storage_bytes, 2 * one);
    // Copy counts too; raising the limit by one byte less than a message still refuses it.
    a = account(1, Limits{3 * one - 1, 0});
    EXPECT_EQ(run(box->copy({1}, run(a->find_mailbox("Archive")).value().id)).error().code, Errc::kOverQuota);
    a = account(1, Limits{3 * one, 0});
    EXPECT_TRUE(run(box->copy({1}, run(a->find_mailbox("Archive")).value().id)));
    // Move does not add usage.
    EXPECT_TRUE(run(box->move({2}, run(a->find_mailbox("Archive")).value().id)));
  }
  {  // messages
    auto a = account(2, Limits{0, 2});
    auto box = open(*a, "INBOX");
    append(*box, msg("q"));
    append(*box, msg("q"));
    EXPECT_EQ(run(box->append(msg("q"))).error().code, Errc::kOverQuota);
    EXPECT_EQ(run(box->copy({1}, box->id())).error().code, Errc::kOverQuota);
    a = account(2, Limits{0, 3});
    EXPECT_TRUE(run(box->copy({1}, box->id())));
    EXPECT_EQ(run(a->quota()).value().messages, 3u);
  }
  {  // delivery: the target at its limit fails alone
    Delivery d;
    d.message = std::make_shared<const std::string>(message("q"));
    d.targets.push_back(DeliveryTarget{3, Limits{one, 0}, "INBOX", {}, ""});
    d.targets.push_back(DeliveryTarget{4, Limits{one - 1, 0}, "INBOX", {}, ""});
    d.targets.push_back(DeliveryTarget{5, Limits{0, 1}, "INBOX", {}, ""});
    auto r = run(store_->deliver(d)).value();
    ASSERT_EQ(r.size(), 3u);
    EXPECT_TRUE(r[0]);
    EXPECT_EQ(r[1].error().code, Errc::kOverQuota);
    EXPECT_TRUE(r[2]);
    auto again = run(store_->deliver(Delivery{std::make_shared<const std::string>(message("q")), {DeliveryTarget{5, Limits{0, 1}, "INBOX", {}, ""}}})).value();
    EXPECT_EQ(again[0].error().code, Errc::kOverQuota);
  }
}

TEST_P(MailStoreContract, DeliverToThreeAccountsWritesOneBlob) {
  Delivery d;
  d.message = std::make_shared<const std::string>(message("for all", "body\nline\n"));
  Flags f;
  f.keywords = {"$Junk"};
  d.targets.push_back(DeliveryTarget{1, {}, "INBOX", {}, "Return-Path: <x@y>\r\n"});
  d.targets.push_back(DeliveryTarget{2, {}, "No/Such/Box", f, ""});
  d.targets.push_back(DeliveryTarget{3, {}, "Junk", {}, ""});
  auto r = run(store_->deliver(d)).value();
  ASSERT_EQ(r.size(), 3u);
  for (const auto& x : r) ASSERT_TRUE(x) << x.error().message;
  EXPECT_EQ(blob_count(), 1u);

  auto a1 = account(1);
  auto inbox1 = open(*a1, "INBOX");
  auto blob = run(inbox1->open_message(r[0]->uid)).value();
  EXPECT_EQ(blob->read_blocking(0, 1 << 20).value(), "Return-Path: <x@y>\r\n" + normalize_crlf(*d.message));
  auto data = run(inbox1->fetch({1}, true)).value();
  EXPECT_EQ(data[0].info.size, blob->size());
  auto summary = mime::decode_summary(data[0].summary).value();
  EXPECT_EQ(summary.envelope.subject, "for all");

  auto a2 = account(2);  // unknown mailbox -> INBOX
  auto fetched = run(open(*a2, "INBOX")->fetch({1}, false)).value();
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0].info.flags.keywords, (std::vector<std::string>{"$Junk"}));
  auto a3 = account(3);
  EXPECT_EQ(run(open(*a3, "Junk")->status()).value().messages, 1u);
}

TEST_P(MailStoreContract, OpenMessageReadsPrefixAndBlobAcrossChunkBoundaries) {
  std::string body;
  for (int i = 0; i < 3000; ++i) body += "line " + std::to_string(i) + "\n";
  Delivery d;
  d.message = std::make_shared<const std::string>(message("big", body));
  d.targets.push_back(DeliveryTarget{1, {}, "INBOX", {}, "X-Prefix: 1\r\n"});
  auto r = run(store_->deliver(d)).value();
  ASSERT_TRUE(r[0]);
  const std::string expected = "X-Prefix: 1\r\n" + normalize_crlf(*d.message);
  auto a = account(1);
  auto box = open(*a, "INBOX");
  auto blob = run(box->open_message(1)).value();
  ASSERT_EQ(blob->size(), expected.size());
  for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(13), std::size_t(4096), expected.size()}) {
    std::string all;
    for (uint64_t off = 0; off < blob->size(); off += chunk) {
      auto part = run(blob->read(off, chunk)).value();
      ASSERT_EQ(part.size(), std::min<uint64_t>(chunk, blob->size() - off));
      all += part;
    }
    EXPECT_EQ(all, expected) << chunk;
  }
  EXPECT_EQ(blob->read_blocking(10, 6).value(), expected.substr(10, 6));  // spans prefix and blob
  EXPECT_EQ(blob->read_blocking(expected.size(), 10).value(), "");
  EXPECT_EQ(blob->read_blocking(expected.size() - 1, 10).value(), expected.substr(expected.size() - 1));
  EXPECT_EQ(run(box->open_message(2)).error().code, Errc::kNotFound);
}

TEST_P(MailStoreContract, EverythingSurvivesReopeningFromDisk) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  Flags f;
  f.system = kAnswered;
  f.keywords = {"kw"};
  auto r = append(*box, msg("durable", f, 12345));
  ASSERT_TRUE(run(a->create_mailbox("Kept", SpecialUse::kNone)));
  backend_->check_stored(normalize_crlf(message("durable")), 1);
  box.reset();
  a.reset();
  reopen();
  a = account(1);
  EXPECT_TRUE(run(a->find_mailbox("Kept")));
  box = open(*a, "INBOX");
  auto data = run(box->fetch({r.uid}, true)).value();
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].info.flags, f);
  EXPECT_EQ(data[0].info.internal_date, 12345);
  EXPECT_EQ(data[0].info.modseq, r.modseq);
  EXPECT_EQ(run(box->open_message(r.uid)).value()->read_blocking(0, 1 << 16).value(), normalize_crlf(message("durable")));
  EXPECT_EQ(run(a->quota()).value().messages, 1u);
}

TEST_P(MailStoreContract, ChangeFeedEventsReachAnotherSubscriber) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  std::mutex mu;
  std::vector<ChangeEvent> events;
  auto sub = store_->feed().subscribe(1, [&](const ChangeEvent& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  });
  auto r = append(*box, msg("m"));
  Flags del;
  del.system = kDeleted;
  auto st = run(box->store_flags(StoreFlags{{1}, FlagOp::kAdd, del, std::nullopt})).value();
  auto ex = run(box->expunge(std::nullopt)).value();
  ASSERT_TRUE(run(a->create_mailbox("New", SpecialUse::kNone)));
  std::lock_guard lock(mu);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kind, ChangeEvent::Kind::kAppended);
  EXPECT_EQ(events[0].mailbox, box->id());
  EXPECT_EQ(events[0].modseq, r.modseq);
  EXPECT_EQ(events[1].kind, ChangeEvent::Kind::kFlags);
  EXPECT_EQ(events[1].modseq, st.highest_modseq);
  EXPECT_EQ(events[2].kind, ChangeEvent::Kind::kExpunged);
  EXPECT_EQ(events[2].modseq, ex.highest_modseq);
  EXPECT_EQ(events[3].kind, ChangeEvent::Kind::kMailboxes);
  for (const auto& e : events) EXPECT_EQ(e.account, 1);
}

TEST_P(MailStoreContract, ConcurrentAppendsGetDistinctUids) {
  auto a = account(1);
  constexpr int kWorkers = 8;
  constexpr int kEach = 25;
  const std::optional<uint64_t> before = backend_->transactions();
  std::vector<std::future<Result<std::vector<Uid>>>> futures;
  for (int w = 0; w < kWorkers; ++w) futures.push_back(asio::co_spawn(io_, append_n(a, w, kEach), asio::use_future));
  for (auto& f : futures) {
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(2));
    }
  }
  std::set<Uid> all;
  for (auto& f : futures) {
    auto uids = f.get();
    ASSERT_TRUE(uids) << uids.error().message;
    all.insert(uids->begin(), uids->end());
  }
  EXPECT_EQ(all.size(), std::size_t(kWorkers * kEach));
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), Uid(kWorkers * kEach));
  if (before) {  // a backend that counts its transactions shares them (group commit)
    const uint64_t transactions = *backend_->transactions() - *before;
    EXPECT_LT(transactions, uint64_t(kWorkers * kEach));
    std::cout << "group commit: " << kWorkers * kEach << " appends in " << transactions << " transactions\n";
  }
}

TEST_P(MailStoreContract, MaildropListsMessagesWithContentHashes) {
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  append(*inbox, msg("one"));
  append(*inbox, msg("two"));
  append(*inbox, msg("one"));  // the same bytes again: the same hash
  Delivery d;
  d.message = std::make_shared<const std::string>(message("delivered"));
  d.targets.push_back(DeliveryTarget{1, {}, "INBOX", {}, "Return-Path: <x@y>\r\n"});
  ASSERT_TRUE(run(store_->deliver(d)).value()[0]);

  auto view = run(inbox->maildrop()).value();
  ASSERT_EQ(view.messages.size(), 4u);
  EXPECT_EQ(view.uid_validity, run(inbox->status()).value().uid_validity);
  EXPECT_EQ(view.messages[0].content_hash, sha256_hex(normalize_crlf(message("one"))));
  EXPECT_EQ(view.messages[0].content_hash, view.messages[2].content_hash);
  EXPECT_NE(view.messages[0].content_hash, view.messages[1].content_hash);
  // The delivery prefix is part of the content, as an export writes it.
  EXPECT_EQ(view.messages[3].content_hash, sha256_hex("Return-Path: <x@y>\r\n" + normalize_crlf(message("delivered"))));
  EXPECT_EQ(view.messages[3].size, run(inbox->open_message(4)).value()->size());
  for (const auto& m : view.messages) EXPECT_EQ(m.retrieved_at, 0);

  // A copy keeps the hash (UIDL stays the same when IMAP moves mail back into INBOX).
  auto archive = run(a->find_mailbox("Archive")).value();
  ASSERT_TRUE(run(inbox->copy({2}, archive.id)));
  auto copied = run(open(*a, "Archive")->maildrop()).value();
  ASSERT_EQ(copied.messages.size(), 1u);
  EXPECT_EQ(copied.messages[0].content_hash, view.messages[1].content_hash);
}

TEST_P(MailStoreContract, MaildropCommitRemovesAtomicallyAndPublishesExpunge) {
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  for (int i = 0; i < 3; ++i) append(*inbox, msg("m" + std::to_string(i)));
  std::vector<ChangeEvent> seen;
  auto sub = store_->feed().subscribe(1, [&](const ChangeEvent& e) { seen.push_back(e); });

  MaildropUpdate up;
  up.retrieved = {1, 2};
  up.deleted = {1, 3};
  up.remove_deleted = true;
  up.now = 1000;
  auto r = run(inbox->commit_maildrop(up)).value();
  EXPECT_EQ(r.removed, (std::vector<Uid>{1, 3}));
  EXPECT_TRUE(r.hidden.empty());
  auto view = run(inbox->maildrop()).value();
  ASSERT_EQ(view.messages.size(), 1u);
  EXPECT_EQ(view.messages[0].uid, 2u);
  EXPECT_EQ(view.messages[0].retrieved_at, 1000);
  EXPECT_TRUE(view.messages[0].seen);
  EXPECT_EQ(r.seen, (std::vector<Uid>{2}));  // retrieved and kept: \Seen for IMAP
  EXPECT_TRUE(run(inbox->fetch({2}, false)).value()[0].info.flags.has(kSeen));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, ChangeEvent::Kind::kFlags);
  EXPECT_EQ(seen[1].kind, ChangeEvent::Kind::kExpunged);
  // IMAP sees the removal through the QRESYNC log.
  auto changes = run(inbox->changes_since(0, false)).value();
  EXPECT_EQ(changes.vanished, (std::vector<Uid>{1, 3}));
  EXPECT_EQ(run(a->quota()).value().messages, 1u);

  // The first retrieval time is kept; a later RETR does not move it.
  up = MaildropUpdate{};
  up.retrieved = {2};
  up.now = 5000;
  ASSERT_TRUE(run(inbox->commit_maildrop(up)));
  EXPECT_EQ(run(inbox->maildrop()).value().messages[0].retrieved_at, 1000);
}

TEST_P(MailStoreContract, MaildropKeepHidesFromPop3Only) {
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  for (int i = 0; i < 3; ++i) append(*inbox, msg("m" + std::to_string(i)));
  MaildropUpdate up;
  up.deleted = {2};
  up.remove_deleted = false;
  up.now = 10;
  auto r = run(inbox->commit_maildrop(up)).value();
  EXPECT_TRUE(r.removed.empty());
  EXPECT_EQ(r.hidden, (std::vector<Uid>{2}));
  auto view = run(inbox->maildrop()).value();
  ASSERT_EQ(view.messages.size(), 2u);
  EXPECT_EQ(view.messages[0].uid, 1u);
  EXPECT_EQ(view.messages[1].uid, 3u);
  EXPECT_EQ(run(inbox->select(false)).value().messages.size(), 3u);  // IMAP still has all three
}

TEST_P(MailStoreContract, AccountKeepsItsPop3Policy) {
  auto a = account(1);
  EXPECT_EQ(run(open(*a, "INBOX")->maildrop()).value().pop3_policy, "");
  ASSERT_TRUE(run(a->set_pop3_policy("keep:7")));
  a.reset();
  reopen();
  EXPECT_EQ(run(open(*account(1), "INBOX")->maildrop()).value().pop3_policy, "keep:7");
}

TEST_P(MailStoreContract, MaildropExpiresMessagesRetrievedBeforeTheCutoff) {
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  for (int i = 0; i < 4; ++i) append(*inbox, msg("m" + std::to_string(i)));
  MaildropUpdate first;
  first.retrieved = {1, 2};
  first.deleted = {2};
  first.remove_deleted = false;
  first.now = 100;
  ASSERT_TRUE(run(inbox->commit_maildrop(first)));
  MaildropUpdate later;
  later.retrieved = {3};
  later.now = 200;
  ASSERT_TRUE(run(inbox->commit_maildrop(later)));

  MaildropUpdate sweep;
  sweep.now = 300;
  sweep.remove_deleted = false;
  sweep.expire_retrieved_before = 150;  // 1 and 2 (hidden or not) are older; 3 is not; 4 never retrieved
  auto r = run(inbox->commit_maildrop(sweep)).value();
  EXPECT_EQ(r.removed, (std::vector<Uid>{1, 2}));
  EXPECT_EQ(run(inbox->select(false)).value().messages.size(), 2u);
}

// ---- Moving an installation (posthorn migrate) ----

// A mailbox as migrate hands it to restore_mailbox().
inline MailboxInfo mailbox_image(std::string name, uint32_t uid_validity, Uid uid_next, ModSeq highest_modseq) {
  MailboxInfo m;
  m.name = std::move(name);
  m.uid_validity = uid_validity;
  m.uid_next = uid_next;
  m.highest_modseq = highest_modseq;
  return m;
}

inline RestoredMessage restored(Uid uid, ModSeq modseq, std::string bytes, Flags flags = {}, int64_t date = 1600000000) {
  RestoredMessage m;
  m.info.uid = uid;
  m.info.modseq = modseq;
  m.info.flags = std::move(flags);
  m.info.internal_date = date;
  m.info.save_date = date + 60;
  m.bytes = std::move(bytes);
  return m;
}

TEST_P(MailStoreContract, RestoreKeepsUidsModseqsFlagsAndBytesExactly) {
  auto a = account(1);
  MailboxInfo given = mailbox_image("inbox", 777, 501, 9000);
  auto inbox_info = run(a->restore_mailbox(given));
  ASSERT_TRUE(inbox_info) << inbox_info.error().message;
  EXPECT_EQ(inbox_info->name, "INBOX");
  EXPECT_EQ(inbox_info->uid_validity, 777u);
  EXPECT_EQ(inbox_info->uid_next, 501u);
  EXPECT_EQ(inbox_info->highest_modseq, 9000u);

  Flags seen;
  seen.system = kSeen | kAnswered;
  seen.keywords = {"$Forwarded", "Work"};
  // A lone LF and a lone CR: the bytes are stored as given, not normalised.
  const std::string odd = "From: a@example.test\nSubject: odd\r\n\r\nline\rwith CR\n";
  const std::string big_body(600 * 1024, 'x');
  auto spool = std::make_shared<Spool>(dir_, 0, nullptr);
  const std::string big = "Subject: big\r\n\r\n" + big_body + "\r\n";
  ASSERT_TRUE(spool->append(big));
  std::vector<RestoredMessage> batch;
  batch.push_back(restored(5, 10, odd, seen, 1500000000));
  batch.push_back(restored(17, 8999, message("second")));
  RestoredMessage spooled = restored(400, 9000, "");
  spooled.spool = spool;
  batch.push_back(std::move(spooled));
  auto inbox = open(*a, "INBOX");
  ASSERT_TRUE(run(inbox->restore_messages(std::move(batch))));

  reopen();
  a = account(1);
  inbox = open(*a, "INBOX");
  auto view = run(inbox->select(false)).value();
  EXPECT_EQ(view.mailbox.uid_validity, 777u);
  EXPECT_EQ(view.mailbox.uid_next, 501u);
  EXPECT_EQ(view.mailbox.highest_modseq, 9000u);
  EXPECT_EQ(view.first_recent, 0u);  // nothing restored is \Recent
  ASSERT_EQ(view.messages.size(), 3u);
  EXPECT_EQ(uids_of(view.messages), (std::vector<Uid>{5, 17, 400}));
  EXPECT_EQ(view.messages[0].modseq, 10u);
  EXPECT_EQ(view.messages[1].modseq, 8999u);
  EXPECT_EQ(view.messages[2].modseq, 9000u);
  EXPECT_EQ(view.messages[0].flags.system, kSeen | kAnswered);
  EXPECT_EQ(view.messages[0].flags.keywords, (std::vector<std::string>{"$Forwarded", "Work"}));
  EXPECT_EQ(view.messages[0].internal_date, 1500000000);
  EXPECT_EQ(view.messages[0].save_date, 1500000060);
  EXPECT_EQ(view.messages[0].size, odd.size());
  EXPECT_EQ(view.messages[2].size, big.size());

  // Paged reads of the image.
  auto page = run(inbox->image_page(0, 2)).value();
  EXPECT_EQ(uids_of(page), (std::vector<Uid>{5, 17}));
  EXPECT_EQ(page[0].flags, view.messages[0].flags);
  EXPECT_EQ(uids_of(run(inbox->image_page(17, 10)).value()), (std::vector<Uid>{400}));
  EXPECT_TRUE(run(inbox->image_page(400, 10)).value().empty());

  // The bytes, exactly, and a summary made from them.
  auto read_all = [&](Uid uid) {
    auto blob = run(inbox->open_message(uid)).value();
    std::string out;
    while (out.size() < blob->size()) out += run(blob->read(out.size(), 100000)).value();
    return out;
  };
  EXPECT_EQ(read_all(5), odd);
  EXPECT_EQ(sha256_hex(read_all(400)), sha256_hex(big));
  auto summary = run(inbox->fetch({17}, true)).value();
  ASSERT_EQ(summary.size(), 1u);
  auto parsed = mime::decode_summary(summary[0].summary);
  ASSERT_TRUE(parsed);

  // Later appends continue above UIDNEXT and HIGHESTMODSEQ; the quota counts what was restored.
  auto next = append(*inbox, msg("after"));
  EXPECT_EQ(next.uid, 501u);
  EXPECT_EQ(next.modseq, 9001u);
  EXPECT_EQ(next.uid_validity, 777u);
  EXPECT_EQ(run(a->quota()).value().messages, 4u);
  EXPECT_EQ(run(inbox->status()).value().messages, 4u);
}

TEST_P(MailStoreContract, RestoreIntoANonEmptyMailboxIsRefused) {
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  append(*inbox, msg("already here"));
  MailboxInfo given = mailbox_image("INBOX", 5, 10, 10);
  auto refused = run(a->restore_mailbox(given));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kConflict);
  EXPECT_EQ(run(inbox->status()).value().uid_next, 2u);  // unchanged

  // Messages must ascend above the mailbox's UIDs, below UIDNEXT, with MODSEQs up to HIGHESTMODSEQ.
  given.name = "Restored";
  given.uid_next = 100;
  given.highest_modseq = 50;
  ASSERT_TRUE(run(a->restore_mailbox(given)));
  auto box = open(*a, "Restored");
  std::vector<RestoredMessage> one;
  one.push_back(restored(10, 5, message("ten")));
  ASSERT_TRUE(run(box->restore_messages(std::move(one))));
  auto code_of = [&](Uid uid, ModSeq modseq) {
    std::vector<RestoredMessage> b;
    b.push_back(restored(uid, modseq, message("x")));
    auto r = run(box->restore_messages(std::move(b)));
    return r ? Errc{} : r.error().code;
  };
  EXPECT_EQ(code_of(10, 5), Errc::kInvalid);   // not above UID 10
  EXPECT_EQ(code_of(9, 5), Errc::kInvalid);
  EXPECT_EQ(code_of(100, 5), Errc::kInvalid);  // not below UIDNEXT
  EXPECT_EQ(code_of(20, 51), Errc::kInvalid);  // above HIGHESTMODSEQ
  EXPECT_EQ(code_of(20, 0), Errc::kInvalid);
  EXPECT_EQ(run(box->status()).value().messages, 1u);
  // ... and once it holds a message, the mailbox cannot be restored again.
  EXPECT_EQ(run(a->restore_mailbox(given)).error().code, Errc::kConflict);
  given.uid_validity = 0;
  given.name = "Other";
  EXPECT_EQ(run(a->restore_mailbox(given)).error().code, Errc::kInvalid);
}

TEST_P(MailStoreContract, RestoredMailboxesKeepTheirUidValidityAndNewOnesStayAbove) {
  auto a = account(1);
  MailboxInfo given = mailbox_image("Lists/Posthorn", 4000000000u, 3, 7);  // above any time-based one
  given.special_use = SpecialUse::kArchive;
  auto made = run(a->restore_mailbox(given));
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(made->special_use, SpecialUse::kArchive);
  auto parent = run(a->find_mailbox("Lists"));
  ASSERT_TRUE(parent);  // the missing parent was created
  auto fresh = run(a->create_mailbox("Fresh", SpecialUse::kNone));
  ASSERT_TRUE(fresh);
  EXPECT_GT(fresh->uid_validity, 4000000000u);
  // An empty default mailbox is taken over.
  given.name = "Trash";
  given.uid_validity = 42;
  given.special_use = SpecialUse::kTrash;
  auto trash = run(a->restore_mailbox(given));
  ASSERT_TRUE(trash) << trash.error().message;
  EXPECT_EQ(run(a->find_mailbox("Trash")).value().uid_validity, 42u);
  EXPECT_EQ(run(a->find_mailbox("Trash")).value().id, trash->id);
}

}  // namespace posthorn::store::contract
