// DMARC evaluation. Record discovery follows RFC 7489 §6.6.3: a temporary DNS failure is
// temperror; several DMARC records at one name, or a record that does not parse, is permerror (no
// policy is applied); no record at the From domain falls back to the Organizational Domain.
#include "msgauth/dmarc.hpp"

#include <algorithm>
#include <cstring>

#include "base/ascii.hpp"
#include "base/random.hpp"
#include "mime/address.hpp"
#include "mime/header.hpp"
#include "msgauth/spf_util.hpp"

namespace posthorn::msgauth {

namespace asio = boost::asio;

namespace {

bool is_digits(std::string_view s) {
  if (s.empty() || s.size() > 10) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<DmarcPolicy> parse_policy(std::string_view v) {
  if (ascii::iequals(v, "none")) return DmarcPolicy::kNone;
  if (ascii::iequals(v, "quarantine")) return DmarcPolicy::kQuarantine;
  if (ascii::iequals(v, "reject")) return DmarcPolicy::kReject;
  return std::nullopt;
}

std::optional<DmarcAlignment> parse_alignment(std::string_view v) {
  if (ascii::iequals(v, "r")) return DmarcAlignment::kRelaxed;
  if (ascii::iequals(v, "s")) return DmarcAlignment::kStrict;
  return std::nullopt;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; the URI needs a scheme and a body.
bool valid_uri(std::string_view u) {
  const size_t colon = u.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 == u.size()) return false;
  for (size_t i = 0; i < colon; ++i) {
    const char c = u[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!(alpha || (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))) return false;
  }
  const size_t bang = u.find('!', colon);
  if (bang != std::string_view::npos) {
    std::string_view size = u.substr(bang + 1);
    if (!size.empty() && std::strchr("kmgtKMGT", size.back()) != nullptr) size.remove_suffix(1);
    if (!is_digits(size)) return false;
  }
  for (char c : u) {
    if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7f) return false;
  }
  return true;
}

bool parse_uris(std::string_view v, std::vector<std::string>& out) {
  for (auto part : ascii::split(v, ',')) {
    part = ascii::trim(part);
    if (!valid_uri(part)) return false;
    if (out.size() < kDmarcMaxUris) out.emplace_back(part);
  }
  return !out.empty();
}

bool valid_fo(std::string_view v) {
  for (auto part : ascii::split(v, ':')) {
    part = ascii::trim(part);
    if (part != "0" && part != "1" && part != "d" && part != "s") return false;
  }
  return true;
}

// The first tag is v=DMARC1 (case-sensitive value, RFC 7489 §6.4).
bool is_dmarc_record(std::string_view text) {
  std::string_view first = text.substr(0, text.find(';'));
  const size_t eq = first.find('=');
  if (eq == std::string_view::npos) return false;
  return ascii::iequals(ascii::trim(first.substr(0, eq)), "v") && ascii::trim(first.substr(eq + 1)) == "DMARC1";
}

std::string normal_domain(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  return ascii::lower(d);
}

// How strict an outcome is, for choosing among several From domains.
int strictness(const DmarcOutcome& o) {
  static constexpr int kByResult[] = {0, 0, 3, 2, 1};  // none, pass, fail, temperror, permerror
  return int(o.policy) * 10 + kByResult[size_t(o.result)];
}

struct Lookup {
  DmarcResult error = DmarcResult::kNone;  // kTempError / kPermError when the lookup failed
  std::optional<DmarcRecord> record;
  std::string reason;
};

asio::awaitable<Lookup> find_record(dns::Resolver& resolver, std::string domain) {
  Lookup out;
  auto answer = co_await resolver.txt("_dmarc." + domain);
  if (answer.status == dns::Status::kTempFail) {
    out.error = DmarcResult::kTempError;
    out.reason = "DNS failure looking up _dmarc." + domain + ": " + answer.why;
    co_return out;
  }
  const PickedTxt picked = pick_txt_record(answer.records, is_dmarc_record);
  if (picked.pick == TxtPick::kSeveral) {
    out.error = DmarcResult::kPermError;
    out.reason = "more than one DMARC record at _dmarc." + domain;
    co_return out;
  }
  if (picked.pick == TxtPick::kNone) co_return out;
  std::string error;
  out.record = parse_dmarc_record(*picked.record, &error);
  if (!out.record) {
    out.error = DmarcResult::kPermError;
    out.reason = "invalid DMARC record at _dmarc." + domain + ": " + error;
  }
  co_return out;
}

}  // namespace

std::string_view dmarc_policy_name(DmarcPolicy p) {
  switch (p) {
    case DmarcPolicy::kNone: return "none";
    case DmarcPolicy::kQuarantine: return "quarantine";
    case DmarcPolicy::kReject: return "reject";
  }
  return "none";
}

std::string_view dmarc_result_name(DmarcResult r) {
  switch (r) {
    case DmarcResult::kNone: return "none";
    case DmarcResult::kPass: return "pass";
    case DmarcResult::kFail: return "fail";
    case DmarcResult::kTempError: return "temperror";
    case DmarcResult::kPermError: return "permerror";
  }
  return "none";
}

std::optional<DmarcRecord> parse_dmarc_record(std::string_view text, std::string* error) {
  auto fail = [error](std::string why) -> std::optional<DmarcRecord> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  if (text.size() > kDmarcMaxRecord) return fail("record too long");
  if (!is_dmarc_record(text)) return fail("v=DMARC1 is not the first tag");
  DmarcRecord r;
  bool policy_ok = false;
  bool subdomain_bad = false;
  std::vector<std::string> seen;
  bool first = true;
  for (auto part : ascii::split(text, ';')) {
    part = ascii::trim(part);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) return fail("tag without '='");
    const std::string tag = ascii::lower(ascii::trim(part.substr(0, eq)));
    const std::string_view value = ascii::trim(part.substr(eq + 1));
    if (first) {  // v=DMARC1, checked above
      first = false;
      seen.push_back(tag);
      continue;
    }
    if (std::find(seen.begin(), seen.end(), tag) != seen.end()) return fail("tag " + tag + " appears twice");
    seen.push_back(tag);
    if (tag == "v") {
      return fail("v= is not the first tag");
    } else if (tag == "p") {
      auto p = parse_policy(value);
      policy_ok = p.has_value();
      if (p) r.policy = *p;
    } else if (tag == "sp") {
      auto p = parse_policy(value);
      subdomain_bad = !p;
      if (p) r.subdomain_policy = *p;
    } else if (tag == "adkim" || tag == "aspf") {
      auto a = parse_alignment(value);
      if (!a) return fail("bad " + tag + "=");
      (tag == "adkim" ? r.adkim : r.aspf) = *a;
    } else if (tag == "pct") {
      if (!is_digits(value) || std::stoul(std::string(value)) > 100) return fail("bad pct=");
      r.pct = int(std::stoul(std::string(value)));
    } else if (tag == "rua" || tag == "ruf") {
      auto& list = tag == "rua" ? r.rua : r.ruf;
      if (!parse_uris(value, list)) {
        list.clear();
        if (tag == "ruf") return fail("bad ruf=");
        r.rua.clear();
      }
    } else if (tag == "fo") {
      if (!valid_fo(value)) return fail("bad fo=");
      r.fo = std::string(value);
    } else if (tag == "ri") {
      if (!is_digits(value) || std::stoull(std::string(value)) > UINT32_MAX) return fail("bad ri=");
      r.ri = uint32_t(std::stoull(std::string(value)));
    }
    // Unknown tags are ignored (§6.3).
  }
  if (!policy_ok || subdomain_bad) {
    // §6.3: with a valid rua, act as if p=none was published; otherwise no DMARC processing.
    if (r.rua.empty()) return fail(policy_ok ? "bad sp=" : "missing or bad p=");
    r.policy = DmarcPolicy::kNone;
    r.subdomain_policy.reset();
  }
  return r;
}

bool dmarc_aligned(const PublicSuffixList& psl, std::string_view a, std::string_view b, DmarcAlignment mode) {
  const std::string x = normal_domain(a);
  const std::string y = normal_domain(b);
  if (x.empty() || y.empty()) return false;
  if (x == y) return true;
  if (mode == DmarcAlignment::kStrict) return false;
  const std::string ox = psl.organizational_domain(x);
  return !ox.empty() && ox == psl.organizational_domain(y);
}

FromDomains extract_from_domains(std::string_view header_block) {
  FromDomains out;
  const auto split = mime::split_header(header_block);
  const auto header = mime::parse_header(header_block.substr(0, split.header_end));
  const auto fields = header.find_all("From");
  for (const auto* field : fields) {
    mime::AddressOptions options;
    options.max_addresses = 64;
    for (const auto& address : mime::parse_address_list(field->value, options).addresses) {
      if (address.is_group_start || address.is_group_end) continue;
      const std::string domain = normal_domain(address.host);
      if (domain.empty() || domain.front() == '[') continue;
      if (std::find(out.domains.begin(), out.domains.end(), domain) == out.domains.end() && out.domains.size() < 32) {
        out.domains.push_back(domain);
      }
    }
  }
  if (out.domains.empty()) {
    out.status = FromStatus::kMissing;
  } else if (fields.size() > 1) {
    out.status = FromStatus::kMultipleFields;
  } else if (out.domains.size() > 1) {
    out.status = FromStatus::kMultipleDomains;
  } else {
    out.status = FromStatus::kOk;
  }
  return out;
}

asio::awaitable<DmarcOutcome> dmarc_check(dns::Resolver& resolver, const PublicSuffixList& psl, DmarcInput input,
                                          DmarcRandom random) {
  DmarcOutcome out;
  auto from = domain_to_ascii(input.from_domain);
  if (!from || from->find('.') == std::string::npos) {
    out.from_domain = normal_domain(input.from_domain);
    out.reason = "the From domain '" + out.from_domain + "' is not a valid domain name";
    co_return out;
  }
  out.from_domain = *from;
  out.org_domain = psl.organizational_domain(*from);

  auto found = co_await find_record(resolver, *from);
  std::string record_domain = *from;
  if (found.error == DmarcResult::kNone && !found.record && out.org_domain != *from) {
    found = co_await find_record(resolver, out.org_domain);
    record_domain = out.org_domain;
  }
  if (found.error != DmarcResult::kNone) {
    out.result = found.error;
    out.reason = std::move(found.reason);
    co_return out;
  }
  if (!found.record) {
    out.reason = "no DMARC record for " + *from;
    co_return out;
  }
  const DmarcRecord& record = *found.record;
  out.record_domain = record_domain;
  out.record = record;

  out.spf_aligned = input.spf_result == SpfResult::kPass && dmarc_aligned(psl, input.spf_domain, *from, record.aspf);
  for (const auto& d : input.dkim) {
    if (d.pass && dmarc_aligned(psl, d.domain, *from, record.adkim)) {
      out.dkim_aligned = true;
      break;
    }
  }
  out.requested = record_domain == *from ? record.policy : record.subdomain_policy.value_or(record.policy);
  if (out.spf_aligned || out.dkim_aligned) {
    out.result = DmarcResult::kPass;
    out.reason = std::string(out.dkim_aligned ? "aligned DKIM" : "aligned SPF") + " pass for " + *from;
    co_return out;
  }
  out.result = DmarcResult::kFail;
  out.policy = out.requested;
  if (record.pct < 100) {
    uint32_t roll = 0;
    if (random) {
      roll = random() % 100;
    } else {
      const std::string bytes = random_bytes(4);
      std::memcpy(&roll, bytes.data(), sizeof roll);
      roll %= 100;
    }
    if (int(roll) >= record.pct) {
      out.sampled_out = true;
      out.policy = out.policy == DmarcPolicy::kReject ? DmarcPolicy::kQuarantine : DmarcPolicy::kNone;
    }
  }
  out.reason = "no aligned SPF or DKIM pass for " + *from + " (p=" + std::string(dmarc_policy_name(out.requested)) +
               (out.sampled_out ? ", outside pct" : "") + ")";
  co_return out;
}

asio::awaitable<DmarcOutcome> dmarc_check_message(dns::Resolver& resolver, const PublicSuffixList& psl,
                                                  std::string header_block, SpfResult spf_result,
                                                  std::string spf_domain, std::vector<DkimResultInput> dkim,
                                                  DmarcRandom random) {
  const FromDomains from = extract_from_domains(header_block);
  DmarcOutcome best;
  best.from_status = from.status;
  if (from.domains.empty()) {
    best.reason = "no RFC5322.From domain";
    co_return best;
  }
  bool have = false;
  for (const auto& domain : from.domains) {
    DmarcInput input{domain, spf_result, spf_domain, dkim};
    auto outcome = co_await dmarc_check(resolver, psl, std::move(input), random);
    outcome.from_status = from.status;
    if (!have || strictness(outcome) > strictness(best)) best = std::move(outcome);
    have = true;
  }
  co_return best;
}

}  // namespace posthorn::msgauth
