// Authentication-Results (RFC 8601): a formatter that builds the header field from our authserv-id
// and the SPF, DKIM and DMARC outcomes, folded at 78 columns, values quoted when they are neither a
// token nor a [local-part@]domain; and a scanner that finds the Authentication-Results fields that
// already carry our authserv-id (forged or left over: RFC 8601 §5 says an MX removes them) and
// returns their byte ranges so the caller can drop them before adding its own.
// Depends on msgauth/spf, msgauth/dmarc (result types), mime/header (header split), base/.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/dmarc.hpp"
#include "msgauth/spf.hpp"

namespace posthorn::msgauth {

// One "dkim=" method result [RFC 8601 §2.7.1, RFC 6008 for header.b].
struct DkimMethodResult {
  std::string result;     // "pass", "fail", "neutral", "policy", "temperror", "permerror"
  std::string domain;     // header.d (omitted when empty)
  std::string selector;   // header.s
  std::string b;          // header.b: a prefix of the signature's b= (8 characters is customary)
  std::string algorithm;  // header.a, e.g. "rsa-sha256", "ed25519-sha256"
  std::string reason;     // reason="..." (omitted when empty)
};

struct AuthResultsInput {
  std::string authserv_id;                          // our host name, e.g. "mx.example.org"
  std::optional<SpfOutcome> spf;                    // "spf=... smtp.mailfrom=" (or smtp.helo= for HELO)
  // nullopt: no dkim method at all; an empty list: "dkim=none" (the message had no signature).
  std::optional<std::vector<DkimMethodResult>> dkim;
  std::optional<DmarcOutcome> dmarc;                // "dmarc=... header.from="
  std::optional<std::string> arc;                   // a whole "arc=..." resinfo (arc_auth_results_method)
};

// The whole field, "Authentication-Results: <id>; spf=...;\r\n\tdkim=...\r\n", folded so that no
// line exceeds 78 characters where a fold point exists. With no methods: "<id>; none".
std::string format_authentication_results(const AuthResultsInput& input);

// A property value [RFC 8601 §2.2 pvalue]: as is when it is a MIME token or [local-part "@"]
// domain-name, else a quoted-string (controls dropped, '"' and '\' escaped).
std::string auth_results_pvalue(std::string_view value);

struct ByteRange {
  size_t begin = 0;  // the field's first byte
  size_t end = 0;    // one past its last line end
  bool operator==(const ByteRange&) const = default;
};

// The Authentication-Results fields of the header of `message` whose authserv-id equals
// `authserv_id` (ASCII case-insensitive; comments and folding before it are skipped), in order.
std::vector<ByteRange> find_own_authentication_results(std::string_view message, std::string_view authserv_id);

// `message` without the given ranges (sorted, non-overlapping as returned above).
std::string drop_ranges(std::string_view message, const std::vector<ByteRange>& ranges);

}  // namespace posthorn::msgauth
