// Mail authentication of one message arriving on the MX listener: SPF for the client and MAIL FROM
// (or HELO), every DKIM signature, the ARC chain, DMARC for the From domain over SPF and DKIM, the
// Authentication-Results field [RFC 8601] that records them, and what the configuration says to do
// with a failure (deliver, file in Junk, or refuse with 550). And DKIM signing of submitted mail and
// the ARC seal of mail an alias forwards.
// Depends on msgauth/ (the checks), dns/ (the Resolver), config/. Thread-safe (stateless; the
// resolver and the public suffix list are shared and thread-safe).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "dns/resolver.hpp"
#include "msgauth/arc.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/psl.hpp"

namespace posthorn::delivery {

struct InboundMessage {
  boost::asio::ip::address client_ip;
  std::string helo;
  std::string mail_from;    // "" for the null sender
  std::string_view message; // CRLF line ends; must outlive the check
};

struct InboundVerdict {
  config::AuthAction action = config::AuthAction::kNone;  // kNone: deliver as usual
  uint16_t code = 0;            // for kReject: 550
  std::string status;           // for kReject: "5.7.1" (DMARC) or "5.7.23" (SPF)
  std::string text;             // for kReject: the reply text
  std::string auth_results;     // the Authentication-Results field, CRLF-terminated
  std::string auth_results_payload;  // what follows "authserv-id;" in it (for an ARC seal)
  msgauth::ArcChainStatus arc = msgauth::ArcChainStatus::kNone;  // the incoming ARC chain
  std::string summary;          // "spf=pass dkim=pass dmarc=pass" for logs
  // The results themselves, for DMARC aggregate reports (msgauth::dmarc_report_entry).
  msgauth::SpfOutcome spf;
  std::vector<msgauth::DkimResult> dkim;
  msgauth::DmarcOutcome dmarc;
};

// Runs the checks (DNS through `resolver`) and decides. `now` is the DKIM verification time.
boost::asio::awaitable<InboundVerdict> check_inbound(dns::Resolver& resolver, const msgauth::PublicSuffixList& psl,
                                                     const config::Msgauth& settings, InboundMessage in, int64_t now);

// The message without header fields that claim to be Authentication-Results of `authserv_id`
// (RFC 8601 §5: a forgery, or ours from an earlier pass through this server), so the only such
// field is the one this server adds now. Other fields and the body are untouched.
std::string remove_own_auth_results(std::string_view message, std::string_view authserv_id);

// The domain of the message's From address when the signer has keys for it, else "". Submitted
// mail is signed for the From domain so that DKIM aligns with it under DMARC.
std::string signing_domain(const msgauth::DkimSigner& signer, std::string_view message);

// The ARC set [RFC 8617] to prepend to `outgoing` (a message an alias forwards to a remote address,
// with our Authentication-Results in it), sealed with the RSA key of `domain`; "" when there is no
// such key, the incoming chain failed, or it must not be extended.
std::string arc_seal_forwarded(const msgauth::DkimSigner& signer, std::string_view domain, std::string_view outgoing,
                               std::string_view authserv_id, const InboundVerdict& verdict, int64_t now);

}  // namespace posthorn::delivery
