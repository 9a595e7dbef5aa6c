// The process the crash test kills: appends crash_message(N) to INBOX of account 1 from several
// coroutines at once, forever, and writes "N UID\n" to stdout only after each append returned
// (acknowledged = durable by the store contract). Usage: crash_writer DATA_DIR FIRST_N WRITERS
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <string>

#include "base/blocking_pool.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "tests/durability/crash_common.hpp"

namespace {

using posthorn::store::Account;
using posthorn::store::AppendMessage;

std::atomic<uint64_t> next_n;

void say(const std::string& line) {
  // One write(2) per line: a line is either wholly in the pipe or not at all.
  if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

boost::asio::awaitable<void> writer(std::shared_ptr<Account> account) {
  auto opened = co_await account->open("INBOX");
  if (!opened) _exit(4);
  auto mailbox = std::move(opened).value();
  for (;;) {
    uint64_t n = next_n++;
    AppendMessage message;
    message.bytes = posthorn::testing::crash_message(n);
    if (n % 3 == 0) message.flags.system = posthorn::store::kSeen;
    auto task = mailbox->append(std::move(message));
    auto result = co_await std::move(task);
    if (!result) {
      std::fprintf(stderr, "append failed: %s\n", result.error().message.c_str());
      _exit(5);
    }
    say(std::to_string(n) + " " + std::to_string(result->uid) + "\n");
  }
}

boost::asio::awaitable<void> start(posthorn::store::MailStore& store, int writers) {
  auto opened = co_await store.account(1, {});
  if (!opened) _exit(6);
  auto account = std::move(opened).value();
  auto executor = co_await boost::asio::this_coro::executor;
  say("ready\n");
  for (int i = 0; i < writers; ++i) boost::asio::co_spawn(executor, writer(account), boost::asio::detached);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_writer DATA_DIR FIRST_N WRITERS\n");
    return 2;
  }
  next_n = std::stoull(argv[2]);
  int writers = std::stoi(argv[3]);
  boost::asio::io_context io;  // outlives the pool, whose threads may drop completions bound to it
  posthorn::BlockingPool pool(2);
  auto store = posthorn::store::sqlite::SqliteMailStore::open(argv[1], pool);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().message.c_str());
    return 1;
  }
  boost::asio::co_spawn(io, start(**store, writers), boost::asio::detached);
  io.run();
  return 0;
}
