// Connection: one accepted TCP connection, plain or TLS, with bounded line and byte reads, timeouts,
// STARTTLS, optional DEFLATE compression (IMAP COMPRESS, net/compression.hpp) and a shutdown hook.
// Sessions in server/ talk to the network only through this class; they never see a socket. A
// Connection lives on its own strand: use it from the session coroutine only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>
#include <string>
#include <string_view>

#include "base/metrics.hpp"
#include "config/config.hpp"

namespace posthorn::net {

class TlsContext;
class ConnectionRegistry;

struct ConnectionInfo {
  std::string id;             // log id ("c1f")
  std::string remote_ip;      // "127.0.0.1", "::1"
  uint16_t remote_port = 0;
  uint16_t local_port = 0;
  bool loopback = false;
  Proto protocol = Proto::kImap;
  std::string listener;       // listener name from config
};

enum class ReadStatus {
  kOk,
  kEof,        // the peer closed
  kTimeout,    // nothing arrived within the timeout, or a deadline passed (a line not complete
               // within its timeout from its first byte; a transfer below its minimum rate)
  kTooLong,    // the line exceeded the limit: it is left unread (data holds its first bytes)
  kShutdown,   // the server is stopping and this was an interruptible read
  kEvicted,    // the global connection cap needed this slot (not logged in yet; listener.hpp)
  kError,      // network or TLS error
};

struct ReadResult {
  ReadStatus status = ReadStatus::kError;
  std::string data;        // the line without its CRLF (or LF), or the bytes read
  bool bare_lf = false;    // the line ended in LF without CR
  explicit operator bool() const { return status == ReadStatus::kOk; }
};

struct ReadOptions {
  size_t max = 8192;                      // bytes, not counting the line end
  // Idle time allowed before the line starts, and the deadline of the whole line from its first
  // byte (Postfix's smtpd_per_record_deadline): a peer trickling one byte at a time cannot keep
  // a line, and with it the connection, open longer than this.
  std::chrono::seconds timeout{300};
  bool interruptible = true;              // a graceful shutdown may end this read (waiting for a command)
};

class Connection {
  struct Impl;

 public:
  Connection(boost::asio::ip::tcp::socket socket, ConnectionInfo info);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  const ConnectionInfo& info() const;
  bool is_tls() const;

  // Reads one line ending in LF; the CRLF or LF is stripped. Never buffers more than options.max.
  // kTooLong: nothing is consumed and `data` holds the first bytes of the line (at most
  // kTooLongPrefix), so the caller can read the line's tag, then read it again with a larger limit
  // or skip_line() it. kTimeout when nothing arrives within options.timeout, or when the line is
  // not complete within options.timeout of its first byte.
  boost::asio::awaitable<ReadResult> read_line(ReadOptions options);
  // Byte streams whose end the caller's reader finds (SMTP DATA): waits until at least one received
  // byte is buffered, then input() shows what is buffered (at most one read chunk is added per call,
  // so a caller that consumes as it goes holds one chunk, never the whole stream) and consume(n)
  // marks the first n bytes as read; the rest stays for the next read (pipelined commands).
  boost::asio::awaitable<ReadStatus> wait_input(std::chrono::seconds timeout);
  std::string_view input() const;
  void consume(size_t n);
  static constexpr size_t kTooLongPrefix = 1024;
  // Discards input up to and including the next LF, holding at most one read chunk at a time.
  // kTooLong when more than `max` bytes went by without one (the connection cannot resync and
  // should be closed); else kOk or the read's status.
  boost::asio::awaitable<ReadStatus> skip_line(size_t max, std::chrono::seconds timeout);
  // Reads exactly n bytes (IMAP literals, SMTP BDAT). `timeout` is the idle time between bytes;
  // inside a Transfer its deadline applies too.
  boost::asio::awaitable<ReadResult> read_exact(size_t n, std::chrono::seconds timeout);

  // A bulk transfer: SMTP DATA or one BDAT chunk, an IMAP literal. While the returned guard lives,
  // every read also fails with kTimeout once the transfer has lasted longer than
  // grace + (bytes received since it began) / min_rate seconds: the peer must keep sending at least
  // min_rate bytes per second on average after the grace time (Postfix's smtpd_min_data_rate with
  // smtpd_per_request_deadline). min_rate 0: only the per-read timeouts apply. One at a time.
  class Transfer {
   public:
    Transfer(Transfer&& other) noexcept : impl_(std::move(other.impl_)) {}
    Transfer& operator=(Transfer&&) = delete;
    ~Transfer();

   private:
    friend class Connection;
    explicit Transfer(std::shared_ptr<Connection::Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<Connection::Impl> impl_;
  };
  [[nodiscard]] Transfer transfer(std::chrono::seconds grace, uint64_t min_rate);
  // Writes everything or fails (false) within the timeout.
  boost::asio::awaitable<bool> write(std::string_view data,
                                     std::chrono::seconds timeout = std::chrono::seconds(120));

  // Bytes already received but not yet consumed by a read (pipelined input).
  size_t buffered() const;
  // Drops buffered input: called before a TLS handshake so plaintext sent behind STARTTLS is never
  // executed (Postfix smtpd: "there must not be any pending plaintext").
  void discard_input();
  // Server-side TLS handshake with the context's current certificates. Discards buffered plaintext
  // first. Counts the handshake in Metrics. False on failure (the connection must then be closed).
  boost::asio::awaitable<bool> start_tls(TlsContext& tls, std::chrono::seconds timeout);
  // Client-side TLS handshake (outbound SMTP, smtpc/): sends SNI `host`; with `verify`, the chain is
  // checked against the context's trust store and the certificate must name `host`. Discards buffered
  // plaintext first; the context is kept alive as long as the connection. False on failure.
  // `setup`, when given, runs on the SSL object after those settings and before the handshake (the
  // DANE parameters of outbound SMTP); false from it fails the handshake.
  boost::asio::awaitable<bool> start_tls_client(std::shared_ptr<boost::asio::ssl::context> ctx, std::string host,
                                                bool verify, std::chrono::seconds timeout,
                                                std::function<bool(SSL*)> setup = {});
  // After a client handshake (also a failed one): OpenSSL's certificate verification result
  // (X509_V_OK, X509_V_ERR_CERT_HAS_EXPIRED, ...); X509_V_OK without TLS.
  long tls_verify_result() const;
  // After TLS: the 32-byte tls-exporter channel binding [RFC 9266], empty when unavailable.
  std::string tls_exporter() const;
  // tls-unique channel binding [RFC 5929 §3]: the first Finished message of the handshake, for
  // TLS 1.2 with the extended master secret only (undefined under TLS 1.3 [RFC 9266 §3]; without
  // EMS open to the triple-handshake attack [RFC 7627]). Empty otherwise.
  std::string tls_unique() const;
  // After TLS: "TLSv1.3 TLS_AES_256_GCM_SHA384".
  std::string tls_description() const;

  // COMPRESS=DEFLATE [RFC 4978]: from now on every byte read is inflated and every byte written is
  // deflated (inside TLS when TLS is up). Input already buffered behind the command is compressed
  // data and is inflated too. Reads stay bounded by their own limits however well the input
  // compresses. False when compression is already on or zlib cannot start.
  bool start_compression();
  bool is_compressed() const;

  uint64_t bytes_in() const;
  uint64_t bytes_out() const;

  // Shuts down TLS (when up) and closes the socket.
  boost::asio::awaitable<void> close();

  // Lets a graceful shutdown interrupt this connection's interruptible reads.
  void attach(std::shared_ptr<ConnectionRegistry> registry);

  // What the connection limiter uses to evict a connection that has not logged in (listener.hpp):
  // `evict(handle().lock())` ends its waiting interruptible read with kEvicted, from any thread.
  // `interrupt` does the same with kShutdown (ConnectionRegistry). The handle is weak, so a queued
  // interrupt never keeps a finished connection alive.
  std::weak_ptr<void> handle() const;
  static void interrupt(const std::shared_ptr<void>& handle);
  static void evict(const std::shared_ptr<void>& handle);
  // Sessions call exempt_from_eviction() after a successful login and when an SMTP transaction
  // starts: from then on the connection is never evicted. It runs the hook set with on_exempt once.
  void on_exempt(std::function<void()> hook);
  void exempt_from_eviction();

 private:
  static void interrupt_read(const std::shared_ptr<void>& handle, bool eviction);
  std::shared_ptr<Impl> impl_;
};

// Tracks live connections so SIGTERM can end idle ones at once (their interruptible read returns
// kShutdown and the session says goodbye) while busy ones finish. Thread-safe.
class ConnectionRegistry : public std::enable_shared_from_this<ConnectionRegistry> {
 public:
  void add(std::weak_ptr<void> handle, void (*interrupt)(const std::shared_ptr<void>&));
  // Sets the stopping flag and interrupts every waiting read.
  void begin_shutdown();
  bool stopping() const;
  size_t size();

 private:
  struct Item {
    std::weak_ptr<void> handle;
    void (*interrupt)(const std::shared_ptr<void>&);
  };
  mutable std::mutex mutex_;
  std::vector<Item> items_;
  std::atomic<bool> stopping_{false};
};

}  // namespace posthorn::net
