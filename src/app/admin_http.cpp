#include "app/admin_http.hpp"

#include <boost/beast/http.hpp>
#include <sstream>

#include "base/metrics.hpp"

namespace posthorn::app {

namespace http = boost::beast::http;

namespace {

constexpr size_t kMaxHeaderBytes = 16384;
constexpr auto kTimeout = std::chrono::seconds(10);

std::string render(http::status status, std::string_view content_type, std::string body) {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::server, "Posthorn");
  res.set(http::field::content_type, content_type);
  res.set(http::field::connection, "close");
  res.body() = std::move(body);
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return out.str();
}

}  // namespace

boost::asio::awaitable<void> run_admin_session(net::Accepted accepted) {
  net::Connection& conn = accepted.connection;
  if (accepted.over_limit) {
    co_await conn.write(render(http::status::service_unavailable, "text/plain", "too many connections\n"));
    co_await conn.close();
    co_return;
  }
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  // Beast's parser wants the whole header in one buffer: collect lines up to the empty one.
  std::string header;
  std::string reply;
  for (;;) {
    auto line = co_await conn.read_line({.max = kMaxHeaderBytes, .timeout = kTimeout, .interruptible = true});
    if (!line) {
      if (line.status == net::ReadStatus::kTooLong) {
        reply = render(http::status::request_header_fields_too_large, "text/plain", "header too large\n");
      }
      break;
    }
    header += line.data;
    header += "\r\n";
    if (header.size() > kMaxHeaderBytes) {
      reply = render(http::status::request_header_fields_too_large, "text/plain", "header too large\n");
      break;
    }
    if (line.data.empty()) {
      boost::beast::error_code ec;
      parser.put(boost::asio::buffer(header), ec);
      if (ec || !parser.is_header_done()) reply = render(http::status::bad_request, "text/plain", "bad request\n");
      break;
    }
  }
  if (reply.empty() && parser.is_header_done()) {
    const auto& req = parser.get();
    const std::string target(req.target());
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      reply = render(http::status::method_not_allowed, "text/plain", "only GET\n");
    } else if (target == "/metrics") {
      reply = render(http::status::ok, "text/plain; version=0.0.4", Metrics::global().render_prometheus());
    } else if (target == "/health") {
      reply = render(http::status::ok, "text/plain", "ok\n");
    } else {
      reply = render(http::status::not_found, "text/plain", "not found\n");
    }
  }
  if (!reply.empty()) co_await conn.write(reply, kTimeout);
  co_await conn.close();
}

}  // namespace posthorn::app
