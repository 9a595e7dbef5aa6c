// DeliveryAgent: delivers one job (one message, the recipients of one destination domain) to the
// remote MX hosts, or through the configured smarthost, and says per recipient what happened. A queue
// runner is a thin loop over it: `auto outcome = co_await agent.deliver(job);` then store outcomes,
// schedule retries (queue/retry.hpp) and build bounces (queue/dsn.hpp).
//
// Routing [RFC 5321 §5]: MX records in preference order, shuffled among equal preferences; no MX ->
// the domain's own A/AAAA (implicit MX); a null MX [RFC 7505] -> permanent failure 5.1.10; NXDOMAIN
// -> permanent 5.1.2; a temporary DNS failure -> temporary 4.4.3. Per host: AAAA then A addresses
// (IPv6 first when enabled), connect, EHLO, opportunistic STARTTLS (no certificate checks, RFC 7435;
// in the clear only when STARTTLS is not offered; a failed handshake moves on to the next host, or
// retries the same address in the clear when tls_fallback_plaintext is set), then the transaction.
// Connection-level failures (refused, timeout, 4xx/5xx greeting or EHLO) move on to the next
// address/host; replies within the transaction (MAIL, RCPT, DATA) are final for this attempt.
//
// Local refusals before MAIL: a message larger than the server's SIZE (5.3.4), and one that needs
// SMTPUTF8 from a server without it (5.6.7; no downgrade). An 8-bit body goes to a server without
// 8BITMIME as it is, without BODY=8BITMIME (no conversion to quoted-printable yet).
//
// Connections are reused: after a transaction the client goes into a small per-destination pool
// (at most max_messages_per_connection messages each, closed after connection_idle). At most
// max_connections_per_destination deliveries run at once per destination, max_connections in all;
// further jobs wait their turn.
//
// Depends on dns/ (Resolver), smtpc/client.hpp, config/. Thread-safe: deliver() may run concurrently
// from many coroutines on any threads of the executor.
#pragma once

#include <atomic>
#include <filesystem>
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "dns/resolver.hpp"
#include "queue/tls_report.hpp"
#include "smtpc/client.hpp"

namespace posthorn::smtpc {

struct DeliveryJob {
  std::string domain;                 // the recipients' domain (ignored with a smarthost except for pooling)
  MailParams mail;                    // sender, SIZE, BODY, SMTPUTF8, RET, ENVID
  std::vector<Recipient> recipients;  // all of `domain`
  MessageOpener message;
};

enum class Disposition { kDelivered, kTemporary, kPermanent };
std::string_view disposition_name(Disposition d);

struct RecipientOutcome {
  std::string address;
  Disposition disposition = Disposition::kTemporary;
  uint16_t code = 0;       // the remote reply code; 0 for a local decision (DNS, connect, policy)
  std::string status;      // enhanced status code ("5.1.1", "4.4.1")
  std::string text;        // the remote reply or the local reason ("550 5.1.1 no such user")
  std::string mx_host;     // the host that answered (Remote-MTA), empty when none did
  // The receiving server offered DSN [RFC 3461], so NOTIFY and ORCPT went along with the recipient
  // and success notices are now its job; without it, a NOTIFY=SUCCESS recipient that was delivered
  // gets a "relayed" notice from us (RFC 3461 §5.2.2).
  bool remote_dsn = false;
};

struct DeliveryOutcome {
  std::vector<RecipientOutcome> recipients;  // in job order
  std::string mx_host;                       // the host of the final attempt, if one was reached
  std::string remote_ip;
  bool tls = false;
  bool reused_connection = false;
  // TLS-RPT [RFC 8460]: the TLS sessions (and policy failures) of hosts under a DANE or MTA-STS
  // policy, for the queue runner to record. Hosts without a policy are not listed.
  std::vector<queue::TlsSession> tls_sessions;
};

struct AgentStats {
  uint64_t connections_opened = 0;
  uint64_t connections_reused = 0;
  uint64_t messages_sent = 0;
};

class DeliveryAgent {
 public:
  // `ehlo_name` defaults to settings.hostname. Errc::kInvalid when a CA file cannot be loaded.
  // MTA-STS policies are cached under `data_dir`/mta-sts (memory only when data_dir is empty).
  static Result<std::shared_ptr<DeliveryAgent>> create(boost::asio::any_io_executor executor,
                                                       std::shared_ptr<dns::Resolver> resolver,
                                                       const config::Delivery& settings,
                                                       const std::filesystem::path& data_dir = {});
  ~DeliveryAgent();

  boost::asio::awaitable<DeliveryOutcome> deliver(DeliveryJob job);
  // Says goodbye (QUIT) to every pooled connection: at shutdown.
  boost::asio::awaitable<void> close_idle();
  AgentStats stats() const;

  struct Impl;

 private:
  explicit DeliveryAgent(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace posthorn::smtpc
