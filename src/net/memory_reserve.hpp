// Waiting for message memory (base/spool.hpp's MemoryBudget) from a session coroutine: a message read
// back from its spool file, or an IMAP APPEND literal, takes its bytes from the process-wide budget
// before they are held in RAM. While the budget is spent the caller waits, polling every 10 ms (no
// queue: the budget is released from many sessions and threads, and a short poll is all it costs);
// with nothing else in flight one message always goes, however big.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>

#include "base/spool.hpp"

namespace posthorn::net {

// A lease of n bytes of `budget`; an empty lease when budget is nullptr.
boost::asio::awaitable<MemoryLease> reserve_memory(MemoryBudget* budget, uint64_t n);

}  // namespace posthorn::net
