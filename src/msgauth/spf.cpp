// SPF check_host() implementation. The whole record is parsed before any mechanism is evaluated, so
// a syntax error anywhere is a permerror (RFC 7208 §4.6). Evaluation then walks the terms in order,
// counting DNS-querying terms and void lookups in an Evaluation shared by the include/redirect
// recursion. The exp= explanation is looked up once, after the final result is known, so includes
// never fetch one and an exp= lookup never counts against the limits (RFC 7208 §6.2).
#include "msgauth/spf.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "base/ascii.hpp"
#include "msgauth/spf_util.hpp"

namespace posthorn::msgauth {

namespace asio = boost::asio;
using asio::ip::address;

namespace {

constexpr size_t kMaxExpansion = 8192;
constexpr size_t kMaxExplanation = 1024;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

// The client address as SPF sees it: an IPv4-mapped IPv6 address is IPv4 (RFC 7208 §5).
address effective_ip(const address& ip) {
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  }
  return ip;
}

// A name a DNS query can be made for: labels of 1..63 bytes, at most 253 bytes (one trailing dot
// allowed). `multi_label` also asks for at least two labels (RFC 7208 §4.3 for <domain>).
bool dns_name_ok(std::string_view name, bool multi_label) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  size_t labels = 0;
  for (auto label : ascii::split(name, '.')) {
    if (label.empty() || label.size() > 63) return false;
    ++labels;
  }
  return !multi_label || labels >= 2;
}

bool prefix_match(const address& a, const address& b, int bits) {
  auto compare = [bits](const auto& x, const auto& y) {
    for (int i = 0; i < bits; ++i) {
      const int mask = 0x80 >> (i % 8);
      if ((x[size_t(i / 8)] & mask) != (y[size_t(i / 8)] & mask)) return false;
    }
    return true;
  };
  if (a.is_v4() && b.is_v4()) return compare(a.to_v4().to_bytes(), b.to_v4().to_bytes());
  if (a.is_v6() && b.is_v6()) return compare(a.to_v6().to_bytes(), b.to_v6().to_bytes());
  return false;
}

// ---- macros (RFC 7208 §7) ----

bool url_unreserved(char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (url_unreserved(c)) {
      out += c;
    } else {
      out += '%';
      out += kHex[uint8_t(c) >> 4];
      out += kHex[uint8_t(c) & 0xf];
    }
  }
  return out;
}

std::string dotted_ip(const address& ip) {  // %{i}
  if (ip.is_v4()) return ip.to_string();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : ip.to_v6().to_bytes()) {
    if (!out.empty()) out += '.';
    out += kHex[b >> 4];
    out += '.';
    out += kHex[b & 0xf];
  }
  return out;
}

bool is_delimiter(char c) { return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '='; }

// The value of one macro letter (lower-cased), or nullopt for a letter not allowed here.
std::optional<std::string> macro_value(char letter, const SpfMacroValues& v, bool explanation) {
  switch (letter) {
    case 's': return v.sender;
    case 'l': return v.local_part.empty() ? std::string("postmaster") : v.local_part;
    case 'o': return v.sender_domain;
    case 'd': return v.domain;
    case 'i': return dotted_ip(v.ip);
    case 'p': return v.validated_ptr.empty() ? std::string("unknown") : v.validated_ptr;
    case 'v': return std::string(v.ip.is_v4() ? "in-addr" : "ip6");
    case 'h': return v.helo;
    case 'c':
      if (explanation) return v.ip.to_string();
      return std::nullopt;
    case 'r':
      if (explanation) return v.receiver.empty() ? std::string("unknown") : v.receiver;
      return std::nullopt;
    case 't':
      if (explanation) return std::to_string(v.timestamp);
      return std::nullopt;
    default: return std::nullopt;
  }
}

// Applies the transformers: split on the delimiters, optionally reverse, keep the rightmost
// `keep` parts (0 = all), join with dots [RFC 7208 §7.3].
std::string transform(std::string_view value, std::string_view delimiters, size_t keep, bool reverse) {
  if (delimiters.empty()) delimiters = ".";
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delimiters.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (reverse) std::reverse(parts.begin(), parts.end());
  const size_t first = (keep == 0 || keep >= parts.size()) ? 0 : parts.size() - keep;
  std::string out;
  for (size_t i = first; i < parts.size(); ++i) {
    if (i > first) out += '.';
    out += parts[i];
  }
  return out;
}

// Walks a macro-string; with `values` null only checks the syntax. `ends_with_macro` reports
// whether the last token was a macro-expand (for the domain-end rule of §7.1).
std::optional<std::string> walk_macros(std::string_view s, const SpfMacroValues* values, bool explanation,
                                       bool* ends_with_macro) {
  std::string out;
  bool last_macro = false;
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c != '%') {
      // macro-literal is %x21-24 / %x26-7E; explanation text also allows spaces.
      if (uint8_t(c) < 0x20 || uint8_t(c) > 0x7e || (c == ' ' && !explanation)) return std::nullopt;
      out += c;
      ++i;
      last_macro = false;
      continue;
    }
    if (i + 1 >= s.size()) return std::nullopt;
    const char n = s[i + 1];
    last_macro = true;
    if (n == '%' || n == '_' || n == '-') {
      out += n == '%' ? "%" : n == '_' ? " " : "%20";
      i += 2;
      continue;
    }
    if (n != '{') return std::nullopt;
    const size_t close = s.find('}', i + 2);
    if (close == std::string_view::npos || close == i + 2) return std::nullopt;
    std::string_view body = s.substr(i + 2, close - i - 2);
    const char letter = body[0];
    const bool upper = letter >= 'A' && letter <= 'Z';
    const char lower = ascii::to_lower(letter);
    SpfMacroValues dummy;
    auto value = macro_value(lower, values ? *values : dummy, explanation);
    if (!value) return std::nullopt;
    size_t pos = 1;
    size_t keep = 0;
    if (pos < body.size() && is_digit(body[pos])) {
      while (pos < body.size() && is_digit(body[pos])) {
        keep = std::min<size_t>(keep * 10 + size_t(body[pos] - '0'), 1000);
        ++pos;
      }
      if (keep == 0) return std::nullopt;  // "If DIGITS is specified, the value MUST be nonzero."
    }
    bool reverse = false;
    if (pos < body.size() && (body[pos] == 'r' || body[pos] == 'R')) {
      reverse = true;
      ++pos;
    }
    const std::string_view delimiters = body.substr(pos);
    for (char d : delimiters) {
      if (!is_delimiter(d)) return std::nullopt;
    }
    if (values != nullptr) {
      std::string expanded = transform(*value, delimiters, keep, reverse);
      out += upper ? url_escape(expanded) : expanded;
    }
    if (out.size() > kMaxExpansion) return std::nullopt;
    i = close + 1;
  }
  if (ends_with_macro != nullptr) *ends_with_macro = last_macro;
  return out;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view t) {
  if (t.empty() || !is_alnum(t.front()) || !is_alnum(t.back())) return false;
  bool alpha = false;
  bool dash = false;
  for (char c : t) {
    if (c == '-') {
      dash = true;
    } else if (!is_alnum(c)) {
      return false;
    }
    alpha = alpha || is_alpha(c);
  }
  return alpha || dash;
}

// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
bool valid_domain_spec(std::string_view spec) {
  bool ends_with_macro = false;
  if (spec.empty() || !walk_macros(spec, nullptr, false, &ends_with_macro)) return false;
  if (ends_with_macro) return true;
  std::string_view s = spec;
  if (s.back() == '.') s.remove_suffix(1);
  const size_t dot = s.rfind('.');
  if (dot == std::string_view::npos) return false;
  return valid_toplabel(s.substr(dot + 1));
}

// Removes a trailing dot and, above 253 bytes, whole labels from the left [RFC 7208 §7.3].
std::string finish_domain(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  while (name.size() > 253) {
    const size_t dot = name.find('.');
    if (dot == std::string::npos) break;
    name.erase(0, dot + 1);
  }
  return name;
}

// ---- record parsing (RFC 7208 §4.6, §5, §6) ----

enum class Mech { kAll, kInclude, kA, kMx, kPtr, kIp4, kIp6, kExists };

struct Term {
  SpfResult qualifier = SpfResult::kPass;
  Mech mech = Mech::kAll;
  std::string domain_spec;  // empty: the current domain (a, mx, ptr)
  int cidr4 = 32;
  int cidr6 = 128;
  address network;  // ip4, ip6
  std::string text;  // as written, for the reason
};

struct Record {
  std::vector<Term> terms;
  std::optional<std::string> redirect;
  std::optional<std::string> exp;
};

// "1*DIGIT" without leading zeros, at most `max`.
bool parse_cidr(std::string_view s, int max, int& out) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return false;
  int v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// Splits a trailing dual-cidr-length ("/24", "//64", "/24//64") off `arg` into the term.
bool take_dual_cidr(std::string_view& arg, Term& t) {
  size_t slash = arg.rfind('/');
  if (slash == std::string_view::npos || !all_digits(arg.substr(slash + 1))) return true;
  if (slash > 0 && arg[slash - 1] == '/') {  // ip6-cidr-length
    if (!parse_cidr(arg.substr(slash + 1), 128, t.cidr6)) return false;
    arg = arg.substr(0, slash - 1);
    slash = arg.rfind('/');
    if (slash == std::string_view::npos || !all_digits(arg.substr(slash + 1))) return true;
  }
  if (!parse_cidr(arg.substr(slash + 1), 32, t.cidr4)) return false;
  arg = arg.substr(0, slash);
  return true;
}

bool parse_mechanism(std::string_view word, Term& t, std::string& error) {
  error = "invalid term '" + std::string(word) + "'";
  t.text = std::string(word);
  switch (word.empty() ? ' ' : word[0]) {
    case '+': t.qualifier = SpfResult::kPass; word.remove_prefix(1); break;
    case '-': t.qualifier = SpfResult::kFail; word.remove_prefix(1); break;
    case '~': t.qualifier = SpfResult::kSoftFail; word.remove_prefix(1); break;
    case '?': t.qualifier = SpfResult::kNeutral; word.remove_prefix(1); break;
    default: break;
  }
  const size_t end = word.find_first_of(":/");
  const std::string name = ascii::lower(word.substr(0, end));
  std::string_view rest = end == std::string_view::npos ? std::string_view() : word.substr(end);
  if (name == "all") {
    t.mech = Mech::kAll;
    return rest.empty();
  }
  if (name == "include" || name == "exists") {
    t.mech = name == "include" ? Mech::kInclude : Mech::kExists;
    if (rest.empty() || rest[0] != ':') return false;
    t.domain_spec = std::string(rest.substr(1));
    return valid_domain_spec(t.domain_spec);
  }
  if (name == "a" || name == "mx" || name == "ptr") {
    t.mech = name == "a" ? Mech::kA : name == "mx" ? Mech::kMx : Mech::kPtr;
    if (t.mech != Mech::kPtr && !take_dual_cidr(rest, t)) return false;
    if (rest.empty()) return true;
    if (rest[0] != ':') return false;
    t.domain_spec = std::string(rest.substr(1));
    return valid_domain_spec(t.domain_spec);
  }
  if (name == "ip4" || name == "ip6") {
    const bool v4 = name == "ip4";
    t.mech = v4 ? Mech::kIp4 : Mech::kIp6;
    if (rest.empty() || rest[0] != ':') return false;
    std::string_view net = rest.substr(1);
    const size_t slash = net.find('/');
    if (slash != std::string_view::npos) {
      if (!parse_cidr(net.substr(slash + 1), v4 ? 32 : 128, v4 ? t.cidr4 : t.cidr6)) return false;
      net = net.substr(0, slash);
    }
    if (net.find('%') != std::string_view::npos) return false;  // no scope ids
    boost::system::error_code ec;
    if (v4) {
      t.network = asio::ip::make_address_v4(std::string(net), ec);
      // inet_pton accepts only the full dotted quad; reject leading zeros too (ip4-network ABNF).
      if (!ec && t.network.to_string() != net) return false;
    } else {
      t.network = asio::ip::make_address_v6(std::string(net), ec);
    }
    return !ec;
  }
  return false;
}

// Parses a whole record (after "v=spf1"). Returns false with `error` on any syntax error.
bool parse_record(std::string_view text, Record& out, std::string& error) {
  if (text.size() > kSpfMaxRecord) {
    error = "SPF record too long";
    return false;
  }
  for (char c : text) {
    if (uint8_t(c) < 0x20 || uint8_t(c) > 0x7e) {
      error = "SPF record has a byte that is not printable ASCII";
      return false;
    }
  }
  for (auto word : ascii::split(text.substr(6), ' ')) {
    if (word.empty()) continue;
    // A modifier is name "=" ... with name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
    size_t n = 0;
    while (n < word.size() && (is_alnum(word[n]) || word[n] == '-' || word[n] == '_' || word[n] == '.')) ++n;
    if (n > 0 && n < word.size() && word[n] == '=' && is_alpha(word[0])) {
      const std::string name = ascii::lower(word.substr(0, n));
      const std::string_view value = word.substr(n + 1);
      if (name == "redirect" || name == "exp") {
        auto& slot = name == "redirect" ? out.redirect : out.exp;
        if (slot) {
          error = name + "= appears twice";
          return false;
        }
        if (!valid_domain_spec(value)) {
          error = "invalid " + name + "= domain";
          return false;
        }
        slot = std::string(value);
      } else if (!walk_macros(value, nullptr, false, nullptr)) {
        error = "invalid macro in modifier '" + std::string(word) + "'";
        return false;
      }
      continue;
    }
    Term t;
    if (!parse_mechanism(word, t, error)) return false;
    out.terms.push_back(std::move(t));
  }
  return true;
}

bool is_spf_record(std::string_view txt) {
  return ascii::istarts_with(txt, "v=spf1") && (txt.size() == 6 || txt[6] == ' ');
}

// ---- evaluation ----

struct HostResult {
  SpfResult result = SpfResult::kNone;
  std::string reason;
  // The exp= of the record that produced a fail, and the <domain> to expand it with.
  std::optional<std::string> exp;
  std::string exp_domain;
};

class Evaluation {
 public:
  Evaluation(dns::Resolver& resolver, address ip, SpfMacroValues values, std::chrono::milliseconds time_limit)
      : resolver_(resolver),
        ip_(ip),
        values_(std::move(values)),
        deadline_(std::chrono::steady_clock::now() + time_limit) {}

  asio::awaitable<HostResult> check_host(std::string domain) {
    HostResult out;
    if (out_of_time(out)) co_return out;
    if (!dns_name_ok(domain, true) || domain.front() == '[') {
      out.reason = "'" + domain + "' is not a valid domain name";
      co_return out;
    }
    auto answer = co_await resolver_.txt(domain);
    if (answer.status == dns::Status::kTempFail) {
      out.result = SpfResult::kTempError;
      out.reason = "DNS failure looking up TXT " + domain + ": " + answer.why;
      co_return out;
    }
    const PickedTxt picked = pick_txt_record(answer.records, is_spf_record);
    if (picked.pick != TxtPick::kOne) {
      if (picked.pick == TxtPick::kSeveral) out.result = SpfResult::kPermError;
      out.reason = (picked.pick == TxtPick::kSeveral ? "more than one SPF record at " : "no SPF record at ") + domain;
      co_return out;
    }
    Record parsed;
    std::string error;
    if (!parse_record(*picked.record, parsed, error)) {
      out.result = SpfResult::kPermError;
      out.reason = error + " in " + domain;
      co_return out;
    }
    auto result = co_await evaluate(domain, parsed);
    co_return result;
  }

  // The <domain>-specific macro values.
  SpfMacroValues values_for(const std::string& domain) const {
    SpfMacroValues v = values_;
    v.domain = domain;
    return v;
  }

  // Expands the explanation of a fail: exp= names a TXT record whose text is expanded again.
  asio::awaitable<std::string> explanation(const HostResult& r) {
    HostResult ignored;
    if (!r.exp || out_of_time(ignored)) co_return std::string();
    auto target = co_await expand_domain(*r.exp, r.exp_domain);
    if (!target || !dns_name_ok(*target, false)) co_return std::string();
    auto answer = co_await resolver_.txt(*target);
    if (answer.status != dns::Status::kOk || answer.records.size() != 1) co_return std::string();
    const std::string& text = answer.records[0];
    if (!ascii::is_printable(text)) co_return std::string();
    if (needs_ptr(text)) co_await compute_ptr(r.exp_domain);
    auto expanded = spf_expand_macros(text, values_for(r.exp_domain), true);
    if (!expanded) co_return std::string();
    if (expanded->size() > kMaxExplanation) expanded->resize(kMaxExplanation);
    co_return *expanded;
  }

 private:
  static bool needs_ptr(std::string_view s) {
    return s.find("%{p") != std::string_view::npos || s.find("%{P") != std::string_view::npos;
  }

  asio::awaitable<std::optional<std::string>> expand_domain(const std::string& spec, const std::string& domain) {
    if (needs_ptr(spec)) co_await compute_ptr(domain);
    auto expanded = spf_expand_macros(spec, values_for(domain), false);
    if (!expanded) co_return std::nullopt;
    co_return finish_domain(std::move(*expanded));
  }

  // The validated names of the client address [RFC 7208 §5.5]: PTR names (at most 10) whose A or
  // AAAA records include the address. A DNS failure yields no names (the mechanism does not match).
  asio::awaitable<std::vector<std::string>> validated_names(bool* void_lookup) {
    std::vector<std::string> out;
    auto ptr = co_await resolver_.ptr(ip_);
    if (void_lookup != nullptr) {
      *void_lookup = ptr.status == dns::Status::kNxDomain || ptr.status == dns::Status::kNoData;
    }
    if (ptr.status != dns::Status::kOk) co_return out;
    for (size_t i = 0; i < ptr.names.size() && i < kSpfMaxNames; ++i) {
      const std::string& name = ptr.names[i];
      if (!dns_name_ok(name, false)) continue;
      auto addrs = co_await lookup_addresses(name);
      for (const auto& a : addrs.addresses) {
        if (effective_ip(a) == ip_) {
          out.push_back(ascii::lower(name));
          break;
        }
      }
    }
    co_return out;
  }

  // %{p}: a validated name, preferring <domain> itself, then a subdomain of it (§7.3). The names
  // are looked up once per check; only the choice depends on <domain>.
  asio::awaitable<void> compute_ptr(const std::string& domain) {
    if (!ptr_names_) {
      auto names = co_await validated_names(nullptr);
      ptr_names_ = std::move(names);
    }
    std::string best = ptr_names_->empty() ? "unknown" : ptr_names_->front();
    const std::string d = ascii::lower(domain);
    for (const auto& n : *ptr_names_) {
      if (n == d) {
        best = n;
        break;
      }
      if (is_subdomain(n, d)) best = n;
    }
    values_.validated_ptr = best;
  }

  static bool is_subdomain(const std::string& name, const std::string& parent) {
    return name.size() > parent.size() && name.ends_with(parent) && name[name.size() - parent.size() - 1] == '.';
  }

  asio::awaitable<dns::AddressAnswer> lookup_addresses(std::string name, bool force_a = false) {
    if (ip_.is_v4() || force_a) {
      auto a = co_await resolver_.a(std::move(name));
      co_return a;
    }
    auto aaaa = co_await resolver_.aaaa(std::move(name));
    co_return aaaa;
  }

  // True (with a temperror in `out`) once the time limit has passed.
  bool out_of_time(HostResult& out) const {
    if (std::chrono::steady_clock::now() <= deadline_) return false;
    out.result = SpfResult::kTempError;
    out.reason = "SPF evaluation took longer than its time limit";
    return true;
  }

  bool count_dns(HostResult& out, const std::string& domain) {
    if (++dns_terms_ <= kSpfMaxDnsMechanisms) return true;
    out.result = SpfResult::kPermError;
    out.reason = "more than " + std::to_string(kSpfMaxDnsMechanisms) + " DNS lookups (at " + domain + ")";
    return false;
  }

  bool count_void(HostResult& out, dns::Status status, const std::string& name) {
    if (status != dns::Status::kNxDomain && status != dns::Status::kNoData) return true;
    if (++void_lookups_ <= kSpfMaxVoidLookups) return true;
    out.result = SpfResult::kPermError;
    out.reason = "more than " + std::to_string(kSpfMaxVoidLookups) + " void lookups (at " + name + ")";
    return false;
  }

  bool matches(const address& a, const Term& t) const {
    const address e = effective_ip(a);
    return prefix_match(ip_, e, ip_.is_v4() ? t.cidr4 : t.cidr6);
  }

  // Evaluates one record of `domain`; the terms were parsed already.
  asio::awaitable<HostResult> evaluate(const std::string& domain, const Record& record) {
    HostResult out;
    for (const Term& t : record.terms) {
      bool matched = false;
      std::string target = domain;
      if (t.mech != Mech::kAll && t.mech != Mech::kIp4 && t.mech != Mech::kIp6) {
        if (!count_dns(out, domain) || out_of_time(out)) co_return out;
        if (!t.domain_spec.empty()) {
          auto expanded = co_await expand_domain(t.domain_spec, domain);
          if (!expanded) {
            out.result = SpfResult::kPermError;
            out.reason = "bad macro in '" + t.text + "' at " + domain;
            co_return out;
          }
          target = std::move(*expanded);
        }
      }
      switch (t.mech) {
        case Mech::kAll: matched = true; break;
        case Mech::kIp4:
        case Mech::kIp6: matched = t.network.is_v4() == ip_.is_v4() && matches(t.network, t); break;
        case Mech::kInclude: {
          auto sub = co_await check_host(target);
          switch (sub.result) {
            case SpfResult::kPass: matched = true; break;
            case SpfResult::kFail:
            case SpfResult::kSoftFail:
            case SpfResult::kNeutral: break;
            case SpfResult::kTempError:
              out.result = SpfResult::kTempError;
              out.reason = sub.reason;
              co_return out;
            case SpfResult::kPermError:
            case SpfResult::kNone:
              out.result = SpfResult::kPermError;
              out.reason = "include:" + target + ": " + sub.reason;
              co_return out;
          }
          break;
        }
        case Mech::kA:
        case Mech::kExists: {
          if (!dns_name_ok(target, false)) break;  // cannot be queried: no match (RFC 7208 §4.8)
          // "exists" always asks for A records, whatever the client's address family (§5.7).
          auto answer = co_await lookup_addresses(target, t.mech == Mech::kExists);
          if (answer.status == dns::Status::kTempFail) {
            out.result = SpfResult::kTempError;
            out.reason = "DNS failure looking up " + target + ": " + answer.why;
            co_return out;
          }
          if (!count_void(out, answer.status, target)) co_return out;
          if (t.mech == Mech::kExists) {
            matched = !answer.addresses.empty();
          } else {
            for (const auto& a : answer.addresses) matched = matched || matches(a, t);
          }
          break;
        }
        case Mech::kMx: {
          if (!dns_name_ok(target, false)) break;
          auto mx = co_await resolver_.mx(target);
          if (mx.status == dns::Status::kTempFail) {
            out.result = SpfResult::kTempError;
            out.reason = "DNS failure looking up MX " + target + ": " + mx.why;
            co_return out;
          }
          if (!count_void(out, mx.status, target)) co_return out;
          if (mx.null_mx) break;
          if (mx.records.size() > kSpfMaxNames) {
            out.result = SpfResult::kPermError;
            out.reason = "more than " + std::to_string(kSpfMaxNames) + " MX names at " + target;
            co_return out;
          }
          for (const auto& record : mx.records) {
            if (record.host.empty() || !dns_name_ok(record.host, false)) continue;
            if (out_of_time(out)) co_return out;
            auto answer = co_await lookup_addresses(record.host);
            if (answer.status == dns::Status::kTempFail) {
              out.result = SpfResult::kTempError;
              out.reason = "DNS failure looking up " + record.host + ": " + answer.why;
              co_return out;
            }
            for (const auto& a : answer.addresses) matched = matched || matches(a, t);
            if (matched) break;
          }
          break;
        }
        case Mech::kPtr: {
          bool void_lookup = false;
          auto names = co_await validated_names(&void_lookup);
          if (!count_void(out, void_lookup ? dns::Status::kNxDomain : dns::Status::kOk, "PTR")) co_return out;
          const std::string want = ascii::lower(target);
          for (const auto& n : names) {
            if (n == want || is_subdomain(n, want)) {
              matched = true;
            }
          }
          break;
        }
      }
      if (matched) {
        out.result = t.qualifier;
        out.reason = "matched " + t.text + " in " + domain;
        if (out.result == SpfResult::kFail) {
          out.exp = record.exp;
          out.exp_domain = domain;
        }
        co_return out;
      }
    }
    if (record.redirect) {
      if (!count_dns(out, domain)) co_return out;
      auto target = co_await expand_domain(*record.redirect, domain);
      if (!target) {
        out.result = SpfResult::kPermError;
        out.reason = "bad macro in redirect= at " + domain;
        co_return out;
      }
      auto sub = co_await check_host(*target);
      if (sub.result == SpfResult::kNone) {
        sub.result = SpfResult::kPermError;
        sub.reason = "redirect=" + *target + ": " + sub.reason;
      }
      co_return sub;  // the redirected domain's own exp= applies, never ours (§6.2)
    }
    out.result = SpfResult::kNeutral;
    out.reason = "no mechanism matched in " + domain;
    co_return out;
  }

  dns::Resolver& resolver_;
  address ip_;
  SpfMacroValues values_;
  std::chrono::steady_clock::time_point deadline_;
  std::optional<std::vector<std::string>> ptr_names_;  // validated PTR names, once looked up
  int dns_terms_ = 0;
  int void_lookups_ = 0;
};

}  // namespace

std::string_view spf_result_name(SpfResult r) {
  switch (r) {
    case SpfResult::kNone: return "none";
    case SpfResult::kNeutral: return "neutral";
    case SpfResult::kPass: return "pass";
    case SpfResult::kFail: return "fail";
    case SpfResult::kSoftFail: return "softfail";
    case SpfResult::kTempError: return "temperror";
    case SpfResult::kPermError: return "permerror";
  }
  return "none";
}

std::optional<std::string> spf_expand_macros(std::string_view text, const SpfMacroValues& values, bool explanation) {
  return walk_macros(text, &values, explanation, nullptr);
}

asio::awaitable<SpfOutcome> spf_check(dns::Resolver& resolver, address client_ip, std::string mail_from,
                                      std::string helo, std::string receiver_host, SpfOptions options) {
  SpfOutcome outcome;
  std::string_view from = ascii::trim(mail_from);
  if (from.size() >= 2 && from.front() == '<' && from.back() == '>') from = from.substr(1, from.size() - 2);
  std::string local;
  std::string domain;
  if (from.empty()) {
    outcome.helo_identity = true;
    domain = helo;
  } else if (const size_t at = from.rfind('@'); at != std::string_view::npos) {
    local = std::string(from.substr(0, at));
    domain = std::string(from.substr(at + 1));
  } else {
    domain = std::string(from);
  }
  if (!domain.empty() && domain.back() == '.') domain.pop_back();
  outcome.domain = domain;
  outcome.sender = (local.empty() ? std::string("postmaster") : local) + "@" + domain;

  SpfMacroValues values;
  values.sender = outcome.sender;
  values.local_part = local;
  values.sender_domain = domain;
  values.ip = effective_ip(client_ip);
  values.helo = helo;
  values.receiver = receiver_host;
  values.timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  Evaluation evaluation(resolver, values.ip, values, options.time_limit);
  auto result = co_await evaluation.check_host(domain);
  outcome.result = result.result;
  outcome.reason = std::move(result.reason);
  if (result.result == SpfResult::kFail) {
    auto text = co_await evaluation.explanation(result);
    outcome.explanation = std::move(text);
  }
  co_return outcome;
}

}  // namespace posthorn::msgauth
