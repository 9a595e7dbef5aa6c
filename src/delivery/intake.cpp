// Implementation notes (invariants):
// - The queue goes before the store: if queueing fails nothing was delivered, so the client's retry
//   cannot create duplicates. The caller answers 250 only when accept() returned, i.e. after the
//   queue entry committed and MailStore::deliver() returned.
// - CPU-heavy steps (RSA signing and sealing) run on the blocking pool (DESIGN §3).
// - co_await appears only as a statement or a plain initializer (g++ 12, DESIGN.md §3).
#include "delivery/intake.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base/ascii.hpp"
#include "delivery/dmarc_reporter.hpp"
#include "delivery/inbound_auth.hpp"
#include "delivery/local_delivery.hpp"
#include "delivery/message_prep.hpp"
#include "proto/smtp/reply.hpp"
#include "queue/dsn.hpp"

namespace posthorn::delivery {
namespace {

namespace asio = boost::asio;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The state one message carries through the stages.
struct Work {
  Work(const Services& s, Envelope e, std::string m) : services(s), envelope(std::move(e)), message(std::move(m)) {}
  const Services& services;
  Envelope envelope;
  std::string message;       // CRLF, as it stands after the stages so far (1-3)
  std::shared_ptr<const std::string> stored;  // the message from stage 4 on (moved, not copied)
  int64_t now = 0;
  std::string auth_results;  // our Authentication-Results field (MX), CRLF-terminated
  std::string mailbox = "INBOX";
  std::optional<InboundVerdict> verdict;  // the checks' result (MX with checks on)

  TraceInfo trace(std::string recipient) const {
    return TraceInfo{envelope.helo, envelope.client_ip, services.config->hostname, envelope.with, envelope.id,
                     std::move(recipient), envelope.tls, now};
  }

  queue::NewEntry queue_entry(std::vector<queue::Recipient> recipients, std::string bytes) const {
    queue::NewEntry e;
    e.sender = envelope.sender;
    e.recipients = std::move(recipients);
    e.message = std::move(bytes);
    e.ret = envelope.ret;
    e.envid = envelope.envid;
    e.smtputf8 = envelope.smtputf8;
    e.eight_bit = envelope.eight_bit;
    return e;
  }
};

// Stage 1 (submission): submission hygiene and the DKIM signature of the From domain.
asio::awaitable<void> prepare(Work& w) {
  w.message = prepare_submission(w.message, w.envelope.sender_domain, w.now);
  const Services& s = w.services;
  if (s.signer == nullptr || !s.config->msgauth.sign) co_return;
  const std::string domain = signing_domain(*s.signer, w.message);
  if (domain.empty()) co_return;
  const msgauth::DkimSigner* signer = s.signer;
  const std::string* message = &w.message;  // outlives the call
  const int64_t now = w.now;
  auto task = run_blocking(*s.pool, [signer, message, domain, now]() { return signer->sign(*message, domain, now); });
  std::string fields = co_await std::move(task);
  w.message.insert(0, fields);
}

// Stage 2 (MX): mail from other servers is checked, the verdict recorded and acted on.
asio::awaitable<std::optional<Rejection>> authenticate(Work& w) {
  const Services& s = w.services;
  if (!s.config->msgauth.verify || s.resolver == nullptr || s.psl == nullptr) co_return std::nullopt;
  const config::Msgauth& settings = s.config->msgauth;
  boost::system::error_code ec;
  const auto client_ip = asio::ip::make_address(w.envelope.client_ip, ec);
  if (ec) co_return std::nullopt;
  w.message = remove_own_auth_results(w.message, settings.authserv_id);
  auto task = check_inbound(*s.resolver, *s.psl, settings,
                            InboundMessage{client_ip, w.envelope.helo, w.envelope.sender, w.message}, w.now);
  InboundVerdict verdict = co_await std::move(task);
  auto record = record_dmarc_evaluation(s.dmarc_log, w.envelope.client_ip, verdict, w.now);
  co_await std::move(record);
  spdlog::info("{} smtp: message {}: {}{}", w.envelope.log, w.envelope.id, verdict.summary,
               verdict.action == config::AuthAction::kNone
                   ? std::string()
                   : " -> " + std::string(config::auth_action_name(verdict.action)));
  if (verdict.action == config::AuthAction::kReject) {
    co_return Rejection{verdict.code, verdict.status, verdict.text};
  }
  if (verdict.action == config::AuthAction::kQuarantine) w.mailbox = settings.junk_mailbox;
  w.auth_results = verdict.auth_results;
  w.verdict = std::move(verdict);
  co_return std::nullopt;
}

// The domain of the first recipient that forwards to a remote address (an alias of ours), "".
std::string forwarding_domain(const Envelope& envelope) {
  for (const auto& r : envelope.recipients) {
    if (r.remote.empty()) continue;
    const auto at = r.address.rfind('@');
    if (at != std::string::npos) return ascii::lower(std::string_view(r.address).substr(at + 1));
  }
  return "";
}

// Commits `entry` to the queue and wakes the runner.
asio::awaitable<Result<std::string>> enqueue(const Services& s, queue::NewEntry entry) {
  if (s.queue == nullptr) co_return make_error(Errc::kUnavailable, "no outbound queue");
  queue::Queue* q = s.queue;
  auto task = q->enqueue(std::move(entry));
  auto r = co_await std::move(task);
  if (r && s.queued) s.queued();
  co_return r;
}

// Stage 3: remote recipients, one queue entry, durable before anything is delivered locally.
asio::awaitable<std::optional<Error>> queue_remote(Work& w) {
  std::vector<queue::Recipient> remote;
  for (const auto& r : w.envelope.recipients) {
    for (const auto& address : r.remote) {
      bool seen = std::any_of(remote.begin(), remote.end(),
                              [&](const queue::Recipient& q) { return ascii::iequals(q.address, address); });
      if (!seen) remote.push_back({address, queue::RecipientState::kPending, "", 0, r.notify, r.orcpt});
    }
  }
  if (remote.empty()) co_return std::nullopt;
  const Services& s = w.services;
  std::string outgoing = w.auth_results + received_field(w.trace("")) + w.message;
  // Forwarded by an alias of ours: an ARC seal [RFC 8617] keeps what we checked verifiable for the
  // next hop (SPF will fail there, and DKIM when a list-like change was made on the way).
  if (w.verdict && s.signer != nullptr) {
    const std::string domain = forwarding_domain(w.envelope);
    if (!domain.empty()) {
      const msgauth::DkimSigner* signer = s.signer;
      const std::string* message = &outgoing;
      const InboundVerdict* verdict = &*w.verdict;
      const std::string authserv_id = s.config->msgauth.authserv_id;
      const int64_t now = w.now;
      auto task = run_blocking(*s.pool, [signer, domain, message, authserv_id, verdict, now]() {
        return arc_seal_forwarded(*signer, domain, *message, authserv_id, *verdict, now);
      });
      std::string seal = co_await std::move(task);
      outgoing.insert(0, seal);
    }
  }
  const std::size_t count = remote.size();
  auto task = enqueue(s, w.queue_entry(std::move(remote), std::move(outgoing)));
  Result<std::string> queued = co_await std::move(task);
  if (!queued) {
    spdlog::error("{} smtp: message {} could not be queued: {}", w.envelope.log, w.envelope.id, queued.error().message);
    co_return queued.error();
  }
  spdlog::info("{} smtp: message {} queued as {} for {} remote recipient(s)", w.envelope.log, w.envelope.id, *queued,
               count);
  co_return std::nullopt;
}

// Stage 4: local recipients, one delivery, one blob, one target per account however many
// recipients lead to it. The failure of each recipient: its first failing account.
asio::awaitable<std::vector<std::optional<Error>>> store_local(Work& w) {
  std::vector<store::AccountId> accounts;
  std::vector<std::string> account_rcpt;  // the recipient to name in "for <...>", "" when several
  for (const auto& r : w.envelope.recipients) {
    for (store::AccountId a : r.accounts) {
      auto it = std::find(accounts.begin(), accounts.end(), a);
      if (it == accounts.end()) {
        accounts.push_back(a);
        account_rcpt.push_back(r.address);
      } else {
        account_rcpt[std::size_t(it - accounts.begin())].clear();
      }
    }
  }
  std::vector<LocalTarget> targets;
  const std::string return_path = return_path_field(w.envelope.sender);
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    targets.push_back(LocalTarget{accounts[i], w.envelope.limits[accounts[i]],
                                  return_path + w.auth_results + received_field(w.trace(account_rcpt[i])), w.mailbox});
  }
  std::map<store::AccountId, Result<store::AppendResult>> delivered;
  if (!targets.empty()) {
    auto task = deliver_to_accounts(w.services.store, w.stored, std::move(targets));
    auto r = co_await std::move(task);
    delivered = std::move(r);
  }
  std::vector<std::optional<Error>> failed;
  for (const auto& r : w.envelope.recipients) {
    std::optional<Error> failure;
    for (store::AccountId a : r.accounts) {
      auto it = delivered.find(a);
      if (it == delivered.end()) {
        failure = make_error(Errc::kInternal, "not delivered");
      } else if (!it->second) {
        failure = it->second.error();
      }
      if (failure) break;
    }
    if (failure) {
      spdlog::info("{} smtp: message {} to {} failed: {}", w.envelope.log, w.envelope.id, r.address, failure->message);
    }
    failed.push_back(std::move(failure));
  }
  co_return failed;
}

// Stage 5a: "delivered" notices [RFC 3461 §5.2.2] for NOTIFY=SUCCESS recipients whose mailboxes
// now hold the message (all of them, for an alias to several accounts). Remote recipients get
// theirs from the queue runner ("relayed") or the next server. A notice that cannot be sent now is
// logged and dropped: the message itself was delivered.
asio::awaitable<void> notify_delivered(Work& w, const std::vector<std::optional<Error>>& failed) {
  const Envelope& env = w.envelope;
  queue::DsnInput dsn;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const Recipient& r = env.recipients[i];
    if (failed[i] || r.accounts.empty()) continue;
    if (!queue::wants_notice(env.sender, queue::notify_from_bits(r.notify), queue::Action::kDelivered)) continue;
    queue::DsnRecipient d;
    d.final_recipient = r.address;
    d.original_recipient = r.orcpt;
    d.action = queue::Action::kDelivered;
    d.status = "2.0.0";
    d.diagnostic = "250 2.0.0 delivered to the mailbox";
    d.last_attempt = queue::SysTime(std::chrono::seconds(w.now));
    dsn.recipients.push_back(std::move(d));
  }
  if (dsn.recipients.empty()) co_return;
  const Services& s = w.services;
  dsn.reporting_mta = s.config->hostname;
  dsn.to = env.sender;
  dsn.envelope_id = env.envid;
  dsn.arrival = queue::SysTime(std::chrono::seconds(w.now));
  dsn.now = std::chrono::system_clock::now();
  dsn.ret = queue::ret_from(env.ret);
  dsn.original = *w.stored;
  queue::Dsn built = queue::build_dsn(dsn);
  auto task = send_notice(s.directory, s.store, s.queue, env.sender, std::move(built.message), built.eight_bit,
                          env.id);
  const NoticeSent sent = co_await std::move(task);
  if (sent == NoticeSent::kQueued && s.queued) s.queued();
  if (sent == NoticeSent::kLater) {
    spdlog::warn("{} smtp: message {}: the delivered notice to {} was not sent", env.log, env.id, env.sender);
  }
}

// Stage 5b: some recipients have the message and others failed: the sender is owed a DSN for the
// failed ones (never a bounce: the null sender gets none [RFC 5321 §6.1]). Not on LMTP, whose
// client gets a reply per recipient [RFC 2033 §4.2] and reports failures itself.
asio::awaitable<void> owe_failure_notice(Work& w, const std::vector<std::optional<Error>>& failed) {
  const Envelope& env = w.envelope;
  const auto count = std::count_if(failed.begin(), failed.end(), [](const auto& f) { return f.has_value(); });
  if (count == 0 || std::size_t(count) == failed.size() || env.sender.empty() || env.origin == Origin::kLmtp) co_return;
  std::vector<queue::Recipient> failures;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    if (!failed[i]) continue;
    const proto::smtp::Reply r = proto::smtp::to_mail_reply(*failed[i]);
    failures.push_back({env.recipients[i].address, queue::RecipientState::kFailed,
                        std::to_string(r.code) + " " + std::string(r.status) + " " + std::string(r.text), 1,
                        env.recipients[i].notify, env.recipients[i].orcpt});
  }
  queue::NewEntry entry = w.queue_entry(std::move(failures), received_field(w.trace("")) + *w.stored);
  entry.bounce_needed = true;
  auto task = enqueue(w.services, std::move(entry));
  auto r = co_await std::move(task);
  if (r) {
    spdlog::info("{} smtp: message {}: DSN owed for {} recipient(s), entry {}", env.log, env.id, count, *r);
  } else {
    spdlog::error("{} smtp: message {}: could not record the DSN: {}", env.log, env.id, r.error().message);
  }
}

}  // namespace

Message::Message(std::string received) : bytes_(std::move(received)) {
  // Most messages already have CRLF throughout (DATA refuses bare LF): then nothing is copied.
  if (store::has_bare_lf(bytes_)) bytes_ = store::normalize_crlf(bytes_);
}

asio::awaitable<Outcome> accept(Services services, Envelope envelope, Message message) {
  Work w(services, std::move(envelope), std::move(message.bytes()));
  w.now = unix_now();
  Outcome out;
  if (w.envelope.origin == Origin::kSubmission) {
    auto task = prepare(w);
    co_await std::move(task);
  }
  if (w.envelope.origin == Origin::kMx) {
    auto task = authenticate(w);
    std::optional<Rejection> refused = co_await std::move(task);
    if (refused) {
      out.refused = std::move(refused);
      co_return out;
    }
  }
  {
    auto task = queue_remote(w);
    std::optional<Error> not_queued = co_await std::move(task);
    if (not_queued) {
      out.not_queued = std::move(not_queued);
      co_return out;
    }
  }
  w.stored = std::make_shared<const std::string>(std::move(w.message));
  {
    auto task = store_local(w);
    auto failed = co_await std::move(task);
    out.failed = std::move(failed);
  }
  {
    auto task = notify_delivered(w, out.failed);
    co_await std::move(task);
  }
  {
    auto task = owe_failure_notice(w, out.failed);
    co_await std::move(task);
  }
  co_return out;
}

}  // namespace posthorn::delivery
