// TLS-RPT values, JSON and TXT parsing (see tls_report.hpp).
#include "queue/tls_report.hpp"

#include <ctime>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "base/gzip.hpp"
#include "base/json.hpp"
#include "base/random.hpp"
#include "mime/date.hpp"
#include "queue/dsn.hpp"

namespace posthorn::queue {

namespace {

constexpr int64_t kDay = 86400;

// Fields of the storage key are lines; values never contain a newline (STS policy lines and TLSA
// texts are single lines), but one would be replaced so a key always parses back.
std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::string utc(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + json_string(items[i]);
  return out + "]";
}

}  // namespace

std::string serialize_policy(const TlsPolicyRef& p) {
  // type, domain, the number of mx patterns, the patterns, then the policy strings; one per line.
  std::string out = one_line(p.type) + "\n" + one_line(p.domain) + "\n" + std::to_string(p.mx.size()) + "\n";
  for (const auto& m : p.mx) out += one_line(m) + "\n";
  for (const auto& s : p.strings) out += one_line(s) + "\n";
  return out;
}

std::optional<TlsPolicyRef> parse_policy_key(std::string_view text) {
  auto lines = ascii::split(text, '\n');
  if (lines.size() < 4 || !lines.back().empty()) return std::nullopt;  // ends with "\n"
  lines.pop_back();
  TlsPolicyRef p;
  p.type = std::string(lines[0]);
  p.domain = std::string(lines[1]);
  size_t n = 0;
  for (char c : lines[2]) {
    if (c < '0' || c > '9' || n > 100000) return std::nullopt;
    n = n * 10 + size_t(c - '0');
  }
  if (lines[2].empty() || 3 + n > lines.size()) return std::nullopt;
  for (size_t i = 0; i < n; ++i) p.mx.emplace_back(lines[3 + i]);
  for (size_t i = 3 + n; i < lines.size(); ++i) p.strings.emplace_back(lines[i]);
  return p;
}

std::string tlsrpt_json(const TlsReport& report, const TlsReportMetadata& meta) {
  std::string out = "{\n";
  out += "  \"organization-name\": " + json_string(meta.org_name) + ",\n";
  out += "  \"date-range\": {\"start-datetime\": " + json_string(utc(report.day)) +
         ", \"end-datetime\": " + json_string(utc(report.day + kDay - 1)) + "},\n";
  out += "  \"contact-info\": " + json_string(meta.contact) + ",\n";
  out += "  \"report-id\": " + json_string(meta.report_id) + ",\n";
  out += "  \"policies\": [";
  for (size_t i = 0; i < report.policies.size(); ++i) {
    const auto& pc = report.policies[i];
    out += i ? ",\n    {" : "\n    {";
    out += "\"policy\": {\"policy-type\": " + json_string(pc.policy.type);
    if (pc.policy.type != "no-policy-found") {
      out += ", \"policy-string\": " + string_array(pc.policy.strings);
    }
    out += ", \"policy-domain\": " + json_string(pc.policy.domain);
    if (!pc.policy.mx.empty()) out += ", \"mx-host\": " + string_array(pc.policy.mx);
    out += "},\n     \"summary\": {\"total-successful-session-count\": " + std::to_string(pc.successes) +
           ", \"total-failure-session-count\": " + std::to_string(pc.failures) + "}";
    if (!pc.details.empty()) {
      out += ",\n     \"failure-details\": [";
      for (size_t k = 0; k < pc.details.size(); ++k) {
        const auto& d = pc.details[k];
        out += k ? ",\n       {" : "\n       {";
        out += "\"result-type\": " + json_string(d.result_type);
        if (!d.receiving_ip.empty()) out += ", \"receiving-ip\": " + json_string(d.receiving_ip);
        if (!d.mx_host.empty()) out += ", \"receiving-mx-hostname\": " + json_string(d.mx_host);
        out += ", \"failed-session-count\": " + std::to_string(d.count) + "}";
      }
      out += "]";
    }
    out += "}";
  }
  out += report.policies.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

std::string tlsrpt_filename(std::string_view sender, const TlsReport& report, std::string_view id) {
  return std::string(sender) + "!" + report.domain + "!" + std::to_string(report.day) + "!" +
         std::to_string(report.day + kDay - 1) + "!" + std::string(id) + ".json.gz";
}

std::string tlsrpt_message(const TlsReport& report, const TlsReportMetadata& meta,
                           const std::vector<std::string>& to, int64_t now) {
  const std::string boundary = "=_tlsrpt_" + random_hex(12);
  const std::string json = tlsrpt_json(report, meta);
  const std::string b64 = base64::encode(gzip::compress(json));
  std::string to_line;
  for (const auto& t : to) to_line += (to_line.empty() ? "" : ", ") + std::string("<") + t + ">";
  std::string m;
  m += "From: <" + meta.contact + ">\r\n";
  m += "To: " + to_line + "\r\n";
  m += "Date: " + mime::rfc5322_date(now) + "\r\n";
  m += "Subject: Report Domain: " + report.domain + " Submitter: " + meta.org_name + " Report-ID: <" +
       meta.report_id + ">\r\n";
  m += "Message-ID: <" + meta.report_id + ">\r\n";
  m += "TLS-Report-Domain: " + report.domain + "\r\n";
  m += "TLS-Report-Submitter: " + meta.org_name + "\r\n";
  m += "Auto-Submitted: auto-generated\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n\tboundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += "This is an aggregate TLS report (RFC 8460) from " + meta.org_name + " for " + report.domain + ".\r\n\r\n";
  m += "--" + boundary + "\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n";
  m += "Content-Disposition: attachment;\r\n\tfilename=\"" + tlsrpt_filename(meta.org_name, report, meta.report_id) +
       "\"\r\n\r\n";
  for (size_t i = 0; i < b64.size(); i += 76) m += b64.substr(i, 76) + "\r\n";
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

std::vector<std::string> tlsrpt_mailto(const std::vector<std::string>& records) {
  std::vector<std::string> out;
  int found = 0;
  for (const auto& r : records) {
    auto fields = ascii::split(r, ';');
    if (fields.empty() || ascii::trim(fields[0]) != "v=TLSRPTv1") continue;
    ++found;
    out.clear();
    for (size_t i = 1; i < fields.size(); ++i) {
      auto f = ascii::trim(fields[i]);
      if (!f.starts_with("rua=")) continue;
      for (auto uri : ascii::split(f.substr(4), ',')) {
        uri = ascii::trim(uri);
        if (ascii::istarts_with(uri, "mailto:") && uri.size() > 7) out.emplace_back(uri.substr(7));
      }
    }
  }
  if (found != 1) return {};
  return out;
}

Task<bool> TlsReportLog::claim(std::string, int64_t, int64_t) { co_return true; }

}  // namespace posthorn::queue
