// The client's MAIL and RCPT commands with their SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY and ORCPT
// parameters [RFC 1870, 6152, 6531, 3461], each only when the server offers its extension. The wire
// grammar itself (reading replies and EHLO, xtext, the DATA encoder) is proto/smtp's, shared with
// the server. Depends on proto/smtp and queue/dsn.hpp (Notify, Ret). Pure; thread-compatible values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/smtp/reply_reader.hpp"
#include "queue/dsn.hpp"

namespace posthorn::smtpc {

// A reply as the client reads it; the grammar is proto/smtp's.
using Reply = proto::smtp::ReceivedReply;
using proto::smtp::Capabilities;
using proto::smtp::ReplyParser;

enum class Body { k7Bit, k8BitMime };

struct MailParams {
  std::string sender;     // "" = the null sender <>
  uint64_t size = 0;      // the message size in bytes (SIZE=), 0 = unknown
  Body body = Body::k7Bit;
  bool smtputf8 = false;
  queue::Ret ret = queue::Ret::kUnspecified;
  std::string envid;      // ENVID (xtext-encoded on the wire)
};

struct Recipient {
  std::string address;
  queue::Notify notify;
  std::string orcpt;      // "rfc822;user@example.com" as received, "" = none
};

// "MAIL FROM:<s> SIZE=n BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x\r\n", each parameter only when the
// server offers its extension.
std::string mail_command(const MailParams& p, const Capabilities& caps);
// "RCPT TO:<a> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a\r\n" (DSN parameters only when DSN is offered).
std::string rcpt_command(const Recipient& r, const Capabilities& caps);

}  // namespace posthorn::smtpc
