// Tests of SqliteMailStore and BlobStore against a real data folder in a temp directory: the shared
// behavioural suite (tests/harness/mail_store_contract.hpp) on this backend, and what only this
// backend has: account indexes kept open, the files and their modes, group commit, garbage
// collection of blob files, upgrades of old indexes.
#include "store/sqlite/sqlite_db.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "base/crypto.hpp"
#include "mime/summary.hpp"
#include "tests/harness/drive.hpp"
#include "tests/harness/mail_store_contract.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using contract::message;
using contract::msg;

// The shared suite on a data folder.
class SqliteBackend final : public contract::MailStoreBackend {
 public:
  explicit SqliteBackend(contract::BackendContext& context) : pool_(context.pool), dir_(context.dir / "data") {}
  Result<std::unique_ptr<MailStore>> open() override {
    last_ = nullptr;
    auto s = SqliteMailStore::open(dir_, pool_);
    if (!s) return s.error();
    last_ = s->get();
    return std::unique_ptr<MailStore>(std::move(*s));
  }
  std::size_t blob_count() override { return last_->blobs().list().value().size(); }
  bool temp_files_left() override { return !fs::is_empty(dir_ / "blobs" / "tmp"); }
  void check_stored(const std::string& bytes, AccountId account) override {
    const fs::path blob = last_->blobs().path_for(blob_id_for(bytes));
    EXPECT_TRUE(fs::exists(blob));
    EXPECT_EQ(fs::status(blob).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(fs::status(dir_ / "accounts" / std::to_string(account)).permissions() & fs::perms::all, fs::perms::owner_all);
  }
  std::optional<uint64_t> transactions() override { return last_->transactions(); }

 private:
  BlockingPool& pool_;
  fs::path dir_;
  SqliteMailStore* last_ = nullptr;
};

}  // namespace

using contract::MailStoreContract;
INSTANTIATE_TEST_SUITE_P(Sqlite, MailStoreContract,
                         ::testing::Values(contract::BackendParam{
                             "sqlite", [](contract::BackendContext& c) -> std::unique_ptr<contract::MailStoreBackend> {
                               return std::make_unique<SqliteBackend>(c);
                             }}),
                         contract::backend_name);

namespace {

// The tests below need the SQLite store itself.
class MailStoreTest : public ::testing::Test {
 protected:
  MailStoreTest() {
    static std::atomic<int> n{0};
    dir_ = fs::temp_directory_path() / ("posthorn_mail_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(dir_);
  }
  ~MailStoreTest() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void SetUp() override { reopen(); }

  void reopen() {
    store_.reset();
    auto s = SqliteMailStore::open(dir_, pool_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    return posthorn::testing::drive(io_, std::move(op));
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
  // Adds \Deleted to `uids`; the store's answer must be a success.
  void mark_deleted(Mailbox& box, std::vector<Uid> uids) {
    Flags del;
    del.system = kDeleted;
    auto r = run(box.store_flags(StoreFlags{std::move(uids), FlagOp::kAdd, del, std::nullopt}));
    ASSERT_TRUE(r) << r.error().message;
  }
  std::size_t blob_count() { return store_->blobs().list().value().size(); }

  fs::path dir_;
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  asio::io_context io_;
  BlockingPool pool_{4};
  std::unique_ptr<SqliteMailStore> store_;
};


TEST_F(MailStoreTest, ConcurrentOpensOfOneAccountOpenItsIndexOnce) {
  // Eight logins of one account at once (a client opening several connections) share one open.
  std::vector<std::future<Result<std::shared_ptr<Account>>>> futures;
  for (int i = 0; i < 8; ++i) futures.push_back(asio::co_spawn(io_, store_->account(7, {}), asio::use_future));
  for (auto& f : futures) {
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(2));
    }
  }
  std::set<Account*> distinct;
  for (auto& f : futures) {
    auto a = f.get();
    ASSERT_TRUE(a) << a.error().message;
    distinct.insert(a->get());
  }
  EXPECT_EQ(distinct.size(), 1u);
  EXPECT_EQ(store_->indexes_opened(), 1u);
}

TEST_F(MailStoreTest, RecentlyUsedAccountsStayOpenUpToALimit) {
  {
    auto a = account(1);
    auto box = open(*a, "INBOX");
    append(*box, msg("kept"));
  }
  // Nobody holds account 1 any more, but it was used last: the next login finds it open.
  EXPECT_EQ(store_->indexes_opened(), 1u);
  {
    auto again = account(1);
    EXPECT_EQ(run(open(*again, "INBOX")->status()).value().messages, 1u);
  }
  EXPECT_EQ(store_->indexes_opened(), 1u);
  // 40 other accounts used since push it out; reopening reads the same index from disk.
  for (AccountId id = 100; id < 140; ++id) account(id);
  EXPECT_EQ(store_->indexes_opened(), 41u);
  auto reopened = account(1);
  EXPECT_EQ(store_->indexes_opened(), 42u);
  EXPECT_EQ(run(open(*reopened, "INBOX")->status()).value().messages, 1u);
}

TEST_F(MailStoreTest, DeletingAKeptAccountClosesItAndStartsAfresh) {
  {
    auto a = account(3);
    auto box = open(*a, "INBOX");
    append(*box, msg("gone with the account"));
  }
  ASSERT_TRUE(run(store_->delete_account(3)));
  EXPECT_FALSE(fs::exists(dir_ / "accounts" / "3"));
  auto fresh = account(3);
  EXPECT_EQ(run(open(*fresh, "INBOX")->status()).value().messages, 0u);
  EXPECT_EQ(store_->indexes_opened(), 2u);
}

TEST_F(MailStoreTest, GarbageCollectionRemovesOrphansAndTempFilesOnly) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  append(*box, msg("kept"));
  append(*box, msg("dropped"));
  auto b = account(2);
  append(*open(*b, "INBOX"), msg("other account"));
  ASSERT_NO_FATAL_FAILURE(mark_deleted(*box, {2}));
  ASSERT_TRUE(run(box->expunge(std::nullopt)));
  {  // the expunged message's prefix and cached parse went with it (foreign key cascade)
    auto db = Db::open(dir_ / "accounts" / "1" / "index.db", DbOptions{}).value();
    EXPECT_EQ(db.column_texts("SELECT count(*) FROM message_bytes").value(), std::vector<std::string>{"1"});
    EXPECT_EQ(db.column_texts("SELECT count(*) FROM messages").value(), std::vector<std::string>{"1"});
  }
  const auto orphan = store_->blobs().put("orphan bytes").value();
  std::ofstream(dir_ / "blobs" / "tmp" / "leftover.tmp") << "partial";
  EXPECT_EQ(blob_count(), 4u);

  auto stats = store_->collect_garbage().value();
  EXPECT_EQ(stats.blobs_removed, 2u);  // "dropped" and the orphan
  EXPECT_EQ(stats.tmp_removed, 1u);
  EXPECT_EQ(stats.blobs_kept, 2u);
  EXPECT_FALSE(store_->blobs().exists(orphan));
  EXPECT_FALSE(fs::exists(dir_ / "blobs" / "tmp" / "leftover.tmp"));
  EXPECT_EQ(run(box->open_message(1)).value()->read_blocking(0, 1 << 16).value(), normalize_crlf(message("kept")));

  // Deleting an account removes its folder; its blobs go at the next collection.
  ASSERT_TRUE(run(store_->delete_account(2)));
  EXPECT_FALSE(fs::exists(dir_ / "accounts" / "2"));
  EXPECT_EQ(run(b->list_mailboxes()).error().code, Errc::kNotFound);
  EXPECT_EQ(store_->collect_garbage().value().blobs_removed, 1u);
  EXPECT_EQ(blob_count(), 1u);
  // The account comes back empty on next use.
  auto fresh = account(2);
  EXPECT_EQ(run(open(*fresh, "INBOX")->status()).value().messages, 0u);
}

TEST_F(MailStoreTest, GarbageCollectionIsSkippedWhileAnotherStoreHasTheFolderOpen) {
  const auto orphan = store_->blobs().put("orphan bytes").value();
  {
    // Like a `posthorn import` running beside the server: its blobs may not be indexed yet.
    auto other = SqliteMailStore::open(dir_, pool_).value();
    auto stats = store_->collect_garbage().value();
    EXPECT_TRUE(stats.skipped);
    EXPECT_TRUE(store_->blobs().exists(orphan));
  }
  auto stats = store_->collect_garbage().value();
  EXPECT_FALSE(stats.skipped);
  EXPECT_FALSE(store_->blobs().exists(orphan));
  // Our own shared lock came back: a second opener now blocks collection again.
  auto again = SqliteMailStore::open(dir_, pool_).value();
  EXPECT_TRUE(store_->collect_garbage().value().skipped);
}

// Collection while serving [issue 28 item 5]: a pinned blob (being delivered, index entry not yet
// committed) is kept; so is one unpinned after the collection began (its index entry may be newer
// than what the collection read); blobs/tmp is left alone; what goes is counted in bytes.
TEST_F(MailStoreTest, GarbageCollectionWhileServingKeepsPinnedAndJustUnpinnedBlobs) {
  BlobStore& blobs = store_->blobs();
  auto pinned = blobs.put_pinned("being delivered").value();
  const std::string orphan = blobs.put("nobody refers to this").value();
  std::ofstream(dir_ / "blobs" / "tmp" / "in-progress.tmp") << "partial";
  EXPECT_EQ(blobs.pinned(), 1u);
  auto stats = store_->collect_garbage(SqliteMailStore::GcMode::kServing).value();
  EXPECT_EQ(stats.blobs_removed, 1u);
  EXPECT_EQ(stats.bytes_freed, std::string_view("nobody refers to this").size());
  EXPECT_EQ(stats.tmp_removed, 0u);
  EXPECT_TRUE(blobs.exists(pinned.id()));
  EXPECT_FALSE(blobs.exists(orphan));
  EXPECT_TRUE(fs::exists(dir_ / "blobs" / "tmp" / "in-progress.tmp"));

  // Unpinned while a collection runs: kept by that collection, removed by the next.
  const std::string id = pinned.id();
  blobs.begin_collection();
  { BlobPin done = std::move(pinned); }
  EXPECT_EQ(blobs.pinned(), 0u);
  EXPECT_FALSE(blobs.remove_unpinned(id).value().has_value());
  blobs.end_collection();
  EXPECT_TRUE(blobs.exists(id));
  blobs.begin_collection();
  EXPECT_EQ(blobs.remove_unpinned(id).value(), std::optional<uint64_t>(std::string_view("being delivered").size()));
  blobs.end_collection();
  EXPECT_FALSE(blobs.exists(id));

  // Two writers of the same bytes: pinned until both are done.
  auto a = blobs.put_pinned("same").value();
  auto b = blobs.put_pinned("same").value();
  { BlobPin gone = std::move(a); }
  blobs.begin_collection();
  EXPECT_FALSE(blobs.remove_unpinned(b.id()).value().has_value());
  blobs.end_collection();

  // At start-up the temp files go too.
  EXPECT_EQ(store_->collect_garbage(SqliteMailStore::GcMode::kStartup).value().tmp_removed, 1u);
}

// Expunges and deleted mailboxes mark the store as having garbage; the serving loop (app/serve.cpp)
// collects only then.
TEST_F(MailStoreTest, ExpungeMarksGarbageForTheServingCollection) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  EXPECT_FALSE(store_->take_garbage());
  append(*box, msg("one"));
  EXPECT_FALSE(store_->take_garbage());
  ASSERT_NO_FATAL_FAILURE(mark_deleted(*box, {1}));
  EXPECT_FALSE(store_->take_garbage());
  ASSERT_TRUE(run(box->expunge(std::nullopt)));
  EXPECT_TRUE(store_->take_garbage());
  EXPECT_FALSE(store_->take_garbage());
  EXPECT_EQ(store_->collect_garbage(SqliteMailStore::GcMode::kServing).value().blobs_removed, 1u);
  EXPECT_EQ(blob_count(), 0u);
}

// The race the pins exist for: the same bytes appended again just after their last message was
// expunged (put() finds the file and does not write it) while collections run back to back on
// another thread. Every appended message must stay readable.
TEST_F(MailStoreTest, CollectionRacingAppendsOfTheSameBytesNeverLosesABlob) {
  auto a = account(1);
  auto box = open(*a, "INBOX");
  std::atomic<bool> stop{false};
  std::atomic<int> collections{0};
  std::thread collector([&] {
    while (!stop) {
      auto r = store_->collect_garbage(SqliteMailStore::GcMode::kServing);
      if (r) ++collections;
    }
  });
  for (int i = 0; i < 150; ++i) {
    const Uid uid = append(*box, msg("again and again")).uid;
    auto blob = run(box->open_message(uid));
    ASSERT_TRUE(blob) << "round " << i << ": " << blob.error().message;
    ASSERT_EQ((*blob)->read_blocking(0, 1 << 16).value(), normalize_crlf(message("again and again"))) << i;
    ASSERT_NO_FATAL_FAILURE(mark_deleted(*box, {uid}));
    ASSERT_TRUE(run(box->expunge(std::nullopt)));
  }
  stop = true;
  collector.join();
  EXPECT_GT(collections.load(), 0);
}

TEST(BlobStore, PutIsIdempotentAndListsAndRemoves) {
  const fs::path dir = fs::temp_directory_path() / ("posthorn_blob_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto blobs = BlobStore::open(dir).value();
  const auto id = blobs->put("abc").value();
  EXPECT_EQ(id, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // SHA-256("abc")
  EXPECT_EQ(blobs->path_for(id), dir / "blobs" / "ba" / "78" / id);
  const auto mtime = fs::last_write_time(blobs->path_for(id));
  EXPECT_EQ(blobs->put("abc").value(), id);
  EXPECT_EQ(fs::last_write_time(blobs->path_for(id)), mtime);
  EXPECT_TRUE(fs::is_empty(dir / "blobs" / "tmp"));
  EXPECT_EQ(fs::status(dir / "blobs" / "ba").permissions() & fs::perms::all, fs::perms::owner_all);
  const auto empty = blobs->put("").value();
  auto reader = blobs->open_blob(empty).value();
  EXPECT_EQ(reader->size(), 0u);
  auto ids = blobs->list().value();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{id, empty}));
  ASSERT_TRUE(blobs->remove(id));
  EXPECT_FALSE(blobs->exists(id));
  EXPECT_TRUE(blobs->remove(id));  // already gone: fine
  EXPECT_EQ(blobs->remove("../x").error().code, Errc::kInvalid);
  EXPECT_EQ(blobs->open_blob(id).error().code, Errc::kInternal);
  fs::remove_all(dir);
}

// ---- POP3 maildrop ----

TEST_F(MailStoreTest, MaildropComputesMissingHashesOnceForOldMessages) {
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  append(*inbox, msg("old"));
  append(*inbox, msg("new"));
  a.reset();
  inbox.reset();
  store_.reset();
  {  // what a schema-version-1 index holds: no content hash
    auto db = Db::open(dir_ / "accounts" / "1" / "index.db", DbOptions{}).value();
    ASSERT_TRUE(db.exec("UPDATE message_bytes SET content_hash = NULL WHERE uid = 1"));
  }
  reopen();
  a = account(1);
  inbox = open(*a, "INBOX");
  auto view = run(inbox->maildrop()).value();
  ASSERT_EQ(view.messages.size(), 2u);
  EXPECT_EQ(view.messages[0].content_hash, sha256_hex(normalize_crlf(message("old"))));
  auto db = Db::open(dir_ / "accounts" / "1" / "index.db", DbOptions{}).value();
  EXPECT_EQ(db.column_texts("SELECT content_hash FROM message_bytes WHERE uid = 1").value(),
            (std::vector<std::string>{view.messages[0].content_hash}));
}

TEST_F(MailStoreTest, SchemaVersionOneIndexIsUpgraded) {
  account(1);
  store_.reset();
  {
    auto db = Db::open(dir_ / "accounts" / "1" / "index.db", DbOptions{}).value();
    ASSERT_TRUE(db.exec("DROP TABLE pop3_state; ALTER TABLE message_bytes DROP COLUMN content_hash; "
                        "ALTER TABLE account DROP COLUMN pop3_policy; "
                        "DELETE FROM schema_version; INSERT INTO schema_version VALUES (1);"));
  }
  reopen();
  auto a = account(1);
  auto inbox = open(*a, "INBOX");
  append(*inbox, msg("after upgrade"));
  auto view = run(inbox->maildrop()).value();
  ASSERT_EQ(view.messages.size(), 1u);
  EXPECT_EQ(view.messages[0].content_hash, sha256_hex(normalize_crlf(message("after upgrade"))));
}

}  // namespace
}  // namespace posthorn::store::sqlite
