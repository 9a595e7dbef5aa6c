#include "proto/smtp/reply.hpp"

namespace posthorn::proto::smtp {
namespace {

void append_line(std::string& out, uint16_t code, char sep, std::string_view status, std::string_view text) {
  out += std::to_string(code);
  if (status.empty() && text.empty()) {
    if (sep == '-') out += '-';
    out += "\r\n";
    return;
  }
  out += sep;
  if (!status.empty()) {
    out += status;
    if (!text.empty()) out += ' ';
  }
  out += text;
  out += "\r\n";
}

}  // namespace

std::string format(const Reply& reply) { return format(reply, reply.text); }

std::string format(const Reply& reply, std::string_view text) {
  std::string out;
  append_line(out, reply.code, ' ', reply.status, text);
  return out;
}

std::string format_multiline(uint16_t code, std::string_view status, const std::vector<std::string>& lines) {
  std::string out;
  if (lines.empty()) {
    append_line(out, code, ' ', status, {});
    return out;
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    append_line(out, code, i + 1 == lines.size() ? ' ' : '-', status, lines[i]);
  }
  return out;
}

std::string format_continue(std::string_view base64_challenge) {
  std::string out = std::to_string(kC334AuthContinue.code);
  out += ' ';
  out += base64_challenge;
  out += "\r\n";
  return out;
}

Reply to_auth_reply(const Error& error) {
  switch (error.code) {
    case Errc::kDenied:
      if (error.message == "encryption required") return kC538EncryptionRequired;
      return kC535AuthFailed;
    case Errc::kUnavailable:
      return kC454TempAuthFailure;
    case Errc::kInvalid:
      return Reply{501, "5.5.2", "Malformed authentication exchange"};
    case Errc::kNotFound:
      return kC504MechUnsupported;
    default:
      return kC454TempAuthFailure;
  }
}

Reply to_mail_reply(const Error& error) {
  switch (error.code) {
    case Errc::kNotFound:
      return kC550NoSuchUser;
    case Errc::kOverQuota:
      return kC452MailboxFull;
    case Errc::kTooBig:
      return kC552TooBig;
    case Errc::kDenied:
      return kC554RelayDenied;
    case Errc::kInvalid:
      return kC554ContentRejected;
    default:
      return kC451LocalError;
  }
}

}  // namespace posthorn::proto::smtp
