// Test harness: a real server-side stack in-process (io_context threads, blocking pool, in-memory
// directory, Authenticator, self-signed TLS) listening on 127.0.0.1:<ephemeral>, and a blocking test
// client that can switch to TLS. For session and auth tests; not linked into the server.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/authenticator.hpp"
#include "auth/directory.hpp"
#include "config/config.hpp"
#include "base/blocking_pool.hpp"
#include "net/listener.hpp"
#include "net/tls_context.hpp"

namespace posthorn::testing {

// An in-memory Directory (thread-safe), same semantics as SqliteDirectory; its calls run on `pool`,
// which must outlive it.
std::unique_ptr<auth::Directory> make_memory_directory(BlockingPool& pool);

// The stack under test. Construct, add users, then listen() with a session handler.
class Harness {
 public:
  struct Options {
    bool allow_plaintext_on_loopback = true;
    config::Auth auth;  // throttle settings etc.; argon2 is made cheap by default for speed
    config::Limits limits;
  };
  Harness();
  explicit Harness(Options options);
  ~Harness();

  // Adds example.test's user with an Argon2id hash and SCRAM secrets of `password`.
  void add_user(const std::string& address, const std::string& password);

  // Listens on 127.0.0.1:0 for `protocol` with `tls` mode; returns the port. The handler is called
  // with the accepted connection like the real server does.
  uint16_t listen(Proto protocol, config::TlsMode tls, net::SessionHandler handler);

  std::shared_ptr<const config::Config> config() const { return config_; }
  auth::Authenticator& authenticator() { return *auth_; }
  auth::Directory& directory() { return *directory_; }
  std::shared_ptr<net::TlsContext> tls() { return tls_; }
  boost::asio::io_context& io() { return io_; }
  BlockingPool& pool() { return *pool_; }

 private:
  std::filesystem::path dir_;
  std::shared_ptr<config::Config> config_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<BlockingPool> pool_;
  std::unique_ptr<auth::Directory> directory_;
  std::unique_ptr<auth::Authenticator> auth_;
  std::shared_ptr<net::TlsContext> tls_;
  std::shared_ptr<net::ConnectionLimiter> limiter_;
  std::shared_ptr<net::ConnectionRegistry> registry_;
  std::vector<std::unique_ptr<net::Listener>> listeners_;
  std::vector<std::thread> threads_;
};

// A blocking client for tests, plain or TLS (after start_tls()). Every read has a 10 s timeout and
// throws std::runtime_error on timeout or EOF so a hung test fails instead of hanging.
class Client {
 public:
  explicit Client(uint16_t port, bool implicit_tls = false);
  ~Client();

  void send(std::string_view bytes);            // raw bytes, nothing appended
  void send_line(std::string_view line);        // appends CRLF
  std::string read_line();                      // one line without CRLF
  // Reads lines until one starts with `prefix`; returns all of them (the last one included).
  std::vector<std::string> read_until(std::string_view prefix);
  // TLS handshake as client (after the server said yes to STARTTLS/STLS). Throws on failure.
  void start_tls();
  bool is_tls() const { return tls_ != nullptr; }
  // True when the server closed the connection (reads EOF within the timeout).
  bool closed_by_server();
  // tls-exporter channel binding of this connection (32 bytes) [RFC 9266].
  std::string tls_exporter() const;

 private:
  size_t read_some(char* data, size_t size);
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ssl::context ssl_ctx_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  std::string buffer_;
};

}  // namespace posthorn::testing
