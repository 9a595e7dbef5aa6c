// SqliteQueue: durable enqueue, listing, due(), recording an attempt (all of it or nothing), retry,
// remove, and the clean-up of spool files a crash left behind. The calls are awaitables run on a
// blocking pool; the tests run each to completion with run_sync.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/run_sync.hpp"
#include "store/sqlite/sqlite_queue.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;
using queue::RecipientState;

queue::NewEntry sample(std::string sender = "demo@example.test") {
  queue::NewEntry e;
  e.sender = std::move(sender);
  e.recipients.push_back({"a@remote.example", RecipientState::kPending, "", 0, 0, ""});
  e.recipients.push_back({"b@remote.example", RecipientState::kPending, "", 0, 6, "rfc822;b@remote.example"});
  e.message = "Subject: hi\r\n\r\nbody\r\n";
  e.ret = "HDRS";
  e.envid = "env-1";
  return e;
}

// The queue with every call run to completion, so a check reads as one line.
class SyncQueue {
 public:
  explicit SyncQueue(std::unique_ptr<SqliteQueue> q) : q_(std::move(q)) {}
  Result<std::string> enqueue(queue::NewEntry e) { return run_sync(q_->enqueue(std::move(e))); }
  Result<queue::Entry> get(std::string id) { return run_sync(q_->get(std::move(id))); }
  Result<std::vector<queue::Entry>> list() { return run_sync(q_->list()); }
  Result<std::vector<queue::Entry>> due(int64_t now) { return run_sync(q_->due(now)); }
  Result<std::string> read_message(std::string id) { return run_sync(q_->read_message(std::move(id))); }
  Result<void> record_attempt(std::string id, queue::Attempt a) { return run_sync(q_->record_attempt(std::move(id), std::move(a))); }
  Result<void> set_next_attempt(std::string id, int64_t t) { return run_sync(q_->set_next_attempt(std::move(id), t)); }
  Result<void> mark_reported(std::string id, std::vector<std::string> a) {
    return run_sync(q_->mark_reported(std::move(id), std::move(a)));
  }
  Result<void> set_delay_notified(std::string id) { return run_sync(q_->set_delay_notified(std::move(id))); }
  Result<std::size_t> retry(std::optional<std::string> id, int64_t now) { return run_sync(q_->retry(std::move(id), now)); }
  Result<void> remove(std::string id) { return run_sync(q_->remove(std::move(id))); }
  fs::path spool_path(std::string_view id) const { return q_->spool_path(id); }

 private:
  std::unique_ptr<SqliteQueue> q_;
};

// An attempt that only changes recipients.
queue::Attempt outcomes(std::vector<queue::RecipientUpdate> recipients) {
  queue::Attempt a;
  a.recipients = std::move(recipients);
  return a;
}

class SqliteQueueTest : public ::testing::Test {
 protected:
  SqliteQueueTest()
      : dir_(fs::temp_directory_path() / ("posthorn_queue_test_" + std::to_string(::getpid()) + "_" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    reopen();
  }
  ~SqliteQueueTest() override {
    q_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    q_.reset();
    auto q = SqliteQueue::open(dir_, pool_);
    if (!q) throw std::runtime_error(q.error().message);
    q_ = std::make_unique<SyncQueue>(std::move(*q));
  }

  BlockingPool pool_{2};  // before q_: outlives it
  fs::path dir_;
  std::unique_ptr<SyncQueue> q_;
};

TEST_F(SqliteQueueTest, EnqueueSurvivesReopen) {
  auto id = q_->enqueue(sample());
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_TRUE(queue::is_entry_id(*id));
  EXPECT_TRUE(fs::exists(q_->spool_path(*id)));
  reopen();
  auto e = q_->get(*id);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->sender, "demo@example.test");
  ASSERT_EQ(e->recipients.size(), 2u);
  EXPECT_EQ(e->recipients[1].address, "b@remote.example");
  EXPECT_EQ(e->recipients[1].notify, 6);
  EXPECT_EQ(e->recipients[1].orcpt, "rfc822;b@remote.example");
  EXPECT_EQ(e->ret, "HDRS");
  EXPECT_EQ(e->envid, "env-1");
  EXPECT_EQ(e->size, sample().message.size());
  EXPECT_TRUE(e->has_pending());
  auto bytes = q_->read_message(*id);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, sample().message);
}

TEST_F(SqliteQueueTest, NeedsARecipient) {
  auto e = sample();
  e.recipients.clear();
  auto id = q_->enqueue(e);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code, Errc::kInvalid);
}

TEST_F(SqliteQueueTest, DueUpdateRetryRemove) {
  auto first = q_->enqueue(sample());
  auto later = sample();
  later.next_attempt = 4'000'000'000;
  auto second = q_->enqueue(later);
  ASSERT_TRUE(first && second);
  auto list = q_->list();
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);

  auto due = q_->due(3'000'000'000);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due->front().id, *first);

  ASSERT_TRUE(q_->record_attempt(*first, outcomes({{"A@remote.example", RecipientState::kDelivered, "250 ok"},
                                                   {"b@remote.example", RecipientState::kFailed, "550 5.1.1 no"}})));
  auto e = q_->get(*first);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->recipients[0].state, RecipientState::kDelivered);
  EXPECT_EQ(e->recipients[0].attempts, 1u);
  EXPECT_EQ(e->recipients[1].last_error, "550 5.1.1 no");
  EXPECT_FALSE(e->has_pending());
  // Nothing pending and no bounce owed: not due.
  EXPECT_TRUE(q_->due(3'000'000'000)->empty());
  queue::Attempt bounce;
  bounce.bounce_needed = true;
  ASSERT_TRUE(q_->record_attempt(*first, bounce));
  EXPECT_EQ(q_->due(3'000'000'000)->size(), 1u);
  // An unknown recipient: kNotFound, and nothing of that attempt is written.
  queue::Attempt bad = outcomes({{"a@remote.example", RecipientState::kPending, "451 again"},
                                 {"c@remote.example", RecipientState::kFailed, "x"}});
  bad.next_attempt = 3'600'000'000;
  EXPECT_EQ(q_->record_attempt(*first, bad).error().code, Errc::kNotFound);
  e = q_->get(*first);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->recipients[0].state, RecipientState::kDelivered);
  EXPECT_EQ(e->recipients[0].attempts, 1u);
  EXPECT_EQ(e->recipients[0].last_error, "250 ok");
  EXPECT_NE(e->next_attempt, 3'600'000'000);
  // The next attempt alone.
  queue::Attempt retry_later = outcomes({});
  retry_later.next_attempt = 3'400'000'000;
  ASSERT_TRUE(q_->record_attempt(*first, retry_later));
  EXPECT_EQ(q_->get(*first)->next_attempt, 3'400'000'000);

  ASSERT_TRUE(q_->set_next_attempt(*first, 3'500'000'000));
  EXPECT_EQ(q_->get(*first)->next_attempt, 3'500'000'000);
  EXPECT_TRUE(q_->due(3'000'000'000)->empty());
  EXPECT_EQ(q_->set_next_attempt("0123456789abcdef", 1).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->record_attempt("0123456789abcdef", bounce).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->record_attempt("0123456789abcdef", retry_later).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->record_attempt("0123456789abcdef", outcomes({})).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->record_attempt("0123456789abcdef", outcomes({{"a@remote.example", RecipientState::kFailed, "x"}}))
                .error()
                .code,
            Errc::kNotFound);

  // retry: one entry, then all.
  auto one = q_->retry(*second, 100);
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, 1u);
  EXPECT_EQ(q_->get(*second)->next_attempt, 100);
  auto all = q_->retry(std::nullopt, 50);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 2u);
  EXPECT_EQ(q_->retry("0123456789abcdef", 1).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->retry("nonsense", 1).error().code, Errc::kNotFound);

  ASSERT_TRUE(q_->remove(*first));
  EXPECT_FALSE(fs::exists(q_->spool_path(*first)));
  EXPECT_EQ(q_->get(*first).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->remove(*first).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->list()->size(), 1u);
}

TEST_F(SqliteQueueTest, OrphanSpoolFilesAreRemovedOnOpen) {
  auto id = q_->enqueue(sample());
  ASSERT_TRUE(id);
  std::ofstream(dir_ / "queue" / "00000000deadbeef") << "orphan";
  std::ofstream(dir_ / "queue" / "tmp" / "half-written") << "x";
  reopen();
  EXPECT_FALSE(fs::exists(dir_ / "queue" / "00000000deadbeef"));
  EXPECT_FALSE(fs::exists(dir_ / "queue" / "tmp" / "half-written"));
  EXPECT_TRUE(fs::exists(q_->spool_path(*id)));
}

TEST_F(SqliteQueueTest, MarkReportedClearsBounceNeededOnlyWhenEveryFailureIsReported) {
  auto id = q_->enqueue(sample());
  ASSERT_TRUE(id);
  queue::Attempt failed = outcomes({{"a@remote.example", RecipientState::kFailed, "550 5.1.1 no"},
                                    {"b@remote.example", RecipientState::kFailed, "550 5.1.1 no"}});
  failed.bounce_needed = true;
  ASSERT_TRUE(q_->record_attempt(*id, failed));
  // One of two failures reported: the bounce is still owed (and the entry still due).
  ASSERT_TRUE(q_->mark_reported(*id, {"A@remote.example"}));
  auto e = q_->get(*id);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->recipients[0].reported);
  EXPECT_FALSE(e->recipients[1].reported);
  EXPECT_TRUE(e->bounce_needed);
  EXPECT_EQ(q_->due(e->next_attempt)->size(), 1u);
  ASSERT_TRUE(q_->mark_reported(*id, {"b@remote.example"}));
  reopen();
  e = q_->get(*id);
  EXPECT_TRUE(e->recipients[1].reported);
  EXPECT_FALSE(e->bounce_needed);
  EXPECT_TRUE(q_->due(e->next_attempt)->empty());
  EXPECT_EQ(q_->mark_reported("0123456789abcdef", {}).error().code, Errc::kNotFound);
}

TEST_F(SqliteQueueTest, DelayNotifiedIsRemembered) {
  auto id = q_->enqueue(sample());
  ASSERT_TRUE(id);
  EXPECT_FALSE(q_->get(*id)->delay_notified);
  ASSERT_TRUE(q_->set_delay_notified(*id));
  reopen();
  EXPECT_TRUE(q_->get(*id)->delay_notified);
  EXPECT_EQ(q_->set_delay_notified("0123456789abcdef").error().code, Errc::kNotFound);
}

// A queue.db written before delay_notified and reported existed (and before the file kept a schema
// version) gets the columns on open.
TEST_F(SqliteQueueTest, OlderQueueFileGainsTheNewColumns) {
  auto id = q_->enqueue(sample());
  ASSERT_TRUE(id);
  q_.reset();
  {
    auto db = Db::open(dir_ / "queue.db", DbOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("ALTER TABLE queue_entries DROP COLUMN delay_notified"));
    ASSERT_TRUE(db->exec("ALTER TABLE queue_recipients DROP COLUMN reported"));
    ASSERT_TRUE(db->exec("DROP TABLE schema_version"));
  }
  reopen();
  auto e = q_->get(*id);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_FALSE(e->delay_notified);
  ASSERT_TRUE(q_->set_delay_notified(*id));
  ASSERT_TRUE(q_->mark_reported(*id, {"a@remote.example"}));
  EXPECT_TRUE(q_->get(*id)->recipients[0].reported);
}

}  // namespace
}  // namespace posthorn::store::sqlite
