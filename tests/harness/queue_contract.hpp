// The behavioural suite of a queue::Queue, run on every backend (issue 20: one parameterised suite,
// not a copy): durable enqueue and reopening, listing, due(), recording an attempt (all of it or
// nothing), mark_reported and bounce_needed, the delay notice, retry, remove. A backend's test file
// defines a QueueBackend and instantiates the suite:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, QueueContract, ::testing::Values(QueueBackendParam{"sqlite", make}),
//                            queue_backend_name);
// Include this header in exactly one source file of a test binary (it defines the tests).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/blocking_pool.hpp"
#include "queue/queue.hpp"
#include "tests/harness/drive.hpp"
#include "tests/harness/temp_dir.hpp"

namespace posthorn::queue::contract {

namespace fs = std::filesystem;
namespace asio = boost::asio;

// One backend's data (a folder, a database) for one test.
class QueueBackend {
 public:
  virtual ~QueueBackend() = default;
  // Opens a queue on this data; after the previous queue was destroyed, the same data again.
  virtual Result<std::unique_ptr<Queue>> open() = 0;
  // True while the message bytes of entry `id` are stored (a spool file, a row).
  virtual bool message_stored(const std::string& id) = 0;
};

// What a backend's data needs: the io_context the tests drive, the blocking pool, a temp folder.
struct QueueBackendContext {
  asio::io_context& io;
  BlockingPool& pool;
  fs::path dir;
};

struct QueueBackendParam {
  std::string name;
  std::function<std::unique_ptr<QueueBackend>(QueueBackendContext&)> make;
};
inline std::string queue_backend_name(const ::testing::TestParamInfo<QueueBackendParam>& info) {
  return info.param.name;
}

inline NewEntry sample(std::string sender = "demo@example.test") {
  NewEntry e;
  e.sender = std::move(sender);
  e.recipients.push_back({"a@remote.example", RecipientState::kPending, "", 0, 0, ""});
  e.recipients.push_back({"b@remote.example", RecipientState::kPending, "", 0, 6, "rfc822;b@remote.example"});
  e.message = "Subject: hi\r\n\r\nbody\r\n";
  e.ret = "HDRS";
  e.envid = "env-1";
  return e;
}

// An attempt that only changes recipients.
inline Attempt outcomes(std::vector<RecipientUpdate> recipients) {
  Attempt a;
  a.recipients = std::move(recipients);
  return a;
}

// The queue with every call run to completion, so a check reads as one line.
class QueueContract : public ::testing::TestWithParam<QueueBackendParam> {
 protected:
  ~QueueContract() override {
    q_.reset();
    backend_.reset();
  }
  void SetUp() override {
    QueueBackendContext context{io_, pool_, dir_.path()};
    backend_ = GetParam().make(context);
    ASSERT_TRUE(backend_);
    reopen();
  }
  void reopen() {
    q_.reset();
    auto q = backend_->open();
    ASSERT_TRUE(q) << q.error().message;
    q_ = std::move(*q);
  }

  // Runs one queue call to completion on io_.
  template <class T>
  T run(asio::awaitable<T> op) {
    return posthorn::testing::drive_each(io_, std::move(op));
  }

  Result<std::string> enqueue(NewEntry e) { return run(q_->enqueue(std::move(e))); }
  Result<Entry> get(std::string id) { return run(q_->get(std::move(id))); }
  Result<std::vector<Entry>> list() { return run(q_->list()); }
  Result<std::vector<Entry>> due(int64_t now) { return run(q_->due(now)); }
  Result<std::string> read_message(std::string id) { return run(q_->read_message(std::move(id))); }
  Result<void> record_attempt(std::string id, Attempt a) { return run(q_->record_attempt(std::move(id), std::move(a))); }
  Result<void> set_next_attempt(std::string id, int64_t t) { return run(q_->set_next_attempt(std::move(id), t)); }
  Result<void> mark_reported(std::string id, std::vector<std::string> a) {
    return run(q_->mark_reported(std::move(id), std::move(a)));
  }
  Result<void> set_delay_notified(std::string id) { return run(q_->set_delay_notified(std::move(id))); }
  Result<std::size_t> retry(std::optional<std::string> id, int64_t now) { return run(q_->retry(std::move(id), now)); }
  Result<void> remove(std::string id) { return run(q_->remove(std::move(id))); }
  Result<void> import_entry(Entry e, std::string message) { return run(q_->import_entry(std::move(e), std::move(message))); }

  posthorn::testing::TempDir dir_{"posthorn_queue_contract"};
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  asio::io_context io_;
  BlockingPool pool_{2};
  std::unique_ptr<QueueBackend> backend_;
  std::unique_ptr<Queue> q_;
};

TEST_P(QueueContract, EnqueueSurvivesReopen) {
  auto id = enqueue(sample());
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_TRUE(is_entry_id(*id));
  EXPECT_TRUE(backend_->message_stored(*id));
  reopen();
  auto e = get(*id);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->id, *id);
  EXPECT_EQ(e->sender, "demo@example.test");
  ASSERT_EQ(e->recipients.size(), 2u);
  EXPECT_EQ(e->recipients[0].address, "a@remote.example");
  EXPECT_EQ(e->recipients[1].address, "b@remote.example");
  EXPECT_EQ(e->recipients[1].notify, 6);
  EXPECT_EQ(e->recipients[1].orcpt, "rfc822;b@remote.example");
  EXPECT_EQ(e->recipients[1].state, RecipientState::kPending);
  EXPECT_EQ(e->ret, "HDRS");
  EXPECT_EQ(e->envid, "env-1");
  EXPECT_EQ(e->size, sample().message.size());
  EXPECT_FALSE(e->is_bounce);
  EXPECT_FALSE(e->bounce_needed);
  EXPECT_FALSE(e->delay_notified);
  EXPECT_GT(e->created, 0);
  EXPECT_EQ(e->next_attempt, e->created);
  EXPECT_TRUE(e->has_pending());
  auto bytes = read_message(*id);
  ASSERT_TRUE(bytes) << bytes.error().message;
  EXPECT_EQ(*bytes, sample().message);
}

TEST_P(QueueContract, FlagsAndEnvelopeRoundTrip) {
  auto n = sample("");
  n.is_bounce = true;
  n.bounce_needed = true;
  n.smtputf8 = true;
  n.eight_bit = true;
  n.ret = "";
  n.envid = "";
  n.next_attempt = 1234;
  n.recipients[0].state = RecipientState::kFailed;
  n.recipients[0].last_error = "550 5.1.1 no such user";
  n.message = std::string("\0binary\xff\r\n", 11);
  auto id = enqueue(n);
  ASSERT_TRUE(id) << id.error().message;
  auto e = get(*id);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->sender, "");
  EXPECT_TRUE(e->is_bounce);
  EXPECT_TRUE(e->bounce_needed);
  EXPECT_TRUE(e->smtputf8);
  EXPECT_TRUE(e->eight_bit);
  EXPECT_EQ(e->ret, "");
  EXPECT_EQ(e->next_attempt, 1234);
  EXPECT_EQ(e->recipients[0].state, RecipientState::kFailed);
  EXPECT_EQ(e->recipients[0].last_error, "550 5.1.1 no such user");
  EXPECT_EQ(read_message(*id).value(), n.message);
}

TEST_P(QueueContract, NeedsARecipient) {
  auto e = sample();
  e.recipients.clear();
  auto id = enqueue(e);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code, Errc::kInvalid);
  EXPECT_TRUE(list()->empty());
}

TEST_P(QueueContract, UnknownAndMalformedIdsAreNotFound) {
  EXPECT_EQ(get("0123456789abcdef").error().code, Errc::kNotFound);
  EXPECT_EQ(get("nonsense").error().code, Errc::kNotFound);
  EXPECT_EQ(read_message("0123456789abcdef").error().code, Errc::kNotFound);
  EXPECT_EQ(read_message("../queue.db").error().code, Errc::kNotFound);
  EXPECT_EQ(remove("nonsense").error().code, Errc::kNotFound);
}

TEST_P(QueueContract, ListIsOldestFirst) {
  auto first = enqueue(sample("first@example.test"));
  ASSERT_TRUE(first);
  auto second = enqueue(sample("second@example.test"));
  ASSERT_TRUE(second);
  auto all = list();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  // Same second: then by id.
  const auto& a = (*all)[0];
  const auto& b = (*all)[1];
  EXPECT_TRUE(a.created < b.created || (a.created == b.created && a.id < b.id));
  EXPECT_EQ(a.recipients.size(), 2u);
  EXPECT_EQ(b.recipients.size(), 2u);
}

TEST_P(QueueContract, DueIsOrderedByNextAttempt) {
  auto late = sample();
  late.next_attempt = 2000;
  auto early = sample();
  early.next_attempt = 1000;
  auto l = enqueue(late);
  auto e = enqueue(early);
  ASSERT_TRUE(l && e);
  auto due_now = due(3000);
  ASSERT_TRUE(due_now) << due_now.error().message;
  ASSERT_EQ(due_now->size(), 2u);
  EXPECT_EQ((*due_now)[0].id, *e);
  EXPECT_EQ((*due_now)[1].id, *l);
  EXPECT_EQ((*due_now)[0].recipients.size(), 2u);
  EXPECT_EQ(due(1500)->size(), 1u);
  EXPECT_TRUE(due(999)->empty());
}

TEST_P(QueueContract, DueUpdateRetryRemove) {
  auto first = enqueue(sample());
  auto later = sample();
  later.next_attempt = 4'000'000'000;
  auto second = enqueue(later);
  ASSERT_TRUE(first && second);
  auto all = list();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2u);

  auto due_now = due(3'000'000'000);
  ASSERT_TRUE(due_now);
  ASSERT_EQ(due_now->size(), 1u);
  EXPECT_EQ(due_now->front().id, *first);

  ASSERT_TRUE(record_attempt(*first, outcomes({{"A@remote.example", RecipientState::kDelivered, "250 ok"},
                                               {"b@remote.example", RecipientState::kFailed, "550 5.1.1 no"}})));
  auto e = get(*first);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->recipients[0].state, RecipientState::kDelivered);
  EXPECT_EQ(e->recipients[0].attempts, 1u);
  EXPECT_EQ(e->recipients[1].last_error, "550 5.1.1 no");
  EXPECT_FALSE(e->has_pending());
  // Nothing pending and no bounce owed: not due.
  EXPECT_TRUE(due(3'000'000'000)->empty());
  Attempt bounce;
  bounce.bounce_needed = true;
  ASSERT_TRUE(record_attempt(*first, bounce));
  EXPECT_EQ(due(3'000'000'000)->size(), 1u);
  // An unknown recipient: kNotFound, and nothing of that attempt is written.
  Attempt bad = outcomes({{"a@remote.example", RecipientState::kPending, "451 again"},
                          {"c@remote.example", RecipientState::kFailed, "x"}});
  bad.next_attempt = 3'600'000'000;
  EXPECT_EQ(record_attempt(*first, bad).error().code, Errc::kNotFound);
  e = get(*first);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->recipients[0].state, RecipientState::kDelivered);
  EXPECT_EQ(e->recipients[0].attempts, 1u);
  EXPECT_EQ(e->recipients[0].last_error, "250 ok");
  EXPECT_NE(e->next_attempt, 3'600'000'000);
  // The next attempt alone.
  Attempt retry_later = outcomes({});
  retry_later.next_attempt = 3'400'000'000;
  ASSERT_TRUE(record_attempt(*first, retry_later));
  EXPECT_EQ(get(*first)->next_attempt, 3'400'000'000);

  ASSERT_TRUE(set_next_attempt(*first, 3'500'000'000));
  EXPECT_EQ(get(*first)->next_attempt, 3'500'000'000);
  EXPECT_TRUE(due(3'000'000'000)->empty());
  EXPECT_EQ(set_next_attempt("0123456789abcdef", 1).error().code, Errc::kNotFound);
  EXPECT_EQ(record_attempt("0123456789abcdef", bounce).error().code, Errc::kNotFound);
  EXPECT_EQ(record_attempt("0123456789abcdef", retry_later).error().code, Errc::kNotFound);
  EXPECT_EQ(record_attempt("0123456789abcdef", outcomes({})).error().code, Errc::kNotFound);
  EXPECT_EQ(record_attempt("0123456789abcdef", outcomes({{"a@remote.example", RecipientState::kFailed, "x"}}))
                .error()
                .code,
            Errc::kNotFound);

  // retry: one entry, then all.
  auto one = retry(*second, 100);
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, 1u);
  EXPECT_EQ(get(*second)->next_attempt, 100);
  auto every = retry(std::nullopt, 50);
  ASSERT_TRUE(every);
  EXPECT_EQ(*every, 2u);
  EXPECT_EQ(retry("0123456789abcdef", 1).error().code, Errc::kNotFound);
  EXPECT_EQ(retry("nonsense", 1).error().code, Errc::kNotFound);

  ASSERT_TRUE(remove(*first));
  EXPECT_FALSE(backend_->message_stored(*first));
  EXPECT_EQ(get(*first).error().code, Errc::kNotFound);
  EXPECT_EQ(read_message(*first).error().code, Errc::kNotFound);
  EXPECT_EQ(remove(*first).error().code, Errc::kNotFound);
  EXPECT_EQ(list()->size(), 1u);
}

TEST_P(QueueContract, MarkReportedClearsBounceNeededOnlyWhenEveryFailureIsReported) {
  auto id = enqueue(sample());
  ASSERT_TRUE(id);
  Attempt failed = outcomes({{"a@remote.example", RecipientState::kFailed, "550 5.1.1 no"},
                             {"b@remote.example", RecipientState::kFailed, "550 5.1.1 no"}});
  failed.bounce_needed = true;
  ASSERT_TRUE(record_attempt(*id, failed));
  // One of two failures reported: the bounce is still owed (and the entry still due).
  ASSERT_TRUE(mark_reported(*id, {"A@remote.example"}));
  auto e = get(*id);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->recipients[0].reported);
  EXPECT_FALSE(e->recipients[1].reported);
  EXPECT_TRUE(e->bounce_needed);
  EXPECT_EQ(due(e->next_attempt)->size(), 1u);
  ASSERT_TRUE(mark_reported(*id, {"b@remote.example"}));
  reopen();
  e = get(*id);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->recipients[1].reported);
  EXPECT_FALSE(e->bounce_needed);
  EXPECT_TRUE(due(e->next_attempt)->empty());
  EXPECT_EQ(mark_reported("0123456789abcdef", {}).error().code, Errc::kNotFound);
}

TEST_P(QueueContract, DelayNotifiedIsRemembered) {
  auto id = enqueue(sample());
  ASSERT_TRUE(id);
  EXPECT_FALSE(get(*id)->delay_notified);
  ASSERT_TRUE(set_delay_notified(*id));
  reopen();
  EXPECT_TRUE(get(*id)->delay_notified);
  EXPECT_EQ(set_delay_notified("0123456789abcdef").error().code, Errc::kNotFound);
}

// ---- Moving an installation (posthorn migrate) ----

TEST_P(QueueContract, ImportEntryKeepsEverything) {
  Entry e;
  e.id = "0123456789abcdef";
  e.sender = "alice@example.test";
  Recipient done;
  done.address = "bob@remote.test";
  done.state = RecipientState::kDelivered;
  done.attempts = 2;
  done.last_error = "250 ok";
  Recipient failed;
  failed.address = "carol@remote.test";
  failed.state = RecipientState::kFailed;
  failed.attempts = 3;
  failed.last_error = "550 5.1.1 no such user";
  failed.notify = 6;
  failed.orcpt = "rfc822;carol@remote.test";
  failed.reported = true;
  Recipient waiting;
  waiting.address = "dave@remote.test";
  waiting.attempts = 4;
  waiting.last_error = "451 4.7.0 try later";
  e.recipients = {done, failed, waiting};
  e.created = 1700000000;
  e.next_attempt = 1700003600;
  e.bounce_needed = true;
  e.ret = "HDRS";
  e.envid = "env-1";
  e.smtputf8 = true;
  e.eight_bit = true;
  e.delay_notified = true;
  const std::string bytes = "From: alice@example.test\r\nSubject: queued\r\n\r\nbody\r\n";
  ASSERT_TRUE(import_entry(e, bytes));
  reopen();
  auto got = get(e.id);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->sender, e.sender);
  EXPECT_EQ(got->size, bytes.size());
  EXPECT_EQ(got->created, e.created);
  EXPECT_EQ(got->next_attempt, e.next_attempt);
  EXPECT_FALSE(got->is_bounce);
  EXPECT_TRUE(got->bounce_needed);
  EXPECT_EQ(got->ret, "HDRS");
  EXPECT_EQ(got->envid, "env-1");
  EXPECT_TRUE(got->smtputf8);
  EXPECT_TRUE(got->eight_bit);
  EXPECT_TRUE(got->delay_notified);
  ASSERT_EQ(got->recipients.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const Recipient& a = e.recipients[i];
    const Recipient& b = got->recipients[i];
    EXPECT_EQ(b.address, a.address);
    EXPECT_EQ(b.state, a.state);
    EXPECT_EQ(b.last_error, a.last_error);
    EXPECT_EQ(b.attempts, a.attempts);
    EXPECT_EQ(b.notify, a.notify);
    EXPECT_EQ(b.orcpt, a.orcpt);
    EXPECT_EQ(b.reported, a.reported);
  }
  EXPECT_EQ(read_message(e.id).value(), bytes);
  // Due at its own next attempt, not before; the id is taken now.
  EXPECT_TRUE(due(e.next_attempt - 1).value().empty());
  EXPECT_EQ(due(e.next_attempt).value().size(), 1u);
  auto again = import_entry(e, "other bytes");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kExists);
  EXPECT_EQ(read_message(e.id).value(), bytes);  // the first import's bytes are untouched
}

TEST_P(QueueContract, ImportEntryChecksIdAndRecipients) {
  Entry e;
  e.id = "not-an-id";
  Recipient r;
  r.address = "bob@remote.test";
  e.recipients = {r};
  EXPECT_EQ(import_entry(e, "x").error().code, Errc::kInvalid);
  e.id = "00000000000000aa";
  e.recipients.clear();
  EXPECT_EQ(import_entry(e, "x").error().code, Errc::kInvalid);
  EXPECT_TRUE(list().value().empty());
}

}  // namespace posthorn::queue::contract
