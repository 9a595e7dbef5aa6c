// The SMTP session: one connection's protocol state machine, on its own strand. Talks to the network
// only through net::Connection, to accounts only through auth::Authenticator (and its Directory, on
// the blocking pool), to local mail only through store::MailStore and to remote mail only through
// queue::Queue.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>

#include "auth/authenticator.hpp"
#include "base/spool.hpp"
#include "config/config.hpp"
#include "dns/resolver.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dmarc_report.hpp"
#include "msgauth/psl.hpp"
#include "base/blocking_pool.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"
#include "net/tls_context.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"

namespace posthorn::server::smtp {

// What a SMTP session may use; nothing else (no god context).
struct SmtpContext {
  std::shared_ptr<const config::Config> config;  // snapshot taken when the connection was accepted
  config::Listener listener;                     // the listener this connection came in on
  auth::Authenticator* auth = nullptr;           // outlives every session
  std::shared_ptr<net::TlsContext> tls;          // certificates for STARTTLS
  store::MailStore* store = nullptr;             // the mail store; outlives every session
  BlockingPool* pool = nullptr;             // for Directory and Queue calls; outlives every session
  queue::Queue* queue = nullptr;                 // outbound queue; nullptr: remote recipients get 451
  std::function<void()> queued = {};             // called after an entry is committed (wakes the queue runner)
  // Mail authentication (config [msgauth]): checks on the MX listener need the resolver and the
  // public suffix list, signing of submitted mail the DKIM keys. nullptr: that part is off.
  std::shared_ptr<dns::Resolver> resolver = nullptr;
  std::shared_ptr<const msgauth::PublicSuffixList> psl = nullptr;
  std::shared_ptr<const msgauth::DkimSigner> signer = nullptr;
  msgauth::DmarcReportLog* dmarc_log = nullptr;  // counts DMARC evaluations for reports; nullptr: off
  // RAM for message data in flight, shared by every session (base/spool.hpp); nullptr: no global cap.
  MemoryBudget* message_memory = nullptr;
};

// Runs the session until the client leaves, a limit or timeout ends it, or the server stops.
// Never throws for network trouble; exceptions mean bugs and are caught by the caller.
boost::asio::awaitable<void> run_session(net::Accepted accepted, SmtpContext ctx);

}  // namespace posthorn::server::smtp
