// The POP3 session: one connection's protocol state machine, on its own strand. Talks to the network
// only through net::Connection and to accounts only through auth::Authenticator,
// and to mail only through store::MailStore.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "auth/authenticator.hpp"
#include "config/config.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"
#include "net/tls_context.hpp"
#include "store/maildrop_lock.hpp"
#include "store/store.hpp"

namespace posthorn::server::pop3 {

// What a POP3 session may use; nothing else (no god context).
struct Pop3Context {
  std::shared_ptr<const config::Config> config;  // snapshot taken when the connection was accepted
  config::Listener listener;                     // the listener this connection came in on
  auth::Authenticator* auth = nullptr;           // outlives every session
  std::shared_ptr<net::TlsContext> tls;          // certificates for STARTTLS
  store::MailStore* store = nullptr;             // the mail store; outlives every session
  store::MaildropLocks* locks = nullptr;         // one POP3 session per maildrop (on every node); outlives every session
};

// Runs the session until the client leaves, a limit or timeout ends it, or the server stops.
// Never throws for network trouble; exceptions mean bugs and are caught by the caller.
boost::asio::awaitable<void> run_session(net::Accepted accepted, Pop3Context ctx);

}  // namespace posthorn::server::pop3
