// The client's side of SMTP replies [RFC 5321 §4.2]: collecting the lines of one reply (multiline,
// enhanced status codes [RFC 2034]) and reading the EHLO capability list [RFC 5321 §4.1.1.1]. The
// server writes replies with reply.hpp; this reads them (the outbound client, smtpc/).
// Pure: no sockets, no storage. Values are thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace posthorn::proto::smtp {

// One server reply. code 0 means no reply came (connection lost, timeout); `status` then holds the
// local enhanced code (4.4.2 lost connection, 4.4.1 connect failure...) and lines[0] the reason.
struct ReceivedReply {
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
  static ReceivedReply local(std::string status, std::string text) { return ReceivedReply{0, std::move(status), {std::move(text)}}; }
};

// Collects the lines of one reply. Lines come without their CRLF.
class ReplyParser {
 public:
  enum class State { kMore, kDone, kError };
  static constexpr size_t kMaxLines = 200;
  State feed(std::string_view line);
  ReceivedReply take();  // after kDone; resets the parser

 private:
  ReceivedReply reply_;
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
Capabilities parse_ehlo(const ReceivedReply& reply);

}  // namespace posthorn::proto::smtp
