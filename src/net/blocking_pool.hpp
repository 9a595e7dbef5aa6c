// Transitional: the blocking pool lives in base/blocking_pool.hpp (issue 19 item 5). These names keep
// the server/ callers that still write net::run_blocking building until they move to the awaitable
// Directory and Queue interfaces (issue 19 item 4); new code includes base/blocking_pool.hpp.
#pragma once

#include "base/blocking_pool.hpp"

namespace posthorn::net {

using ::posthorn::BlockingPool;
using ::posthorn::run_blocking;

}  // namespace posthorn::net
