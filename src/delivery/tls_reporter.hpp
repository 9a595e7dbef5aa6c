// TlsReporter: sends the TLS-RPT aggregate reports [RFC 8460] counted in a queue::TlsReportLog
// (the queue runner records the delivery agent's TLS sessions there). Once an hour it sends every
// report of a finished UTC day (so a day's reports go out once, in the first hour after midnight,
// or at the next start): the policy domain's "_smtp._tls" TXT record names the mailto: addresses
// (§3), the report mail (queue::tlsrpt_message: multipart/report with application/tlsrpt+gzip,
// §5.3) goes into the outbound queue from postmaster@<hostname>, and the report is marked sent. A
// domain without a TLSRPT record gets no report (marked sent, "dropped"); a DNS or queue failure
// leaves the report for the next pass. https: destinations are not supported; a mailto: address
// in one of our own domains goes through the queue like any other (see the report of the branch).
// Depends on queue/ (the log, the queue, the report text), dns/, base/.
// Thread-safe: start/stop from any thread; the loop runs on a strand.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "dns/resolver.hpp"
#include "queue/queue.hpp"
#include "queue/tls_report.hpp"

namespace posthorn::delivery {

struct TlsReporterContext {
  queue::TlsReportLog* log = nullptr;
  queue::Queue* queue = nullptr;
  std::shared_ptr<dns::Resolver> resolver;
  std::string hostname;               // organization-name; the reports come from postmaster@hostname
  std::function<void()> queued = {};  // wakes the queue runner after a report was queued
};

struct TlsReporterPass {
  std::size_t sent = 0;     // reports queued and marked sent
  std::size_t dropped = 0;  // reports for domains without a TLSRPT record (marked sent)
  std::size_t later = 0;    // left for the next pass (DNS or queue failure, or another node sending it)
};

// Sends every unsent report of days before `before_day` (unix seconds); `now` dates the messages.
boost::asio::awaitable<TlsReporterPass> send_tls_reports(TlsReporterContext ctx, int64_t before_day, int64_t now);

class TlsReporter : public std::enable_shared_from_this<TlsReporter> {
 public:
  static std::shared_ptr<TlsReporter> create(boost::asio::any_io_executor executor, TlsReporterContext ctx,
                                             std::chrono::milliseconds period = std::chrono::hours(1));
  void start();
  boost::asio::awaitable<void> stop();

 private:
  TlsReporter(boost::asio::any_io_executor executor, TlsReporterContext ctx, std::chrono::milliseconds period);
  static boost::asio::awaitable<void> loop(std::shared_ptr<TlsReporter> self);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  TlsReporterContext ctx_;
  std::chrono::milliseconds period_;
  boost::asio::steady_timer timer_;  // on strand_
  std::atomic<bool> stopping_{false};
  std::atomic<bool> loop_done_{true};
};

}  // namespace posthorn::delivery
