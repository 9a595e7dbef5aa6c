// MTA-STS implementation (see mta_sts.hpp). Notes:
// - The fetch is one Beast HTTP/1.1 GET with "Connection: close" on a beast::tcp_stream whose
//   deadline covers everything (connect, handshake, write, read). The response parser's body limit
//   is kMaxBody, so a larger body fails while being read, before it is whole in memory.
// - A 3xx answer is an error like any other non-200 status: redirects are never followed [RFC 8461 §3.3].
#include "smtpc/mta_sts.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <fstream>
#include <spdlog/spdlog.h>

#include "base/ascii.hpp"

namespace posthorn::smtpc::mta_sts {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string_view mode_name(Mode m) {
  switch (m) {
    case Mode::kEnforce: return "enforce";
    case Mode::kTesting: return "testing";
    case Mode::kNone: return "none";
  }
  return "none";
}

namespace {

std::string_view strip_dot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

bool parse_seconds(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

Result<Policy> parse_policy(std::string_view body) {
  Policy p;
  p.text = std::string(body);
  std::optional<std::string> version, mode, max_age;
  for (auto line : ascii::split(body, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (ascii::trim(line).empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return make_error(Errc::kInvalid, "MTA-STS policy: a line without ':'");
    const std::string key(ascii::trim(line.substr(0, colon)));
    const std::string value(ascii::trim(line.substr(colon + 1)));
    // The first occurrence of a field counts; mx may repeat; unknown fields are ignored [RFC 8461 §3.2].
    if (key == "version" && !version) version = value;
    else if (key == "mode" && !mode) mode = value;
    else if (key == "max_age" && !max_age) max_age = value;
    else if (key == "mx") p.mx.push_back(ascii::lower(strip_dot(value)));
  }
  if (version != "STSv1") return make_error(Errc::kInvalid, "MTA-STS policy: version is not STSv1");
  if (mode == "enforce") p.mode = Mode::kEnforce;
  else if (mode == "testing") p.mode = Mode::kTesting;
  else if (mode == "none") p.mode = Mode::kNone;
  else return make_error(Errc::kInvalid, "MTA-STS policy: mode is not enforce, testing or none");
  uint64_t age = 0;
  if (!max_age || !parse_seconds(*max_age, age)) {
    return make_error(Errc::kInvalid, "MTA-STS policy: max_age is missing or not a number");
  }
  p.max_age = std::chrono::seconds(std::min<uint64_t>(age, uint64_t(kMaxAge.count())));
  if (p.mode != Mode::kNone && p.mx.empty()) return make_error(Errc::kInvalid, "MTA-STS policy: no mx");
  return p;
}

std::optional<std::string> parse_txt(const std::vector<std::string>& records) {
  std::optional<std::string> id;
  int found = 0;
  for (const auto& r : records) {
    auto fields = ascii::split(r, ';');
    if (fields.empty() || ascii::trim(fields[0]) != "v=STSv1") continue;
    ++found;
    id.reset();
    for (size_t i = 1; i < fields.size(); ++i) {
      auto f = ascii::trim(fields[i]);
      if (!f.starts_with("id=")) continue;
      auto v = f.substr(3);
      const bool ok = !v.empty() && v.size() <= 32 &&
                      std::all_of(v.begin(), v.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
      if (ok) id = std::string(v);
      break;
    }
  }
  if (found != 1) return std::nullopt;  // more than one record is as good as none [RFC 8461 §3.1]
  return id;
}

bool mx_matches(std::string_view pattern, std::string_view host) {
  pattern = strip_dot(pattern);
  host = strip_dot(host);
  if (pattern.starts_with("*.")) {
    const size_t dot = host.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    return ascii::iequals(host.substr(dot + 1), pattern.substr(2));
  }
  return ascii::iequals(pattern, host);
}

bool policy_allows(const Policy& policy, std::string_view host) {
  return std::any_of(policy.mx.begin(), policy.mx.end(), [&](const std::string& p) { return mx_matches(p, host); });
}

asio::awaitable<Fetched> HttpsPolicyFetcher::fetch(std::string domain) {
  Fetched out;
  out.failure = "sts-policy-fetch-error";
  const std::string host = "mta-sts." + ascii::lower(strip_dot(domain));
  std::vector<asio::ip::address> addresses;
  if (ipv6_) {
    auto v6 = co_await resolver_->aaaa(host);
    addresses = v6.addresses;
  }
  auto v4 = co_await resolver_->a(host);
  addresses.insert(addresses.end(), v4.addresses.begin(), v4.addresses.end());
  if (addresses.empty()) {
    out.why = "no address for " + host;
    co_return out;
  }
  auto ex = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (const auto& address : addresses) {
    beast::ssl_stream<beast::tcp_stream> stream(ex, *tls_);
    beast::get_lowest_layer(stream).expires_at(deadline);
    auto [cec] = co_await beast::get_lowest_layer(stream).async_connect(asio::ip::tcp::endpoint(address, port_),
                                                                        asio::as_tuple(asio::use_awaitable));
    if (cec) {
      out.why = "connect to " + host + "[" + address.to_string() + "]: " + cec.message();
      continue;
    }
    SSL* ssl = stream.native_handle();
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
    stream.set_verify_mode(asio::ssl::verify_peer);
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (hec) {
      const long v = SSL_get_verify_result(ssl);
      if (v != X509_V_OK) {
        out.failure = "sts-webpki-invalid";
        out.why = "certificate of " + host + ": " + X509_verify_cert_error_string(v);
      } else {
        out.why = "TLS handshake with " + host + ": " + hec.message();
      }
      co_return out;  // a reachable host with a bad certificate: no other address fixes that
    }
    http::request<http::empty_body> req{http::verb::get, "/.well-known/mta-sts.txt", 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "Posthorn");
    req.set(http::field::connection, "close");
    auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec) {
      out.why = "sending the request to " + host + ": " + wec.message();
      co_return out;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    parser.header_limit(16 * 1024);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    (void)rn;
    if (rec) {
      out.why = rec == http::error::body_limit ? "policy body of " + host + " is larger than 64 KiB"
                                               : "reading the policy from " + host + ": " + rec.message();
      co_return out;
    }
    auto& res = parser.get();
    if (res.result_int() != 200) {
      out.why = host + " answered HTTP " + std::to_string(res.result_int()) + " (redirects are not followed)";
      co_return out;
    }
    const std::string type = ascii::lower(std::string(res[http::field::content_type]));
    if (!type.starts_with("text/plain")) {
      out.why = host + " served the policy as \"" + type + "\", not text/plain";
      co_return out;
    }
    out.ok = true;
    out.failure.clear();
    out.body = std::move(res.body());
    beast::error_code ignored;
    stream.shutdown(ignored);  // short: the deadline still holds
    co_return out;
  }
  co_return out;
}

PolicyStore::PolicyStore(std::shared_ptr<dns::Resolver> resolver, std::shared_ptr<PolicyFetcher> fetcher,
                         std::filesystem::path dir, Now now)
    : resolver_(std::move(resolver)), fetcher_(std::move(fetcher)), dir_(std::move(dir)), now_(std::move(now)) {
  if (!now_) now_ = [] { return std::chrono::system_clock::now(); };
}

std::filesystem::path PolicyStore::file(const std::string& domain) const {
  // Only plain host names become file names (no "/", no ".." tricks from a recipient domain).
  const bool safe = !domain.empty() && domain.front() != '.' && std::all_of(domain.begin(), domain.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
  if (dir_.empty() || !safe) return {};
  return dir_ / (domain + ".policy");
}

std::string cache_file_text(const Policy& p) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(p.fetched.time_since_epoch()).count();
  return "id: " + p.id + "\nfetched: " + std::to_string(secs) + "\n\n" + p.text;
}

std::optional<Policy> parse_cache_file(std::string_view text) {
  const size_t end = text.find("\n\n");
  if (end == std::string_view::npos || !text.starts_with("id: ")) return std::nullopt;
  const size_t nl = text.find('\n');
  const std::string id(text.substr(4, nl - 4));
  auto rest = text.substr(nl + 1, end - nl - 1);
  uint64_t secs = 0;
  if (!rest.starts_with("fetched: ") || !parse_seconds(rest.substr(9), secs)) return std::nullopt;
  auto p = parse_policy(text.substr(end + 2));
  if (!p) return std::nullopt;
  p->id = id;
  p->fetched = std::chrono::system_clock::time_point(std::chrono::seconds(secs));
  return std::move(*p);
}

std::optional<Policy> PolicyStore::load(const std::string& domain) {
  auto it = cache_.find(domain);
  if (it != cache_.end()) return it->second;
  std::optional<Policy> p;
  if (const auto path = file(domain); !path.empty()) {
    std::ifstream f(path, std::ios::binary);
    if (f) {
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      p = parse_cache_file(text);
    }
  }
  cache_[domain] = p;
  return p;
}

void PolicyStore::save(const Policy& policy, const std::string& domain) {
  {
    std::lock_guard lock(mutex_);
    cache_[domain] = policy;
  }
  const auto path = file(domain);
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << cache_file_text(policy);
    if (!f) {
      spdlog::warn("mta-sts: cannot write {}", tmp);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) spdlog::warn("mta-sts: cannot rename {}: {}", tmp, ec.message());
}

std::optional<Policy> PolicyStore::cached(const std::string& domain) {
  std::lock_guard lock(mutex_);
  return load(ascii::lower(strip_dot(domain)));
}

uint64_t PolicyStore::fetches() const {
  std::lock_guard lock(mutex_);
  return fetches_;
}

asio::awaitable<Lookup> PolicyStore::lookup(std::string domain_in) {
  const std::string domain = ascii::lower(strip_dot(domain_in));
  Lookup out;
  std::optional<Policy> cached;
  {
    std::lock_guard lock(mutex_);
    cached = load(domain);
  }
  const auto now = now_();
  if (cached && cached->fetched + cached->max_age <= now) cached.reset();  // expired [RFC 8461 §5.1]
  auto usable = [](std::optional<Policy> p) {
    if (p && p->mode == Mode::kNone) p.reset();
    return p;
  };

  auto txt = co_await resolver_->txt("_mta-sts." + domain);
  std::optional<std::string> id;
  if (txt.status == dns::Status::kOk) id = parse_txt(txt.records);
  // No (valid) record, or the lookup failed: a valid cached policy still holds [RFC 8461 §5.1].
  if (!id || (cached && cached->id == *id)) {
    out.policy = usable(cached);
    co_return out;
  }
  {
    std::lock_guard lock(mutex_);
    ++fetches_;
  }
  auto fetched = co_await fetcher_->fetch(domain);
  if (!fetched.ok) {
    spdlog::info("mta-sts {}: policy fetch failed: {}", domain, fetched.why);
    out.failure = fetched.failure;
    out.why = fetched.why;
    out.policy = usable(cached);  // a failed refresh keeps the cached policy
    co_return out;
  }
  auto parsed = parse_policy(fetched.body);
  if (!parsed) {
    spdlog::info("mta-sts {}: invalid policy: {}", domain, parsed.error().message);
    out.failure = "sts-policy-invalid";
    out.why = parsed.error().message;
    out.policy = usable(cached);
    co_return out;
  }
  parsed->id = *id;
  parsed->fetched = now;
  save(*parsed, domain);
  out.policy = usable(std::move(*parsed));
  co_return out;
}

}  // namespace posthorn::smtpc::mta_sts
