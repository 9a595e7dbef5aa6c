// COMPRESS DEFLATE [RFC 4978]: the tagged OK goes out uncompressed, then both directions are raw
// DEFLATE streams (net::Connection does the work, inside TLS when TLS is up). A second COMPRESS
// answers NO [COMPRESSIONACTIVE]; other mechanisms are BAD. Offered after authentication only; once
// compression is on, STARTTLS is not offered again (it would put TLS above compression).
#include <spdlog/spdlog.h>

#include "proto/imap/response.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

asio::awaitable<Flow> Session::cmd_compress(const std::string& tag, const pi::Compress& args) {
  if (conn_.is_compressed()) {
    auto flow = co_await reply(pi::tagged(tag, Status::kNo, pi::code::kCompressionActive, "DEFLATE is already active"));
    co_return flow;
  }
  if (args.mechanism != "DEFLATE") {
    auto flow = co_await reply(pi::tagged(tag, Status::kBad, "Unknown compression mechanism"));
    co_return flow;
  }
  co_await sync(true);
  const bool ok = co_await send(pi::tagged(tag, Status::kOk, "DEFLATE active"));
  if (!ok) co_return Flow::kClose;
  if (!conn_.start_compression()) {
    // The OK is out: the client now compresses, and we cannot follow. Nothing sensible remains.
    spdlog::warn("conn={} imap: cannot start compression", id());
    co_return Flow::kClose;
  }
  spdlog::debug("conn={} imap: compression on", id());
  co_return Flow::kContinue;
}

}  // namespace posthorn::server::imap
