// `posthorn dmarc report [--send]`: prints the pending DMARC aggregate reports of the DMARC log that
// [store] names (<data>/dmarc.db, or the shared PostgreSQL database: every node's counts), today's
// included, as their XML, or sends them now the way the server's hourly DmarcReporter does (stored
// for local addresses, queued for remote ones: the running server's queue runner picks those up at
// its next poll). Depends on app/backends (the log, store, queue), delivery/ (the reporter), dns/
// (unbound), msgauth/. Main thread of a command-line run only.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>

#include "app/admin_context.hpp"
#include "app/commands.hpp"
#include "dns/unbound_resolver.hpp"
#include "base/blocking_pool.hpp"
#include "delivery/dmarc_reporter.hpp"
#include "base/run_sync.hpp"

namespace posthorn::app {

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int print_reports(const Admin& a, int64_t before_day) {
  auto logs = Backends::open(*a.cfg, *a.pool, kDmarcLogPart);
  if (!logs) return a.fail(logs.error().message);
  auto due = run_sync((*logs)->dmarc_log().due(before_day));
  if (!due) return a.fail(due.error());
  for (const auto& r : *due) {
    std::printf("# report for %s, day %lld: %zu rows, %llu not itemised\n", r.domain.c_str(), (long long)r.day,
                r.rows.size(), (unsigned long long)r.overflow);
    const msgauth::ReportMetadata meta{a.cfg->msgauth.report_org_name, a.cfg->msgauth.report_address, "pending"};
    std::fputs(msgauth::dmarc_report_xml(r, meta).c_str(), stdout);
  }
  std::printf("%zu pending report(s)\n", due->size());
  return 0;
}

int send_reports(const Admin& a, int64_t before_day) {
  constexpr std::size_t kPoolThreads = 2;
  boost::asio::io_context io;  // first: destroyed after the pool (see run_on_store)
  BlockingPool pool(kPoolThreads);
  // The storage on this run's pool, whose completions resume on `io` (a.dir's pool outlives `io`).
  auto backends = Backends::open(*a.cfg, pool, kAllParts | kDmarcLogPart);
  if (!backends) return a.fail(backends.error().message);
  auto resolver = dns::UnboundResolver::create(io.get_executor(), a.cfg->dns);
  if (!resolver) return a.fail("cannot start the resolver: " + resolver.error().message);
  auto psl = msgauth::PublicSuffixList::load();
  if (!psl) return a.fail(psl.error().message + "; install Debian's publicsuffix");
  delivery::ReporterContext ctx;
  const auto cfg = a.cfg;
  ctx.config = [cfg] { return cfg; };
  ctx.log = &(*backends)->dmarc_log();
  ctx.resolver = *resolver;
  ctx.psl = *psl;
  ctx.queue = &(*backends)->queue();
  ctx.store = &(*backends)->store();
  ctx.directory = &(*backends)->directory();
  auto reporter = delivery::DmarcReporter::create(io.get_executor(), std::move(ctx));
  auto done = boost::asio::co_spawn(io, reporter->send_due(before_day, unix_now()), boost::asio::use_future);
  io.run();
  delivery::ReporterPass pass;
  try {
    pass = done.get();
  } catch (const std::exception& e) {
    return a.fail(e.what());
  }
  std::printf("%zu report(s) sent, %zu without a destination, %zu left for later\n", pass.sent, pass.dropped,
              pass.later);
  return pass.later == 0 ? 0 : 1;
}

}  // namespace

int cmd_dmarc_report(const std::filesystem::path& config_file, bool send) {
  auto a = open_admin("posthorn dmarc report", config_file);
  if (!a) return 1;
  // Today's reports too: an operator (or a test) asking now wants what has been counted so far.
  const int64_t before_day = msgauth::day_start(unix_now()) + msgauth::kDaySeconds;
  return send ? send_reports(*a, before_day) : print_reports(*a, before_day);
}

}  // namespace posthorn::app
