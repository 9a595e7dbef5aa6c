// `posthorn tlsrpt report [--send]`: prints the pending TLS-RPT reports [RFC 8460] of the TLS-RPT
// log that [store] names (<data>/tlsrpt.db, or the shared PostgreSQL database: every node's
// counts), today's included, as their JSON, or sends them now the way the server's daily
// TlsReporter does (queued: the running server's queue runner picks them up at its next poll).
// Depends on app/backends (the log, the queue), delivery/ (the reporter), dns/ (unbound), queue/.
// Main thread of a command-line run only.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>

#include "app/admin_context.hpp"
#include "app/commands.hpp"
#include "dns/unbound_resolver.hpp"
#include "base/blocking_pool.hpp"
#include "delivery/tls_reporter.hpp"
#include "base/run_sync.hpp"

namespace posthorn::app {

namespace {

constexpr int64_t kDay = 86400;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int print_reports(const Admin& a, int64_t before_day) {
  auto logs = Backends::open(*a.cfg, *a.pool, kTlsRptLogPart);
  if (!logs) return a.fail(logs.error().message);
  auto due = run_sync((*logs)->tlsrpt_log().due(before_day));
  if (!due) return a.fail(due.error());
  for (const auto& r : *due) {
    std::printf("# report for %s, day %lld: %zu policies\n", r.domain.c_str(), (long long)r.day, r.policies.size());
    const queue::TlsReportMetadata meta{a.cfg->hostname, "postmaster@" + a.cfg->hostname, "pending"};
    std::fputs(queue::tlsrpt_json(r, meta).c_str(), stdout);
  }
  std::printf("%zu pending report(s)\n", due->size());
  return 0;
}

int send_reports(const Admin& a, int64_t before_day) {
  boost::asio::io_context io;  // first: destroyed after the pool
  BlockingPool pool(1);
  auto q = Backends::open(*a.cfg, pool, kQueuePart | kTlsRptLogPart);
  if (!q) return a.fail(q.error().message);
  auto resolver = dns::UnboundResolver::create(io.get_executor(), a.cfg->dns);
  if (!resolver) return a.fail("cannot start the resolver: " + resolver.error().message);
  delivery::TlsReporterContext ctx;
  ctx.log = &(*q)->tlsrpt_log();
  ctx.queue = &(*q)->queue();
  ctx.resolver = *resolver;
  ctx.hostname = a.cfg->hostname;
  auto done = boost::asio::co_spawn(io, delivery::send_tls_reports(ctx, before_day, unix_now()),
                                    boost::asio::use_future);
  io.run();
  delivery::TlsReporterPass pass;
  try {
    pass = done.get();
  } catch (const std::exception& e) {
    return a.fail(e.what());
  }
  std::printf("%zu report(s) queued, %zu without a TLSRPT record, %zu left for later\n", pass.sent, pass.dropped,
              pass.later);
  return pass.later == 0 ? 0 : 1;
}

}  // namespace

int cmd_tlsrpt_report(const std::filesystem::path& config_file, bool send) {
  auto a = open_admin("posthorn tlsrpt report", config_file);
  if (!a) return 1;
  // Today's reports too: an operator (or a test) asking now wants what has been counted so far.
  const int64_t now = unix_now();
  const int64_t before_day = now - ((now % kDay) + kDay) % kDay + kDay;
  return send ? send_reports(*a, before_day) : print_reports(*a, before_day);
}

}  // namespace posthorn::app
