// SqliteQueue: durable enqueue, listing, due(), per-recipient updates, retry, remove, and the
// clean-up of spool files a crash left behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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
    auto q = SqliteQueue::open(dir_);
    if (!q) throw std::runtime_error(q.error().message);
    q_ = std::move(*q);
  }

  fs::path dir_;
  std::unique_ptr<SqliteQueue> q_;
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

  ASSERT_TRUE(q_->update_recipient(*first, "A@remote.example", RecipientState::kDelivered, "250 ok"));
  ASSERT_TRUE(q_->update_recipient(*first, "b@remote.example", RecipientState::kFailed, "550 5.1.1 no"));
  auto e = q_->get(*first);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->recipients[0].state, RecipientState::kDelivered);
  EXPECT_EQ(e->recipients[0].attempts, 1u);
  EXPECT_EQ(e->recipients[1].last_error, "550 5.1.1 no");
  EXPECT_FALSE(e->has_pending());
  // Nothing pending and no bounce owed: not due.
  EXPECT_TRUE(q_->due(3'000'000'000)->empty());
  ASSERT_TRUE(q_->set_bounce_needed(*first, true));
  EXPECT_EQ(q_->due(3'000'000'000)->size(), 1u);
  EXPECT_EQ(q_->update_recipient(*first, "c@remote.example", RecipientState::kFailed, "x").error().code,
            Errc::kNotFound);

  ASSERT_TRUE(q_->set_next_attempt(*first, 3'500'000'000));
  EXPECT_EQ(q_->get(*first)->next_attempt, 3'500'000'000);
  EXPECT_TRUE(q_->due(3'000'000'000)->empty());
  EXPECT_EQ(q_->set_next_attempt("0123456789abcdef", 1).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->set_bounce_needed("0123456789abcdef", true).error().code, Errc::kNotFound);

  // retry: one entry, then all.
  auto one = q_->retry(std::string_view(*second), 100);
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, 1u);
  EXPECT_EQ(q_->get(*second)->next_attempt, 100);
  auto all = q_->retry(std::nullopt, 50);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 2u);
  EXPECT_EQ(q_->retry(std::string_view("0123456789abcdef"), 1).error().code, Errc::kNotFound);
  EXPECT_EQ(q_->retry(std::string_view("nonsense"), 1).error().code, Errc::kNotFound);

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
  ASSERT_TRUE(q_->update_recipient(*id, "a@remote.example", RecipientState::kFailed, "550 5.1.1 no"));
  ASSERT_TRUE(q_->update_recipient(*id, "b@remote.example", RecipientState::kFailed, "550 5.1.1 no"));
  ASSERT_TRUE(q_->set_bounce_needed(*id, true));
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
