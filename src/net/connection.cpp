// Connection implementation: a TCP socket with an optional asio::ssl::stream layered on it after
// STARTTLS or for implicit TLS, and optional DEFLATE compression above that (after IMAP COMPRESS). Timeouts are a watchdog timer that cancels the pending operation but
// leaves the socket open, so the session can still say goodbye ("* BYE Autologout", "421 4.4.2").
// Against slow senders (slowloris) each wire read is armed with the nearest of three limits: the
// idle timeout, the deadline of the line being read (its timeout from its first byte), and the
// deadline of a Transfer in progress (grace + bytes received / minimum rate) [issue 28 item 4].
#include "net/connection.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <optional>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/log.hpp"
#include "net/compression.hpp"
#include "net/tls_context.hpp"

namespace posthorn::net {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;

namespace {
// Bytes taken from the socket (or inflated) per read.
constexpr size_t kReadChunk = 16384;
using Clock = std::chrono::steady_clock;
}  // namespace

struct Connection::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::ip::tcp::socket socket, ConnectionInfo i)
      : tcp(std::move(socket)),
        watchdog(tcp.get_executor()),
        info(std::move(i)),
        started(std::chrono::steady_clock::now()) {}

  // Arms the watchdog for the next operation: on expiry it cancels that operation only.
  void arm(Clock::duration timeout) {
    const uint64_t generation = ++op_generation;
    timed_out = false;
    watchdog.expires_after(timeout);
    watchdog.async_wait([weak = weak_from_this(), generation](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->op_generation != generation) return;
      self->timed_out = true;
      boost::system::error_code ignored;
      self->tcp.cancel(ignored);
    });
  }
  void disarm() {
    ++op_generation;
    watchdog.cancel();
  }

  ~Impl() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    spdlog::info("conn={} disconnect in={} out={} duration_ms={}", info.id, bytes_in, bytes_out, ms.count());
  }

  // Reads whatever is available into `buf` (TLS or plain).
  asio::awaitable<std::pair<boost::system::error_code, size_t>> read_some(asio::mutable_buffer buf) {
    if (tls) {
      auto [ec, n] = co_await tls->async_read_some(buf, as_tuple(use_awaitable));
      co_return std::pair{ec, n};
    }
    auto [ec, n] = co_await tcp.async_read_some(buf, as_tuple(use_awaitable));
    co_return std::pair{ec, n};
  }

  // Reads what the peer sent (at most kReadChunk bytes) and appends it to `sink`. On plain TCP it first
  // waits for the socket to become readable and then makes only as much room as has arrived, so a
  // connection waiting for its next command holds no read buffer, and a short command costs a short
  // buffer (an idle IMAP session stays a few kilobytes). A TLS stream may already hold decrypted
  // bytes the socket cannot announce, so there a whole chunk of room is made first.
  asio::awaitable<ReadStatus> read_wire(Clock::duration timeout, bool interruptible, std::string& sink) {
    arm(timeout);
    waiting_interruptible = interruptible;
    boost::system::error_code ec;
    size_t room = kReadChunk;
    if (!tls) {
      auto [wait_ec] = co_await tcp.async_wait(asio::socket_base::wait_read, as_tuple(use_awaitable));
      ec = wait_ec;
      boost::system::error_code ignored;
      const size_t arrived = ec ? 0 : tcp.available(ignored);
      room = std::clamp<size_t>(arrived, 1, kReadChunk);  // 0: EOF or an error, which the read reports
    }
    size_t n = 0;
    if (!ec) {
      const size_t old = sink.size();
      sink.resize(old + room);
      auto [read_ec, got] = co_await read_some(asio::buffer(sink.data() + old, room));
      sink.resize(old + got);
      ec = read_ec;
      n = got;
    }
    waiting_interruptible = false;
    disarm();
    if (ec) {
      if (interrupted && interruptible) co_return evicted ? ReadStatus::kEvicted : ReadStatus::kShutdown;
      if (timed_out) co_return ReadStatus::kTimeout;
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
          ec == asio::error::connection_reset) {
        co_return ReadStatus::kEof;
      }
      co_return ReadStatus::kError;
    }
    bytes_in += n;
    co_return ReadStatus::kOk;
  }

  // How long the next wire read may wait: the idle `timeout`, cut short by `line_deadline` (when
  // set) and by the Transfer in progress. Zero or less: a deadline has passed (logged once here).
  Clock::duration wait_limit(std::chrono::seconds timeout, std::optional<Clock::time_point> line_deadline) const {
    const auto now = Clock::now();
    Clock::duration limit = timeout;
    if (line_deadline && *line_deadline - now < limit) {
      limit = *line_deadline - now;
      if (limit <= Clock::duration::zero()) {
        spdlog::info("conn={} read deadline: line not complete within {}s of its first byte", info.id,
                     timeout.count());
      }
    }
    if (transfer_rate > 0) {
      // grace + received / rate, in microseconds so slow rates keep their precision.
      const auto earned = std::chrono::microseconds((bytes_in - transfer_bytes) * 1'000'000 / transfer_rate);
      const auto deadline = transfer_start + transfer_grace + earned;
      if (deadline - now < limit) {
        limit = deadline - now;
        if (limit <= Clock::duration::zero()) {
          spdlog::info("conn={} read deadline: {} bytes in {}s is below the minimum rate of {} bytes/s", info.id,
                       bytes_in - transfer_bytes,
                       std::chrono::duration_cast<std::chrono::seconds>(now - transfer_start).count(),
                       transfer_rate);
        }
      }
    }
    return limit;
  }

  // Fills the input buffer with at least one more byte. Returns the status for the caller.
  asio::awaitable<ReadStatus> fill(std::chrono::seconds timeout, bool interruptible,
                                   std::optional<Clock::time_point> line_deadline = std::nullopt) {
    if (interruptible && interrupted) co_return evicted ? ReadStatus::kEvicted : ReadStatus::kShutdown;
    if (interruptible && registry && registry->stopping()) co_return ReadStatus::kShutdown;
    if (start > 0 && start == input.size()) {
      // Everything was consumed: free the buffer rather than keep its capacity while waiting.
      std::string().swap(input);
      start = 0;
    } else if (start > 4096 && start * 2 > input.size()) {
      input.erase(0, start);
      start = 0;
    }
    if (!compression) {
      const auto limit = wait_limit(timeout, line_deadline);
      if (limit <= Clock::duration::zero()) co_return ReadStatus::kTimeout;
      auto status = co_await read_wire(limit, interruptible, input);
      co_return status;
    }
    // Compressed: inflate at most one chunk per call, so the caller's limit checks run between
    // chunks and a decompression bomb stops at the line or literal limit.
    for (;;) {
      switch (compression->inflate_some(input, kReadChunk)) {
        case Compression::Inflated::kData: co_return ReadStatus::kOk;
        case Compression::Inflated::kError:
          spdlog::info("conn={} invalid compressed input", info.id);
          co_return ReadStatus::kError;
        case Compression::Inflated::kNeedInput: break;
      }
      std::string wire;
      const auto limit = wait_limit(timeout, line_deadline);
      if (limit <= Clock::duration::zero()) co_return ReadStatus::kTimeout;
      auto status = co_await read_wire(limit, interruptible, wire);
      if (status != ReadStatus::kOk) co_return status;
      compression->add_input(wire);
    }
  }

  asio::ip::tcp::socket tcp;
  asio::steady_timer watchdog;
  uint64_t op_generation = 0;
  bool timed_out = false;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls;
  std::shared_ptr<TlsSet> tls_set;  // keeps the certificates of this connection alive
  std::shared_ptr<asio::ssl::context> client_ctx;  // outbound connections: the client context
  std::unique_ptr<Compression> compression;        // after COMPRESS DEFLATE
  ConnectionInfo info;
  std::string input;   // received bytes; [start, size) not consumed yet
  size_t start = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  bool waiting_interruptible = false;
  bool interrupted = false;
  bool evicted = false;  // the interrupt was an eviction (set before `interrupted`)
  std::shared_ptr<ConnectionRegistry> registry;
  std::function<void()> exempt_hook;  // takes the connection out of the eviction line (listener.hpp)
  std::chrono::steady_clock::time_point started;
  // The Transfer in progress (transfer_rate > 0): its start, grace and bytes_in when it began.
  uint64_t transfer_rate = 0;
  Clock::time_point transfer_start;
  Clock::duration transfer_grace{};
  uint64_t transfer_bytes = 0;
};

Connection::Connection(asio::ip::tcp::socket socket, ConnectionInfo info)
    : impl_(std::make_shared<Impl>(std::move(socket), std::move(info))) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

const ConnectionInfo& Connection::info() const { return impl_->info; }
bool Connection::is_tls() const { return impl_->tls != nullptr; }
size_t Connection::buffered() const { return impl_->input.size() - impl_->start; }
uint64_t Connection::bytes_in() const { return impl_->bytes_in; }
uint64_t Connection::bytes_out() const { return impl_->bytes_out; }

void Connection::discard_input() {
  impl_->input.clear();
  impl_->start = 0;
}

asio::awaitable<ReadStatus> Connection::skip_line(size_t max, std::chrono::seconds timeout) {
  Impl& s = *impl_;
  size_t skipped = 0;
  for (;;) {
    const size_t pos = s.input.find('\n', s.start);
    if (pos != std::string::npos) {
      s.start = pos + 1;
      co_return ReadStatus::kOk;
    }
    skipped += s.input.size() - s.start;
    s.start = s.input.size();  // fill() frees the consumed bytes
    if (skipped > max) co_return ReadStatus::kTooLong;
    auto status = co_await s.fill(timeout, false);
    if (status != ReadStatus::kOk) co_return status;
  }
}

asio::awaitable<ReadResult> Connection::read_line(ReadOptions options) {
  Impl& s = *impl_;
  // Nothing is consumed; the caller sees the start of the line.
  auto too_long = [](const Impl& in, size_t max) {
    const size_t n = std::min({max, kTooLongPrefix, in.input.size() - in.start});
    return ReadResult{ReadStatus::kTooLong, in.input.substr(in.start, n), false};
  };
  size_t scanned = s.start;
  std::optional<Clock::time_point> deadline;  // set once the line has its first byte
  for (;;) {
    size_t pos = s.input.find('\n', scanned);
    if (pos != std::string::npos) {
      size_t end = pos;
      bool bare_lf = true;
      if (end > s.start && s.input[end - 1] == '\r') {
        --end;
        bare_lf = false;
      }
      if (end - s.start > options.max) co_return too_long(s, options.max);
      ReadResult r{ReadStatus::kOk, s.input.substr(s.start, end - s.start), bare_lf};
      s.start = pos + 1;
      co_return r;
    }
    // +1: a CR may be waiting for its LF.
    if (s.input.size() - s.start > options.max + 1) co_return too_long(s, options.max);
    scanned = s.input.size();
    size_t before = s.start;
    if (!deadline && s.input.size() > s.start) deadline = Clock::now() + options.timeout;
    auto status = co_await s.fill(options.timeout, options.interruptible, deadline);
    if (status != ReadStatus::kOk) co_return ReadResult{status, {}, false};
    scanned -= before - s.start;  // fill() may have compacted the buffer
  }
}

asio::awaitable<ReadStatus> Connection::wait_input(std::chrono::seconds timeout) {
  Impl& s = *impl_;
  if (s.input.size() > s.start) co_return ReadStatus::kOk;
  auto status = co_await s.fill(timeout, false);
  co_return status;
}

std::string_view Connection::input() const {
  const Impl& s = *impl_;
  return std::string_view(s.input).substr(s.start);
}

void Connection::consume(size_t n) {
  Impl& s = *impl_;
  s.start += std::min(n, s.input.size() - s.start);
}

asio::awaitable<ReadResult> Connection::read_exact(size_t n, std::chrono::seconds timeout) {
  Impl& s = *impl_;
  while (s.input.size() - s.start < n) {
    auto status = co_await s.fill(timeout, false);
    if (status != ReadStatus::kOk) co_return ReadResult{status, {}, false};
  }
  ReadResult r{ReadStatus::kOk, s.input.substr(s.start, n), false};
  s.start += n;
  co_return r;
}

Connection::Transfer Connection::transfer(std::chrono::seconds grace, uint64_t min_rate) {
  Impl& s = *impl_;
  s.transfer_rate = min_rate;
  s.transfer_start = Clock::now();
  s.transfer_grace = grace;
  s.transfer_bytes = s.bytes_in;
  return Transfer(impl_);
}

Connection::Transfer::~Transfer() {
  if (impl_) impl_->transfer_rate = 0;
}

asio::awaitable<bool> Connection::write(std::string_view data, std::chrono::seconds timeout) {
  Impl& s = *impl_;
  std::string deflated;
  if (s.compression) {
    if (!s.compression->deflate(data, deflated)) co_return false;
    data = deflated;
  }
  s.arm(timeout);
  boost::system::error_code ec;
  if (s.tls) {
    auto [e, n] = co_await asio::async_write(*s.tls, asio::buffer(data), as_tuple(use_awaitable));
    ec = e;
    s.bytes_out += n;
  } else {
    auto [e, n] = co_await asio::async_write(s.tcp, asio::buffer(data), as_tuple(use_awaitable));
    ec = e;
    s.bytes_out += n;
  }
  s.disarm();
  co_return !ec;
}

bool Connection::start_compression() {
  Impl& s = *impl_;
  if (s.compression) return false;
  s.compression = Compression::create();
  if (!s.compression) return false;
  // Whatever arrived behind the command was sent compressed.
  if (buffered() > 0) s.compression->add_input(std::string_view(s.input).substr(s.start));
  discard_input();
  return true;
}

bool Connection::is_compressed() const { return impl_->compression != nullptr; }

asio::awaitable<bool> Connection::start_tls(TlsContext& tls, std::chrono::seconds timeout) {
  Impl& s = *impl_;
  if (s.tls) co_return false;
  discard_input();
  s.tls_set = tls.current();
  s.tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(s.tcp, s.tls_set->default_context());
  s.arm(timeout);
  auto [ec] = co_await s.tls->async_handshake(asio::ssl::stream_base::server, as_tuple(use_awaitable));
  s.disarm();
  Metrics::global().tls_handshake(s.info.protocol, !ec);
  if (ec) {
    spdlog::info("conn={} tls handshake failed: {}", s.info.id, ec.message());
    co_return false;
  }
  spdlog::info("conn={} tls {}", s.info.id, tls_description());
  co_return true;
}

asio::awaitable<bool> Connection::start_tls_client(std::shared_ptr<asio::ssl::context> ctx, std::string host,
                                                   bool verify, std::chrono::seconds timeout,
                                                   std::function<bool(SSL*)> setup) {
  Impl& s = *impl_;
  if (s.tls) co_return false;
  discard_input();
  s.client_ctx = std::move(ctx);
  s.tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(s.tcp, *s.client_ctx);
  SSL* ssl = s.tls->native_handle();
  boost::system::error_code ignored;
  if (!host.empty() && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) co_return false;
  if (verify) {
    s.tls->set_verify_mode(asio::ssl::verify_peer, ignored);
    if (SSL_set1_host(ssl, host.c_str()) != 1) co_return false;
  } else {
    s.tls->set_verify_mode(asio::ssl::verify_none, ignored);
  }
  if (setup && !setup(ssl)) co_return false;
  s.arm(timeout);
  auto [ec] = co_await s.tls->async_handshake(asio::ssl::stream_base::client, as_tuple(use_awaitable));
  s.disarm();
  if (ec) {
    spdlog::info("conn={} tls handshake to {} failed: {}", s.info.id, host, ec.message());
    co_return false;
  }
  spdlog::info("conn={} tls {} to {}", s.info.id, tls_description(), host);
  co_return true;
}

std::string Connection::tls_exporter() const {
  if (!impl_->tls) return {};
  SSL* ssl = impl_->tls->native_handle();
  // RFC 9266 §2: tls-exporter needs TLS 1.3, or TLS 1.2 with the extended master secret.
  if (SSL_version(ssl) < TLS1_3_VERSION && SSL_get_extms_support(ssl) != 1) return {};
  static constexpr std::string_view kLabel = "EXPORTER-Channel-Binding";
  std::string out(32, '\0');
  if (SSL_export_keying_material(ssl, reinterpret_cast<unsigned char*>(out.data()), out.size(), kLabel.data(),
                                 kLabel.size(), nullptr, 0, 0) != 1) {
    return {};
  }
  return out;
}

std::string Connection::tls_unique() const {
  if (!impl_->tls) return {};
  SSL* ssl = impl_->tls->native_handle();
  if (SSL_version(ssl) >= TLS1_3_VERSION || SSL_get_extms_support(ssl) != 1) return {};
  // The client's Finished comes first in a full handshake, ours in an abbreviated one.
  unsigned char buf[EVP_MAX_MD_SIZE];
  const size_t n = SSL_session_reused(ssl) ? SSL_get_finished(ssl, buf, sizeof buf)
                                           : SSL_get_peer_finished(ssl, buf, sizeof buf);
  if (n == 0 || n > sizeof buf) return {};
  return std::string(reinterpret_cast<const char*>(buf), n);
}

long Connection::tls_verify_result() const {
  if (!impl_->tls) return X509_V_OK;
  return SSL_get_verify_result(impl_->tls->native_handle());
}

std::string Connection::tls_description() const {
  if (!impl_->tls) return {};
  SSL* ssl = impl_->tls->native_handle();
  return fmt::format("{} {}", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}

asio::awaitable<void> Connection::close() {
  Impl& s = *impl_;
  if (s.tls) {
    s.arm(std::chrono::seconds(1));
    co_await s.tls->async_shutdown(as_tuple(use_awaitable));
    s.disarm();
  }
  boost::system::error_code ec;
  s.tcp.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  s.tcp.close(ec);
}

void Connection::attach(std::shared_ptr<ConnectionRegistry> registry) {
  impl_->registry = registry;
  registry->add(impl_, &Connection::interrupt);
}

std::weak_ptr<void> Connection::handle() const { return impl_; }

// Ends the connection's waiting interruptible read (and makes the next one end at once), on its strand.
void Connection::interrupt_read(const std::shared_ptr<void>& handle, bool eviction) {
  auto impl = std::static_pointer_cast<Impl>(handle);
  // Weak: a queued interrupt must not keep a finished connection alive.
  asio::post(impl->tcp.get_executor(), [weak = std::weak_ptr<Impl>(impl), eviction] {
    auto self = weak.lock();
    if (!self || self->interrupted) return;
    self->evicted = eviction;
    self->interrupted = true;
    boost::system::error_code ignored;
    if (self->waiting_interruptible) self->tcp.cancel(ignored);
  });
}

void Connection::interrupt(const std::shared_ptr<void>& handle) { interrupt_read(handle, false); }
void Connection::evict(const std::shared_ptr<void>& handle) { interrupt_read(handle, true); }

void Connection::on_exempt(std::function<void()> hook) { impl_->exempt_hook = std::move(hook); }

void Connection::exempt_from_eviction() {
  if (!impl_->exempt_hook) return;
  auto hook = std::move(impl_->exempt_hook);
  impl_->exempt_hook = nullptr;
  hook();
}

void ConnectionRegistry::add(std::weak_ptr<void> handle, void (*interrupt)(const std::shared_ptr<void>&)) {
  std::lock_guard lock(mutex_);
  // Drop dead entries as we go so the list stays proportional to live connections.
  if (items_.size() >= 64 && items_.size() % 64 == 0) {
    std::erase_if(items_, [](const Item& i) { return i.handle.expired(); });
  }
  items_.push_back(Item{std::move(handle), interrupt});
}

void ConnectionRegistry::begin_shutdown() {
  std::vector<Item> items;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    items = items_;
  }
  for (auto& item : items) {
    if (auto h = item.handle.lock()) item.interrupt(h);
  }
}

bool ConnectionRegistry::stopping() const { return stopping_.load(); }

size_t ConnectionRegistry::size() {
  std::lock_guard lock(mutex_);
  std::erase_if(items_, [](const Item& i) { return i.handle.expired(); });
  return items_.size();
}

}  // namespace posthorn::net
