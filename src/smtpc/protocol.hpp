// The client side of the SMTP wire [RFC 5321], without sockets: reading multiline replies with
// enhanced status codes [RFC 2034], the EHLO capability list, MAIL/RCPT commands with their SIZE,
// BODY, SMTPUTF8, RET, ENVID, NOTIFY and ORCPT parameters [RFC 1870, 6152, 6531, 3461], and the DATA
// encoder that makes every line end CRLF and dot-stuffs [RFC 5321 §4.5.2], chunk by chunk, so a
// large message is never whole in memory and never carries a bare CR or LF out.
// Depends on base/, proto/smtp (xtext) and queue/dsn.hpp (Notify, Ret). Pure; thread-compatible values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/dsn.hpp"

namespace posthorn::smtpc {

// One server reply. code 0 means no reply came (connection lost, timeout); `status` then holds the
// local enhanced code (4.4.2 lost connection, 4.4.1 connect failure...) and lines[0] the reason.
struct Reply {
  uint16_t code = 0;
  std::string status;               // enhanced status code from the first line, "" when absent
  std::vector<std::string> lines;   // the text of each line, code and status removed

  bool ok() const { return code >= 200 && code < 400; }
  // A local reply (code 0) is permanent when its enhanced code is 5.x.x (null MX, NXDOMAIN...).
  bool permanent() const { return code >= 500 || (code == 0 && status.starts_with('5')); }
  bool transient() const { return !ok() && !permanent(); }
  // "550 5.1.1 text" (lines joined by a space) for logs and Diagnostic-Code.
  std::string to_string() const;
  // The enhanced code, or one derived from the basic code (2.0.0, 4.0.0, 5.0.0).
  std::string enhanced() const;
  static Reply local(std::string status, std::string text) { return Reply{0, std::move(status), {std::move(text)}}; }
};

// Collects the lines of one reply. Lines come without their CRLF.
class ReplyParser {
 public:
  enum class State { kMore, kDone, kError };
  static constexpr size_t kMaxLines = 200;
  State feed(std::string_view line);
  Reply take();  // after kDone; resets the parser

 private:
  Reply reply_;
  bool started_ = false;
};

struct Capabilities {
  bool esmtp = false;  // EHLO succeeded (HELO gives none of the rest)
  bool pipelining = false;
  bool starttls = false;
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool dsn = false;
  bool chunking = false;
  bool enhanced_status = false;
  std::optional<uint64_t> size;   // SIZE given; 0 = no fixed limit
  std::vector<std::string> auth;  // mechanisms, upper-case
  bool has_auth(std::string_view mech) const;
};
// From a 250 EHLO reply: line 0 is the server's greeting, the others keywords [RFC 5321 §4.1.1.1].
Capabilities parse_ehlo(const Reply& reply);

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

// Streams message bytes into DATA or BDAT form: CRLF for every CRLF, bare CR and bare LF; with
// dot-stuffing a leading '.' is doubled. finish() ends the last line and, with dot-stuffing, adds
// the ".\r\n" terminator.
class DataEncoder {
 public:
  explicit DataEncoder(bool dot_stuff) : dot_stuff_(dot_stuff) {}
  void encode(std::string_view in, std::string& out);
  void finish(std::string& out);

 private:
  bool dot_stuff_;
  bool line_start_ = true;
  bool pending_cr_ = false;
};

}  // namespace posthorn::smtpc
