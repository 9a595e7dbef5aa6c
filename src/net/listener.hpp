// Listener: one bound acceptor (address, port, protocol, TLS mode) that applies the connection
// limits, does the implicit-TLS handshake and spawns one session coroutine per connection on its own
// strand. ConnectionLimiter: global and per-IP caps with RAII permits; at the global cap a new
// connection takes the place of the oldest one that has not logged in yet. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/result.hpp"
#include "config/config.hpp"
#include "net/connection.hpp"
#include "net/tls_context.hpp"

namespace posthorn::net {

class ConnectionLimiter : public std::enable_shared_from_this<ConnectionLimiter> {
 public:
  ConnectionLimiter(uint32_t max_total, uint32_t max_per_ip);

  // A way to end a connection's waiting read, as a graceful shutdown does (Connection::handle and
  // Connection::interrupt): the session then says its goodbye and closes.
  using Interrupt = void (*)(const std::shared_ptr<void>&);

  // Holding a Permit counts one connection; destroying it releases the slot.
  class Permit {
   public:
    Permit() = default;
    Permit(std::shared_ptr<ConnectionLimiter> owner, std::string ip);
    Permit(Permit&&) noexcept = default;
    Permit& operator=(Permit&&) noexcept = default;
    ~Permit();
    explicit operator bool() const { return owner_ != nullptr; }

    // Puts the connection in line for eviction: when the global cap is reached, the oldest
    // connection in line is interrupted to make room for a new one.
    void make_evictable(std::weak_ptr<void> handle, Interrupt interrupt);
    // Takes it out of line for good (after a login, or once an SMTP transaction starts).
    void exempt();

   private:
    std::shared_ptr<ConnectionLimiter> owner_;
    std::string ip_;
    uint64_t queue_ticket_ = 0;  // 0: not in line
  };

  // An empty Permit when over a limit. At the global cap the oldest evictable connection is
  // interrupted and the new one is let in (Dovecot's login processes do the same when their
  // client_limit is full): idle or half-sent connections that never log in cannot lock real users
  // out, while the per-IP cap stays strict. Until the interrupted session has closed, the count is
  // one over the cap.
  Permit try_acquire(const std::string& ip);
  size_t total() const;
  uint64_t evictions() const;
  void set_limits(uint32_t max_total, uint32_t max_per_ip);

 private:
  struct InLine {
    std::weak_ptr<void> handle;
    Interrupt interrupt = nullptr;
  };
  void release(const std::string& ip, uint64_t ticket);
  uint64_t enqueue(std::weak_ptr<void> handle, Interrupt interrupt);
  void dequeue(uint64_t ticket);
  mutable std::mutex mutex_;
  uint32_t max_total_;
  uint32_t max_per_ip_;
  size_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_ip_;
  std::map<uint64_t, InLine> in_line_;  // evictable connections by ticket: the oldest first
  uint64_t next_ticket_ = 1;
  uint64_t evictions_ = 0;
};

// What a session gets: the connection (TLS already up for implicit-TLS listeners) and whether the
// connection limits let it in. A session that is over the limit sends its protocol's "too many
// connections" reply and returns.
struct Accepted {
  Connection connection;
  bool over_limit = false;
};
using SessionHandler = std::function<boost::asio::awaitable<void>(Accepted)>;

class Listener {
 public:
  struct Options {
    config::Listener config;
    std::shared_ptr<ConnectionLimiter> limiter;
    std::shared_ptr<TlsContext> tls;                // required for implicit TLS
    std::shared_ptr<ConnectionRegistry> registry;   // graceful shutdown
    std::chrono::seconds tls_handshake_timeout{30};
    SessionHandler handler;
  };

  // Binds and listens (SO_REUSEADDR; IPv6 sockets are v6-only). Errc::kUnavailable naming the
  // address when the bind fails.
  static Result<std::unique_ptr<Listener>> bind(boost::asio::io_context& io, Options options);

  // Starts accepting (spawns the accept loop on the io_context).
  void start();
  // Stops accepting; established sessions carry on.
  void stop();
  uint16_t port() const;
  const config::Listener& config() const { return options_.config; }

 private:
  Listener(boost::asio::io_context& io, Options options, boost::asio::ip::tcp::acceptor acceptor);
  static boost::asio::awaitable<void> accept_loop(Listener* self);
  static boost::asio::awaitable<void> serve_one(boost::asio::ip::tcp::socket socket, Listener* self);

  boost::asio::io_context& io_;
  Options options_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace posthorn::net
