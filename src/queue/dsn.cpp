// DSN builder implementation. Notes:
// - Line ends of the returned original are normalised to CRLF, so the DSN never carries a bare CR or LF.
// - Header fields of the per-recipient blocks follow RFC 3464 §2.3 order; address types are rfc822,
//   MTA names dns, diagnostics smtp.
// - A diagnostic that is not printable ASCII is made so (controls become spaces) because delivery-status
//   fields are 7-bit text.
#include "queue/dsn.hpp"

#include <ctime>

#include "base/random.hpp"
#include "mime/date.hpp"
#include "mime/header.hpp"

namespace posthorn::queue {

std::string_view action_name(Action a) {
  switch (a) {
    case Action::kFailed: return "failed";
    case Action::kDelayed: return "delayed";
    case Action::kDelivered: return "delivered";
    case Action::kRelayed: return "relayed";
  }
  return "failed";
}

Notify notify_from_bits(uint8_t bits) {
  return Notify{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0, (bits & 8) != 0};
}

Ret ret_from(std::string_view ret) {
  if (ret == "FULL") return Ret::kFull;
  if (ret == "HDRS") return Ret::kHeaders;
  return Ret::kUnspecified;
}

bool wants_notice(std::string_view envelope_sender, const Notify& notify, Action action) {
  if (is_bounce(envelope_sender) || notify.never) return false;
  if (!notify.given()) return action == Action::kFailed || action == Action::kDelayed;
  switch (action) {
    case Action::kFailed: return notify.failure;
    case Action::kDelayed: return notify.delay;
    case Action::kDelivered:
    case Action::kRelayed: return notify.success;
  }
  return false;
}

namespace {

std::string date_of(SysTime t) { return mime::rfc5322_date(std::chrono::system_clock::to_time_t(t)); }

// Printable 7-bit text for a delivery-status field.
std::string field_text(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += (c < 0x20 || c > 0x7e) ? ' ' : char(c);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Appends `text` with every line end (CRLF, bare LF, bare CR) as CRLF, ending in CRLF.
void append_crlf(std::string& out, std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
}

bool has_8bit(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

}  // namespace

Dsn build_dsn(const DsnInput& in) {
  bool any_failed = false;
  bool any_delayed = false;
  for (const auto& r : in.recipients) {
    any_failed |= r.action == Action::kFailed;
    any_delayed |= r.action == Action::kDelayed;
  }
  const std::string boundary = "=_posthorn_" + random_token(24);
  const std::string date = date_of(in.now);
  std::string subject = any_failed    ? "Undelivered Mail Returned to Sender"
                        : any_delayed ? "Delayed Mail (still being retried)"
                                      : "Successful Mail Delivery Report";

  // The part of the original that goes back.
  const mime::HeaderSplit split = mime::split_header(in.original);
  // Failures return the whole original unless RET=HDRS; delay notices only its header; success
  // reports only the header unless RET=FULL asked for the message (the sender has it already).
  const bool full = (any_failed ? in.ret != Ret::kHeaders : !any_delayed && in.ret == Ret::kFull) &&
                    in.original.size() <= in.max_returned_bytes;
  const std::string_view returned = full ? in.original : in.original.substr(0, split.header_end);

  Dsn dsn;
  dsn.envelope_to = in.to;
  std::string& m = dsn.message;
  m += "From: Mail Delivery System <MAILER-DAEMON@" + in.reporting_mta + ">\r\n";
  m += "To: <" + in.to + ">\r\n";
  m += "Subject: " + subject + "\r\n";
  m += "Date: " + date + "\r\n";
  m += "Message-ID: <" + random_token(20) + "@" + in.reporting_mta + ">\r\n";
  m += "Auto-Submitted: auto-replied\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  m += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";

  // 1. Human-readable text.
  m += "--" + boundary + "\r\n";
  m += "Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += "This is the mail system at host " + in.reporting_mta + ".\r\n\r\n";
  if (any_failed) {
    m += "I'm sorry to have to inform you that your message could not\r\n"
         "be delivered to one or more recipients.\r\n\r\n";
  } else if (any_delayed) {
    m += "Your message could not be delivered yet to one or more recipients.\r\n"
         "The mail system will keep trying; you do not need to send it again.\r\n\r\n";
  } else {
    m += "Your message was delivered to the recipients listed below.\r\n\r\n";
  }
  for (const auto& r : in.recipients) {
    m += "<" + field_text(r.final_recipient) + ">: " + std::string(action_name(r.action));
    if (!r.remote_mta.empty()) m += " (host " + field_text(r.remote_mta) + ")";
    m += "\r\n";
    if (!r.diagnostic.empty()) m += "    " + field_text(r.diagnostic) + "\r\n";
  }
  if (returned.size() < in.original.size() && in.original.size() > in.max_returned_bytes && !any_delayed &&
      in.ret != Ret::kHeaders) {
    m += "\r\nThe message was too large to return in full; its header follows.\r\n";
  }
  m += "\r\n";

  // 2. message/delivery-status [RFC 3464 §2].
  m += "--" + boundary + "\r\n";
  m += "Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n";
  m += "Reporting-MTA: dns; " + in.reporting_mta + "\r\n";
  if (!in.envelope_id.empty()) m += "Original-Envelope-Id: " + field_text(in.envelope_id) + "\r\n";
  m += "Arrival-Date: " + date_of(in.arrival) + "\r\n";
  for (const auto& r : in.recipients) {
    m += "\r\n";
    if (!r.original_recipient.empty()) m += "Original-Recipient: " + field_text(r.original_recipient) + "\r\n";
    m += "Final-Recipient: rfc822; " + field_text(r.final_recipient) + "\r\n";
    m += "Action: " + std::string(action_name(r.action)) + "\r\n";
    m += "Status: " + field_text(r.status) + "\r\n";
    if (!r.remote_mta.empty()) m += "Remote-MTA: dns; " + field_text(r.remote_mta) + "\r\n";
    if (!r.diagnostic.empty()) m += "Diagnostic-Code: smtp; " + field_text(r.diagnostic) + "\r\n";
    if (r.last_attempt) m += "Last-Attempt-Date: " + date_of(*r.last_attempt) + "\r\n";
    if (r.will_retry_until) m += "Will-Retry-Until: " + date_of(*r.will_retry_until) + "\r\n";
  }
  m += "\r\n";

  // 3. The original: headers or the whole message.
  m += "--" + boundary + "\r\n";
  if (full) {
    m += "Content-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n";
  } else {
    m += "Content-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n";
  }
  dsn.eight_bit = has_8bit(returned);
  if (dsn.eight_bit) m += "Content-Transfer-Encoding: 8bit\r\n";
  m += "\r\n";
  append_crlf(m, returned);
  m += "\r\n--" + boundary + "--\r\n";
  return dsn;
}

}  // namespace posthorn::queue
