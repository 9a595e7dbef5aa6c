// Implementation notes
// - Queries use the text result format (booleans cast to int); the message bytes come back in binary
//   form (raw octets, no hex escaping).
// - Write transactions that touch several rows of an entry lock its queue_entry row first, so two
//   of them on one entry never wait for each other in a cycle; pg_transaction's transact() runs one
//   again after a serialization failure or deadlock anyway.
// - Recipients are matched by lower(address), as SqliteQueue matches them COLLATE NOCASE.
// - g++ 12 (DESIGN.md §3, pg_client.hpp): co_await only as a statement or a plain initializer; the
//   transaction bodies are plain lambdas returning the Task of a named coroutine.
#include "store/pg/pg_queue.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <chrono>
#include <map>

#include "base/random.hpp"

#include "store/pg/pg_queue_schema.hpp"
#include "store/pg/pg_schema.hpp"
#include "store/pg/pg_transaction.hpp"

namespace posthorn::store::pg {

namespace asio = boost::asio;
using queue::Attempt;
using queue::Entry;
using queue::NewEntry;
using queue::Recipient;

namespace {

// The states due() and mark_reported() look for, as stored.
constexpr int kPending = int(queue::RecipientState::kPending);
constexpr int kFailed = int(queue::RecipientState::kFailed);

constexpr std::string_view kColumns =
    "q.id, q.sender, q.size, q.created, q.next_attempt, q.is_bounce::int, q.bounce_needed::int, q.ret, q.envid, "
    "q.smtputf8::int, q.eight_bit::int, q.delay_notified::int";

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Error not_found() { return make_error(Errc::kNotFound, "no such queue entry"); }

Param flag(bool value) { return Param::text(value ? "t" : "f"); }

Entry entry_from_row(const Rows& r, int i) {
  Entry e;
  e.id = std::string(r.text(i, 0));
  e.sender = std::string(r.text(i, 1));
  e.size = uint64_t(r.integer(i, 2));
  e.created = r.integer(i, 3);
  e.next_attempt = r.integer(i, 4);
  e.is_bounce = r.integer(i, 5) != 0;
  e.bounce_needed = r.integer(i, 6) != 0;
  e.ret = std::string(r.text(i, 7));
  e.envid = std::string(r.text(i, 8));
  e.smtputf8 = r.integer(i, 9) != 0;
  e.eight_bit = r.integer(i, 10) != 0;
  e.delay_notified = r.integer(i, 11) != 0;
  return e;
}

// Fills in the recipients of `entries` (in RCPT order) with one query.
Task<void> load_recipients(Connection& c, std::vector<Entry>* entries) {
  if (entries->empty()) co_return Result<void>{};
  std::vector<std::string> ids;
  std::map<std::string, Entry*, std::less<>> by_id;
  for (auto& e : *entries) {
    ids.push_back(e.id);
    by_id[e.id] = &e;
  }
  auto rows = co_await c.query(
      "SELECT entry, address, state, last_error, attempts, notify, orcpt, reported::int FROM queue_recipient "
      "WHERE entry = ANY($1::text[]) ORDER BY entry, position",
      Param::text(text_array(ids)));
  if (!rows) co_return rows.error();
  for (int i = 0; i < rows->size(); ++i) {
    auto it = by_id.find(rows->text(i, 0));
    if (it == by_id.end()) continue;
    Recipient r;
    r.address = std::string(rows->text(i, 1));
    r.state = queue::recipient_state(rows->integer(i, 2));
    r.last_error = std::string(rows->text(i, 3));
    r.attempts = uint32_t(rows->integer(i, 4));
    r.notify = uint8_t(rows->integer(i, 5));
    r.orcpt = std::string(rows->text(i, 6));
    r.reported = rows->integer(i, 7) != 0;
    it->second->recipients.push_back(std::move(r));
  }
  co_return Result<void>{};
}

// The entries a query of kColumns returns, with their recipients, in the query's order.
Task<std::vector<Entry>> select_entries(Connection& c, std::string sql, std::vector<Param> params) {
  auto rows = co_await c.query(sql, std::move(params));
  if (!rows) co_return rows.error();
  std::vector<Entry> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(entry_from_row(*rows, i));
  if (auto loaded = co_await load_recipients(c, &out); !loaded) co_return loaded.error();
  co_return out;
}

// Inserts an entry exactly as given with its message (enqueue and import_entry); kExists when the id
// is taken.
Task<void> insert_entry(Connection& c, const Entry& e, const std::string& message) {
  auto made = co_await c.query(
      "INSERT INTO queue_entry (id, sender, size, created, next_attempt, is_bounce, bounce_needed, ret, envid, "
      "smtputf8, eight_bit, delay_notified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
      "ON CONFLICT (id) DO NOTHING",
      Param::text(e.id), Param::text(e.sender), Param::integer(int64_t(message.size())), Param::integer(e.created),
      Param::integer(e.next_attempt), flag(e.is_bounce), flag(e.bounce_needed), Param::text(e.ret),
      Param::text(e.envid), flag(e.smtputf8), flag(e.eight_bit), flag(e.delay_notified));
  if (!made) co_return made.error();
  if (made->affected() == 0) co_return make_error(Errc::kExists, "queue entry " + e.id + " exists");
  for (std::size_t i = 0; i < e.recipients.size(); ++i) {
    const Recipient& r = e.recipients[i];
    auto added = co_await c.query(
        "INSERT INTO queue_recipient (entry, position, address, state, last_error, attempts, notify, orcpt, reported) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        Param::text(e.id), Param::integer(int64_t(i)), Param::text(r.address), Param::integer(int64_t(r.state)),
        Param::text(r.last_error), Param::integer(int64_t(r.attempts)), Param::integer(int64_t(r.notify)),
        Param::text(r.orcpt), flag(r.reported));
    if (!added) co_return added.error();
  }
  auto bytes = co_await c.query("INSERT INTO queue_message (entry, bytes) VALUES ($1, $2)", Param::text(e.id),
                                Param::bytes(message));
  if (!bytes) co_return bytes.error();
  co_return Result<void>{};
}

// Locks the entry's row for the rest of the transaction; kNotFound when it is not there.
Task<void> lock_entry(Connection& c, const std::string& id) {
  auto rows = co_await c.query("SELECT 1 FROM queue_entry WHERE id = $1 FOR UPDATE", Param::text(id));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return not_found();
  co_return Result<void>{};
}

// Claims the due entries (PgQueue::due; the lease rules in pg_queue.hpp).
Task<std::vector<Entry>> claim_due(Connection& c, int64_t now, const std::string& node, int64_t until, int64_t limit) {
  const std::string sql =
      "WITH picked AS (SELECT e.id FROM queue_entry e WHERE e.next_attempt <= $1 AND (e.bounce_needed OR EXISTS "
      "(SELECT 1 FROM queue_recipient r WHERE r.entry = e.id AND r.state = " + std::to_string(kPending) + ")) "
      "AND (e.lease_owner IS NULL OR e.lease_owner = $2 OR e.lease_until <= $1) "
      "ORDER BY e.next_attempt, e.id LIMIT $4 FOR UPDATE SKIP LOCKED) "
      "UPDATE queue_entry q SET lease_owner = $2, lease_until = $3 FROM picked WHERE q.id = picked.id RETURNING " +
      std::string(kColumns);
  std::vector<Param> params;
  params.push_back(Param::integer(now));
  params.push_back(Param::text(node));
  params.push_back(Param::integer(until));
  params.push_back(Param::integer(limit));
  auto claimed = co_await select_entries(c, sql, std::move(params));
  if (!claimed) co_return claimed.error();
  std::sort(claimed->begin(), claimed->end(), [](const Entry& a, const Entry& b) {
    return a.next_attempt != b.next_attempt ? a.next_attempt < b.next_attempt : a.id < b.id;
  });
  co_return claimed;
}

Task<void> apply_attempt(Connection& c, const std::string& id, const Attempt& a, const std::string& node) {
  if (auto locked = co_await lock_entry(c, id); !locked) co_return locked.error();
  if (a.bounce_needed) {
    auto set = co_await c.query("UPDATE queue_entry SET bounce_needed = true WHERE id = $1", Param::text(id));
    if (!set) co_return set.error();
  }
  for (const auto& u : a.recipients) {
    auto updated = co_await c.query(
        "UPDATE queue_recipient SET state = $3, last_error = $4, attempts = attempts + 1 "
        "WHERE entry = $1 AND lower(address) = lower($2)",
        Param::text(id), Param::text(u.address), Param::integer(int64_t(u.state)), Param::text(u.last_error));
    if (!updated) co_return updated.error();
    if (updated->affected() == 0) co_return make_error(Errc::kNotFound, "no such queue entry or recipient");
  }
  if (a.next_attempt) {
    // A retry is scheduled: the lease goes, so the retry may run on any node.
    auto set = co_await c.query(
        "UPDATE queue_entry SET next_attempt = $2, lease_owner = NULLIF(lease_owner, $3) WHERE id = $1",
        Param::text(id), Param::integer(*a.next_attempt), Param::text(node));
    if (!set) co_return set.error();
  }
  co_return Result<void>{};
}

Task<void> apply_reported(Connection& c, const std::string& id, const std::vector<std::string>& addresses) {
  if (auto locked = co_await lock_entry(c, id); !locked) co_return locked.error();
  if (!addresses.empty()) {
    auto marked = co_await c.query(
        "UPDATE queue_recipient SET reported = true WHERE entry = $1 AND lower(address) IN "
        "(SELECT lower(a) FROM unnest($2::text[]) a)",
        Param::text(id), Param::text(text_array(addresses)));
    if (!marked) co_return marked.error();
  }
  auto cleared = co_await c.query(
      "UPDATE queue_entry q SET bounce_needed = EXISTS (SELECT 1 FROM queue_recipient r WHERE r.entry = q.id "
      "AND r.state = " + std::to_string(kFailed) + " AND NOT r.reported) WHERE q.id = $1",
      Param::text(id));
  if (!cleared) co_return cleared.error();
  co_return Result<void>{};
}

}  // namespace

PgQueue::PgQueue(asio::any_io_executor executor, const PgQueueOptions& options)
    : options_(options), node_(options.node.empty() ? random_token(16) : options.node), pool_(executor, options.pool) {}

Task<std::unique_ptr<PgQueue>> PgQueue::open(asio::any_io_executor executor, const PgQueueOptions& options) {
  if (options.lease.count() <= 0 || options.claim_limit == 0) {
    co_return make_error(Errc::kInvalid, "the queue lease and claim limit must be positive");
  }
  std::unique_ptr<PgQueue> q(new PgQueue(executor, options));
  {
    auto migrating = migrate_on_own_connection(executor, q->options_.pool.connect, &migrate_queue_schema);
    auto migrated = co_await std::move(migrating);
    if (!migrated) co_return migrated.error();
  }
  co_return std::move(q);
}

Task<Rows> PgQueue::statement(std::string sql, std::vector<Param> params, Format format) {
  auto lease = co_await pool_.acquire();
  if (!lease) co_return lease.error();
  auto rows = co_await (*lease)->query(sql, std::move(params), format);
  co_return rows;
}

Task<void> PgQueue::update_entry(std::string id, std::string sql, std::vector<Param> params) {
  if (!queue::is_entry_id(id)) co_return not_found();
  params.insert(params.begin(), Param::text(id));
  auto rows = co_await statement(std::move(sql), std::move(params), Format::kText);
  if (!rows) co_return rows.error();
  if (rows->affected() == 0) co_return not_found();
  co_return Result<void>{};
}

Task<std::string> PgQueue::enqueue(NewEntry entry) {
  if (entry.recipients.empty()) co_return make_error(Errc::kInvalid, "a queue entry needs a recipient");
  const int64_t now = now_seconds();
  auto e = std::make_shared<Entry>();
  e->id = queue::new_entry_id();
  e->sender = std::move(entry.sender);
  e->recipients = std::move(entry.recipients);
  e->created = now;
  e->next_attempt = entry.next_attempt == 0 ? now : entry.next_attempt;
  e->is_bounce = entry.is_bounce;
  e->bounce_needed = entry.bounce_needed;
  e->ret = std::move(entry.ret);
  e->envid = std::move(entry.envid);
  e->smtputf8 = entry.smtputf8;
  e->eight_bit = entry.eight_bit;
  auto message = std::make_shared<const std::string>(std::move(entry.message));
  TxBody<void> body = [e, message](Connection& c) { return insert_entry(c, *e, *message); };
  auto done = co_await transaction(pool_, std::move(body), "queue");
  if (!done) co_return done.error();
  co_return e->id;
}

Task<void> PgQueue::import_entry(Entry entry, std::string message) {
  if (!queue::is_entry_id(entry.id)) co_return make_error(Errc::kInvalid, "malformed queue id");
  if (entry.recipients.empty()) co_return make_error(Errc::kInvalid, "a queue entry needs a recipient");
  auto e = std::make_shared<const Entry>(std::move(entry));
  auto bytes = std::make_shared<const std::string>(std::move(message));
  TxBody<void> body = [e, bytes](Connection& c) { return insert_entry(c, *e, *bytes); };
  auto done = co_await transaction(pool_, std::move(body), "queue");
  co_return done;
}

Task<Entry> PgQueue::get(std::string id) {
  if (!queue::is_entry_id(id)) co_return not_found();
  TxBody<std::vector<Entry>> body = [id](Connection& c) {
    std::vector<Param> params;
    params.push_back(Param::text(id));
    return select_entries(c, "SELECT " + std::string(kColumns) + " FROM queue_entry q WHERE q.id = $1", std::move(params));
  };
  auto found = co_await snapshot(pool_, std::move(body));
  if (!found) co_return found.error();
  if (found->empty()) co_return not_found();
  co_return std::move(found->front());
}

Task<std::vector<Entry>> PgQueue::list() {
  TxBody<std::vector<Entry>> body = [](Connection& c) {
    return select_entries(c, "SELECT " + std::string(kColumns) + " FROM queue_entry q ORDER BY q.created, q.id", {});
  };
  return snapshot(pool_, std::move(body));
}

Task<std::vector<Entry>> PgQueue::due(int64_t now) {
  const int64_t until = now + int64_t(options_.lease.count());
  const int64_t limit = int64_t(options_.claim_limit);
  const std::string node = node_;
  TxBody<std::vector<Entry>> body = [now, node, until, limit](Connection& c) {
    return claim_due(c, now, node, until, limit);
  };
  return transaction(pool_, std::move(body), "queue");
}

Task<std::string> PgQueue::read_message(std::string id) {
  if (!queue::is_entry_id(id)) co_return not_found();
  std::vector<Param> params;
  params.push_back(Param::text(id));
  auto rows = co_await statement("SELECT bytes FROM queue_message WHERE entry = $1", std::move(params), Format::kBinary);
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return not_found();
  co_return rows->bytes(0, 0);
}

Task<void> PgQueue::record_attempt(std::string id, Attempt attempt) {
  if (!queue::is_entry_id(id)) co_return not_found();
  const std::string node = node_;
  auto shared = std::make_shared<const Attempt>(std::move(attempt));
  TxBody<void> body = [id, shared, node](Connection& c) { return apply_attempt(c, id, *shared, node); };
  auto done = co_await transaction(pool_, std::move(body), "queue");
  co_return done;
}

Task<void> PgQueue::set_next_attempt(std::string id, int64_t next_attempt) {
  std::vector<Param> params;
  params.push_back(Param::integer(next_attempt));
  params.push_back(Param::text(node_));
  return update_entry(std::move(id), "UPDATE queue_entry SET next_attempt = $2, lease_owner = NULLIF(lease_owner, $3) WHERE id = $1",
                      std::move(params));
}

Task<void> PgQueue::mark_reported(std::string id, std::vector<std::string> addresses) {
  if (!queue::is_entry_id(id)) co_return not_found();
  TxBody<void> body = [id, addresses](Connection& c) { return apply_reported(c, id, addresses); };
  auto done = co_await transaction(pool_, std::move(body), "queue");
  co_return done;
}

Task<void> PgQueue::set_delay_notified(std::string id) {
  return update_entry(std::move(id), "UPDATE queue_entry SET delay_notified = true WHERE id = $1", {});
}

Task<std::size_t> PgQueue::retry(std::optional<std::string> id, int64_t now) {
  if (id && !queue::is_entry_id(*id)) co_return not_found();
  std::vector<Param> params;
  params.push_back(Param::integer(now));
  if (id) params.push_back(Param::text(*id));
  auto rows = co_await statement(id ? "UPDATE queue_entry SET next_attempt = $1 WHERE id = $2"
                                    : "UPDATE queue_entry SET next_attempt = $1",
                                 std::move(params), Format::kText);
  if (!rows) co_return rows.error();
  if (id && rows->affected() == 0) co_return not_found();
  co_return std::size_t(rows->affected());
}

Task<void> PgQueue::remove(std::string id) {
  if (!queue::is_entry_id(id)) co_return not_found();
  std::vector<Param> params;
  params.push_back(Param::text(id));
  // The recipients and the message go with the entry (ON DELETE CASCADE).
  auto rows = co_await statement("DELETE FROM queue_entry WHERE id = $1", std::move(params), Format::kText);
  if (!rows) co_return rows.error();
  if (rows->affected() == 0) co_return not_found();
  co_return Result<void>{};
}

}  // namespace posthorn::store::pg
