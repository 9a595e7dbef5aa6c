// The outbound queue (DESIGN.md §1, §2): messages waiting for remote delivery, and messages that owe
// their sender a delivery status notification. Interface and value types only; the backends are
// store/sqlite/SqliteQueue (embedded) and store/pg/PgQueue (shared by several nodes). The delivery
// agent (smtpc/), the retry schedule and the DSN builder work through this interface.
//
// Durability contract: when enqueue() returns an id, the message bytes and the entry are durable
// (SQLite: spool file fsync'd, its directory entry fsync'd, the index transaction committed, in that
// order; PostgreSQL: the one transaction holding both committed), so the SMTP 250 may be sent. Errors are Errc values: kNotFound (no such entry),
// kInvalid (malformed id or entry), kUnavailable (busy, disk full), kInternal.
//
// Every call is an awaitable (Task<T>, base/task.hpp): co_await it from a coroutine, or run_sync()
// it from synchronous code. The backend decides how it waits (the SQLite queue on the blocking pool,
// a PostgreSQL one on its connection), so callers never hand queue calls to the pool. Arguments are
// taken by value: the call may run after the caller's temporaries are gone. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/task.hpp"

namespace posthorn::queue {

enum class RecipientState : uint8_t { kPending, kDelivered, kFailed };
std::string_view to_string(RecipientState state);  // "pending", "delivered", "failed"

struct Recipient {
  std::string address;        // "local@domain"
  RecipientState state = RecipientState::kPending;
  std::string last_error;     // the last remote reply or local reason ("" when none yet)
  uint32_t attempts = 0;
  uint8_t notify = 0;         // proto::smtp::Notify bits from RCPT NOTIFY= (0: not given)
  std::string orcpt;          // RCPT ORCPT= as "type;address" ("" when not given)
  bool reported = false;      // failed and its DSN sent (or none wanted): not reported again
};

// What the session hands over; enqueue() fills in the rest.
struct NewEntry {
  std::string sender;                 // "" is the null reverse-path: this message is a bounce
  std::vector<Recipient> recipients;  // at least one
  std::string message;                // the bytes to send, CRLF line ends, headers already added
  bool is_bounce = false;             // a DSN generated here: never bounce it again
  bool bounce_needed = false;         // recipients already failed: a DSN is owed to the sender
  // DSN parameters [RFC 3461] and the body type, kept for the onward transaction and the DSN.
  std::string ret;                    // "FULL", "HDRS" or ""
  std::string envid;                  // xtext-decoded ENVID ("" when not given)
  bool smtputf8 = false;
  bool eight_bit = false;             // BODY=8BITMIME (or BINARYMIME) was declared
  int64_t next_attempt = 0;           // unix seconds; 0: now
};

struct Entry {
  std::string id;                     // 16 lower-case hex digits
  std::string sender;
  std::vector<Recipient> recipients;  // in RCPT order
  uint64_t size = 0;                  // bytes of the spooled message
  int64_t created = 0;                // unix seconds
  int64_t next_attempt = 0;           // unix seconds
  bool is_bounce = false;
  bool bounce_needed = false;
  std::string ret;
  std::string envid;
  bool smtputf8 = false;
  bool eight_bit = false;
  bool delay_notified = false;        // the one "delayed" DSN was sent

  // True while some recipient is still pending.
  bool has_pending() const;
};

// One recipient's outcome in a delivery attempt.
struct RecipientUpdate {
  std::string address;        // matched case-insensitively
  RecipientState state = RecipientState::kPending;
  std::string last_error;
};

// What one pass over an entry records, all at once (Queue::record_attempt).
struct Attempt {
  bool bounce_needed = false;                // set bounce_needed (a recipient failed in this pass)
  std::vector<RecipientUpdate> recipients;   // each: its new state and error text, attempts + 1
  std::optional<int64_t> next_attempt;       // unix seconds of the retry, when one is scheduled
};

// True for 16 lower-case hex digits (ids from the command line are checked before use).
bool is_entry_id(std::string_view id);

// For the backends: a new random entry id (is_entry_id), and a RecipientState from the number a
// backend stores (its enum value; anything else is kPending).
std::string new_entry_id();
RecipientState recipient_state(int64_t stored);

class Queue {
 public:
  virtual ~Queue() = default;

  // Spools the message and records the entry durably; returns the new id. kInvalid without recipients.
  virtual Task<std::string> enqueue(NewEntry entry) = 0;
  virtual Task<Entry> get(std::string id) = 0;
  // Every entry, oldest first.
  virtual Task<std::vector<Entry>> list() = 0;
  // Entries whose next attempt is at or before `now` and that still have work: a pending recipient
  // or an owed bounce. Oldest next_attempt first. A queue shared by several nodes claims what it
  // returns (PgQueue: a lease, released by record_attempt with a next_attempt, set_next_attempt and
  // remove), so that another node's due() leaves those entries alone meanwhile.
  virtual Task<std::vector<Entry>> due(int64_t now) = 0;
  // The spooled message bytes.
  virtual Task<std::string> read_message(std::string id) = 0;

  // Records one delivery attempt in one transaction: bounce_needed first when asked (a crash never
  // leaves a recorded failure without its owed bounce), each recipient's new state and error text
  // (by address, case-insensitive; its attempts incremented), then next_attempt when given. Nothing
  // is written when a part fails: kNotFound when the entry or one of the recipients is not there.
  virtual Task<void> record_attempt(std::string id, Attempt attempt) = 0;
  virtual Task<void> set_next_attempt(std::string id, int64_t next_attempt) = 0;
  // After the DSN for these failed recipients is durable (queued or stored): marks them reported
  // and, in the same transaction, clears bounce_needed unless another failed recipient is still
  // unreported. kNotFound when the entry is not there.
  virtual Task<void> mark_reported(std::string id, std::vector<std::string> addresses) = 0;
  // The "delayed" DSN was sent (it is sent once per entry).
  virtual Task<void> set_delay_notified(std::string id) = 0;

  // Makes an entry (or every entry, id nullopt) due now; returns how many entries changed.
  // kNotFound for an unknown id.
  virtual Task<std::size_t> retry(std::optional<std::string> id, int64_t now) = 0;
  // Removes the entry and its spool file. kNotFound when absent.
  virtual Task<void> remove(std::string id) = 0;

  // ---- Moving an installation between backends (posthorn migrate, issue 20 item 3) ----
  // Records an entry as another queue holds it, with its message bytes, durably (as enqueue): its
  // id, sender, recipients with their states, errors, attempts and reported marks, created,
  // next_attempt and every flag unchanged (entry.size is the message's). kInvalid for a malformed id
  // or no recipient, kExists when the id is taken.
  virtual Task<void> import_entry(Entry entry, std::string message) = 0;
};

}  // namespace posthorn::queue
