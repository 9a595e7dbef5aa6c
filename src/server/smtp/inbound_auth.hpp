// Mail authentication of one message arriving on the MX listener: SPF for the client and MAIL FROM
// (or HELO), every DKIM signature, DMARC for the From domain over those two, the
// Authentication-Results field [RFC 8601] that records them, and what the configuration says to do
// with a failure (deliver, file in Junk, or refuse with 550). And DKIM signing of submitted mail.
// Depends on msgauth/ (the checks), dns/ (the Resolver), config/. Thread-safe (stateless; the
// resolver and the public suffix list are shared and thread-safe).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "dns/resolver.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/psl.hpp"

namespace posthorn::server::smtp {

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

}  // namespace posthorn::server::smtp
