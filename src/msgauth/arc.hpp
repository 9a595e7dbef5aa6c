// ARC, the Authenticated Received Chain [RFC 8617]: verifying the chain of ARC sets on a message
// (§5.2) and sealing a message with the next set (§5.1). An ARC set is three header fields with the
// same instance i=: ARC-Authentication-Results (AAR, the sealer's Authentication-Results),
// ARC-Message-Signature (AMS, a DKIM-like signature of the message) and ARC-Seal (AS, a signature of
// the ARC sets 1..i). Verification tells the final receiver whether the message passed through a
// chain of intermediaries intact since each of them sealed it; a forwarder seals so that the next
// hop can trust what it saw (e.g. SPF and DKIM passed before the alias forwarding broke them).
//
// Depends on msgauth/dkim (signing keys, and via dkim_internal.hpp the tag lists, canonicalisation,
// key records and crypto), msgauth/canon, dns/resolver (interface only). RSA-SHA256 only: RFC 8617
// defines no other algorithm. Reentrant; no shared state.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace posthorn::dns {
class Resolver;
}

namespace posthorn::msgauth {

class DkimSigner;

// A chain validation status: arc_verify's result and the cv= of a seal [RFC 8617].
enum class ArcChainStatus { kNone, kPass, kFail };
std::string_view chain_status_word(ArcChainStatus s);  // "none", "pass", "fail"

constexpr int kMaxArcSets = 50;  // RFC 8617: i= is 1..50; a longer chain fails

struct ArcResult {
  ArcChainStatus status = ArcChainStatus::kNone;
  int instances = 0;  // N, the number of ARC sets (0 when there is none or they are unreadable)
  // header.oldest-pass [RFC 8617 §5.2], meaningful on pass: 0 when the AMS of every instance
  // verifies; otherwise the lowest instance i such that the AMS of i..N all verify (the message was
  // modified after the sealer of i-1 saw it).
  int oldest_pass = 0;
  // On fail: the instance whose set is malformed or whose AMS or AS did not verify; 0 when the
  // chain as a whole is wrong (a missing or duplicated instance, too many sets).
  int failed_instance = 0;
  std::string reason;  // why not pass (empty on pass): safe to show, for logs and reason=
};

// Verifies the ARC chain of `message` (full bytes, CRLF or LF line ends) [RFC 8617 §5.2]:
// none when there is no ARC header field; fail when the sets are not exactly one AAR, AMS and AS
// for each of i=1..N (N <= kMaxArcSets), when cv= is not none on i=1 and pass above (a chain whose
// newest seal says cv=fail is a failed chain), when the AMS of N does not verify, or when any AS
// from N down to 1 does not verify; else pass. A key lookup that fails temporarily is a fail too
// (ARC has no temperror), with the reason saying so. `now` (seconds since the epoch) is checked
// against x= of the AMS. `message` must stay valid until the awaitable completes. Never throws for
// anything in the message or in DNS answers.
boost::asio::awaitable<ArcResult> arc_verify(std::string_view message, dns::Resolver& resolver, int64_t now);

// The "arc=" method for Authentication-Results [RFC 8617]: "arc=pass
// header.oldest-pass=0 smtp.remote-ip=192.0.2.1", "arc=fail reason=\"...\" smtp.remote-ip=...",
// "arc=none". `remote_ip` is the SMTP client's address (omitted when empty).
std::string arc_auth_results_method(const ArcResult& result, std::string_view remote_ip);

// The ARC set with instance N+1 for `message` (full bytes, its N ARC sets already on it), signed
// with the RSA key of `domain` in `keys` (DkimSigner::rsa_selector / rsa_sign; d= is `domain`):
//   ARC-Seal: i=N+1; a=rsa-sha256; cv=...; d=; s=; t=now; b=...
//   ARC-Message-Signature: i=N+1; a=rsa-sha256; c=relaxed/relaxed; d=; s=; t=; h=...; bh=; b=
//   ARC-Authentication-Results: i=N+1; <authserv_id>; <auth_results_payload>
// each CRLF-terminated and folded, to be prepended to the message as returned. The AMS covers the
// same headers as DkimSigner::sign (never ARC fields) and the body; the AS covers the sets 1..N+1.
// `auth_results_payload` is what follows "authserv-id;" in our Authentication-Results (e.g.
// "spf=pass smtp.mailfrom=a@example.org; dkim=pass header.d=example.org; arc=none"); empty: "none".
// An unfolded payload is folded between words at 78 columns; one that contains CRLF is taken as
// already folded (each CRLF followed by whitespace).
//
// `cv` is arc_verify's status for the incoming message. kNone and kPass seal the chain on;
// kFail seals with cv=fail over this set only (as python3-dkim does), which marks the chain as broken
// for everyone after us. Posthorn's forwarding should not call arc_seal on kFail at all (a dead
// chain carries no information worth sealing); the function still does what the RFC says when asked.
// Returns "" (no set) when: there is no RSA key for `domain`; the message already has kMaxArcSets
// sets; its newest seal says cv=fail (a terminated chain is never extended); `cv` is kNone while
// the message has sets. On a message without sets any `cv` is sealed as cv=none.
std::string arc_seal(std::string_view message, const DkimSigner& keys, std::string_view domain,
                     std::string_view authserv_id, std::string_view auth_results_payload, ArcChainStatus cv,
                     int64_t now);

}  // namespace posthorn::msgauth
