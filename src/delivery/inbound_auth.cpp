// Inbound mail authentication and signing-domain choice. co_await only as a statement or a plain
// initializer (g++ 12).
#include "delivery/inbound_auth.hpp"

#include "mime/header.hpp"
#include "msgauth/auth_results.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/spf.hpp"

namespace posthorn::delivery {

namespace asio = boost::asio;

namespace {

// The stricter of two actions.
config::AuthAction stricter(config::AuthAction a, config::AuthAction b) { return a > b ? a : b; }

}  // namespace

asio::awaitable<InboundVerdict> check_inbound(dns::Resolver& resolver, const msgauth::PublicSuffixList& psl,
                                              const config::Msgauth& settings, InboundMessage in, int64_t now) {
  InboundVerdict verdict;
  const std::string_view message = in.message;
  auto spf_task = msgauth::spf_check(resolver, in.client_ip, in.mail_from, in.helo, settings.authserv_id);
  msgauth::SpfOutcome spf = co_await std::move(spf_task);
  auto dkim_task = msgauth::dkim_verify(message, resolver, now);
  std::vector<msgauth::DkimResult> dkim = co_await std::move(dkim_task);
  auto arc_task = msgauth::arc_verify(message, resolver, now);
  msgauth::ArcResult arc = co_await std::move(arc_task);
  verdict.arc = arc.status;
  std::vector<msgauth::DkimResultInput> aligned_input;
  for (const auto& d : dkim) aligned_input.push_back({d.domain, d.status == msgauth::DkimStatus::kPass});
  const std::string header(message.substr(0, mime::split_header(message).header_end));
  auto dmarc_task = msgauth::dmarc_check_message(resolver, psl, header, spf.result, spf.domain, std::move(aligned_input));
  msgauth::DmarcOutcome dmarc = co_await std::move(dmarc_task);

  msgauth::AuthResultsInput ar;
  ar.authserv_id = settings.authserv_id;
  ar.spf = spf;
  ar.dkim.emplace();
  for (const auto& d : dkim) {
    if (d.status == msgauth::DkimStatus::kNone) continue;
    ar.dkim->push_back({std::string(msgauth::status_word(d.status)), d.domain, d.selector, d.b_prefix, d.algorithm,
                        d.status == msgauth::DkimStatus::kPass ? std::string() : d.reason});
  }
  ar.dmarc = dmarc;
  ar.arc = msgauth::arc_auth_results_method(arc, in.client_ip.to_string());
  verdict.auth_results = msgauth::format_authentication_results(ar);
  // "Authentication-Results: id;" + payload + CRLF: the payload as the ARC-Authentication-Results
  // of a seal carries it (already folded).
  if (const auto semi = verdict.auth_results.find(';'); semi != std::string::npos) {
    std::string_view payload = std::string_view(verdict.auth_results).substr(semi + 1);
    while (!payload.empty() && (payload.front() == ' ' || payload.front() == '\t')) payload.remove_prefix(1);
    if (payload.ends_with("\r\n")) payload.remove_suffix(2);
    verdict.auth_results_payload = std::string(payload);
  }
  verdict.summary = "spf=" + std::string(msgauth::spf_result_name(spf.result)) + " dkim=";
  if (dkim.empty()) verdict.summary += "none";
  for (std::size_t i = 0; i < dkim.size(); ++i) {
    verdict.summary += (i ? "," : "") + std::string(msgauth::status_word(dkim[i].status));
  }
  verdict.summary += " dmarc=" + std::string(msgauth::dmarc_result_name(dmarc.result));
  verdict.summary += " arc=" + std::string(msgauth::chain_status_word(arc.status));

  // DMARC decides when it failed; SPF's own "fail" acts only when DMARC did not pass (a forwarded
  // message can fail SPF and still pass DMARC through its DKIM signature).
  if (dmarc.result == msgauth::DmarcResult::kFail) {
    if (dmarc.policy == msgauth::DmarcPolicy::kReject) verdict.action = settings.dmarc_reject;
    if (dmarc.policy == msgauth::DmarcPolicy::kQuarantine) verdict.action = settings.dmarc_quarantine;
    if (verdict.action == config::AuthAction::kReject) {
      verdict.code = 550;
      verdict.status = "5.7.1";
      verdict.text = "Rejected by the DMARC policy of " + dmarc.from_domain;
    }
  }
  if (spf.result == msgauth::SpfResult::kFail && dmarc.result != msgauth::DmarcResult::kPass &&
      verdict.action != config::AuthAction::kReject) {
    verdict.action = stricter(verdict.action, settings.spf_fail);
    if (verdict.action == config::AuthAction::kReject) {
      verdict.code = 550;
      verdict.status = "5.7.23";
      verdict.text = spf.explanation.empty() ? "SPF check failed for " + spf.domain
                                             : "SPF check failed: " + spf.explanation;
    }
  }
  verdict.spf = std::move(spf);
  verdict.dkim = std::move(dkim);
  verdict.dmarc = std::move(dmarc);
  co_return verdict;
}

std::string remove_own_auth_results(std::string_view message, std::string_view authserv_id) {
  return msgauth::drop_ranges(message, msgauth::find_own_authentication_results(message, authserv_id));
}

std::string arc_seal_forwarded(const msgauth::DkimSigner& signer, std::string_view domain, std::string_view outgoing,
                               std::string_view authserv_id, const InboundVerdict& verdict, int64_t now) {
  // A chain that arrived broken is not extended: a cv=fail seal says nothing the next hop can use.
  if (verdict.arc == msgauth::ArcChainStatus::kFail) return "";
  return msgauth::arc_seal(outgoing, signer, domain, authserv_id, verdict.auth_results_payload, verdict.arc, now);
}

std::string signing_domain(const msgauth::DkimSigner& signer, std::string_view message) {
  const std::size_t end = mime::split_header(message).header_end;
  const msgauth::FromDomains from = msgauth::extract_from_domains(message.substr(0, end));
  if (from.status != msgauth::FromStatus::kOk || from.domains.size() != 1) return "";
  return signer.has_domain(from.domains[0]) ? from.domains[0] : "";
}

}  // namespace posthorn::delivery
