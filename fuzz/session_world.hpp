// The world the whole-session fuzz targets run in: one process-wide test harness (in-memory
// directory with the test user, Authenticator with cheap hashes and no failure throttling, a
// self-signed TLS context), a fresh SQLite mail store per input with a few messages in the test
// user's INBOX, and run_over_socketpair(), which feeds bytes into a session over a socketpair and
// runs the io_context on the calling thread until the session ends. Deterministic and fast: no
// network, no listener, no real timers are waited on (input ends in EOF, which ends every session).
// Depends on tests/harness, store/sqlite, net. Not thread-safe: one fuzzer thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/listener.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "store/sqlite/sqlite_queue.hpp"
#include "tests/harness/harness.hpp"

namespace posthorn::fuzz {

inline constexpr const char* kUser = "fuzz@example.test";
inline constexpr const char* kPassword = "fuzzpass";

class SessionWorld {
 public:
  static SessionWorld& get();
  ~SessionWorld();

  testing::Harness& harness() { return *harness_; }
  boost::asio::io_context& io() { return io_; }

  // A fresh store (and queue) in its own folder, removed on destruction, with three messages
  // (plain, multipart with an attachment, an embedded message) in the test user's INBOX.
  struct Store {
    std::filesystem::path dir;
    std::unique_ptr<store::sqlite::SqliteMailStore> mail;
    std::unique_ptr<store::sqlite::SqliteQueue> queue;
    ~Store();
  };
  std::unique_ptr<Store> fresh_store();

 private:
  SessionWorld();
  // Declared first, destroyed last: pool threads may still post completions to it.
  boost::asio::io_context io_;
  std::unique_ptr<testing::Harness> harness_;
  int next_store_ = 0;
};

// Starts `session` on one end of a socketpair and writes `prefix`, then every chunk, then EOF to the
// other end while draining what the session writes. Runs the world's io_context until the session
// coroutine has finished; aborts (a hung session is a bug) when it has not after 20 s.
using SessionStarter = std::function<boost::asio::awaitable<void>(net::Accepted)>;
void run_over_socketpair(Proto protocol, const SessionStarter& session, std::string_view prefix,
                         const std::vector<std::string_view>& chunks);

// base64 of "\0user\0password" (SASL PLAIN).
std::string plain_credentials();

}  // namespace posthorn::fuzz
