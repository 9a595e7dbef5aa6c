// Shared by the crash test and its writer process: the deterministic message for sequence number N
// (so the checker can verify every byte without the writer telling it), and a synchronous runner
// for store awaitables.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdint>
#include <string>

namespace posthorn::testing {

// A message of 200 B .. 40 KB whose Message-ID carries `n`; CRLF line ends (as stored).
inline std::string crash_message(uint64_t n) {
  std::string m = "From: writer@example.test\r\nTo: demo@example.test\r\nSubject: crash test " +
                  std::to_string(n) + "\r\nMessage-ID: <" + std::to_string(n) + "@crash.test>\r\n\r\n";
  std::size_t body = 200 + (n * 7919) % 40000;
  std::string line;
  for (std::size_t i = 0; m.size() < body; ++i) {
    line = "line " + std::to_string(i) + " of message " + std::to_string(n) + " .................\r\n";
    m += line;
  }
  return m;
}

// The N of a crash_message, or 0 when `message` is not one.
inline uint64_t crash_message_number(const std::string& message) {
  auto at = message.find("Message-ID: <");
  if (at == std::string::npos) return 0;
  return std::strtoull(message.c_str() + at + 13, nullptr, 10);
}

// Runs an awaitable on `io` (run by another thread) and waits for its value.
template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  auto future = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  return future.get();
}

}  // namespace posthorn::testing
