// For the tests of msgauth/ (spf, dmarc, auth_results): runs one awaitable to completion on a
// private io_context, and strings of random fragments for robustness tests (a fixed-seed LCG, so
// failures repeat). Header-only; not thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdint>
#include <span>
#include <string>

namespace posthorn::msgauth::testing {

template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  auto f = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return f.get();
}

// Concatenates `count` fragments chosen by a linear congruential generator seeded with `seed`
// (which advances, so successive calls differ).
inline std::string random_fragments(uint32_t& seed, std::span<const char* const> fragments, uint32_t count) {
  std::string out;
  for (uint32_t i = 0; i < count; ++i) {
    seed = seed * 1103515245 + 12345;
    out += fragments[((seed >> 16) & 0x7fff) % fragments.size()];
  }
  return out;
}

}  // namespace posthorn::msgauth::testing
