// MTA-STS [RFC 8461]: the policy a recipient domain publishes at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, announced by the TXT record _mta-sts.<domain>
// ("v=STSv1; id=..."). Here: parsing of the TXT record and the policy, MX pattern matching, the HTTPS
// fetch (Boost.Beast over TLS: certificate verified against the system CAs or a configured CA file,
// host name checked, no redirects, at most kMaxBody bytes of body, one timeout for the whole fetch),
// and PolicyStore, the per-domain cache (memory, plus one file per domain under a directory so that
// policies survive restarts; refreshed when the TXT id changes or max_age expires; a failed refresh
// keeps the cached policy while it is valid [RFC 8461 §5.1]).
// Depends on dns/ (Resolver), base/, Boost.Beast, OpenSSL. Thread-safe: PolicyStore and the fetcher
// may be used from many coroutines at once (a mutex guards the cache; the cache files are small and
// written whole through a rename, without fsync: losing one only costs a refetch).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "dns/resolver.hpp"

namespace posthorn::smtpc::mta_sts {

constexpr size_t kMaxBody = 64 * 1024;                 // RFC 8461 §3.3: "SHOULD ... not exceed 64 KiB"
constexpr std::chrono::seconds kMaxAge{31557600};      // RFC 8461 §3.2: max_age is at most this (one year)

enum class Mode { kEnforce, kTesting, kNone };
std::string_view mode_name(Mode m);

struct Policy {
  Mode mode = Mode::kNone;
  std::vector<std::string> mx;  // patterns, lower-case: "mx.example.com", "*.example.net"
  std::chrono::seconds max_age{0};
  std::string id;               // the TXT record's id this policy was fetched under
  std::chrono::system_clock::time_point fetched;
  std::string text;             // the policy body as served (for the cache file and TLS-RPT)
  bool operator==(const Policy&) const = default;
};

// Parses a policy body [RFC 8461 §3.2]. kInvalid (with a reason) for a missing or wrong version, a
// bad mode, a missing or bad max_age (values above kMaxAge are capped), or no mx in enforce/testing.
Result<Policy> parse_policy(std::string_view body);

// The id of the one "v=STSv1" TXT record among `records` [RFC 8461 §3.1]; nullopt when there is
// none, more than one, or its id is malformed.
std::optional<std::string> parse_txt(const std::vector<std::string>& records);

// RFC 8461 §4.1: `host` equals the pattern, or the pattern is "*.<rest>" and host is one label
// followed by ".<rest>". Case-insensitive; a trailing dot on either side is ignored.
bool mx_matches(std::string_view pattern, std::string_view host);
bool policy_allows(const Policy& policy, std::string_view host);

// A fetch's outcome; on failure `failure` is the TLS-RPT result type [RFC 8460 §4.3.2]
// ("sts-policy-fetch-error" or "sts-webpki-invalid") and `why` says what happened.
struct Fetched {
  bool ok = false;
  std::string body;
  std::string failure;
  std::string why;
};

class PolicyFetcher {
 public:
  virtual ~PolicyFetcher() = default;
  virtual boost::asio::awaitable<Fetched> fetch(std::string domain) = 0;
};

// GET https://mta-sts.<domain>:<port>/.well-known/mta-sts.txt. Addresses come from `resolver`
// (A, and AAAA first when ipv6); `tls` holds the trust anchors (peer verification and the host name
// check are set per connection). Only "200" with a text/plain body of at most kMaxBody bytes counts.
class HttpsPolicyFetcher final : public PolicyFetcher {
 public:
  HttpsPolicyFetcher(std::shared_ptr<dns::Resolver> resolver, std::shared_ptr<boost::asio::ssl::context> tls,
                     uint16_t port, std::chrono::seconds timeout, bool ipv6)
      : resolver_(std::move(resolver)), tls_(std::move(tls)), port_(port), timeout_(timeout), ipv6_(ipv6) {}
  boost::asio::awaitable<Fetched> fetch(std::string domain) override;

 private:
  std::shared_ptr<dns::Resolver> resolver_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  uint16_t port_;
  std::chrono::seconds timeout_;
  bool ipv6_;
};

// What delivery to one domain must honour.
struct Lookup {
  std::optional<Policy> policy;  // a valid enforce or testing policy; nullopt: no MTA-STS
  std::string failure;           // TLS-RPT result type when discovery failed ("sts-policy-fetch-error"...)
  std::string why;
};

class PolicyStore {
 public:
  using Now = std::function<std::chrono::system_clock::time_point()>;
  // `dir` empty: memory only. `now` defaults to the system clock (tests pass their own).
  PolicyStore(std::shared_ptr<dns::Resolver> resolver, std::shared_ptr<PolicyFetcher> fetcher,
              std::filesystem::path dir, Now now = {});

  boost::asio::awaitable<Lookup> lookup(std::string domain);

  // The cached policy (also an expired or "none" one), loading the file on first use. For tests.
  std::optional<Policy> cached(const std::string& domain);
  // The number of fetches made (for tests).
  uint64_t fetches() const;

 private:
  std::optional<Policy> load(const std::string& domain);  // mutex_ held
  void save(const Policy& policy, const std::string& domain);
  std::filesystem::path file(const std::string& domain) const;

  std::shared_ptr<dns::Resolver> resolver_;
  std::shared_ptr<PolicyFetcher> fetcher_;
  std::filesystem::path dir_;
  Now now_;
  mutable std::mutex mutex_;
  std::map<std::string, std::optional<Policy>> cache_;  // nullopt: no file (looked already)
  uint64_t fetches_ = 0;
};

// The file form of a cached policy: "id: <id>\nfetched: <unix seconds>\n\n<body>". parse_cache_file
// returns nullopt for anything else.
std::string cache_file_text(const Policy& p);
std::optional<Policy> parse_cache_file(std::string_view text);

}  // namespace posthorn::smtpc::mta_sts
