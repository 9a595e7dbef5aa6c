// The client's MAIL and RCPT commands.
#include "smtpc/protocol.hpp"

#include "proto/smtp/envelope.hpp"

namespace posthorn::smtpc {

std::string mail_command(const MailParams& p, const Capabilities& caps) {
  std::string out = "MAIL FROM:<" + p.sender + ">";
  if (caps.size && p.size > 0) out += " SIZE=" + std::to_string(p.size);
  if (p.body == Body::k8BitMime && caps.eightbitmime) out += " BODY=8BITMIME";
  if (p.smtputf8 && caps.smtputf8) out += " SMTPUTF8";
  if (caps.dsn) {
    if (p.ret == queue::Ret::kFull) out += " RET=FULL";
    if (p.ret == queue::Ret::kHeaders) out += " RET=HDRS";
    if (!p.envid.empty()) out += " ENVID=" + proto::smtp::xtext_encode(p.envid);
  }
  return out + "\r\n";
}

std::string rcpt_command(const Recipient& r, const Capabilities& caps) {
  std::string out = "RCPT TO:<" + r.address + ">";
  if (caps.dsn) {
    if (r.notify.never) {
      out += " NOTIFY=NEVER";
    } else if (r.notify.given()) {
      std::string list;
      if (r.notify.success) list += "SUCCESS,";
      if (r.notify.failure) list += "FAILURE,";
      if (r.notify.delay) list += "DELAY,";
      list.pop_back();
      out += " NOTIFY=" + list;
    }
    if (!r.orcpt.empty()) {
      // ORCPT=addr-type;xtext [RFC 3461 §4.2]: the type stays as is, the address is xtext.
      const size_t semi = r.orcpt.find(';');
      if (semi != std::string::npos) {
        out += " ORCPT=" + r.orcpt.substr(0, semi + 1) + proto::smtp::xtext_encode(r.orcpt.substr(semi + 1));
      }
    }
  }
  return out + "\r\n";
}

}  // namespace posthorn::smtpc
