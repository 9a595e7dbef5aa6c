// PgMailStore: the MailStore on a shared PostgreSQL database (issue 20), so that several Posthorn
// nodes serve the same mailboxes. Same semantics as the embedded backend (store/sqlite): UIDs and
// MODSEQs per mailbox, \Recent claimed by one session, the QRESYNC expunge log, quota totals kept
// in the same transaction as the messages, the default special-use mailboxes, POP3's maildrop.
//
// Schema (component "mail" of pg_schema's migrations, pg_mail_schema.cpp):
//   mail_account(id, last_uid_validity, storage_bytes, messages, pop3_policy)
//   mailbox(id bigserial, account, name, uid_validity, uid_next, highest_modseq, special_use,
//           first_recent)                       ids come from a sequence: never reused
//   subscription(account, name)
//   message(mailbox, uid, modseq, flags, keywords, internal_date, save_date, size, blob, prefix,
//           summary, content_hash, retrieved_at, pop3_hidden)
//   expunged(mailbox, uid, modseq)              the QRESYNC expunge log
//   blob(hash, size, refcount) + blob_chunk(hash, seq, bytes)   content-addressed message bytes in
//           kBlobChunk pieces, shared by every message with the same bytes; the reference count
//           changes in the same transaction as the message rows and a blob goes with its last one.
//
// Concurrency: every write transaction of an account first locks that account's row (SELECT ...
// FOR UPDATE), then mailbox rows, then blob rows in hash order, so writers of one account (on any
// node) are serialised and no two transactions wait for each other in a cycle; UIDs and MODSEQs are
// allocated with UPDATE ... RETURNING on the mailbox row. A transaction that fails with a
// serialization failure or a deadlock is run again. Reads of several statements run in one
// REPEATABLE READ READ ONLY transaction (one snapshot).
//
// Change feed: after a commit the events are published on this node's LocalChangeFeed; the same
// transaction sends them with NOTIFY on `channel`, and a dedicated LISTEN connection of every store
// publishes the events of the other nodes on their feeds (events carry the sender's node id, so a
// node never publishes its own twice).
//
// No query blocks a thread (pg_client is asynchronous); CPU work on message bytes (CRLF
// normalisation, hashing, parsing) and reads of spooled messages run on the blocking pool.
// Thread-safe: every call may come from any thread or coroutine.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "base/blocking_pool.hpp"
#include "store/change_feed.hpp"
#include "store/pg/pg_client.hpp"
#include "store/store.hpp"

namespace posthorn::store::pg {

// Bytes of one blob_chunk row.
inline constexpr std::size_t kBlobChunk = 256 * 1024;

struct PgMailStoreOptions {
  PoolOptions pool;
  // The NOTIFY channel of change events (every node of one installation uses the same).
  std::string channel = "posthorn_mail";
  // Where a spooled APPEND is normalised before it is stored (an unnamed temp file); empty: the
  // system's temp folder.
  std::filesystem::path spool_dir;
};

struct PgShared;

class PgMailStore final : public MailStore {
 public:
  // Connects, brings the "mail" schema to its current version (kInvalid for a newer one) and starts
  // listening for other nodes' events. `blocking` must outlive the store and everything from it.
  // (options by reference: g++ 12 and by-value aggregates in co_await expressions, pg_client.hpp.)
  static Task<std::unique_ptr<PgMailStore>> open(boost::asio::any_io_executor executor,
                                                 const PgMailStoreOptions& options, BlockingPool& blocking);
  ~PgMailStore() override;

  // kNotFound for an id <= 0. Creates the account's row and default mailboxes on first use.
  Task<std::shared_ptr<Account>> account(AccountId id, Limits limits) override;
  // One transaction per target; the blob is written by the first and shared by the others. An
  // unknown or invalid mailbox name falls back to INBOX.
  Task<std::vector<Result<AppendResult>>> deliver(Delivery delivery) override;
  // Removes the account's rows (a missing account is not an error) and drops its blob references.
  Task<void> delete_account(AccountId id) override;
  ChangeFeed& feed() override;

  // A random id of this store, sent with its NOTIFY events.
  const std::string& node() const;
  // Events received from other nodes since open (for tests and metrics).
  uint64_t remote_events() const;

 private:
  explicit PgMailStore(std::shared_ptr<PgShared> shared) : shared_(std::move(shared)) {}
  std::shared_ptr<PgShared> shared_;
};

}  // namespace posthorn::store::pg
