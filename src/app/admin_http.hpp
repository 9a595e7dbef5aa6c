// The admin HTTP listener: GET /metrics (Prometheus text format) and GET /health. Requests are parsed
// with Boost.Beast's HTTP parser, fed from net::Connection; one request per connection.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "net/listener.hpp"

namespace posthorn::app {

boost::asio::awaitable<void> run_admin_session(net::Accepted accepted);

}  // namespace posthorn::app
