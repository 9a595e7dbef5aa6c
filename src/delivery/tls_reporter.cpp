// TlsReporter implementation (see tls_reporter.hpp).
#include "delivery/tls_reporter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "base/random.hpp"

namespace posthorn::delivery {

namespace asio = boost::asio;

namespace {

constexpr int64_t kDay = 86400;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

asio::awaitable<TlsReporterPass> send_tls_reports(TlsReporterContext ctx, int64_t before_day, int64_t now) {
  TlsReporterPass pass;
  auto* log = ctx.log;
  auto due_task = log->due(before_day);
  auto due = co_await std::move(due_task);
  if (!due) {
    spdlog::warn("tlsrpt: cannot read the reports: {}", due.error().message);
    co_return pass;
  }
  for (auto& report : *due) {
    auto claim = log->claim(report.domain, report.day, now);  // another node's reporter may be sending it
    auto claimed = co_await std::move(claim);
    if (!claimed) spdlog::warn("tlsrpt: report for {} not claimed: {}", report.domain, claimed.error().message);
    if (!claimed || !*claimed) {
      ++pass.later;
      continue;
    }
    auto txt = co_await ctx.resolver->txt("_smtp._tls." + report.domain);
    if (txt.status == dns::Status::kTempFail) {
      spdlog::info("tlsrpt: {}: TXT lookup failed ({}), later", report.domain, txt.why);
      ++pass.later;
      continue;
    }
    std::vector<std::string> to;
    if (txt.status == dns::Status::kOk) to = queue::tlsrpt_mailto(txt.records);
    const std::string domain = report.domain;
    const int64_t day = report.day;
    if (to.empty()) {
      auto mark = log->mark_sent(domain, day);
      auto marked = co_await std::move(mark);
      if (!marked) spdlog::warn("tlsrpt: {}: {}", domain, marked.error().message);
      ++pass.dropped;
      continue;
    }
    const queue::TlsReportMetadata meta{ctx.hostname, "postmaster@" + ctx.hostname,
                                        "tlsrpt-" + std::to_string(day) + "-" + random_hex(8) + "@" + ctx.hostname};
    queue::NewEntry entry;
    entry.sender = meta.contact;
    for (const auto& t : to) {
      queue::Recipient r;
      r.address = t;
      entry.recipients.push_back(std::move(r));
    }
    entry.message = queue::tlsrpt_message(report, meta, to, now);
    auto* q = ctx.queue;
    auto enqueue = q->enqueue(std::move(entry));
    auto queued = co_await std::move(enqueue);
    Result<void> sent = queued ? Result<void>() : Result<void>(queued.error());
    if (queued) {
      auto mark = log->mark_sent(domain, day);
      auto marked = co_await std::move(mark);
      sent = marked;
    }
    if (!sent) {
      spdlog::warn("tlsrpt: {}: cannot queue the report: {}", domain, sent.error().message);
      ++pass.later;
      continue;
    }
    spdlog::info("tlsrpt: report for {} ({} policies) queued to {} address(es)", domain, report.policies.size(),
                 to.size());
    ++pass.sent;
  }
  if (pass.sent > 0 && ctx.queued) ctx.queued();
  co_return pass;
}

TlsReporter::TlsReporter(asio::any_io_executor executor, TlsReporterContext ctx, std::chrono::milliseconds period)
    : strand_(asio::make_strand(executor)), ctx_(std::move(ctx)), period_(period), timer_(strand_) {}

std::shared_ptr<TlsReporter> TlsReporter::create(asio::any_io_executor executor, TlsReporterContext ctx,
                                                 std::chrono::milliseconds period) {
  return std::shared_ptr<TlsReporter>(new TlsReporter(std::move(executor), std::move(ctx), period));
}

void TlsReporter::start() {
  loop_done_ = false;
  asio::co_spawn(strand_, loop(shared_from_this()), asio::detached);
}

asio::awaitable<void> TlsReporter::loop(std::shared_ptr<TlsReporter> self) {
  while (!self->stopping_) {
    const int64_t now = unix_now();
    auto task = send_tls_reports(self->ctx_, now - ((now % kDay) + kDay) % kDay, now);
    co_await std::move(task);
    if (self->stopping_) break;
    self->timer_.expires_after(self->period_);
    co_await self->timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  self->loop_done_ = true;
}

asio::awaitable<void> TlsReporter::stop() {
  stopping_ = true;
  asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  asio::steady_timer wait(co_await asio::this_coro::executor);
  for (int i = 0; i < 500 && !loop_done_; ++i) {  // a pass in flight gets up to 5 s
    wait.expires_after(std::chrono::milliseconds(10));
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!loop_done_) asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }
}

}  // namespace posthorn::delivery
