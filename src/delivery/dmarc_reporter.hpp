// DmarcReporter: sends the DMARC aggregate reports [RFC 7489 §7.2] counted in a
// msgauth::DmarcReportLog. Once an hour it prunes the log and sends every unsent report of a
// finished UTC day (so the previous day's reports go out once, in the first hour after midnight,
// or at the next start): the report's rua= destinations are chosen by msgauth::dmarc_report_targets
// (mailto: only, external destinations verified, §7.1), the message is built by
// msgauth::dmarc_report_message, addresses whose "!size" is smaller than it are skipped, and the
// message goes to each address through send_notice() (stored at once for a local address, queued
// with the report address as sender otherwise). A report is marked sent when every address took it
// (or none may take it); a store or queue error leaves it for the next hour.
// Depends on msgauth/ (reports), queue/, store/, auth/ (Directory), dns/, base/, config/ and
// local_delivery.hpp. Thread-safe: start/stop from any thread; the loop runs on a strand.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "auth/directory.hpp"
#include "config/config.hpp"
#include "dns/resolver.hpp"
#include "msgauth/dmarc_report.hpp"
#include "msgauth/psl.hpp"
#include "queue/queue.hpp"
#include "delivery/inbound_auth.hpp"
#include "store/store.hpp"

namespace posthorn::delivery {

struct ReporterContext {
  std::function<std::shared_ptr<const config::Config>()> config;
  msgauth::DmarcReportLog* log = nullptr;
  std::shared_ptr<dns::Resolver> resolver;
  std::shared_ptr<const msgauth::PublicSuffixList> psl;
  queue::Queue* queue = nullptr;
  store::MailStore* store = nullptr;
  auth::Directory* directory = nullptr;
  std::function<void()> queued = {};  // wakes the queue runner after a report was queued
};

// What one pass did (for logs, tests and `posthorn dmarc report --send`).
struct ReporterPass {
  std::size_t sent = 0;     // reports marked sent after reaching every address
  std::size_t dropped = 0;  // reports without an address that may take them (marked sent)
  std::size_t later = 0;    // reports left for the next pass (or sent by another node now)
};

// Counts one MX evaluation in `log` when its DMARC record asks for aggregate reports; the
// disposition is what the verdict did. Errors are logged: a lost count never fails a message.
// `log` nullptr: nothing.
boost::asio::awaitable<void> record_dmarc_evaluation(msgauth::DmarcReportLog* log, std::string source_ip,
                                                     const InboundVerdict& verdict, int64_t now);

class DmarcReporter : public std::enable_shared_from_this<DmarcReporter> {
 public:
  static std::shared_ptr<DmarcReporter> create(boost::asio::any_io_executor executor, ReporterContext ctx,
                                               std::chrono::milliseconds period = std::chrono::hours(1));

  void start();
  boost::asio::awaitable<void> stop();

  // Sends every unsent report of days before `before_day` (unix seconds); `now` dates the messages.
  boost::asio::awaitable<ReporterPass> send_due(int64_t before_day, int64_t now);

 private:
  DmarcReporter(boost::asio::any_io_executor executor, ReporterContext ctx, std::chrono::milliseconds period);
  static boost::asio::awaitable<void> loop(std::shared_ptr<DmarcReporter> self);
  // Sends one report; true when it can be marked sent.
  boost::asio::awaitable<bool> send_one(msgauth::DmarcAggregate report, int64_t now, bool* dropped);

  boost::asio::any_io_executor executor_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  ReporterContext ctx_;
  std::chrono::milliseconds period_;
  boost::asio::steady_timer timer_;  // on strand_
  bool stopping_ = false;            // on strand_
  std::atomic<bool> loop_done_{true};
};

}  // namespace posthorn::delivery
