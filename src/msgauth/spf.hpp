// SPF (RFC 7208): check_host() over the dns::Resolver interface. Record selection, every mechanism
// (all, include, a, mx, ptr, ip4, ip6, exists with dual CIDR lengths), the redirect= and exp=
// modifiers, the macro language (§7), and the processing limits of §4.6.4: at most 10 mechanisms
// and modifiers that query DNS, at most 2 void lookups, at most 10 MX names per "mx" and 10 PTR
// names per "ptr"/%{p}, and a time limit on the whole check (SpfOptions). Recursion through
// include/redirect is bounded by the 10-lookup limit.
// Hostile records are bounded too: a record longer than kSpfMaxRecord bytes is a permerror and
// macro expansions are capped. Nothing here throws on input.
// Depends on dns/resolver.hpp and base/. Stateless functions; safe to call from many coroutines at
// once as long as the resolver is (UnboundResolver and TableResolver are).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dns/resolver.hpp"

namespace posthorn::msgauth {

enum class SpfResult { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };
// "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" (RFC 8601 spelling).
std::string_view spf_result_name(SpfResult r);

inline constexpr size_t kSpfMaxRecord = 4096;       // longer SPF records are a permerror
inline constexpr int kSpfMaxDnsMechanisms = 10;     // RFC 7208 §4.6.4
inline constexpr int kSpfMaxVoidLookups = 2;        // RFC 7208 §4.6.4
inline constexpr size_t kSpfMaxNames = 10;          // MX names per "mx", PTR names per "ptr"/%{p}

struct SpfOutcome {
  SpfResult result = SpfResult::kNone;
  // The domain check_host() started from: the MAIL FROM domain, or the HELO name when MAIL FROM is
  // empty (then helo_identity is true). Authentication-Results reports it as smtp.mailfrom/smtp.helo.
  std::string domain;
  bool helo_identity = false;
  // The <sender> used: "local@domain", "postmaster@domain" when the local part is empty.
  std::string sender;
  // For kFail: the domain's own explanation (exp= modifier, macro-expanded, ASCII), or empty when it
  // gave none or it could not be used; the caller then uses its own default text.
  std::string explanation;
  // A short reason for logs ("matched ip4:192.0.2.0/24 in example.com", "no SPF record").
  std::string reason;
};

struct SpfOptions {
  // RFC 7208 §4.6.4: a limit on the whole evaluation ("SHOULD allow at least 20 seconds"), then
  // temperror. It is checked before each DNS query; one query is bounded by the resolver's timeout.
  std::chrono::milliseconds time_limit{20'000};
};

// check_host() for one SMTP transaction [RFC 7208 §2.4, §4]. `mail_from` is the reverse-path
// without angle brackets ("" for the null sender: the HELO identity is checked then, as
// postmaster@helo). `receiver_host` is our own host name (the %{r} macro).
boost::asio::awaitable<SpfOutcome> spf_check(dns::Resolver& resolver, boost::asio::ip::address client_ip,
                                             std::string mail_from, std::string helo, std::string receiver_host,
                                             SpfOptions options = {});

// The values the macro letters expand to [RFC 7208 §7.2]. Exposed for tests and for callers that
// format explanations themselves.
struct SpfMacroValues {
  std::string sender;       // s
  std::string local_part;   // l ("postmaster" when empty)
  std::string sender_domain;  // o
  std::string domain;       // d (the current domain)
  boost::asio::ip::address ip;  // i, c, v
  std::string validated_ptr = "unknown";  // p
  std::string helo;         // h
  std::string receiver;     // r (explanations only)
  int64_t timestamp = 0;    // t (explanations only)
};

// Expands a macro-string. `explanation` allows the c, r and t letters. Returns nullopt on a syntax
// error (a '%' not followed by '{', '%', '_' or '-', an unknown letter, a zero digit transformer,
// an unterminated "%{") or when the result would exceed 8 KiB. Domain truncation to 253 bytes is
// the caller's job (it applies to domain names only).
std::optional<std::string> spf_expand_macros(std::string_view text, const SpfMacroValues& values, bool explanation);

}  // namespace posthorn::msgauth
