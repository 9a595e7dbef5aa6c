// PgQueue against a real PostgreSQL (fixture pg_server): the shared behavioural suite
// (tests/harness/queue_contract.hpp) on this backend, each test in a database of its own, and what
// only this backend has: two queues ("nodes") on one database never claiming the same entry, the
// lease of a node that stops answering going to another, leases released by the calls that end a
// pass, a large message in the database, the schema version.
#include "store/pg/pg_queue.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <set>
#include <thread>

#include "store/pg/pg_queue_schema.hpp"
#include "store/pg/pg_test_support.hpp"
#include "tests/harness/drive.hpp"
#include "tests/harness/queue_contract.hpp"

namespace posthorn::store::pg {
namespace {

namespace asio = boost::asio;
using queue::RecipientState;
using queue::contract::sample;

class PgQueueBackend final : public queue::contract::QueueBackend {
 public:
  explicit PgQueueBackend(queue::contract::QueueBackendContext& context) : io_(context.io) {
    options_.pool.connect = db_.options();
    options_.pool.size = 2;
  }
  Result<std::unique_ptr<queue::Queue>> open() override {
    auto q = posthorn::testing::drive(io_, PgQueue::open(io_.get_executor(), options_));
    if (!q) return q.error();
    return std::unique_ptr<queue::Queue>(std::move(*q));
  }
  bool message_stored(const std::string& id) override {
    return db_.query("SELECT count(*) FROM queue_message WHERE entry = '" + id + "'").value().integer(0, 0) == 1;
  }

 private:
  asio::io_context& io_;
  testing::TestDatabase db_;
  PgQueueOptions options_;
};

}  // namespace

using queue::contract::QueueContract;
INSTANTIATE_TEST_SUITE_P(Pg, QueueContract,
                         ::testing::Values(queue::contract::QueueBackendParam{
                             "postgresql", [](queue::contract::QueueBackendContext& c) -> std::unique_ptr<queue::contract::QueueBackend> {
                               return std::make_unique<PgQueueBackend>(c);
                             }}),
                         queue::contract::queue_backend_name);

namespace {

std::set<std::string> ids_of(const std::vector<queue::Entry>& entries) {
  std::set<std::string> out;
  for (const auto& e : entries) out.insert(e.id);
  return out;
}

// Two queues on one database, as two nodes, on an io_context run by two threads (as serve runs it),
// so that their calls overlap.
class PgQueueNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = std::thread([this] { io_.run(); });
    second_ = std::thread([this] { io_.run(); });
    a_ = open("node-a");
    b_ = open("node-b");
    ASSERT_TRUE(a_ && b_);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    guard_.reset();
    first_.join();
    second_.join();
  }

  std::unique_ptr<PgQueue> open(std::string node, std::chrono::seconds lease = std::chrono::seconds(300)) {
    PgQueueOptions options;
    options.pool.connect = db_.options();
    options.pool.size = 4;
    options.node = std::move(node);
    options.lease = lease;
    auto q = call(PgQueue::open(io_.get_executor(), options));
    EXPECT_TRUE(q) << q.error().message;
    return q ? std::move(*q) : nullptr;
  }
  template <class T>
  T call(asio::awaitable<T> op) {
    return asio::co_spawn(io_, std::move(op), asio::use_future).get();
  }
  std::string lease_owner(const std::string& id) {
    auto rows = db_.query("SELECT coalesce(lease_owner, '') FROM queue_entry WHERE id = '" + id + "'");
    EXPECT_TRUE(rows && rows->size() == 1);
    return rows && rows->size() == 1 ? std::string(rows->text(0, 0)) : "?";
  }
  std::string enqueue_at(int64_t next_attempt) {
    auto e = sample();
    e.next_attempt = next_attempt;
    auto id = call(a_->enqueue(std::move(e)));
    EXPECT_TRUE(id) << id.error().message;
    return id ? *id : "";
  }

  testing::TestDatabase db_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::thread first_;
  std::thread second_;
  std::unique_ptr<PgQueue> a_;
  std::unique_ptr<PgQueue> b_;
};

TEST_F(PgQueueNodesTest, ConcurrentDueOnTwoNodesNeverReturnsAnEntryTwice) {
  constexpr int kEntries = 40;
  std::set<std::string> all;
  for (int i = 0; i < kEntries; ++i) all.insert(enqueue_at(1000 + i % 7));
  std::set<std::string> on_a;
  std::set<std::string> on_b;
  for (int round = 0; round < 5; ++round) {
    auto fa = asio::co_spawn(io_, a_->due(2000), asio::use_future);
    auto fb = asio::co_spawn(io_, b_->due(2000), asio::use_future);
    auto da = fa.get();
    auto db = fb.get();
    ASSERT_TRUE(da) << da.error().message;
    ASSERT_TRUE(db) << db.error().message;
    for (const auto& id : ids_of(*da)) {
      EXPECT_EQ(on_b.count(id), 0u) << id << " went to both nodes";
      on_a.insert(id);
    }
    for (const auto& id : ids_of(*db)) {
      EXPECT_EQ(on_a.count(id), 0u) << id << " went to both nodes";
      on_b.insert(id);
    }
  }
  std::set<std::string> claimed = on_a;
  claimed.insert(on_b.begin(), on_b.end());
  EXPECT_EQ(claimed, all);
  EXPECT_EQ(on_a.size() + on_b.size(), std::size_t(kEntries));
  for (const auto& id : on_a) EXPECT_EQ(lease_owner(id), "node-a");
  for (const auto& id : on_b) EXPECT_EQ(lease_owner(id), "node-b");
}

TEST_F(PgQueueNodesTest, AnExpiredLeaseGoesToAnotherNode) {
  const std::string id = enqueue_at(500);
  auto da = call(a_->due(1000));
  ASSERT_TRUE(da);
  ASSERT_EQ(ids_of(*da), std::set<std::string>{id});
  EXPECT_EQ(lease_owner(id), "node-a");
  // Node a claims it again while its lease runs (a long delivery), node b never.
  EXPECT_TRUE(call(b_->due(1000))->empty());
  EXPECT_TRUE(call(b_->due(1299))->empty());
  EXPECT_EQ(call(a_->due(1100))->size(), 1u);  // renewed to 1400
  EXPECT_TRUE(call(b_->due(1399))->empty());
  // Node a stops answering; at the end of its lease node b takes over.
  auto db = call(b_->due(1400));
  ASSERT_TRUE(db);
  ASSERT_EQ(ids_of(*db), std::set<std::string>{id});
  EXPECT_EQ(db->front().recipients.size(), 2u);
  EXPECT_EQ(lease_owner(id), "node-b");
  EXPECT_TRUE(call(a_->due(1400))->empty());
  // Node a's late outcome is written but leaves node b's lease alone; node b's retry releases it.
  queue::Attempt late;
  late.recipients.push_back({"a@remote.example", RecipientState::kPending, "451 late"});
  late.next_attempt = 1500;
  ASSERT_TRUE(call(a_->record_attempt(id, late)));
  EXPECT_EQ(lease_owner(id), "node-b");
  queue::Attempt retry;
  retry.recipients.push_back({"b@remote.example", RecipientState::kPending, "451 again"});
  retry.next_attempt = 1600;
  ASSERT_TRUE(call(b_->record_attempt(id, retry)));
  EXPECT_EQ(lease_owner(id), "");
  auto e = call(b_->get(id));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->next_attempt, 1600);
  EXPECT_EQ(e->recipients[0].attempts, 1u);
  EXPECT_EQ(e->recipients[1].attempts, 1u);
  // Free again: the retry may run on any node.
  EXPECT_EQ(call(a_->due(1600))->size(), 1u);
  EXPECT_EQ(lease_owner(id), "node-a");
}

TEST_F(PgQueueNodesTest, TheCallsThatEndAPassReleaseTheLease) {
  const std::string id = enqueue_at(500);
  ASSERT_EQ(call(a_->due(1000))->size(), 1u);
  // Writes within the pass keep it.
  queue::Attempt outcome;
  outcome.recipients.push_back({"a@remote.example", RecipientState::kFailed, "550 no"});
  outcome.bounce_needed = true;
  ASSERT_TRUE(call(a_->record_attempt(id, outcome)));
  ASSERT_TRUE(call(a_->set_delay_notified(id)));
  ASSERT_TRUE(call(a_->mark_reported(id, {"a@remote.example"})));
  EXPECT_EQ(call(a_->retry(id, 1000)).value(), 1u);
  EXPECT_EQ(lease_owner(id), "node-a");
  EXPECT_TRUE(call(b_->due(1000))->empty());
  // A DSN that could not be sent: tried again later, by any node.
  ASSERT_TRUE(call(a_->set_next_attempt(id, 1200)));
  EXPECT_EQ(lease_owner(id), "");
  EXPECT_TRUE(call(b_->due(1100))->empty());
  EXPECT_EQ(call(b_->due(1200))->size(), 1u);
  EXPECT_EQ(lease_owner(id), "node-b");
  // remove() by another queue (the `posthorn queue delete` command) takes the lease with the row.
  ASSERT_TRUE(call(a_->remove(id)));
  EXPECT_TRUE(call(b_->due(2000))->empty());
}

TEST_F(PgQueueNodesTest, TheClaimLimitLeavesTheRestToOtherNodes) {
  for (int i = 0; i < 5; ++i) enqueue_at(100 + i);
  PgQueueOptions options;
  options.pool.connect = db_.options();
  options.node = "node-c";
  options.claim_limit = 2;
  auto c = call(PgQueue::open(io_.get_executor(), options));
  ASSERT_TRUE(c) << c.error().message;
  auto first = call((*c)->due(1000));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ(first->front().next_attempt, 100);
  EXPECT_EQ(call(b_->due(1000))->size(), 3u);
}

TEST_F(PgQueueNodesTest, ALargeMessageRoundTripsByteExact) {
  std::string big(2 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = char((i * 131 + i / 4093) & 0xff);
  auto e = sample();
  e.message = big;
  auto id = call(a_->enqueue(std::move(e)));
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(call(b_->get(*id)).value().size, big.size());
  auto bytes = call(b_->read_message(*id));
  ASSERT_TRUE(bytes) << bytes.error().message;
  EXPECT_EQ(bytes->size(), big.size());
  EXPECT_TRUE(*bytes == big);
}

TEST_F(PgQueueNodesTest, TheSchemaHasItsVersionAndANewerOneIsRefused) {
  auto version = db_.query("SELECT version FROM posthorn_schema WHERE component = 'queue'").value();
  EXPECT_EQ(version.integer(0, 0), kQueueSchemaVersion);
  ASSERT_TRUE(db_.query("UPDATE posthorn_schema SET version = 99 WHERE component = 'queue'"));
  PgQueueOptions options;
  options.pool.connect = db_.options();
  auto refused = call(PgQueue::open(io_.get_executor(), options));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kInvalid);
  EXPECT_NE(refused.error().message.find("version 99"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace posthorn::store::pg
