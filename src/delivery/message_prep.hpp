// What the SMTP session adds to or changes in a message before it is stored or queued: the trace
// header fields (Return-Path [RFC 5321 §4.4], Received [RFC 5321 §4.4, RFC 5322 §3.6.7]) that go in
// the store's delivery prefix, and submission hygiene [RFC 6409 §8]: Message-ID and Date added
// when missing, Bcc removed. Submitted mail is not stored yet, so it may be rewritten; mail from
// other servers never is (its additions go in the prefix).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace posthorn::delivery {

struct TraceInfo {
  std::string helo;         // the name the client gave in EHLO/HELO/LHLO
  std::string remote_ip;
  std::string hostname;     // this server
  std::string with;         // "ESMTP", "ESMTPS", "ESMTPSA", "LMTP" ... [RFC 3848]
  std::string id;           // this transaction's id
  std::string recipient;    // for "for <...>" (empty: left out)
  std::string tls;          // "TLSv1.3 TLS_AES_256_GCM_SHA384" or ""
  int64_t time = 0;
};

// "Return-Path: <sender>\r\n" (the null path gives "<>").
std::string return_path_field(std::string_view sender);
// "Received: from helo ([ip])\r\n\tby host (Posthorn) with ESMTPS id X\r\n\tfor <r>; date\r\n".
// CR, LF and other controls in the client-supplied name are replaced so the field stays one field.
std::string received_field(const TraceInfo& info);

// Submission hygiene: returns the message with Bcc fields removed and Message-ID / Date added at
// the end of the header when missing. `message_id_domain` is the right-hand side of a new
// Message-ID. The body is untouched.
std::string prepare_submission(std::string_view message, std::string_view message_id_domain, int64_t now);

// The addresses named in the header's From and Sender fields [RFC 5322 §3.6.2], as "local@domain"
// (a local part without a domain stays as written), each once (case-insensitively), in order.
// Group markers are skipped. More than `max` distinct addresses: `too_many`, the list is cut.
struct HeaderSenders {
  std::vector<std::string> addresses;
  bool too_many = false;
};
HeaderSenders header_senders(std::string_view message, std::size_t max);

}  // namespace posthorn::delivery
