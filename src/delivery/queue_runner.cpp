// QueueRunner implementation. Notes:
// - The loop runs on its own strand (timer and wake flag need no lock); entries run as separate
//   coroutines on the executor, claimed in a mutex-guarded set so a rescan never takes an entry
//   that is still in flight.
// - The outcome of one pass over an entry is one Queue::record_attempt (one transaction: bounce_needed
//   with the failures it is owed for, the recipients' states, the next attempt), written before the
//   DSN; mark_reported only after the DSN is durable. A crash can repeat a DSN, never lose one.
// - co_await only as a statement or a plain initializer (g++ 12, DESIGN.md §3).
#include "delivery/queue_runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <optional>

#include "base/ascii.hpp"
#include "base/metrics.hpp"
#include "queue/dsn.hpp"
#include "queue/retry.hpp"
#include "delivery/local_delivery.hpp"
#include "delivery/message_prep.hpp"

namespace posthorn::delivery {

namespace asio = boost::asio;
using queue::RecipientState;

namespace {

int64_t to_unix(SysTime t) { return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count(); }
SysTime from_unix(int64_t s) { return SysTime(std::chrono::seconds(s)); }

std::string domain_of(std::string_view address) {
  const auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : ascii::lower(address.substr(at + 1));
}

// "5.1.1": a class digit, then two dot-separated numbers of 1-3 digits [RFC 3463].
bool is_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    if (digits == 0 || digits > 3) return false;
    if (part == 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

// The enhanced status code in a stored reply text ("550 5.1.1 no such user", "4.4.1 connect
// failed"), else one derived from the basic code, else `fallback`.
std::string status_of(std::string_view text, std::string_view fallback) {
  const auto sp = text.find(' ');
  const std::string_view first = text.substr(0, sp);
  if (is_status(first)) return std::string(first);
  const bool code = first.size() == 3 && std::all_of(first.begin(), first.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (code && sp != std::string_view::npos) {
    std::string_view rest = text.substr(sp + 1);
    rest = rest.substr(0, rest.find(' '));
    if (is_status(rest)) return std::string(rest);
  }
  if (code && (first[0] == '4' || first[0] == '5')) return std::string(1, first[0]) + ".0.0";
  return std::string(fallback);
}

queue::DsnRecipient dsn_recipient(const queue::Recipient& r, queue::Action action, std::string_view fallback_status,
                                  const std::map<std::string, smtpc::RecipientOutcome>& outcomes, SysTime now) {
  queue::DsnRecipient d;
  d.final_recipient = r.address;
  d.original_recipient = r.orcpt;
  d.action = action;
  d.status = status_of(r.last_error, fallback_status);
  d.diagnostic = r.last_error;
  if (auto it = outcomes.find(ascii::lower(r.address)); it != outcomes.end()) {
    d.remote_mta = it->second.mx_host;
    d.last_attempt = now;
  }
  return d;
}

// Runs every task at once on `ex`; the results in order (nullopt for a task that threw, which is a
// bug: logged by the caller). Not a parallel_group: Boost 1.81's ranged group frees its cancellation
// state while operations started inside the tasks (the agent's timed reads) still point at it.
template <class T>
asio::awaitable<std::vector<std::optional<T>>> run_all(asio::any_io_executor ex, std::vector<asio::awaitable<T>> tasks) {
  const std::size_t n = tasks.size();
  auto results = std::make_shared<std::vector<std::optional<T>>>(n);
  auto done = std::make_shared<asio::experimental::concurrent_channel<void(boost::system::error_code)>>(ex, n);
  for (std::size_t i = 0; i < n; ++i) {
    asio::co_spawn(ex, std::move(tasks[i]), [results, done, i](std::exception_ptr e, T value) {
      if (!e) (*results)[i] = std::move(value);
      done->try_send(boost::system::error_code{});
    });
  }
  for (std::size_t i = 0; i < n; ++i) co_await done->async_receive(asio::use_awaitable);
  co_return std::move(*results);
}

}  // namespace

std::shared_ptr<QueueRunner> QueueRunner::create(asio::any_io_executor executor, RunnerContext ctx,
                                                 RunnerOptions options) {
  return std::shared_ptr<QueueRunner>(new QueueRunner(std::move(executor), std::move(ctx), options));
}

QueueRunner::QueueRunner(asio::any_io_executor executor, RunnerContext ctx, RunnerOptions options)
    : executor_(executor), strand_(asio::make_strand(executor)), ctx_(std::move(ctx)), options_(options), timer_(strand_) {}

void QueueRunner::start() {
  loop_done_ = false;
  asio::co_spawn(strand_, loop(shared_from_this()), asio::detached);
}

void QueueRunner::wake() {
  asio::post(strand_, [self = shared_from_this()] {
    self->woken_ = true;
    self->timer_.cancel();
  });
}

std::size_t QueueRunner::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_.size();
}

bool QueueRunner::claim(const std::string& id) {
  std::lock_guard lock(mu_);
  if (in_flight_.count(id) != 0) return false;
  if (in_flight_.size() >= options_.max_entries) {
    saturated_ = true;
    return false;
  }
  in_flight_.insert(id);
  Metrics::global().queue_delivery(true);
  return true;
}

void QueueRunner::release(const std::string& id) {
  bool rescan = false;
  {
    std::lock_guard lock(mu_);
    if (in_flight_.erase(id) != 0) Metrics::global().queue_delivery(false);
    rescan = std::exchange(saturated_, false);
  }
  if (rescan) wake();
}

void QueueRunner::note_next_attempt(int64_t unix_seconds) {
  {
    std::lock_guard lock(mu_);
    if (earliest_retry_ != 0 && earliest_retry_ <= unix_seconds) return;
    earliest_retry_ = unix_seconds;
  }
  wake();  // the loop shortens its sleep
}

asio::awaitable<void> QueueRunner::loop(std::shared_ptr<QueueRunner> self) {
  queue::Queue* q = self->ctx_.queue;
  while (!self->stopping_) {
    self->woken_ = false;
    const SysTime now = std::chrono::system_clock::now();
    const int64_t now_s = to_unix(now);
    {
      std::lock_guard lock(self->mu_);
      if (self->earliest_retry_ != 0 && self->earliest_retry_ <= now_s) self->earliest_retry_ = 0;
    }
    auto task = q->due(now_s);
    auto due = co_await std::move(task);
    if (!due) {
      spdlog::warn("queue: cannot read the due entries: {}", due.error().message);
    } else {
      for (auto& entry : *due) {
        if (self->stopping_) break;
        if (!self->claim(entry.id)) continue;
        asio::co_spawn(self->executor_, run_entry(self, std::move(entry), now), asio::detached);
      }
    }
    // Counted after the claims, so a reader that sees this scan also sees its deliveries active.
    Metrics::global().queue_scanned();
    if (self->stopping_ || self->woken_) continue;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(self->options_.poll);
    {
      std::lock_guard lock(self->mu_);
      if (self->earliest_retry_ != 0) {
        const auto until = from_unix(self->earliest_retry_) - std::chrono::system_clock::now();
        wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(until), std::chrono::milliseconds(0), wait);
      }
    }
    self->timer_.expires_after(wait);
    co_await self->timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  self->loop_done_ = true;
}

asio::awaitable<void> QueueRunner::run_entry(std::shared_ptr<QueueRunner> self, queue::Entry entry, SysTime now) {
  const std::string id = entry.id;
  try {
    auto task = self->process(std::move(entry), now);
    co_await std::move(task);
  } catch (const std::exception& e) {
    spdlog::error("queue: {}: unexpected error: {}", id, e.what());
  }
  self->release(id);
}

asio::awaitable<void> QueueRunner::stop(std::chrono::milliseconds grace) {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopping_ = true;
    self->timer_.cancel();
  });
  const auto deadline = std::chrono::steady_clock::now() + grace;
  asio::steady_timer pause(executor_);
  while ((!loop_done_ || in_flight() > 0) && std::chrono::steady_clock::now() < deadline) {
    pause.expires_after(std::chrono::milliseconds(20));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (in_flight() > 0) spdlog::warn("queue: {} entries still in delivery at shutdown; they are retried after a restart", in_flight());
  co_await ctx_.agent->close_idle();
}

asio::awaitable<std::size_t> QueueRunner::run_due(SysTime now) {
  queue::Queue* q = ctx_.queue;
  const int64_t now_s = to_unix(now);
  auto task = q->due(now_s);
  auto due = co_await std::move(task);
  if (!due) co_return 0;
  std::vector<asio::awaitable<EntryReport>> tasks;
  for (auto& entry : *due) tasks.push_back(process(std::move(entry), now));
  const std::size_t n = tasks.size();
  auto all = run_all(executor_, std::move(tasks));
  auto reports = co_await std::move(all);
  for (const auto& r : reports) {
    if (!r) throw std::runtime_error("queue: an entry failed with an exception");
  }
  co_return n;
}

asio::awaitable<EntryReport> QueueRunner::process(queue::Entry entry, SysTime now) {
  EntryReport report;
  const auto cfg = ctx_.config();
  const queue::RetryPolicy policy = queue::RetryPolicy::from(cfg->delivery);
  queue::Queue* q = ctx_.queue;
  const std::string id = entry.id;
  auto read_task = q->read_message(id);
  auto read = co_await std::move(read_task);
  if (!read) {
    spdlog::warn("queue: {}: cannot read the message: {}", id, read.error().message);
    co_return report;
  }
  auto message = std::make_shared<const std::string>(std::move(*read));

  // 1. Delivery attempts: one job per domain, all at once.
  std::map<std::string, smtpc::RecipientOutcome> outcomes;  // by lower-cased address
  std::map<std::string, std::vector<const queue::Recipient*>> by_domain;
  for (const auto& r : entry.recipients) {
    if (r.state == RecipientState::kPending) by_domain[domain_of(r.address)].push_back(&r);
  }
  if (!by_domain.empty()) {
    smtpc::MailParams mail;
    mail.sender = entry.sender;
    mail.size = message->size();
    mail.body = entry.eight_bit ? smtpc::Body::k8BitMime : smtpc::Body::k7Bit;
    mail.smtputf8 = entry.smtputf8;
    mail.ret = queue::ret_from(entry.ret);
    mail.envid = entry.envid;
    std::vector<asio::awaitable<smtpc::DeliveryOutcome>> ops;
    std::vector<std::string> order;
    std::vector<queue::TlsSession> sessions;  // for TLS-RPT
    for (const auto& [domain, rcpts] : by_domain) {
      if (domain.empty()) {
        for (const auto* r : rcpts) {
          outcomes[ascii::lower(r->address)] = smtpc::RecipientOutcome{
              r->address, smtpc::Disposition::kPermanent, 0, "5.1.3", "5.1.3 not a valid address: " + r->address, ""};
        }
        continue;
      }
      smtpc::DeliveryJob job;
      job.domain = domain;
      job.mail = mail;
      for (const auto* r : rcpts) job.recipients.push_back(smtpc::Recipient{r->address, queue::notify_from_bits(r->notify), r->orcpt});
      job.message = [message]() -> Result<std::unique_ptr<smtpc::MessageReader>> {
        return std::unique_ptr<smtpc::MessageReader>(std::make_unique<smtpc::StringReader>(message));
      };
      ops.push_back(ctx_.agent->deliver(std::move(job)));
      order.push_back(domain);
    }
    if (!ops.empty()) {
      auto all = run_all(executor_, std::move(ops));
      auto results = co_await std::move(all);
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (!results[i]) {
          // A bug in the agent: nothing is known to be delivered, so try again later.
          for (const auto* r : by_domain[order[i]]) {
            outcomes[ascii::lower(r->address)] = smtpc::RecipientOutcome{
                r->address, smtpc::Disposition::kTemporary, 0, "4.3.0", "4.3.0 local delivery error", ""};
          }
          continue;
        }
        for (auto& o : results[i]->recipients) outcomes[ascii::lower(o.address)] = std::move(o);
        sessions.insert(sessions.end(), results[i]->tls_sessions.begin(), results[i]->tls_sessions.end());
      }
    }
    // TLS-RPT counts: a lost count never holds up the delivery bookkeeping.
    if (ctx_.tlsrpt && !sessions.empty()) {
      const int64_t when = to_unix(now);
      for (auto& session : sessions) {
        auto task = ctx_.tlsrpt->record(std::move(session), when);
        auto recorded = co_await std::move(task);
        if (!recorded) {
          spdlog::warn("queue: {}: TLS-RPT counts not recorded: {}", id, recorded.error().message);
          break;
        }
      }
    }
  }

  // 2. The new states, in memory first.
  std::vector<queue::RecipientUpdate> updates;
  bool newly_failed = false;
  uint32_t failed_attempts = 0;
  for (auto& r : entry.recipients) {
    if (r.state != RecipientState::kPending) continue;
    auto it = outcomes.find(ascii::lower(r.address));
    if (it == outcomes.end()) continue;
    const auto& o = it->second;
    r.attempts += 1;
    r.last_error = o.text;
    switch (o.disposition) {
      case smtpc::Disposition::kDelivered:
        r.state = RecipientState::kDelivered;
        ++report.delivered;
        spdlog::info("queue: {}: {} delivered: {}{}", id, r.address, o.text, o.mx_host.empty() ? "" : " (" + o.mx_host + ")");
        break;
      case smtpc::Disposition::kPermanent:
        r.state = RecipientState::kFailed;
        newly_failed = true;
        ++report.failed;
        spdlog::info("queue: {}: {} failed: {}", id, r.address, o.text);
        break;
      case smtpc::Disposition::kTemporary:
        failed_attempts = std::max(failed_attempts, r.attempts);
        spdlog::info("queue: {}: {} deferred: {}", id, r.address, o.text);
        break;
    }
    updates.push_back(queue::RecipientUpdate{r.address, r.state, r.last_error});
  }
  std::optional<queue::RetryDecision> decision;
  if (entry.has_pending()) {
    decision = queue::after_temporary_failure(policy, from_unix(entry.created), std::max<uint32_t>(1, failed_attempts),
                                              now, entry.delay_notified);
    if (decision->expired) {
      for (auto& r : entry.recipients) {
        if (r.state != RecipientState::kPending) continue;
        r.state = RecipientState::kFailed;
        if (r.last_error.empty()) r.last_error = "4.4.7 delivery time expired";
        newly_failed = true;
        ++report.failed;
        spdlog::info("queue: {}: {} expired after {}s: {}", id, r.address, policy.lifetime.count(), r.last_error);
        auto u = std::find_if(updates.begin(), updates.end(),
                              [&](const queue::RecipientUpdate& x) { return x.address == r.address; });
        if (u == updates.end()) {
          updates.push_back(queue::RecipientUpdate{r.address, r.state, r.last_error});
        } else {
          u->state = r.state;
          u->last_error = r.last_error;
        }
      }
    } else {
      for (const auto& r : entry.recipients) report.deferred += r.state == RecipientState::kPending;
    }
  }

  // 3. Durable, in one transaction: bounce owed (with the failures it is owed for), the outcomes, the
  // next attempt.
  const bool retry = decision && !decision->expired;
  const int64_t next_attempt = retry ? to_unix(decision->next_attempt) : 0;
  if (newly_failed || !updates.empty() || retry) {
    queue::Attempt attempt;
    attempt.bounce_needed = newly_failed;
    attempt.recipients = std::move(updates);
    if (retry) attempt.next_attempt = next_attempt;
    auto task = q->record_attempt(id, std::move(attempt));
    auto written = co_await std::move(task);
    if (!written) {
      // kNotFound: `posthorn queue delete` removed it meanwhile.
      spdlog::warn("queue: {}: cannot record the outcome: {}", id, written.error().message);
      co_return report;
    }
  }
  if (retry) note_next_attempt(next_attempt);

  queue::DsnInput dsn;
  dsn.reporting_mta = cfg->delivery.hostname.empty() ? cfg->hostname : cfg->delivery.hostname;
  dsn.to = entry.sender;
  dsn.envelope_id = entry.envid;
  dsn.arrival = from_unix(entry.created);
  dsn.now = now;
  dsn.ret = queue::ret_from(entry.ret);
  dsn.original = *message;

  // 4. "Relayed" notices [RFC 3461 §5.2.2]: NOTIFY=SUCCESS recipients delivered to a server that
  // did not take DSN. Sent once the delivery is on record; a notice lost to a crash right here is
  // not sent again (a success report is informational, the message itself was delivered).
  dsn.recipients.clear();
  for (const auto& r : entry.recipients) {
    if (r.state != RecipientState::kDelivered || entry.is_bounce) continue;
    auto it = outcomes.find(ascii::lower(r.address));
    if (it == outcomes.end() || it->second.disposition != smtpc::Disposition::kDelivered || it->second.remote_dsn) {
      continue;
    }
    if (!queue::wants_notice(entry.sender, queue::notify_from_bits(r.notify), queue::Action::kRelayed)) continue;
    dsn.recipients.push_back(dsn_recipient(r, queue::Action::kRelayed, "2.0.0", outcomes, now));
  }
  if (!dsn.recipients.empty()) {
    queue::Dsn built = queue::build_dsn(dsn);
    auto send = send_dsn(entry, std::move(built.message), built.eight_bit);
    const bool sent = co_await std::move(send);
    if (sent) {
      ++report.dsns;
    } else {
      spdlog::warn("queue: {}: the relayed notice to {} was not sent", id, entry.sender);
    }
  }

  // 5. The one "delayed" notice.
  if (retry && decision->send_delay_notice) {
    dsn.recipients.clear();
    for (const auto& r : entry.recipients) {
      if (r.state != RecipientState::kPending || entry.is_bounce) continue;
      if (!queue::wants_notice(entry.sender, queue::notify_from_bits(r.notify), queue::Action::kDelayed)) continue;
      auto d = dsn_recipient(r, queue::Action::kDelayed, "4.0.0", outcomes, now);
      d.will_retry_until = decision->retry_until;
      dsn.recipients.push_back(std::move(d));
    }
    bool sent = true;
    if (!dsn.recipients.empty()) {
      queue::Dsn built = queue::build_dsn(dsn);
      auto send = send_dsn(entry, std::move(built.message), built.eight_bit);
      sent = co_await std::move(send);
      if (sent) ++report.dsns;
    }
    if (sent) {
      auto task = q->set_delay_notified(id);
      auto marked = co_await std::move(task);
      if (!marked) spdlog::warn("queue: {}: cannot record the delay notice: {}", id, marked.error().message);
    }
  }

  // 6. One bounce for every failure not reported yet (this pass's, expiry, the SMTP session's).
  std::vector<std::string> unreported;
  dsn.recipients.clear();
  for (const auto& r : entry.recipients) {
    if (r.state != RecipientState::kFailed || r.reported) continue;
    unreported.push_back(r.address);
    if (entry.is_bounce) continue;
    if (!queue::wants_notice(entry.sender, queue::notify_from_bits(r.notify), queue::Action::kFailed)) continue;
    dsn.recipients.push_back(dsn_recipient(r, queue::Action::kFailed, "5.0.0", outcomes, now));
  }
  if (!unreported.empty() || entry.bounce_needed) {
    if (!dsn.recipients.empty()) {
      queue::Dsn built = queue::build_dsn(dsn);
      auto send = send_dsn(entry, std::move(built.message), built.eight_bit);
      bool sent = co_await std::move(send);
      if (!sent && now - from_unix(entry.created) > policy.lifetime) {
        // A bounce that could not be handed over for a whole queue lifetime (the sender's mailbox
        // stays over quota, the queue cannot take it) is given up, as Postfix does after
        // bounce_queue_lifetime, so the entry does not stay forever.
        spdlog::warn("queue: {}: the bounce to {} is dropped after {}s of failed attempts", id, entry.sender,
                     policy.lifetime.count());
        sent = true;
      }
      if (!sent) {
        // Try again later; bounce_needed keeps the entry due.
        const int64_t later = to_unix(now + policy.retry_min);
        auto task = q->set_next_attempt(id, later);
        auto scheduled = co_await std::move(task);
        if (!scheduled) spdlog::warn("queue: {}: cannot schedule the DSN retry: {}", id, scheduled.error().message);
        note_next_attempt(later);
        co_return report;
      }
      ++report.dsns;
    }
    auto task = q->mark_reported(id, unreported);
    auto marked = co_await std::move(task);
    if (!marked) {
      spdlog::warn("queue: {}: cannot record the bounce: {}", id, marked.error().message);
      co_return report;
    }
    for (auto& r : entry.recipients) {
      if (r.state == RecipientState::kFailed) r.reported = true;
    }
  }

  // 7. Finished: nothing pending, every failure reported.
  if (!entry.has_pending()) {
    auto task = q->remove(id);
    auto removed = co_await std::move(task);
    report.removed = bool(removed);
    if (!removed && removed.error().code != Errc::kNotFound) {
      spdlog::warn("queue: {}: cannot remove the finished entry: {}", id, removed.error().message);
    }
  }
  co_return report;
}

asio::awaitable<bool> QueueRunner::send_dsn(const queue::Entry& entry, std::string message, bool eight_bit) {
  auto task = send_notice(ctx_.directory, ctx_.store, ctx_.queue, entry.sender, std::move(message),
                          eight_bit, entry.id);
  const NoticeSent sent = co_await std::move(task);
  if (sent == NoticeSent::kQueued) wake();
  co_return sent != NoticeSent::kLater;
}

}  // namespace posthorn::delivery
