// DMARC (RFC 7489): policy record discovery at _dmarc.<From domain>, then at the Organizational
// Domain (§6.6.3); tag parsing (v, p, sp, adkim, aspf, pct, rua, ruf, fo, ri); identifier alignment
// of SPF (the MAIL FROM domain, only when SPF passed) and DKIM (d= of verified signatures), relaxed
// or strict (§3.1); the result and the policy to apply, with sp= for subdomains and pct sampling
// (§6.6.4: a message outside the sample gets the next weaker policy). The RFC5322.From domain is
// taken from the header block with the rules of §6.6.1 (no From, several From fields, several
// domains).
// Depends on dns/resolver.hpp, msgauth/psl, msgauth/spf (SpfResult), mime/ (header and address
// parsing), base/. Stateless functions; thread-safe when the resolver is.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/resolver.hpp"
#include "msgauth/psl.hpp"
#include "msgauth/spf.hpp"

namespace posthorn::msgauth {

enum class DmarcPolicy { kNone, kQuarantine, kReject };
enum class DmarcResult { kNone, kPass, kFail, kTempError, kPermError };
enum class DmarcAlignment { kRelaxed, kStrict };
std::string_view dmarc_policy_name(DmarcPolicy p);  // "none", "quarantine", "reject"
std::string_view dmarc_result_name(DmarcResult r);  // "none", "pass", "fail", "temperror", "permerror"

inline constexpr size_t kDmarcMaxRecord = 4096;  // longer records are ignored as invalid
inline constexpr size_t kDmarcMaxUris = 16;      // rua/ruf URIs kept

struct DmarcRecord {
  DmarcPolicy policy = DmarcPolicy::kNone;                 // p=
  std::optional<DmarcPolicy> subdomain_policy;             // sp=
  DmarcAlignment adkim = DmarcAlignment::kRelaxed;
  DmarcAlignment aspf = DmarcAlignment::kRelaxed;
  int pct = 100;                                           // 0..100
  std::vector<std::string> rua;                            // URIs, "!size" suffix kept
  std::vector<std::string> ruf;
  std::string fo = "0";                                    // colon-separated 0, 1, d, s
  uint32_t ri = 86400;
};

// Parses a TXT record. nullopt when it is not a usable DMARC record: v=DMARC1 not first, a tag
// twice, a bad value of a known tag, or a missing/bad p= (except as below), with `error` set.
// §6.3: a bad or missing p= (or a bad sp=) with at least one syntactically valid rua URI reads as
// p=none. Unknown tags are ignored.
std::optional<DmarcRecord> parse_dmarc_record(std::string_view text, std::string* error = nullptr);

// One DKIM verification result, as DMARC needs it: the signing domain (d=) and whether the
// signature verified. (A small input type so DMARC does not depend on the DKIM verifier's types.)
struct DkimResultInput {
  std::string domain;
  bool pass = false;
};

// True when `a` and `b` are aligned [RFC 7489 §3.1]: strict = equal ignoring case and a final dot;
// relaxed = the same Organizational Domain.
bool dmarc_aligned(const PublicSuffixList& psl, std::string_view a, std::string_view b, DmarcAlignment mode);

// What happened to the RFC5322.From field [RFC 7489 §6.6.1].
enum class FromStatus {
  kOk,                // one From field, one domain (possibly several addresses in it)
  kMissing,           // no From field, or no address with a domain: DMARC cannot be applied
  kMultipleFields,    // several From fields (RFC 5322 forbids it): evaluated, callers may reject
  kMultipleDomains,   // one field, addresses in different domains: the strictest outcome is kept
};

struct FromDomains {
  FromStatus status = FromStatus::kMissing;
  std::vector<std::string> domains;  // distinct, lower-case, without a final dot, in field order
};

// Reads the From field(s) of a header block (or a whole message) with mime/header and
// mime/address. At most 32 distinct domains are kept.
FromDomains extract_from_domains(std::string_view header_block);

struct DmarcInput {
  std::string from_domain;                       // the RFC5322.From domain
  SpfResult spf_result = SpfResult::kNone;
  std::string spf_domain;                        // the domain SPF checked (MAIL FROM, or HELO when null sender)
  std::vector<DkimResultInput> dkim;
};

struct DmarcOutcome {
  DmarcResult result = DmarcResult::kNone;
  // The policy to apply now: the record's p= (or sp= for a subdomain), weakened one step when pct
  // sampling left the message out; kNone unless the result is kFail.
  DmarcPolicy policy = DmarcPolicy::kNone;
  DmarcPolicy requested = DmarcPolicy::kNone;  // p= or sp=, before sampling
  bool sampled_out = false;
  FromStatus from_status = FromStatus::kOk;
  std::string from_domain;    // header.from in Authentication-Results
  std::string org_domain;     // the From domain's Organizational Domain
  std::string record_domain;  // where the record was found (from_domain or org_domain), "" if none
  std::optional<DmarcRecord> record;
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string reason;  // for logs
};

// Returns 0..99; a message is in the pct sample when the value is below pct. Tests inject one.
using DmarcRandom = std::function<uint32_t()>;

// Evaluates DMARC for one From domain. `random` empty: a secure random source.
boost::asio::awaitable<DmarcOutcome> dmarc_check(dns::Resolver& resolver, const PublicSuffixList& psl,
                                                 DmarcInput input, DmarcRandom random = {});

// Extracts the From domain(s) from `header_block` and evaluates each: no domain gives result kNone
// with from_status kMissing; several domains give the strictest outcome (the highest policy to
// apply, then fail before temperror before permerror before pass/none).
boost::asio::awaitable<DmarcOutcome> dmarc_check_message(dns::Resolver& resolver, const PublicSuffixList& psl,
                                                         std::string header_block, SpfResult spf_result,
                                                         std::string spf_domain, std::vector<DkimResultInput> dkim,
                                                         DmarcRandom random = {});

}  // namespace posthorn::msgauth
