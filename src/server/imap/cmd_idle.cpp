// IDLE [RFC 2177, RFC 9051 §6.3.13]: after "+ idling" the session waits for either the client's
// DONE line or a change in the selected mailbox, which is announced at once. The two waits race in
// one parallel group: a change cancels the pending line read (its bytes stay buffered in the
// Connection) and the read is started again after the announcement. Nothing else lives while idling
// but the coroutine frames, so an idle connection stays small.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/ascii.hpp"
#include "proto/imap/response.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

asio::awaitable<Flow> Session::cmd_idle(const std::string& tag) {
  co_await sync(true);
  const bool ok = co_await send(pi::continuation("idling"));
  if (!ok) co_return Flow::kClose;
  for (;;) {
    if (feed_->pending.load()) {
      co_await sync(true);
      co_await flush();
      if (broken_) co_return Flow::kClose;
    }
    feed_->timer.expires_at(std::chrono::steady_clock::time_point::max());
    auto read = asio::co_spawn(feed_->executor, conn_.read_line(line_options(true)), asio::deferred);
    auto wait = feed_->timer.async_wait(asio::deferred);
    auto group = asio::experimental::make_parallel_group(std::move(read), std::move(wait));
    auto [order, ex, line, ec] = co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    (void)ec;
    if (ex) std::rethrow_exception(ex);
    if (line.status == net::ReadStatus::kOk) {
      if (!ascii::iequals(line.data, "DONE")) {
        const bool sent = co_await send(pi::tagged(tag, Status::kBad, "Expected DONE"));
        co_return sent ? Flow::kContinue : Flow::kClose;
      }
      break;
    }
    if (order[0] == 0) {
      // The read itself ended: timeout, EOF, shutdown or a line too long.
      auto flow = co_await read_failed(line.status);
      co_return flow;
    }
    // Woken by a change (the read was cancelled): announce it and wait again.
  }
  co_await sync(true);
  const bool sent = co_await send(pi::tagged(tag, Status::kOk, "IDLE terminated"));
  co_return sent ? Flow::kContinue : Flow::kClose;
}

}  // namespace posthorn::server::imap
