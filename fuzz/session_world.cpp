// Implementation of session_world.hpp.
#include "session_world.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "base/base64.hpp"
#include "base/log.hpp"
#include "fuzz_util.hpp"
#include "base/run_sync.hpp"
#include "tests/harness/drive.hpp"

namespace posthorn::fuzz {

namespace asio = boost::asio;

namespace {

const char* const kMessages[] = {
    "From: Alice <alice@example.test>\r\nTo: fuzz@example.test\r\nSubject: first\r\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nHello there.\r\n",
    "From: bob@example.test\r\nTo: fuzz@example.test\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\nIn-Reply-To: <1@example.test>\r\n\r\n"
    "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody text\r\n"
    "--B\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "AAECAwQ=\r\n--B--\r\n",
    "From: carol@example.test\r\nTo: fuzz@example.test\r\nSubject: fwd\r\nContent-Type: message/rfc822\r\n\r\n"
    "From: dave@example.test\r\nSubject: inner\r\n\r\ninner body\r\n",
};

std::filesystem::path store_root() {
  // tmpfs when there is one: fsync is free there, and a store per input stays cheap.
  std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  return base / ("posthorn-fuzz-" + std::to_string(::getpid()));
}

template <class Done>
void run_until(asio::io_context& io, Done done, std::chrono::seconds bound, const char* what) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    io.restart();
    io.run_for(std::chrono::milliseconds(2));
    if (std::chrono::steady_clock::now() > deadline) fail(what);
  }
}

asio::awaitable<void> feed(asio::local::stream_protocol::socket& client, std::string prefix,
                           std::vector<std::string> chunks) {
  auto [ec, n] = co_await asio::async_write(client, asio::buffer(prefix), asio::as_tuple(asio::use_awaitable));
  for (const auto& chunk : chunks) {
    if (ec) break;
    auto [ec2, n2] = co_await asio::async_write(client, asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    ec = ec2;
  }
  boost::system::error_code ignored;
  client.shutdown(asio::socket_base::shutdown_send, ignored);
}

// Reads and drops the session's output; with POSTHORN_FUZZ_ECHO=1 in the environment it goes to
// stderr, to see what an input does (e.g. that the state prefix logged in).
asio::awaitable<void> drain(asio::local::stream_protocol::socket& client) {
  static const bool echo = std::getenv("POSTHORN_FUZZ_ECHO") != nullptr;
  char buffer[16384];
  for (;;) {
    auto [ec, n] = co_await client.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (echo) std::fwrite(buffer, 1, n, stderr);
  }
}

}  // namespace

SessionWorld& SessionWorld::get() {
  // Torn down at exit (libFuzzer's and the replay's normal exits), so the harness's temporary folder
  // and the stores' root do not pile up; after a crash they stay for a look.
  static SessionWorld* world = nullptr;
  if (!world) {
    world = new SessionWorld();
    std::atexit([] { delete world; });
  }
  return *world;
}

SessionWorld::~SessionWorld() {
  harness_.reset();
  std::error_code ec;
  std::filesystem::remove_all(store_root(), ec);
}

SessionWorld::SessionWorld() {
  std::signal(SIGPIPE, SIG_IGN);
  // Sessions log every command and failed login; at fuzzing speed that is noise and slows the runs.
  log::init("off");
  testing::Harness::Options options;
  options.allow_plaintext_on_loopback = true;
  // No failure delays and no blocking: thousands of wrong passwords must not slow the fuzzer down.
  options.auth.throttle_free_failures = 1u << 30;
  options.auth.throttle_block_after = 1u << 30;
  options.auth.throttle_base_delay = std::chrono::milliseconds(0);
  options.auth.throttle_max_delay = std::chrono::milliseconds(0);
  options.limits.max_commands_before_auth = 50;
  harness_ = std::make_unique<testing::Harness>(options);
  harness_->add_user(kUser, kPassword);
  std::filesystem::remove_all(store_root());
  std::filesystem::create_directories(store_root());
}

SessionWorld::Store::~Store() {
  mail.reset();
  queue.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::unique_ptr<SessionWorld::Store> SessionWorld::fresh_store() {
  auto s = std::make_unique<Store>();
  s->dir = store_root() / std::to_string(next_store_++);
  std::filesystem::remove_all(s->dir);
  auto mail = store::sqlite::SqliteMailStore::open(s->dir, harness_->pool());
  if (!mail) throw std::runtime_error(mail.error().message);
  s->mail = std::move(*mail);
  auto queue = store::sqlite::SqliteQueue::open(s->dir, harness_->pool());
  if (!queue) throw std::runtime_error(queue.error().message);
  s->queue = std::move(*queue);
  auto account = run_sync(harness_->directory().find_account(kUser));
  if (!account) throw std::runtime_error(account.error().message);
  for (const char* m : kMessages) {
    store::Delivery d;
    d.message = std::make_shared<const std::string>(m);
    d.targets.push_back(store::DeliveryTarget{account->id, {}, "INBOX", {}, ""});
    auto delivered = testing::drive(io_, s->mail->deliver(std::move(d)));
    if (!delivered || delivered->empty() || !delivered->front()) throw std::runtime_error("fuzz: delivery failed");
  }
  return s;
}

void run_over_socketpair(Proto protocol, const SessionStarter& session, std::string_view prefix,
                         const std::vector<std::string_view>& chunks) {
  auto& io = SessionWorld::get().io();
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) fail("socketpair");
  // Connection wants a TCP socket; a stream socketpair behaves the same for reads, writes and shutdown.
  asio::ip::tcp::socket server(io);
  server.assign(asio::ip::tcp::v4(), fds[0]);
  asio::local::stream_protocol::socket client(io);
  client.assign(asio::local::stream_protocol(), fds[1]);

  net::ConnectionInfo info;
  info.id = "fz";
  info.remote_ip = "127.0.0.1";
  info.remote_port = 40000;
  info.local_port = 143;
  info.loopback = true;
  info.protocol = protocol;
  info.listener = "fuzz";

  bool session_done = false, feed_done = false, drain_done = false;
  asio::co_spawn(io, session(net::Accepted{net::Connection(std::move(server), info), false}),
                 [&](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       std::fprintf(stderr, "session threw: %s\n", ex.what());
                     }
                     fail("a session threw (exceptions are bugs)");
                   }
                   session_done = true;
                 });
  std::vector<std::string> owned(chunks.begin(), chunks.end());
  asio::co_spawn(io, feed(client, std::string(prefix), std::move(owned)), [&](std::exception_ptr) { feed_done = true; });
  asio::co_spawn(io, drain(client), [&](std::exception_ptr) { drain_done = true; });
  run_until(io, [&] { return session_done; }, std::chrono::seconds(20),
            "the session did not end within 20 s of its input's end");
  // The session has closed its end: the drain sees EOF and the feed an error, at the latest now.
  run_until(io, [&] { return feed_done && drain_done; }, std::chrono::seconds(5), "the client side did not finish");
}

std::string plain_credentials() {
  std::string raw;
  raw += '\0';
  raw += kUser;
  raw += '\0';
  raw += kPassword;
  return base64::encode(raw);
}

}  // namespace posthorn::fuzz
