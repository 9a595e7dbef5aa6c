// Task<T>: the awaitable result of a domain call that may wait on storage (DESIGN.md §3, §5). The
// interfaces of the directory (auth/), the queue (queue/) and the mail store (store/) return it, so a
// backend decides how it waits: the SQLite backends run their blocking calls on the blocking pool,
// a PostgreSQL backend waits on its sockets without one. Callers co_await it from their coroutine;
// a synchronous caller (the command-line tools) uses run_sync() (base/run_sync.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "base/result.hpp"

namespace posthorn {

template <class T>
using Task = boost::asio::awaitable<Result<T>>;

}  // namespace posthorn
