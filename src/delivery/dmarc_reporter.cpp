// DmarcReporter (see dmarc_reporter.hpp). co_await only as a statement or a plain initializer (g++ 12).
#include "delivery/dmarc_reporter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.hpp"
#include "base/random.hpp"
#include "mime/date.hpp"
#include "delivery/local_delivery.hpp"

namespace posthorn::delivery {

namespace asio = boost::asio;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

asio::awaitable<void> record_dmarc_evaluation(msgauth::DmarcReportLog* log, std::string source_ip,
                                              const InboundVerdict& verdict, int64_t now) {
  if (log == nullptr) co_return;
  auto entry = msgauth::dmarc_report_entry(source_ip, verdict.spf, verdict.dkim, verdict.dmarc,
                                           config::auth_action_name(verdict.action));
  if (!entry) co_return;
  auto task = log->record(std::move(*entry), now);
  auto recorded = co_await std::move(task);
  if (!recorded) spdlog::warn("dmarc: evaluation not counted for reports: {}", recorded.error().message);
}

std::shared_ptr<DmarcReporter> DmarcReporter::create(asio::any_io_executor executor, ReporterContext ctx,
                                                     std::chrono::milliseconds period) {
  return std::shared_ptr<DmarcReporter>(new DmarcReporter(std::move(executor), std::move(ctx), period));
}

DmarcReporter::DmarcReporter(asio::any_io_executor executor, ReporterContext ctx, std::chrono::milliseconds period)
    : executor_(executor), strand_(asio::make_strand(executor)), ctx_(std::move(ctx)), period_(period), timer_(strand_) {}

void DmarcReporter::start() {
  loop_done_ = false;
  asio::co_spawn(strand_, loop(shared_from_this()), asio::detached);
}

asio::awaitable<void> DmarcReporter::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopping_ = true;
    self->timer_.cancel();
  });
  // A pass in progress finishes its current report (each is short: a few lookups and one store or
  // queue write per address); the loop ends at its next check.
  asio::steady_timer pause(executor_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!loop_done_ && std::chrono::steady_clock::now() < deadline) {
    pause.expires_after(std::chrono::milliseconds(20));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> DmarcReporter::loop(std::shared_ptr<DmarcReporter> self) {
  while (!self->stopping_) {
    const int64_t now = unix_now();
    msgauth::DmarcReportLog* log = self->ctx_.log;
    auto prune = log->prune(now);
    auto pruned = co_await std::move(prune);
    if (!pruned) spdlog::warn("dmarc: cannot prune the report log: {}", pruned.error().message);
    try {
      auto task = self->send_due(msgauth::day_start(now), now);
      ReporterPass pass = co_await std::move(task);
      if (pass.sent + pass.dropped + pass.later > 0) {
        spdlog::info("dmarc: aggregate reports: {} sent, {} without a destination, {} left for later", pass.sent,
                     pass.dropped, pass.later);
      }
    } catch (const std::exception& e) {
      spdlog::error("dmarc: report pass failed: {}", e.what());
    }
    if (self->stopping_) break;
    self->timer_.expires_after(self->period_);
    co_await self->timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  self->loop_done_ = true;
}

asio::awaitable<ReporterPass> DmarcReporter::send_due(int64_t before_day, int64_t now) {
  ReporterPass pass;
  msgauth::DmarcReportLog* log = ctx_.log;
  auto task = log->due(before_day);
  auto due = co_await std::move(task);
  if (!due) {
    spdlog::warn("dmarc: cannot read the due reports: {}", due.error().message);
    co_return pass;
  }
  for (auto& report : *due) {
    if (stopping_) break;
    const std::string domain = report.domain;
    const int64_t day = report.day;
    auto claim = log->claim(domain, day, now);  // another node's reporter may be sending it
    auto claimed = co_await std::move(claim);
    if (!claimed) spdlog::warn("dmarc: report for {} not claimed: {}", domain, claimed.error().message);
    if (!claimed || !*claimed) {
      ++pass.later;
      continue;
    }
    bool dropped = false;
    auto one = send_one(std::move(report), now, &dropped);
    const bool done = co_await std::move(one);
    if (!done) {
      ++pass.later;
      continue;
    }
    auto mark = log->mark_sent(domain, day);
    auto marked = co_await std::move(mark);
    if (!marked) {
      spdlog::warn("dmarc: report for {} sent but not marked: {}", domain, marked.error().message);
      ++pass.later;
      continue;
    }
    ++(dropped ? pass.dropped : pass.sent);
  }
  co_return pass;
}

asio::awaitable<bool> DmarcReporter::send_one(msgauth::DmarcAggregate report, int64_t now, bool* dropped) {
  const auto cfg = ctx_.config();
  if (!ctx_.resolver || !ctx_.psl) {
    spdlog::warn("dmarc: report for {} not sent: no resolver or public suffix list", report.domain);
    co_return false;
  }
  auto targets_task = msgauth::dmarc_report_targets(*ctx_.resolver, *ctx_.psl, report.policy);
  std::vector<msgauth::RuaTarget> targets = co_await std::move(targets_task);
  const msgauth::ReportMetadata meta{cfg->msgauth.report_org_name, cfg->msgauth.report_address,
                                     report.domain + "." + std::to_string(report.day) + "." + random_hex(6)};
  msgauth::ReportMessageInput in{cfg->msgauth.report_address, {}, mime::rfc5322_date(now),
                                 cfg->msgauth.report_org_name, meta.report_id + "@" + cfg->hostname};
  for (const auto& t : targets) in.to.push_back(t.address);
  std::string message = msgauth::dmarc_report_message(report, meta, in);
  // "!size" [RFC 7489 §6.4]: an address whose limit the report exceeds does not get it; the To
  // field then names only the others (which makes the message shorter still).
  std::vector<std::string> fit;
  for (const auto& t : targets) {
    if (t.max_size != 0 && message.size() > t.max_size) {
      spdlog::info("dmarc: report for {} ({} bytes) skipped for {}: its limit is {} bytes", report.domain,
                   message.size(), t.address, t.max_size);
      continue;
    }
    fit.push_back(t.address);
  }
  if (fit.empty()) {
    spdlog::info("dmarc: report for {} has no destination that may take it; dropped", report.domain);
    *dropped = true;
    co_return true;
  }
  if (fit.size() != in.to.size()) {
    in.to = fit;
    message = msgauth::dmarc_report_message(report, meta, in);
  }
  bool all = true;
  for (const auto& to : fit) {
    auto send = send_notice(ctx_.directory, ctx_.store, ctx_.queue, to, message, false,
                            "dmarc report " + meta.report_id, cfg->msgauth.report_address);
    const NoticeSent sent = co_await std::move(send);
    if (sent == NoticeSent::kLater) all = false;
    if (sent == NoticeSent::kQueued && ctx_.queued) ctx_.queued();
  }
  if (all) spdlog::info("dmarc: report {} for {} sent to {} address(es)", meta.report_id, report.domain, fit.size());
  co_return all;
}

}  // namespace posthorn::delivery
