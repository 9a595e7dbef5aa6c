// Local delivery, shared by the SMTP session (accepted mail, success notices) and the queue runner
// (DSNs), so a message reaches a mailbox one way only: the account's quota from the Directory,
// one store::Delivery (one blob) for all target accounts, each with its own trace prefix
// (Return-Path, Received) stored as the delivery prefix, never by rewriting the message.
// Depends on auth/ (Directory), store/ (MailStore), queue/ (Queue), all awaited directly. Thread-safe
// (stateless).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "auth/directory.hpp"
#include "base/result.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"

namespace posthorn::delivery {

struct LocalTarget {
  store::AccountId account = 0;
  store::Limits limits;
  std::string prefix;  // the trace fields for this account, CRLF
  std::string mailbox = "INBOX";  // the Junk mailbox for quarantined mail (INBOX when missing)
};

// The account's quota, read from the directory.
boost::asio::awaitable<Result<store::Limits>> account_limits(auth::Directory* directory, store::AccountId account);

// Stores `message` once for every target; the result per account (an account missing from the
// store's answer is an internal failure).
boost::asio::awaitable<std::map<store::AccountId, Result<store::AppendResult>>> deliver_to_accounts(
    store::MailStore* store, std::shared_ptr<const std::string> message, std::vector<LocalTarget> targets);

// A message this server generated (a DSN) for `address` in one of our domains: resolves it like
// RCPT does (aliases, sub-addresses, catch-all), delivers to its accounts with `prefix` and returns
// the remote targets of its aliases, which the caller queues. kNotFound when nothing matches; the
// first failed account's error when a delivery failed.
boost::asio::awaitable<Result<std::vector<std::string>>> deliver_generated(auth::Directory* directory,
                                                                           store::MailStore* store,
                                                                           std::string address, std::string message,
                                                                           std::string prefix);

enum class NoticeSent {
  kLater,   // not sent now (a store or queue error, logged): the caller tries again later
  kDone,    // stored in the sender's mailbox, or dropped because no local mailbox takes it (logged)
  kQueued,  // (also) queued for remote delivery: wake the queue runner
};

// Sends a notice this server generated (a DSN, from the null sender) to `to`: stored at once when
// `to` is in one of our domains (the remote targets of its aliases are queued), queued otherwise.
// `log_id` names the message in logs. `sender` (a DMARC report's address) replaces the null sender:
// the Return-Path of a stored copy and the queue entry's sender, which is then not a bounce.
boost::asio::awaitable<NoticeSent> send_notice(auth::Directory* directory, store::MailStore* store,
                                               queue::Queue* queue, std::string to,
                                               std::string message, bool eight_bit, std::string log_id,
                                               std::string sender = "");

}  // namespace posthorn::delivery
