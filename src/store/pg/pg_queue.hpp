// PgQueue: the queue::Queue on a shared PostgreSQL database (issue 20), so that several Posthorn
// nodes share one outbound queue. Same semantics as the embedded SqliteQueue (store/sqlite): ids of
// 16 lower-case hex digits; enqueue returns once the transaction holding the entry, its recipients
// and the message bytes has committed; record_attempt is all or nothing (kNotFound for a missing
// entry or recipient); mark_reported clears bounce_needed once every failure is reported.
//
// Schema (component "queue" of pg_schema's migrations, pg_queue_schema.cpp):
//   queue_entry(id, sender, size, created, next_attempt, is_bounce, bounce_needed, ret, envid,
//               smtputf8, eight_bit, delay_notified, lease_owner, lease_until)
//   queue_recipient(entry, position, address, state, last_error, attempts, notify, orcpt, reported)
//   queue_message(entry, bytes bytea)      the message, written in the entry's transaction
//
// Leases (one node attempts an entry at a time): due(now) claims what it returns. It locks the due
// rows that are free (no lease_owner), leased by this queue's node, or whose lease expired
// (lease_until <= now), skipping rows another node's due() holds locked (FOR UPDATE SKIP LOCKED), and
// sets lease_owner = node(), lease_until = now + lease on them. Entries leased by another node whose
// lease has not expired are not returned; a node that dies leaves its entries to the others once
// their lease expires. This node's own leased entries are returned again (the delivery loop's
// in-flight set skips them), which renews the lease of a long delivery at every scan. The lease is
// released (lease_owner NULL, the entry free for any node) by record_attempt with a next_attempt and
// by set_next_attempt, the calls that end a pass over an entry that stays queued; remove() drops the
// row with its lease. Other writes keep it. A call from a queue that does not hold the lease (the
// `posthorn queue` commands, a node whose lease expired) still writes, but never releases another
// node's lease. retry() changes only next_attempt: an entry in flight on a node stays with it.
//
// No query blocks a thread (pg_client is asynchronous). Thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "queue/queue.hpp"
#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

struct PgQueueOptions {
  PoolOptions pool;
  // The lease owner's name, unique per node; empty: a random one.
  std::string node;
  // How long an entry claimed by due() stays with this node unless it is released or claimed again.
  std::chrono::seconds lease{300};
  // Entries one due() claims at most, this node's in-flight ones included (the rest are left to the
  // next scan or another node). Keep it at the delivery loop's in-flight limit
  // (delivery::RunnerOptions::max_entries): an entry claimed but not started stays leased here.
  std::size_t claim_limit = 100;
};

class PgQueue final : public queue::Queue {
 public:
  // Connects and brings the "queue" schema to its current version (kInvalid for a newer one).
  // (options by reference: g++ 12 and by-value aggregates in co_await expressions, pg_client.hpp.)
  static Task<std::unique_ptr<PgQueue>> open(boost::asio::any_io_executor executor, const PgQueueOptions& options);

  Task<std::string> enqueue(queue::NewEntry entry) override;
  Task<queue::Entry> get(std::string id) override;
  Task<std::vector<queue::Entry>> list() override;
  Task<std::vector<queue::Entry>> due(int64_t now) override;
  Task<std::string> read_message(std::string id) override;
  Task<void> record_attempt(std::string id, queue::Attempt attempt) override;
  Task<void> set_next_attempt(std::string id, int64_t next_attempt) override;
  Task<void> mark_reported(std::string id, std::vector<std::string> addresses) override;
  Task<void> set_delay_notified(std::string id) override;
  Task<std::size_t> retry(std::optional<std::string> id, int64_t now) override;
  Task<void> remove(std::string id) override;

  // ---- Moving an installation (posthorn migrate) ----
  Task<void> import_entry(queue::Entry entry, std::string message) override;

  // This queue's lease owner name.
  const std::string& node() const { return node_; }

 private:
  PgQueue(boost::asio::any_io_executor executor, const PgQueueOptions& options);
  // One statement on a pooled connection, outside a transaction.
  Task<Rows> statement(std::string sql, std::vector<Param> params, Format format);
  // One UPDATE of an entry (parameter $1 its id, then `params`); kNotFound when no row changed.
  Task<void> update_entry(std::string id, std::string sql, std::vector<Param> params);

  PgQueueOptions options_;
  std::string node_;
  Pool pool_;
};

}  // namespace posthorn::store::pg
