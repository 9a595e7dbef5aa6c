#include "net/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.hpp"

namespace posthorn::net {

namespace asio = boost::asio;
using asio::ip::tcp;

// ---- ConnectionLimiter ----

ConnectionLimiter::ConnectionLimiter(uint32_t max_total, uint32_t max_per_ip)
    : max_total_(max_total), max_per_ip_(max_per_ip) {}

ConnectionLimiter::Permit::Permit(std::shared_ptr<ConnectionLimiter> owner, std::string ip)
    : owner_(std::move(owner)), ip_(std::move(ip)) {}

ConnectionLimiter::Permit::~Permit() {
  if (owner_) owner_->release(ip_, queue_ticket_);
}

void ConnectionLimiter::Permit::make_evictable(std::weak_ptr<void> handle, Interrupt interrupt) {
  if (owner_ && queue_ticket_ == 0) queue_ticket_ = owner_->enqueue(std::move(handle), interrupt);
}

void ConnectionLimiter::Permit::exempt() {
  if (owner_ && queue_ticket_ != 0) owner_->dequeue(queue_ticket_);
  queue_ticket_ = 0;
}

ConnectionLimiter::Permit ConnectionLimiter::try_acquire(const std::string& ip) {
  InLine victim;
  std::shared_ptr<void> victim_handle;
  {
    std::lock_guard lock(mutex_);
    auto& n = per_ip_[ip];
    if (n >= max_per_ip_) {
      if (n == 0) per_ip_.erase(ip);
      return {};
    }
    if (total_ >= max_total_) {
      // The oldest connection still in line that is alive gives way; entries of finished ones go.
      while (!in_line_.empty() && !victim_handle) {
        victim = in_line_.begin()->second;
        in_line_.erase(in_line_.begin());
        victim_handle = victim.handle.lock();
      }
      if (!victim_handle) {
        if (n == 0) per_ip_.erase(ip);
        return {};
      }
      ++evictions_;
    }
    ++n;
    ++total_;
  }
  if (victim_handle) {
    spdlog::info("connection limit reached: the oldest connection not logged in is evicted for one from {}", ip);
    victim.interrupt(victim_handle);
  }
  return Permit(shared_from_this(), ip);
}

uint64_t ConnectionLimiter::enqueue(std::weak_ptr<void> handle, Interrupt interrupt) {
  std::lock_guard lock(mutex_);
  const uint64_t ticket = next_ticket_++;
  in_line_.emplace(ticket, InLine{std::move(handle), interrupt});
  return ticket;
}

void ConnectionLimiter::dequeue(uint64_t ticket) {
  std::lock_guard lock(mutex_);
  in_line_.erase(ticket);
}

void ConnectionLimiter::release(const std::string& ip, uint64_t ticket) {
  std::lock_guard lock(mutex_);
  --total_;
  if (ticket != 0) in_line_.erase(ticket);
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

uint64_t ConnectionLimiter::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

size_t ConnectionLimiter::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

void ConnectionLimiter::set_limits(uint32_t max_total, uint32_t max_per_ip) {
  std::lock_guard lock(mutex_);
  max_total_ = max_total;
  max_per_ip_ = max_per_ip;
}

// ---- Listener ----

Result<std::unique_ptr<Listener>> Listener::bind(asio::io_context& io, Options options) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.config.address, ec);
  const std::string where = fmt::format("listener {} ({}:{})", options.config.name, options.config.address,
                                        options.config.port);
  if (ec) return make_error(Errc::kInvalid, where + ": not an IP address");
  tcp::endpoint endpoint(address, options.config.port);
  tcp::acceptor acceptor(asio::make_strand(io));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && address.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::kUnavailable, fmt::format("{}: cannot listen: {}", where, ec.message()));
  if (options.config.tls == config::TlsMode::kImplicit && !options.tls) {
    return make_error(Errc::kInvalid, where + ": implicit TLS needs a certificate");
  }
  return std::unique_ptr<Listener>(new Listener(io, std::move(options), std::move(acceptor)));
}

Listener::Listener(asio::io_context& io, Options options, tcp::acceptor acceptor)
    : io_(io), options_(std::move(options)), acceptor_(std::move(acceptor)) {}

uint16_t Listener::port() const {
  boost::system::error_code ec;
  auto ep = acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Listener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(this), asio::detached);
}

void Listener::stop() {
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
}

asio::awaitable<void> Listener::accept_loop(Listener* self) {
  spdlog::info("listening on {}:{} ({} {}, tls {})", self->options_.config.address, self->port(),
               self->options_.config.name, proto_name(self->options_.config.protocol),
               config::tls_mode_name(self->options_.config.tls));
  for (;;) {
    auto [ec, socket] = co_await self->acceptor_.async_accept(asio::make_strand(self->io_),
                                                              asio::as_tuple(asio::use_awaitable));
    if (!self->acceptor_.is_open() || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of descriptors and the like: back off briefly instead of spinning.
      spdlog::warn("listener {}: accept failed: {}", self->options_.config.name, ec.message());
      asio::steady_timer timer(self->acceptor_.get_executor(), std::chrono::milliseconds(100));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_one(std::move(socket), self), asio::detached);
  }
  spdlog::info("listener {} stopped", self->options_.config.name);
}

asio::awaitable<void> Listener::serve_one(tcp::socket socket, Listener* self) {
  const auto& cfg = self->options_.config;
  ConnectionInfo info;
  info.id = log::next_connection_id();
  info.protocol = cfg.protocol;
  info.listener = cfg.name;
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;  // the peer left already
  auto address = remote.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  info.remote_ip = address.to_string();
  info.remote_port = remote.port();
  info.local_port = cfg.port;
  info.loopback = address.is_loopback();
  socket.set_option(tcp::no_delay(true), ec);

  auto permit = self->options_.limiter->try_acquire(info.remote_ip);
  const bool over_limit = !permit;
  auto& metrics = Metrics::global();
  if (over_limit) {
    metrics.connection_rejected(cfg.protocol);
  } else {
    metrics.connection_opened(cfg.protocol);
  }
  spdlog::info("conn={} connect listener={} proto={} remote={}:{}{}", info.id, cfg.name, proto_name(cfg.protocol),
               info.remote_ip, info.remote_port, over_limit ? " over-limit" : "");
  const std::string id = info.id;
  Connection conn(std::move(socket), std::move(info));
  if (self->options_.registry) conn.attach(self->options_.registry);
  if (permit) {
    // Until the session logs in (or starts an SMTP transaction) this connection may be evicted at
    // the global cap. `permit` outlives the session: it is awaited below.
    permit.make_evictable(conn.handle(), &Connection::evict);
    conn.on_exempt([&permit] { permit.exempt(); });
  }

  bool run = true;
  if (cfg.tls == config::TlsMode::kImplicit) {
    run = co_await conn.start_tls(*self->options_.tls, self->options_.tls_handshake_timeout);
  }
  if (run) {
    try {
      // The awaitable is a named local: g++ 12 mishandles temporaries inside a co_await expression.
      auto session = self->options_.handler(Accepted{std::move(conn), over_limit});
      co_await std::move(session);
    } catch (const std::exception& e) {
      // A bug in a session: log it, drop this connection, leave every other one alone.
      spdlog::error("conn={} session failed: {}", id, e.what());
    }
  }
  if (!over_limit) metrics.connection_closed(cfg.protocol);
}

}  // namespace posthorn::net
