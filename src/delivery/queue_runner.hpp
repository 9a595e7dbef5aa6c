// QueueRunner: the loop that empties the outbound queue (DESIGN.md §1). It takes the due entries
// (Queue::due), sends each entry's pending recipients with one DeliveryJob per destination domain
// (all domains at once; the DeliveryAgent limits connections per destination), records every
// outcome, schedules retries (queue/retry.hpp) and sends the DSNs (queue/dsn.hpp): one bounce per
// entry and pass for the recipients that failed in it (5xx, or expiry after the configured
// lifetime), one "delayed" notice per entry after delay_notice. A DSN to a sender in one of our
// domains is stored at once through local_delivery.hpp (the SMTP session's path); any other goes
// into the queue from the null sender with is_bounce set. Nothing from the null sender, and nothing
// with is_bounce, is ever bounced. An entry is removed when no recipient is pending and every
// failure has been reported.
//
// Crash safety: a recipient is marked delivered only after the remote server's 250; bounce_needed is
// set before a failure is recorded, and cleared (mark_reported) only after the DSN is durable. A
// crash in between can send something twice, never lose it.
//
// Wake-ups: wake() (the SMTP session calls it after each enqueue) and a poll every
// RunnerOptions::poll, so `posthorn queue retry` from another process is seen within seconds; a
// retry this process schedules sooner than the next poll wakes the loop at its time.
//
// Depends on queue/, smtpc/ (DeliveryAgent), store/, auth/ (Directory), base/ and
// delivery/local_delivery.hpp. Thread-safe: wake() from any thread; entries run concurrently on
// the executor's threads; one entry is never processed twice at once.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "auth/directory.hpp"
#include "config/config.hpp"
#include "queue/queue.hpp"
#include "queue/tls_report.hpp"
#include "smtpc/agent.hpp"
#include "store/store.hpp"

namespace posthorn::delivery {

using SysTime = std::chrono::system_clock::time_point;

struct RunnerContext {
  std::function<std::shared_ptr<const config::Config>()> config;  // the current snapshot (SIGHUP swaps it)
  queue::Queue* queue = nullptr;
  std::shared_ptr<smtpc::DeliveryAgent> agent;
  store::MailStore* store = nullptr;    // for DSNs to local senders
  auth::Directory* directory = nullptr;
  queue::TlsReportLog* tlsrpt = nullptr;  // TLS-RPT session counts (RFC 8460); nullptr: not kept
};

struct RunnerOptions {
  std::chrono::milliseconds poll{5000};  // rescan the queue at least this often
  std::size_t max_entries = 100;         // entries in flight at once
};

// What one pass over one entry did (for logs and tests).
struct EntryReport {
  std::size_t delivered = 0;  // recipients delivered in this pass
  std::size_t failed = 0;     // recipients that failed for good in this pass (5xx or expiry)
  std::size_t deferred = 0;   // recipients left pending for a retry
  std::size_t dsns = 0;       // DSNs sent (stored locally or queued): bounce and delay notice
  bool removed = false;       // the entry is finished and gone
};

class QueueRunner : public std::enable_shared_from_this<QueueRunner> {
 public:
  static std::shared_ptr<QueueRunner> create(boost::asio::any_io_executor executor, RunnerContext ctx,
                                             RunnerOptions options = {});

  // Starts the loop.
  void start();
  // Makes the loop scan the queue now. Thread-safe, cheap.
  void wake();
  // Ends the loop, waits up to `grace` for entries in flight, then says QUIT to pooled connections.
  // An entry still in flight after that is simply not marked: it is retried after a restart.
  boost::asio::awaitable<void> stop(std::chrono::milliseconds grace);

  // One pass over one entry at `now` (the loop passes the clock; tests pass any time).
  boost::asio::awaitable<EntryReport> process(queue::Entry entry, SysTime now);
  // Every entry due at `now`, concurrently; returns when they are done. For tests and tools.
  boost::asio::awaitable<std::size_t> run_due(SysTime now);

  std::size_t in_flight() const;

 private:
  QueueRunner(boost::asio::any_io_executor executor, RunnerContext ctx, RunnerOptions options);
  static boost::asio::awaitable<void> loop(std::shared_ptr<QueueRunner> self);
  static boost::asio::awaitable<void> run_entry(std::shared_ptr<QueueRunner> self, queue::Entry entry, SysTime now);
  // Claims an entry for processing; false when it is already in flight or the limit is reached.
  bool claim(const std::string& id);
  void release(const std::string& id);
  // Remembers a retry time this process scheduled, so the loop wakes for it.
  void note_next_attempt(int64_t unix_seconds);

  // Stores (local sender) or queues (remote sender) one DSN for the entry's sender; false when it
  // could not be made durable now (try again later). A DSN for an unknown local sender is dropped
  // (true): there is nobody to tell, and a bounce is never bounced.
  boost::asio::awaitable<bool> send_dsn(const queue::Entry& entry, std::string message, bool eight_bit);

  boost::asio::any_io_executor executor_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;  // the loop, its timer and flags
  RunnerContext ctx_;
  RunnerOptions options_;
  boost::asio::steady_timer timer_;  // on strand_
  bool woken_ = false;               // on strand_
  bool stopping_ = false;            // on strand_
  std::atomic<bool> loop_done_{true};

  mutable std::mutex mu_;
  std::set<std::string> in_flight_;  // guarded by mu_
  int64_t earliest_retry_ = 0;       // guarded by mu_; 0 = none
  bool saturated_ = false;           // guarded by mu_: entries were left for lack of slots
};

}  // namespace posthorn::delivery
