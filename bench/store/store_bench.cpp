// bench/store: the mail store's own speed (issue 3), on a real data folder:
//   append   appends per second of 10 KB messages with 1 and 8 concurrent writers (each append
//            durable before it returns: blob fsync'd, directory fsync'd, index committed)
//   bigbox   time to open a 100,000-message mailbox and list its UIDs and flags (SELECT), with the
//            store freshly opened (cold process state, warm OS cache) and again (warm)
//   deliver  deliveries per second of one message to 10 accounts at once (each with its own trace
//            prefix, as SMTP delivers to several local recipients), 10 KB and 1 MB multipart:
//            the store's cost per delivery (one blob, the MIME summary and hashes per account)
// Each figure is the median of --rounds runs. Usage:
//   store_bench [--dir DIR] [--rounds 3] [--appends 2000] [--bigbox 100000] [--only deliver]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/blocking_pool.hpp"
#include "store/sqlite/sqlite_mail_store.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using posthorn::store::AppendMessage;

std::string message(std::size_t n, std::size_t size) {
  std::string m = "From: bench@example.test\r\nTo: demo@example.test\r\nSubject: bench message " +
                  std::to_string(n) + "\r\nMessage-ID: <" + std::to_string(n) + "@bench>\r\n\r\n";
  while (m.size() < size) m += "The quick brown fox jumps over the lazy dog " + std::to_string(n) + ".\r\n";
  return m;
}

template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  return boost::asio::co_spawn(io, std::move(task), boost::asio::use_future).get();
}

// An io_context with `threads` threads and a store on `dir`.
struct Env {
  Env(const fs::path& dir, int threads) : pool(4), work(io.get_executor()) {
    for (int i = 0; i < threads; ++i) runners.emplace_back([this] { io.run(); });
    auto opened = posthorn::store::sqlite::SqliteMailStore::open(dir, pool);
    if (!opened) {
      std::fprintf(stderr, "open store: %s\n", opened.error().message.c_str());
      std::exit(1);
    }
    store = std::move(opened).value();
  }
  ~Env() {
    store.reset();
    work.reset();
    for (auto& t : runners) t.join();
  }
  // io outlives pool: pool threads may drop completions bound to it until the pool has joined.
  boost::asio::io_context io;
  posthorn::BlockingPool pool;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> runners;
  std::unique_ptr<posthorn::store::sqlite::SqliteMailStore> store;
};

boost::asio::awaitable<void> append_loop(std::shared_ptr<posthorn::store::Mailbox> box, std::size_t count,
                                         std::size_t base) {
  for (std::size_t i = 0; i < count; ++i) {
    AppendMessage m;
    m.bytes = message(base + i, 10 * 1024);
    auto task = box->append(std::move(m));
    auto r = co_await std::move(task);
    if (!r) {
      std::fprintf(stderr, "append: %s\n", r.error().message.c_str());
      std::exit(1);
    }
  }
}

boost::asio::awaitable<std::shared_ptr<posthorn::store::Mailbox>> inbox(posthorn::store::MailStore& s) {
  auto account = co_await s.account(1, {});
  if (!account) std::exit(1);
  auto box = co_await (*account)->open("INBOX");
  if (!box) std::exit(1);
  co_return std::shared_ptr<posthorn::store::Mailbox>(std::move(box).value());
}

// Appends per second with `writers` concurrent coroutines, `total` appends in all.
double bench_append(const fs::path& dir, int writers, std::size_t total) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  Env env(dir, 2);
  auto box = run(env.io, inbox(*env.store));
  std::vector<std::future<void>> done;
  auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    done.push_back(boost::asio::co_spawn(env.io, append_loop(box, total / writers, w * total), boost::asio::use_future));
  }
  for (auto& f : done) f.get();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(total / writers * writers) / seconds;
}

boost::asio::awaitable<void> fill(std::shared_ptr<posthorn::store::Mailbox> box, std::size_t count) {
  const std::size_t batch = 1000;
  for (std::size_t done = 0; done < count; done += batch) {
    std::vector<AppendMessage> messages;
    for (std::size_t i = done; i < std::min(count, done + batch); ++i) {
      AppendMessage m;
      m.bytes = message(i, 2 * 1024);
      if (i % 3 == 0) m.flags.system = posthorn::store::kSeen;
      if (i % 50 == 0) m.flags.keywords = {"$Important"};
      messages.push_back(std::move(m));
    }
    auto task = box->append_many(std::move(messages));
    auto r = co_await std::move(task);
    if (!r) {
      std::fprintf(stderr, "append_many: %s\n", r.error().message.c_str());
      std::exit(1);
    }
  }
}

boost::asio::awaitable<std::size_t> select_all(std::shared_ptr<posthorn::store::Mailbox> box) {
  auto view = co_await box->select(false);
  if (!view) std::exit(1);
  co_return view->messages.size();
}

// A multipart message of about `size` bytes: a text part and base64 attachments.
std::string multipart(std::size_t n, std::size_t size) {
  std::string m = "From: bench@example.test\r\nTo: a@example.test, b@example.test\r\nSubject: deliver " +
                  std::to_string(n) + "\r\nMessage-ID: <d" + std::to_string(n) +
                  "@bench>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                  "--b\r\nContent-Type: text/plain\r\n\r\nHello.\r\n";
  for (int part = 0; m.size() < size; ++part) {
    m += "--b\r\nContent-Type: application/octet-stream; name=f" + std::to_string(part) +
         "\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    for (int line = 0; line < 1000 && m.size() < size; ++line) m += std::string(76, 'Q') + "\r\n";
  }
  return m + "--b--\r\n";
}

// Deliveries per second of `count` messages of about `size` bytes, each to `accounts` accounts.
double bench_deliver(const fs::path& dir, std::size_t size, std::size_t accounts, std::size_t count) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  Env env(dir, 2);
  for (std::size_t a = 1; a <= accounts; ++a) (void)run(env.io, env.store->account(a, {}));  // created before timing
  auto start = Clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    posthorn::store::Delivery d;
    d.message = std::make_shared<const std::string>(multipart(i, size));
    for (std::size_t a = 1; a <= accounts; ++a) {
      d.targets.push_back(posthorn::store::DeliveryTarget{
          a, {}, "INBOX", {},
          "Return-Path: <bench@example.test>\r\nReceived: from client ([127.0.0.1])\r\n\tby bench (Posthorn) with "
          "ESMTPS id X" + std::to_string(i) + "\r\n\tfor <u" + std::to_string(a) + "@example.test>; now\r\n"});
    }
    auto r = run(env.io, env.store->deliver(std::move(d)));
    for (const auto& one : r) {
      if (!one) {
        std::fprintf(stderr, "deliver: %s\n", one.error().message.c_str());
        std::exit(1);
      }
    }
  }
  return static_cast<double>(count) / std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::temp_directory_path() / "posthorn-store-bench";
  int rounds = 3;
  std::size_t appends = 2000, bigbox = 100000;
  bool only_deliver = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--dir") dir = argv[i + 1];
    else if (flag == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (flag == "--appends") appends = std::stoul(argv[i + 1]);
    else if (flag == "--bigbox") bigbox = std::stoul(argv[i + 1]);
    else if (flag == "--only") only_deliver = std::string(argv[i + 1]) == "deliver";
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::vector<double> one, eight, cold, warm;
  for (int r = 0; r < rounds && !only_deliver; ++r) {
    one.push_back(bench_append(dir / "append1", 1, appends / 4));
    eight.push_back(bench_append(dir / "append8", 8, appends));
  }
  if (!only_deliver) {
    std::printf("%-40s %12.0f /s\n", "append 10 KB, 1 writer (median)", median(one));
    std::printf("%-40s %12.0f /s\n", "append 10 KB, 8 writers (median)", median(eight));
    std::fflush(stdout);
  }

  std::vector<double> small, large;
  for (int r = 0; r < rounds; ++r) {
    small.push_back(bench_deliver(dir / "deliver", 10 * 1024, 10, 300));
    large.push_back(bench_deliver(dir / "deliver", 1024 * 1024, 10, 40));
  }
  std::printf("%-40s %12.1f /s\n", "deliver 10 KB to 10 accounts (median)", median(small));
  std::printf("%-40s %12.1f /s\n", "deliver 1 MB to 10 accounts (median)", median(large));
  std::fflush(stdout);
  if (only_deliver) {
    fs::remove_all(dir);
    return 0;
  }

  fs::path big = dir / "bigbox";
  fs::remove_all(big);
  fs::create_directories(big);
  {
    Env env(big, 2);
    auto box = run(env.io, inbox(*env.store));
    auto start = Clock::now();
    run(env.io, fill(box, bigbox));
    std::printf("%-40s %12.1f s\n", "fill bigbox (append_many, 1000/batch)",
                std::chrono::duration<double>(Clock::now() - start).count());
  }
  for (int r = 0; r < rounds; ++r) {
    Env env(big, 2);
    auto start = Clock::now();
    auto box = run(env.io, inbox(*env.store));
    std::size_t n = run(env.io, select_all(box));
    cold.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    start = Clock::now();
    n = run(env.io, select_all(box));
    warm.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (n != bigbox) {
      std::fprintf(stderr, "bigbox has %zu messages, expected %zu\n", n, bigbox);
      return 1;
    }
  }
  std::printf("%-40s %12.1f ms\n", "open + SELECT 100k (fresh store)", median(cold));
  std::printf("%-40s %12.1f ms\n", "SELECT 100k again", median(warm));
  fs::remove_all(dir);
  return 0;
}
