// TLS-RPT [RFC 8460]: what one outbound TLS session contributes to a report (the policy that
// applied, and success or a failure result type of §4.3), the storage interface that counts
// sessions per policy domain and UTC day (TlsReportLog; its implementations are
// store/sqlite/sqlite_tlsrpt_log and store/pg/pg_tlsrpt_log), the §4.4 JSON report, the report file name (§5.3), and the rua=
// addresses of a "_smtp._tls" TXT record (§3). The delivery agent (smtpc/) fills TlsSession values
// into its outcome; the queue runner records them, so smtpc never touches storage.
// Depends on base/. Pure functions, thread-safe; TlsReportLog implementations say their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/task.hpp"

namespace posthorn::queue {

// The policy of a session, as a report names it (§4.4 "policy").
struct TlsPolicyRef {
  std::string domain;                // the recipient domain (policy-domain)
  std::string type;                  // "sts", "tlsa" or "no-policy-found"
  std::vector<std::string> strings;  // policy-string: the STS policy lines, or the TLSA records "3 1 1 ab.."
  std::vector<std::string> mx;       // mx-host: the STS mx patterns
  bool operator==(const TlsPolicyRef&) const = default;
};

struct TlsSession {
  TlsPolicyRef policy;
  std::string result_type;  // "" for a successful session, else a §4.3 result type
  std::string mx_host;      // receiving-mx-hostname ("" for policy-level failures such as a fetch error)
  std::string receiving_ip;
  bool operator==(const TlsSession&) const = default;
};

struct TlsFailureCount {
  std::string result_type;
  std::string mx_host;
  std::string receiving_ip;
  uint64_t count = 0;
  bool operator==(const TlsFailureCount&) const = default;
};

struct TlsPolicyCounts {
  TlsPolicyRef policy;
  uint64_t successes = 0;
  uint64_t failures = 0;
  std::vector<TlsFailureCount> details;
};

// One report: a policy domain's sessions of one UTC day.
struct TlsReport {
  std::string domain;
  int64_t day = 0;  // unix seconds of 00:00 UTC
  std::vector<TlsPolicyCounts> policies;
};

// Where sessions are counted: per (policy domain, UTC day, policy) the successes and failures, per
// failure (result type, MX host, address) a count. Every call may wait on storage (Task,
// base/task.hpp); the shared behavioural suite is tests/harness/tlsrpt_log_contract.hpp.
class TlsReportLog {
 public:
  virtual ~TlsReportLog() = default;
  // Counts `session` on the UTC day of `now` (unix seconds).
  virtual Task<void> record(TlsSession session, int64_t now) = 0;
  // The unsent reports of days before `before_day` (unix seconds of a day's start), ordered by day
  // then domain; policies and failures in the order they were first counted.
  virtual Task<std::vector<TlsReport>> due(int64_t before_day) = 0;
  // Drops a report's counts (nothing to drop is not an error); a session recorded later for the
  // same day starts a new report.
  virtual Task<void> mark_sent(std::string domain, int64_t day) = 0;
  // As DmarcReportLog::claim: the report of (domain, day) taken for sending by this node for a while;
  // false while another node holds it; mark_sent() ends the claim. Always given by default.
  virtual Task<bool> claim(std::string domain, int64_t day, int64_t now);
};

// The policy as one text (a storage key; identical policies give identical text), and back.
std::string serialize_policy(const TlsPolicyRef& p);
std::optional<TlsPolicyRef> parse_policy_key(std::string_view text);

struct TlsReportMetadata {
  std::string org_name;   // organization-name
  std::string contact;    // contact-info (an address)
  std::string report_id;  // unique per report
};

// The §4.4 JSON of `report` (date-range: the whole UTC day).
std::string tlsrpt_json(const TlsReport& report, const TlsReportMetadata& meta);

// "sender!policy-domain!begin!end!id.json.gz" [RFC 8460 §5.3]; begin/end are unix seconds.
std::string tlsrpt_filename(std::string_view sender, const TlsReport& report, std::string_view id);

// The report mail [RFC 8460 §5.3]: multipart/report; report-type="tlsrpt" with a short text part
// and the gzipped JSON as application/tlsrpt+gzip (base64), TLS-Report-Domain and
// TLS-Report-Submitter fields, and the §5.3 subject. CRLF line ends. `now` dates it (unix seconds).
std::string tlsrpt_message(const TlsReport& report, const TlsReportMetadata& meta,
                           const std::vector<std::string>& to, int64_t now);

// The mailto: addresses of the one "v=TLSRPTv1" record among `records` [RFC 8460 §3] (https: URIs
// are not supported and skipped); empty when there is no such record or more than one.
std::vector<std::string> tlsrpt_mailto(const std::vector<std::string>& records);

}  // namespace posthorn::queue
