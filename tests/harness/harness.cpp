#include "tests/harness/harness.hpp"

#include <openssl/ssl.h>
#include <stdlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

#include "auth/password.hpp"
#include "auth/scram.hpp"
#include "base/random.hpp"
#include "base/run_sync.hpp"

namespace posthorn::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto kClientTimeout = std::chrono::seconds(10);

std::filesystem::path make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "posthorn-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  return pattern;
}
}  // namespace

Harness::Harness() : Harness(Options{}) {}

Harness::Harness(Options options) : dir_(make_temp_dir()) {
  auto cfg = std::make_shared<config::Config>();
  cfg->hostname = "localhost";
  cfg->data_dir = dir_ / "data";
  cfg->tls.certificates.push_back({dir_ / "cert.pem", dir_ / "key.pem"});
  cfg->limits = options.limits;
  cfg->auth = options.auth;
  cfg->auth.allow_plaintext_on_loopback = options.allow_plaintext_on_loopback;
  cfg->auth.argon2 = config::Argon2{64, 1, 1};  // cheap hashes keep the tests fast
  cfg->auth.scram_iterations = 4096;
  config_ = cfg;

  if (auto r = net::write_self_signed("localhost", dir_ / "cert.pem", dir_ / "key.pem"); !r) {
    throw std::runtime_error(r.error().message);
  }
  auto tls = net::TlsContext::load(config_->tls);
  if (!tls) throw std::runtime_error(tls.error().message);
  tls_ = *tls;

  work_.emplace(io_.get_executor());
  pool_ = std::make_unique<BlockingPool>(2);
  directory_ = make_memory_directory(*pool_);
  if (auto r = run_sync(directory_->add_domain("example.test")); !r) throw std::runtime_error(r.error().message);
  auth_ = std::make_unique<auth::Authenticator>(*directory_, *pool_, config_->auth);
  limiter_ = std::make_shared<net::ConnectionLimiter>(config_->limits.max_connections,
                                                      config_->limits.max_connections_per_ip);
  registry_ = std::make_shared<net::ConnectionRegistry>();
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
}

Harness::~Harness() {
  for (auto& l : listeners_) l->stop();
  registry_->begin_shutdown();
  work_.reset();
  // Let sessions end by themselves (idle reads are interrupted), then force the rest.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!io_.stopped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  io_.stop();
  for (auto& t : threads_) t.join();
  listeners_.clear();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Harness::add_user(const std::string& address, const std::string& password) {
  auto hash = auth::hash_password(password, config_->auth.argon2);
  if (!hash) throw std::runtime_error(hash.error().message);
  auto scram = auth::make_scram_credentials(password, random_bytes(16), config_->auth.scram_iterations);
  auto r = run_sync(directory_->add_account(address, *hash, scram.serialize(), 0));
  if (!r) throw std::runtime_error(r.error().message);
}

uint16_t Harness::listen(Proto protocol, config::TlsMode tls, net::SessionHandler handler) {
  net::Listener::Options options;
  options.config = config::Listener{"test-" + std::string(proto_name(protocol)), protocol, "127.0.0.1", 0, tls, {}};
  options.limiter = limiter_;
  options.tls = tls_;
  options.registry = registry_;
  options.handler = std::move(handler);
  auto listener = net::Listener::bind(io_, std::move(options));
  if (!listener) throw std::runtime_error(listener.error().message);
  (*listener)->start();
  uint16_t port = (*listener)->port();
  listeners_.push_back(std::move(*listener));
  return port;
}

// ---- Client ----

Client::Client(uint16_t port, bool implicit_tls) : socket_(io_), ssl_ctx_(asio::ssl::context::tls_client) {
  ssl_ctx_.set_verify_mode(asio::ssl::verify_none);
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  if (implicit_tls) start_tls();
}

Client::~Client() {
  boost::system::error_code ec;
  socket_.close(ec);
}

namespace {
// Runs the single async operation started by `start` on `io`, failing after the timeout.
template <class Start>
void run_bounded(asio::io_context& io, tcp::socket& socket, Start start, const char* what) {
  bool done = false;
  boost::system::error_code result;
  io.restart();
  start([&](boost::system::error_code ec, auto&&...) {
    done = true;
    result = ec;
  });
  io.run_for(kClientTimeout);
  if (!done) {
    boost::system::error_code ignored;
    socket.cancel(ignored);
    io.restart();
    io.run_for(std::chrono::seconds(1));
    throw std::runtime_error(std::string("timeout: ") + what);
  }
  if (result) throw std::runtime_error(std::string(what) + ": " + result.message());
}
}  // namespace

void Client::send(std::string_view bytes) {
  if (tls_) {
    run_bounded(io_, socket_, [&](auto h) { asio::async_write(*tls_, asio::buffer(bytes), h); }, "write");
  } else {
    run_bounded(io_, socket_, [&](auto h) { asio::async_write(socket_, asio::buffer(bytes), h); }, "write");
  }
}

void Client::send_line(std::string_view line) { send(std::string(line) + "\r\n"); }

size_t Client::read_some(char* data, size_t size) {
  size_t got = 0;
  auto on_read = [&](auto h) {
    return [&got, h](boost::system::error_code ec, size_t n) mutable {
      got = n;
      h(ec);
    };
  };
  if (tls_) {
    run_bounded(io_, socket_, [&](auto h) { tls_->async_read_some(asio::buffer(data, size), on_read(h)); }, "read");
  } else {
    run_bounded(io_, socket_, [&](auto h) { socket_.async_read_some(asio::buffer(data, size), on_read(h)); },
                "read");
  }
  return got;
}

std::string Client::read_line() {
  for (;;) {
    auto pos = buffer_.find("\r\n");
    if (pos != std::string::npos) {
      std::string line = buffer_.substr(0, pos);
      buffer_.erase(0, pos + 2);
      return line;
    }
    char chunk[4096];
    size_t n = read_some(chunk, sizeof chunk);
    buffer_.append(chunk, n);
  }
}

std::vector<std::string> Client::read_until(std::string_view prefix) {
  std::vector<std::string> lines;
  for (;;) {
    lines.push_back(read_line());
    if (lines.back().starts_with(prefix)) return lines;
  }
}

void Client::start_tls() {
  if (!buffer_.empty()) throw std::runtime_error("plaintext left in the buffer before TLS");
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, ssl_ctx_);
  SSL_set_tlsext_host_name(tls_->native_handle(), "localhost");
  run_bounded(io_, socket_, [&](auto h) { tls_->async_handshake(asio::ssl::stream_base::client, h); }, "handshake");
}

bool Client::closed_by_server() {
  try {
    char c;
    while (true) {
      if (!buffer_.empty()) return false;
      size_t n = read_some(&c, 1);
      if (n > 0) buffer_.push_back(c);
    }
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    return what.find("timeout") == std::string::npos;  // EOF or reset, not a timeout
  }
}

std::string Client::tls_exporter() const {
  if (!tls_) return {};
  std::string out(32, '\0');
  static constexpr std::string_view kLabel = "EXPORTER-Channel-Binding";
  SSL_export_keying_material(tls_->native_handle(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                             kLabel.data(), kLabel.size(), nullptr, 0, 0);
  return out;
}

}  // namespace posthorn::testing
