// DMARC aggregate reports [RFC 7489 §7.2, Appendix C]: what one evaluation contributes to a report
// (a row: source IP, identifiers, the policy applied, the DKIM and SPF results), the storage
// interface that counts rows per report domain and UTC day (DmarcReportLog; its implementations are
// store/sqlite/sqlite_dmarc_log and store/pg/pg_dmarc_log), the report XML, gzip, the report message
// (§7.2.1.1), and the choice of destinations among rua= URIs (mailto: only, "!size" limits, the
// external destination check of §7.1).
// Depends on msgauth/dmarc (DmarcOutcome), spf, dkim (their result types), psl, dns/ (the Resolver,
// for §7.1), base/ and zlib. Pure functions, thread-safe; DmarcReportLog implementations say their own.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "base/task.hpp"
#include "dns/resolver.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/psl.hpp"
#include "msgauth/spf.hpp"

namespace posthorn::msgauth {

inline constexpr int64_t kDaySeconds = 86400;
inline constexpr std::size_t kDmarcReportMaxDkim = 10;  // DKIM results kept per row (as verified)

// The record as published (policy_published), and where reports go.
struct DmarcPublished {
  std::string domain;  // the domain the record was found at
  std::string adkim = "r";
  std::string aspf = "r";
  std::string p = "none";
  std::string sp;      // "" when the record has no sp=
  int pct = 100;
  std::vector<std::string> rua;  // the rua= URIs as written
  bool operator==(const DmarcPublished&) const = default;
};

struct DmarcReportDkim {
  std::string domain, selector, result;  // result: RFC 8601 words (pass, fail, ...)
  bool operator==(const DmarcReportDkim&) const = default;
};

// One evaluation; identical rows of one report domain and day are counted together.
struct DmarcReportRow {
  std::string source_ip;
  std::string header_from;
  std::string envelope_from;   // the MAIL FROM domain ("" for the null sender)
  std::string disposition;     // none | quarantine | reject: what this server did
  std::string dkim_aligned;    // policy_evaluated/dkim: pass | fail
  std::string spf_aligned;     // policy_evaluated/spf: pass | fail
  std::vector<DmarcReportDkim> dkim;
  std::string spf_domain, spf_scope, spf_result;  // scope: mfrom | helo
  bool operator==(const DmarcReportRow&) const = default;
};

struct DmarcReportEntry {
  DmarcPublished policy;
  DmarcReportRow row;
};

// What to record for one evaluation: nullopt when DMARC found no record, or the record asks for no
// aggregate reports (no rua=). `disposition` is what the server did ("none", "quarantine", "reject").
std::optional<DmarcReportEntry> dmarc_report_entry(std::string_view source_ip, const SpfOutcome& spf,
                                                   const std::vector<DkimResult>& dkim, const DmarcOutcome& dmarc,
                                                   std::string_view disposition);

// Flat text forms, for storage keys (identical rows give identical text). Control characters in
// fields are replaced by '?'; parse_* return nullopt for text not made by serialize_*.
std::string serialize_row(const DmarcReportRow& row);
std::optional<DmarcReportRow> parse_row(std::string_view text);
std::string serialize_published(const DmarcPublished& p);
std::optional<DmarcPublished> parse_published(std::string_view text);

// One report: a report domain's rows for one UTC day.
struct DmarcAggregate {
  std::string domain;
  int64_t day = 0;  // unix seconds of 00:00 UTC
  DmarcPublished policy;
  std::vector<std::pair<DmarcReportRow, uint64_t>> rows;  // row, count
  uint64_t overflow = 0;  // evaluations not itemised because the row limit was reached
};

// Where evaluations are counted: one report per (policy domain, UTC day) holding the latest
// published policy, its distinct rows with their counts, and an overflow counter. Implementations
// bound the distinct rows kept per report (further distinct rows only add to the overflow counter;
// rows already kept still count). Every call may wait on storage (Task, base/task.hpp); the
// shared behavioural suite is tests/harness/dmarc_log_contract.hpp.
class DmarcReportLog {
 public:
  virtual ~DmarcReportLog() = default;
  // Counts `entry` on the UTC day of `now` (unix seconds). For a report already marked sent, the
  // evaluation starts that day's report over (no rows, no overflow).
  virtual Task<void> record(DmarcReportEntry entry, int64_t now) = 0;
  // The unsent reports with a count, of days before `before_day` (unix seconds of a day's start),
  // ordered by day then domain; each report's rows in the order they were first counted.
  virtual Task<std::vector<DmarcAggregate>> due(int64_t before_day) = 0;
  // Marks a report sent and drops its rows; kNotFound when there is no such report.
  virtual Task<void> mark_sent(std::string domain, int64_t day) = 0;
  // Removes sent reports and everything older than 7 days before `now`; returns reports removed.
  virtual Task<std::size_t> prune(int64_t now) = 0;
  // Takes the report of (domain, day) for sending by this node for a while (a crashed sender's claim
  // runs out), so that the reporters of several nodes sharing the log never both send it: false
  // while another node holds it. mark_sent() ends the claim. A log of one node always gives it (this
  // default).
  virtual Task<bool> claim(std::string domain, int64_t day, int64_t now);
};

inline int64_t day_start(int64_t unix_seconds) {
  return unix_seconds - ((unix_seconds % kDaySeconds) + kDaySeconds) % kDaySeconds;
}

struct ReportMetadata {
  std::string org_name;   // the submitter's name, e.g. the hostname
  std::string email;      // the report address
  std::string report_id;  // unique per report
};

// The Appendix C XML of `report`.
std::string dmarc_report_xml(const DmarcAggregate& report, const ReportMetadata& meta);


// "submitter!domain!begin!end.xml.gz" [RFC 7489 §7.2.1.1].
std::string dmarc_report_filename(std::string_view submitter, const DmarcAggregate& report);

struct ReportMessageInput {
  std::string from;        // the report address
  std::vector<std::string> to;
  std::string date;        // RFC 5322 date-time
  std::string submitter;   // the org name / hostname (Subject's Submitter, file name)
  std::string message_id;  // without angle brackets
};

// The report message: multipart/mixed with a short text part and the gzip'd XML as an
// application/gzip attachment (base64). CRLF line ends.
std::string dmarc_report_message(const DmarcAggregate& report, const ReportMetadata& meta,
                                 const ReportMessageInput& in);

// One rua= destination.
struct RuaTarget {
  std::string address;    // local@domain
  uint64_t max_size = 0;  // the "!size" limit in bytes; 0 = none
  bool operator==(const RuaTarget&) const = default;
};

// Parses "mailto:addr[!size[kmgt]]" (percent-escapes decoded); nullopt for other schemes or a
// malformed URI.
std::optional<RuaTarget> parse_rua(std::string_view uri);

// The rua= destinations of `policy` that may receive its reports: mailto: URIs whose domain is in
// the report domain's Organizational Domain, or outside it when
// "<domain>._report._dmarc.<rua domain>" has a TXT record starting with "v=DMARC1" [RFC 7489 §7.1].
boost::asio::awaitable<std::vector<RuaTarget>> dmarc_report_targets(dns::Resolver& resolver,
                                                                    const PublicSuffixList& psl,
                                                                    DmarcPublished policy);

}  // namespace posthorn::msgauth
