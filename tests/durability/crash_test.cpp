// The crash test of the store contract (DESIGN.md §1, issue 3): a writer process appends messages
// from several coroutines while this test SIGKILLs it at random moments, many times. After each
// kill the store is opened again and checked: every acknowledged message is present exactly once
// and byte for byte, UIDs only grow, no index row points at a missing blob, and garbage
// collection leaves exactly one blob per stored message.
// POSTHORN_CRASH_ROUNDS overrides the number of rounds (make torture runs more).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "base/blocking_pool.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"
#include "tests/durability/crash_common.hpp"

extern char** environ;

namespace posthorn::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

#ifndef CRASH_WRITER_PATH
#error "CRASH_WRITER_PATH must name the crash_writer binary"
#endif

struct Writer {
  pid_t pid = -1;
  int out = -1;  // read end of the writer's stdout
};

Writer spawn_writer(const fs::path& data, uint64_t first_n, int writers) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string path = CRASH_WRITER_PATH, dir = data.string(), first = std::to_string(first_n),
              count = std::to_string(writers);
  char* argv[] = {path.data(), dir.data(), first.data(), count.data(), nullptr};
  Writer w;
  EXPECT_EQ(posix_spawn(&w.pid, path.c_str(), &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  w.out = fds[0];
  return w;
}

// Reads whatever the writer printed until `deadline` (or EOF), appending to `text`.
void read_until(int fd, std::string& text, std::chrono::steady_clock::time_point deadline) {
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return;
    text.append(buf, static_cast<std::size_t>(n));
  }
}

class StoreFixture {
 public:
  explicit StoreFixture(const fs::path& data) : pool_(2), work_(io_.get_executor()) {
    thread_ = std::thread([this] { io_.run(); });
    auto opened = store::sqlite::SqliteMailStore::open(data, pool_);
    if (!opened) throw std::runtime_error(opened.error().message);
    store_ = std::move(opened).value();
  }
  ~StoreFixture() {
    store_.reset();
    work_.reset();
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }
  store::sqlite::SqliteMailStore& store() { return *store_; }

 private:
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  boost::asio::io_context io_;
  BlockingPool pool_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::unique_ptr<store::sqlite::SqliteMailStore> store_;
};

// Everything in INBOX: N -> UID, after checking each message's bytes against crash_message(N).
boost::asio::awaitable<Result<std::map<uint64_t, store::Uid>>> read_back(store::MailStore& ms, uint32_t* uid_next) {
  auto account = co_await ms.account(1, {});
  if (!account) co_return account.error();
  auto opened = co_await (*account)->open("INBOX");
  if (!opened) co_return opened.error();
  auto& mailbox = *opened;
  auto view = co_await mailbox->select(false);
  if (!view) co_return view.error();
  *uid_next = view->mailbox.uid_next;
  std::map<uint64_t, store::Uid> found;
  for (const auto& info : view->messages) {
    auto blob = co_await mailbox->open_message(info.uid);
    if (!blob) co_return make_error(Errc::kInternal, "uid " + std::to_string(info.uid) + ": " + blob.error().message);
    auto size = (*blob)->size();
    auto bytes = co_await (*blob)->read(0, size);
    if (!bytes) co_return make_error(Errc::kInternal, "uid " + std::to_string(info.uid) + " unreadable");
    uint64_t n = crash_message_number(*bytes);
    if (n == 0 || *bytes != crash_message(n) || info.size != bytes->size()) {
      co_return make_error(Errc::kInternal, "uid " + std::to_string(info.uid) + " has wrong bytes");
    }
    if (!found.emplace(n, info.uid).second) {
      co_return make_error(Errc::kInternal, "message " + std::to_string(n) + " stored twice");
    }
  }
  co_return found;
}

std::size_t count_blob_files(const fs::path& data) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(data / "blobs", ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

TEST(Crash, KillNineNeverLosesAnAcknowledgedAppend) {
  int rounds = 12;
  if (const char* env = std::getenv("POSTHORN_CRASH_ROUNDS")) rounds = std::atoi(env);
  fs::path data = fs::temp_directory_path() / ("posthorn-crash-" + std::to_string(::getpid()));
  fs::remove_all(data);
  fs::create_directories(data);
  std::mt19937 rng(std::random_device{}());
  std::map<uint64_t, store::Uid> acknowledged;  // over all rounds
  store::Uid highest_acked_uid = 0;
  std::size_t total_acks = 0;

  for (int round = 0; round < rounds; ++round) {
    Writer w = spawn_writer(data, static_cast<uint64_t>(round + 1) * 1'000'000, 4);
    std::string out;
    // Wait for "ready" (opening may run start-up work), then let it write for a random time.
    auto ready_deadline = std::chrono::steady_clock::now() + 20s;
    while (out.find("ready\n") == std::string::npos && std::chrono::steady_clock::now() < ready_deadline) {
      read_until(w.out, out, std::chrono::steady_clock::now() + 50ms);
    }
    ASSERT_NE(out.find("ready\n"), std::string::npos) << "writer did not start";
    auto run_for = std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 400)(rng));
    read_until(w.out, out, std::chrono::steady_clock::now() + run_for);
    ::kill(w.pid, SIGKILL);
    int status = 0;
    ::waitpid(w.pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited by itself: " << status;
    read_until(w.out, out, std::chrono::steady_clock::now() + 100ms);  // lines written before the kill
    ::close(w.out);

    // Only whole lines count: a line is printed after its append returned.
    std::size_t pos = out.find("ready\n") + 6;
    for (std::size_t eol; (eol = out.find('\n', pos)) != std::string::npos; pos = eol + 1) {
      uint64_t n = 0;
      unsigned uid = 0;
      ASSERT_EQ(std::sscanf(out.c_str() + pos, "%lu %u", &n, &uid), 2);
      acknowledged[n] = uid;
      highest_acked_uid = std::max(highest_acked_uid, static_cast<store::Uid>(uid));
      ++total_acks;
    }

    StoreFixture fixture(data);
    uint32_t uid_next = 0;
    auto found = run_sync(fixture.io(), read_back(fixture.store(), &uid_next));
    ASSERT_TRUE(found) << "round " << round << ": " << found.error().message;
    for (auto [n, uid] : acknowledged) {
      auto it = found->find(n);
      ASSERT_NE(it, found->end()) << "round " << round << ": acknowledged message " << n << " lost";
      ASSERT_EQ(it->second, uid) << "message " << n << " changed UID";
    }
    ASSERT_GT(uid_next, highest_acked_uid) << "UIDNEXT went backwards";
    auto gc = fixture.store().collect_garbage();
    ASSERT_TRUE(gc) << gc.error().message;
    ASSERT_EQ(count_blob_files(data), found->size()) << "blob files do not match stored messages after GC";
  }
  EXPECT_GT(total_acks, static_cast<std::size_t>(rounds)) << "the writer hardly wrote anything";
  std::printf("crash test: %d kills, %zu acknowledged appends checked\n", rounds, total_acks);
  fs::remove_all(data);
}

}  // namespace
}  // namespace posthorn::testing
