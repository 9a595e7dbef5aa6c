// PgMailStore against a real PostgreSQL (fixture pg_server): the shared behavioural suite
// (tests/harness/mail_store_contract.hpp) on this backend, each test in a database of its own, and
// what only this backend has: two stores ("nodes") on one database seeing each other's changes,
// UIDs that never collide under concurrent appends from both, blobs in chunks and their reference
// counts, the schema version.
#include "store/pg/pg_mail_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "store/pg/pg_mail_schema.hpp"
#include "store/pg/pg_schema.hpp"
#include "store/pg/pg_test_support.hpp"
#include "tests/harness/mail_store_contract.hpp"

namespace posthorn::store::pg {
namespace {

namespace asio = boost::asio;
using contract::message;
using contract::msg;

// A database of its own for one test, dropped at the end.
class PgBackend final : public contract::MailStoreBackend {
 public:
  explicit PgBackend(contract::BackendContext& context) : io_(context.io), pool_(context.pool) {
    options_.pool.connect = db_.options();
    options_.pool.size = 4;
  }
  Result<std::unique_ptr<MailStore>> open() override {
    auto s = open_pg();
    if (!s) return s.error();
    return std::unique_ptr<MailStore>(std::move(*s));
  }
  Result<std::unique_ptr<PgMailStore>> open_pg() {
    return posthorn::testing::drive(io_, PgMailStore::open(io_.get_executor(), options_, pool_));
  }
  Result<Rows> query(std::string sql) { return db_.query(std::move(sql)); }
  std::size_t blob_count() override { return std::size_t(query("SELECT count(*) FROM blob").value().integer(0, 0)); }
  void check_stored(const std::string& bytes, AccountId account) override {
    auto rows = query("SELECT b.refcount, b.size, (SELECT count(*) FROM blob_chunk c WHERE c.hash = b.hash) FROM blob b "
                      "WHERE b.hash = '" + sha256_hex(bytes) + "'");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1);
    EXPECT_EQ(rows->integer(0, 0), 1);
    EXPECT_EQ(rows->integer(0, 1), int64_t(bytes.size()));
    EXPECT_EQ(rows->integer(0, 2), int64_t((bytes.size() + kBlobChunk - 1) / kBlobChunk));
    EXPECT_GE(query("SELECT count(*) FROM mailbox WHERE account = " + std::to_string(account)).value().integer(0, 0), 6);
  }

 private:
  asio::io_context& io_;
  BlockingPool& pool_;
  testing::TestDatabase db_;
  PgMailStoreOptions options_;
};

}  // namespace

using contract::MailStoreContract;
INSTANTIATE_TEST_SUITE_P(Pg, MailStoreContract,
                         ::testing::Values(contract::BackendParam{
                             "postgresql", [](contract::BackendContext& c) -> std::unique_ptr<contract::MailStoreBackend> {
                               return std::make_unique<PgBackend>(c);
                             }}),
                         contract::backend_name);

namespace {

// Two stores on one database, as two nodes of a cluster.
class PgNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    contract::BackendContext context{io_, pool_, {}};
    backend_ = std::make_unique<PgBackend>(context);
    auto a = backend_->open_pg();
    ASSERT_TRUE(a) << a.error().message;
    a_ = std::move(*a);
    auto b = backend_->open_pg();
    ASSERT_TRUE(b) << b.error().message;
    b_ = std::move(*b);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    backend_.reset();
  }
  template <class T>
  T run(asio::awaitable<T> op) {
    return posthorn::testing::drive(io_, std::move(op));
  }
  // Drives the io_context until `done` holds or `limit` passes.
  template <class Pred>
  bool wait_until(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  asio::io_context io_;
  BlockingPool pool_{2};
  std::unique_ptr<PgBackend> backend_;
  std::unique_ptr<PgMailStore> a_;
  std::unique_ptr<PgMailStore> b_;
};

TEST_F(PgNodesTest, AnAppendOnOneNodeReachesTheOtherNodesSubscribersOnce) {
  auto on_a = run(a_->account(1, {})).value();
  auto on_b = run(b_->account(1, {})).value();
  std::mutex mu;
  std::vector<ChangeEvent> seen_a;
  std::vector<ChangeEvent> seen_b;
  auto sub_a = a_->feed().subscribe(1, [&](const ChangeEvent& e) {
    std::lock_guard lock(mu);
    seen_a.push_back(e);
  });
  auto sub_b = b_->feed().subscribe(1, [&](const ChangeEvent& e) {
    std::lock_guard lock(mu);
    seen_b.push_back(e);
  });
  auto box_a = run(on_a->open("INBOX")).value();
  auto appended = run(box_a->append(msg("from node a"))).value();
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mu);
    return !seen_b.empty();
  })) << "node b never heard of the append";
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen_b[0].kind, ChangeEvent::Kind::kAppended);
    EXPECT_EQ(seen_b[0].mailbox, box_a->id());
    EXPECT_EQ(seen_b[0].modseq, appended.modseq);
  }
  // Node b reads what node a wrote; node a heard its own change once (not again through NOTIFY).
  auto box_b = run(on_b->open("INBOX")).value();
  auto view = run(box_b->select(false)).value();
  ASSERT_EQ(view.messages.size(), 1u);
  EXPECT_EQ(view.messages[0].uid, appended.uid);
  auto blob = run(box_b->open_message(appended.uid)).value();
  EXPECT_EQ(run(blob->read(0, 1 << 16)).value(), normalize_crlf(message("from node a")));
  wait_until([] { return false; }, std::chrono::milliseconds(300));
  std::lock_guard lock(mu);
  EXPECT_EQ(seen_a.size(), 1u);
  EXPECT_EQ(seen_b.size(), 1u);
  EXPECT_EQ(b_->remote_events(), 1u);
  EXPECT_EQ(a_->remote_events(), 0u);
}

TEST_F(PgNodesTest, ConcurrentAppendsOnTwoNodesNeverShareAUid) {
  auto on_a = run(a_->account(1, {})).value();
  auto on_b = run(b_->account(1, {})).value();
  constexpr int kWorkers = 4;
  constexpr int kEach = 15;
  std::vector<std::future<Result<std::vector<Uid>>>> futures;
  for (int w = 0; w < kWorkers; ++w) {
    futures.push_back(asio::co_spawn(io_, contract::append_n(w % 2 == 0 ? on_a : on_b, w, kEach), asio::use_future));
  }
  ASSERT_TRUE(wait_until(
      [&] {
        for (auto& f : futures) {
          if (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
        }
        return true;
      },
      std::chrono::milliseconds(60000)));
  std::set<Uid> all;
  for (auto& f : futures) {
    auto uids = f.get();
    ASSERT_TRUE(uids) << uids.error().message;
    all.insert(uids->begin(), uids->end());
  }
  EXPECT_EQ(all.size(), std::size_t(kWorkers * kEach));
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), Uid(kWorkers * kEach));
  auto status = run(run(on_b->open("INBOX")).value()->status()).value();
  EXPECT_EQ(status.messages, uint32_t(kWorkers * kEach));
  EXPECT_EQ(status.uid_next, Uid(kWorkers * kEach + 1));
  EXPECT_EQ(run(on_a->quota()).value().messages, uint64_t(kWorkers * kEach));
}

TEST_F(PgNodesTest, BlobsAreChunkedSharedAndGoWithTheirLastMessage) {
  std::string body;
  while (body.size() < 3 * kBlobChunk + 1000) body += "a line of a large message body\r\n";
  const std::string big = "Subject: big\r\n\r\n" + body;
  auto on_a = run(a_->account(1, {})).value();
  auto inbox = run(on_a->open("INBOX")).value();
  const Uid first = run(inbox->append(AppendMessage{big, {}, std::nullopt})).value().uid;
  const Uid second = run(inbox->append(AppendMessage{big, {}, std::nullopt})).value().uid;
  auto chunks = backend_->query("SELECT count(*), max(length(bytes)) FROM blob_chunk").value();
  EXPECT_EQ(chunks.integer(0, 0), 4);
  EXPECT_EQ(chunks.integer(0, 1), int64_t(kBlobChunk));
  EXPECT_EQ(backend_->query("SELECT refcount FROM blob").value().integer(0, 0), 2);
  // Read back in pieces that cross the chunk boundaries, through both nodes.
  auto on_b = run(b_->account(1, {})).value();
  auto blob = run(run(on_b->open("INBOX")).value()->open_message(second)).value();
  ASSERT_EQ(blob->size(), big.size());
  std::string all;
  for (uint64_t off = 0; off < blob->size(); off += 100'000) all += run(blob->read(off, 100'000)).value();
  EXPECT_EQ(all, big);
  EXPECT_EQ(run(blob->read(kBlobChunk - 3, 6)).value(), big.substr(kBlobChunk - 3, 6));
  // read_blocking works from a thread that is not the store's (its own connection).
  std::string piece;
  std::thread reader([&] { piece = blob->read_blocking(kBlobChunk * 2 - 10, 20).value(); });
  reader.join();
  EXPECT_EQ(piece, big.substr(kBlobChunk * 2 - 10, 20));
  // A copy shares the blob; expunging all three removes it with its chunks.
  auto archive = run(on_a->find_mailbox("Archive")).value();
  ASSERT_TRUE(run(inbox->copy({first}, archive.id)));
  EXPECT_EQ(backend_->query("SELECT refcount FROM blob").value().integer(0, 0), 3);
  Flags del;
  del.system = kDeleted;
  ASSERT_TRUE(run(inbox->store_flags(StoreFlags{{first, second}, FlagOp::kAdd, del, std::nullopt})));
  ASSERT_TRUE(run(inbox->expunge(std::nullopt)));
  EXPECT_EQ(backend_->query("SELECT refcount FROM blob").value().integer(0, 0), 1);
  ASSERT_TRUE(run(on_a->delete_mailbox("Archive")));
  EXPECT_EQ(backend_->blob_count(), 0u);
  EXPECT_EQ(backend_->query("SELECT count(*) FROM blob_chunk").value().integer(0, 0), 0);
  EXPECT_EQ(run(on_a->quota()).value().storage_bytes, 0u);
  // Deleting an account drops its references too.
  ASSERT_TRUE(run(inbox->append(AppendMessage{big, {}, std::nullopt})));
  ASSERT_TRUE(run(a_->delete_account(1)));
  EXPECT_EQ(backend_->blob_count(), 0u);
  EXPECT_EQ(run(inbox->status()).error().code, Errc::kNotFound);
  EXPECT_EQ(run(on_a->list_mailboxes()).error().code, Errc::kNotFound);
}

TEST_F(PgNodesTest, TheSchemaHasItsVersionAndANewerOneIsRefused) {
  auto version = backend_->query("SELECT version FROM posthorn_schema WHERE component = 'mail'").value();
  EXPECT_EQ(version.integer(0, 0), kMailSchemaVersion);
  ASSERT_TRUE(backend_->query("UPDATE posthorn_schema SET version = 99 WHERE component = 'mail'"));
  auto refused = backend_->open_pg();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kInvalid);
  EXPECT_NE(refused.error().message.find("version 99"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace posthorn::store::pg
