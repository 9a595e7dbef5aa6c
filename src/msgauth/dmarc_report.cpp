// DMARC aggregate report rows, XML, gzip, message and destinations (see dmarc_report.hpp).
// co_await only as a statement or a plain initializer (g++ 12).
#include "msgauth/dmarc_report.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "base/gzip.hpp"

namespace posthorn::msgauth {

namespace {

constexpr char kFieldSep = '\x1f';
constexpr std::size_t kRowFixedFields = 9;
constexpr std::size_t kPublishedFixedFields = 6;
constexpr std::size_t kBase64Line = 76;

std::string clean(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

std::string join_fields(const std::vector<std::string_view>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += kFieldSep;
    out += clean(fields[i]);
  }
  return out;
}

std::vector<std::string> split_fields(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view f : ascii::split(text, kFieldSep)) out.emplace_back(f);
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

// <name>value</name> at `indent` spaces, with a newline.
void element(std::string& out, int indent, std::string_view name, std::string_view value) {
  out.append(std::size_t(indent), ' ');
  out += "<" + std::string(name) + ">" + xml_escape(value) + "</" + std::string(name) + ">\n";
}

void open_tag(std::string& out, int indent, std::string_view name) {
  out.append(std::size_t(indent), ' ');
  out += "<" + std::string(name) + ">\n";
}

void close_tag(std::string& out, int indent, std::string_view name) {
  out.append(std::size_t(indent), ' ');
  out += "</" + std::string(name) + ">\n";
}

std::string_view alignment_letter(DmarcAlignment a) { return a == DmarcAlignment::kStrict ? "s" : "r"; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii::to_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += char(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// True when `text` is a TXT record whose first tag is v=DMARC1 [RFC 7489 §7.1].
bool is_dmarc1(std::string_view text) {
  text = ascii::trim(text);
  if (!text.starts_with("v=DMARC1")) return false;
  text = ascii::trim(text.substr(8));
  return text.empty() || text.front() == ';';
}

}  // namespace

std::optional<DmarcReportEntry> dmarc_report_entry(std::string_view source_ip, const SpfOutcome& spf,
                                                   const std::vector<DkimResult>& dkim, const DmarcOutcome& dmarc,
                                                   std::string_view disposition) {
  if (!dmarc.record || dmarc.record->rua.empty() || dmarc.record_domain.empty()) return std::nullopt;
  const DmarcRecord& rec = *dmarc.record;
  DmarcReportEntry e;
  e.policy.domain = ascii::lower(dmarc.record_domain);
  e.policy.adkim = alignment_letter(rec.adkim);
  e.policy.aspf = alignment_letter(rec.aspf);
  e.policy.p = dmarc_policy_name(rec.policy);
  if (rec.subdomain_policy) e.policy.sp = dmarc_policy_name(*rec.subdomain_policy);
  e.policy.pct = rec.pct;
  e.policy.rua = rec.rua;
  DmarcReportRow& r = e.row;
  r.source_ip = source_ip;
  r.header_from = ascii::lower(dmarc.from_domain);
  r.envelope_from = spf.helo_identity ? std::string() : ascii::lower(spf.domain);
  r.disposition = disposition;
  r.dkim_aligned = dmarc.dkim_aligned ? "pass" : "fail";
  r.spf_aligned = dmarc.spf_aligned ? "pass" : "fail";
  for (const auto& d : dkim) {
    if (d.status == DkimStatus::kNone || r.dkim.size() >= kDmarcReportMaxDkim) continue;
    r.dkim.push_back({ascii::lower(d.domain), d.selector, std::string(status_word(d.status))});
  }
  r.spf_domain = ascii::lower(spf.domain);
  r.spf_scope = spf.helo_identity ? "helo" : "mfrom";
  r.spf_result = spf_result_name(spf.result);
  return e;
}

std::string serialize_row(const DmarcReportRow& r) {
  std::vector<std::string_view> f{r.source_ip,    r.header_from, r.envelope_from, r.disposition, r.dkim_aligned,
                                  r.spf_aligned,  r.spf_domain,  r.spf_scope,     r.spf_result};
  for (const auto& d : r.dkim) {
    f.push_back(d.domain);
    f.push_back(d.selector);
    f.push_back(d.result);
  }
  return join_fields(f);
}

std::optional<DmarcReportRow> parse_row(std::string_view text) {
  auto f = split_fields(text);
  if (f.size() < kRowFixedFields || (f.size() - kRowFixedFields) % 3 != 0) return std::nullopt;
  DmarcReportRow r{f[0], f[1], f[2], f[3], f[4], f[5], {}, f[6], f[7], f[8]};
  for (std::size_t i = kRowFixedFields; i < f.size(); i += 3) r.dkim.push_back({f[i], f[i + 1], f[i + 2]});
  return r;
}

std::string serialize_published(const DmarcPublished& p) {
  const std::string pct = std::to_string(p.pct);
  std::vector<std::string_view> f{p.domain, p.adkim, p.aspf, p.p, p.sp, pct};
  for (const auto& u : p.rua) f.push_back(u);
  return join_fields(f);
}

std::optional<DmarcPublished> parse_published(std::string_view text) {
  auto f = split_fields(text);
  if (f.size() < kPublishedFixedFields) return std::nullopt;
  DmarcPublished p{f[0], f[1], f[2], f[3], f[4], 0, {}};
  auto [ptr, ec] = std::from_chars(f[5].data(), f[5].data() + f[5].size(), p.pct);
  if (ec != std::errc() || ptr != f[5].data() + f[5].size()) return std::nullopt;
  p.rua.assign(f.begin() + kPublishedFixedFields, f.end());
  return p;
}

std::string dmarc_report_xml(const DmarcAggregate& report, const ReportMetadata& meta) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n";
  element(x, 2, "version", "1.0");
  open_tag(x, 2, "report_metadata");
  element(x, 4, "org_name", meta.org_name);
  element(x, 4, "email", meta.email);
  element(x, 4, "report_id", meta.report_id);
  open_tag(x, 4, "date_range");
  element(x, 6, "begin", std::to_string(report.day));
  element(x, 6, "end", std::to_string(report.day + kDaySeconds - 1));
  close_tag(x, 4, "date_range");
  // Appendix C has no count for rows left out; its <error> element (after date_range) says so.
  if (report.overflow > 0) {
    element(x, 4, "error", std::to_string(report.overflow) + " further evaluations not itemised (row limit)");
  }
  close_tag(x, 2, "report_metadata");
  open_tag(x, 2, "policy_published");
  element(x, 4, "domain", report.policy.domain);
  element(x, 4, "adkim", report.policy.adkim);
  element(x, 4, "aspf", report.policy.aspf);
  element(x, 4, "p", report.policy.p);
  if (!report.policy.sp.empty()) element(x, 4, "sp", report.policy.sp);
  element(x, 4, "pct", std::to_string(report.policy.pct));
  close_tag(x, 2, "policy_published");
  for (const auto& [row, count] : report.rows) {
    open_tag(x, 2, "record");
    open_tag(x, 4, "row");
    element(x, 6, "source_ip", row.source_ip);
    element(x, 6, "count", std::to_string(count));
    open_tag(x, 6, "policy_evaluated");
    element(x, 8, "disposition", row.disposition);
    element(x, 8, "dkim", row.dkim_aligned);
    element(x, 8, "spf", row.spf_aligned);
    close_tag(x, 6, "policy_evaluated");
    close_tag(x, 4, "row");
    open_tag(x, 4, "identifiers");
    if (!row.envelope_from.empty()) element(x, 6, "envelope_from", row.envelope_from);
    element(x, 6, "header_from", row.header_from);
    close_tag(x, 4, "identifiers");
    open_tag(x, 4, "auth_results");
    for (const auto& d : row.dkim) {
      open_tag(x, 6, "dkim");
      element(x, 8, "domain", d.domain);
      if (!d.selector.empty()) element(x, 8, "selector", d.selector);
      element(x, 8, "result", d.result);
      close_tag(x, 6, "dkim");
    }
    open_tag(x, 6, "spf");
    element(x, 8, "domain", row.spf_domain);
    element(x, 8, "scope", row.spf_scope);
    element(x, 8, "result", row.spf_result);
    close_tag(x, 6, "spf");
    close_tag(x, 4, "auth_results");
    close_tag(x, 2, "record");
  }
  x += "</feedback>\n";
  return x;
}

std::string dmarc_report_filename(std::string_view submitter, const DmarcAggregate& report) {
  return std::string(submitter) + "!" + report.domain + "!" + std::to_string(report.day) + "!" +
         std::to_string(report.day + kDaySeconds - 1) + ".xml.gz";
}

std::string dmarc_report_message(const DmarcAggregate& report, const ReportMetadata& meta,
                                 const ReportMessageInput& in) {
  const std::string boundary = "=_dmarc_" + meta.report_id;
  const std::string attachment = base64::encode(gzip::compress(dmarc_report_xml(report, meta)));
  std::string to;
  for (std::size_t i = 0; i < in.to.size(); ++i) to += (i ? ",\r\n " : "") + in.to[i];
  std::string m;
  m += "From: " + in.from + "\r\n";
  m += "To: " + to + "\r\n";
  m += "Date: " + in.date + "\r\n";
  // RFC 7489 §7.2.1.1; folded between its parts (1*FWS) to stay short.
  m += "Subject: Report Domain: " + report.domain + "\r\n Submitter: " + in.submitter + "\r\n Report-ID: <" +
       meta.report_id + "@" + in.submitter + ">\r\n";
  m += "Message-ID: <" + in.message_id + ">\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n";
  m += "\r\n";
  m += "This is a MIME-formatted message.\r\n";
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += "This is a DMARC aggregate report (RFC 7489) for " + report.domain + " from " + in.submitter + ",\r\n";
  m += "covering " + std::to_string(report.day) + " to " + std::to_string(report.day + kDaySeconds - 1) +
       " (seconds since 1970, UTC).\r\n";
  if (report.overflow > 0) {
    m += std::to_string(report.overflow) + " further evaluations were not itemised (row limit).\r\n";
  }
  m += "--" + boundary + "\r\n";
  const std::string filename = dmarc_report_filename(in.submitter, report);
  m += "Content-Type: application/gzip; name=\"" + filename + "\"\r\n";
  m += "Content-Transfer-Encoding: base64\r\n";
  m += "Content-Disposition: attachment; filename=\"" + filename + "\"\r\n\r\n";
  for (std::size_t i = 0; i < attachment.size(); i += kBase64Line) {
    m += attachment.substr(i, kBase64Line) + "\r\n";
  }
  m += "--" + boundary + "--\r\n";
  return m;
}

std::optional<RuaTarget> parse_rua(std::string_view uri) {
  uri = ascii::trim(uri);
  if (uri.size() < 7 || !ascii::iequals(uri.substr(0, 7), "mailto:")) return std::nullopt;
  uri.remove_prefix(7);
  RuaTarget t;
  const std::size_t bang = uri.find('!');
  if (bang != std::string_view::npos) {
    std::string_view size = uri.substr(bang + 1);
    uri = uri.substr(0, bang);
    uint64_t unit = 1;
    if (!size.empty()) {
      switch (ascii::to_lower(size.back())) {
        case 'k': unit = 1ull << 10; break;
        case 'm': unit = 1ull << 20; break;
        case 'g': unit = 1ull << 30; break;
        case 't': unit = 1ull << 40; break;
        default: break;
      }
      if (unit != 1) size.remove_suffix(1);
    }
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), n);
    if (size.empty() || ec != std::errc() || ptr != size.data() + size.size()) return std::nullopt;
    if (n > UINT64_MAX / unit) return std::nullopt;
    t.max_size = n * unit;
    if (t.max_size == 0) return std::nullopt;
  }
  auto address = percent_decode(uri);
  if (!address) return std::nullopt;
  const std::size_t at = address->rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == address->size()) return std::nullopt;
  if (address->find_first_of(" ,;<>\"()\\") != std::string::npos) return std::nullopt;
  t.address = address->substr(0, at + 1) + ascii::lower(address->substr(at + 1));
  return t;
}

boost::asio::awaitable<std::vector<RuaTarget>> dmarc_report_targets(dns::Resolver& resolver,
                                                                    const PublicSuffixList& psl,
                                                                    DmarcPublished policy) {
  std::vector<RuaTarget> out;
  const std::string org = psl.organizational_domain(policy.domain);
  std::map<std::string, bool> verified;  // rua domain -> may receive
  for (const auto& uri : policy.rua) {
    auto target = parse_rua(uri);
    if (!target) continue;
    if (std::any_of(out.begin(), out.end(), [&](const RuaTarget& t) { return t.address == target->address; })) continue;
    const std::string domain = target->address.substr(target->address.rfind('@') + 1);
    auto known = verified.find(domain);
    if (known == verified.end()) {
      bool ok = psl.organizational_domain(domain) == org;
      if (!ok) {
        auto task = resolver.txt(policy.domain + "._report._dmarc." + domain);
        dns::TxtAnswer answer = co_await std::move(task);
        ok = answer.status == dns::Status::kOk &&
             std::any_of(answer.records.begin(), answer.records.end(), [](const std::string& r) { return is_dmarc1(r); });
      }
      known = verified.emplace(domain, ok).first;
    }
    if (known->second) out.push_back(std::move(*target));
  }
  co_return out;
}

Task<bool> DmarcReportLog::claim(std::string, int64_t, int64_t) { co_return true; }

}  // namespace posthorn::msgauth
