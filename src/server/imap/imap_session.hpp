// The IMAP session: one connection's protocol state machine, on its own strand. Talks to the network
// only through net::Connection and to accounts only through auth::Authenticator,
// and to mail only through store::MailStore.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "auth/authenticator.hpp"
#include "base/spool.hpp"
#include "config/config.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"
#include "net/tls_context.hpp"
#include "server/imap/mailbox_keywords.hpp"
#include "store/store.hpp"

namespace posthorn::server::imap {

// What a IMAP session may use; nothing else (no god context).
struct ImapContext {
  std::shared_ptr<const config::Config> config;  // snapshot taken when the connection was accepted
  config::Listener listener;                     // the listener this connection came in on
  auth::Authenticator* auth = nullptr;           // outlives every session
  std::shared_ptr<net::TlsContext> tls;          // certificates for STARTTLS
  store::MailStore* store = nullptr;             // the mail store; outlives every session
  // RAM for APPEND literals in flight, shared by every session (base/spool.hpp); nullptr: no cap.
  MemoryBudget* message_memory = nullptr;
  // Keywords defined per mailbox, shared by every session (mailbox_keywords.hpp); nullptr: FLAGS
  // lists only the keywords on messages.
  MailboxKeywords* keywords = nullptr;
};

// Runs the session until the client leaves, a limit or timeout ends it, or the server stops.
// Never throws for network trouble; exceptions mean bugs and are caught by the caller.
boost::asio::awaitable<void> run_session(net::Accepted accepted, ImapContext ctx);

}  // namespace posthorn::server::imap
