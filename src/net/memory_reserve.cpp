#include "net/memory_reserve.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace posthorn::net {

boost::asio::awaitable<MemoryLease> reserve_memory(MemoryBudget* budget, uint64_t n) {
  if (budget == nullptr || n == 0) co_return MemoryLease();
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  while (!budget->try_take(n)) {
    if (budget->used() == 0) {
      budget->force_take(n);
      break;
    }
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
  co_return MemoryLease(budget, n);
}

}  // namespace posthorn::net
