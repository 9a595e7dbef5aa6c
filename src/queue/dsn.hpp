// RFC 3464 delivery status notifications (bounces, delay notices, success reports) built from plain
// inputs, and the RFC 3461 DSN request parameters (NOTIFY, RET) that travel with a message. A DSN is
// multipart/report; report-type=delivery-status with a human-readable text part, a
// message/delivery-status part (one per-recipient block each) and the original headers
// (text/rfc822-headers) or the whole original (message/rfc822). It is sent from the null sender <>
// with Auto-Submitted: auto-replied [RFC 3834], and a message from <> never gets one (no bounce loops).
// Depends on base/ and mime/ only (no queue entry type). Pure; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace posthorn::queue {

using SysTime = std::chrono::system_clock::time_point;

// RCPT ... NOTIFY= [RFC 3461 §4.1]. All false = not given: the default, failures and delays.
struct Notify {
  bool never = false;
  bool success = false;
  bool failure = false;
  bool delay = false;
  bool given() const { return never || success || failure || delay; }
  bool operator==(const Notify&) const = default;
};
// The NOTIFY bits a queue::Recipient stores (the values of proto::smtp::Notify: 1 NEVER, 2 SUCCESS,
// 4 FAILURE, 8 DELAY; 0 not given).
Notify notify_from_bits(uint8_t bits);
// MAIL ... RET= [RFC 3461 §4.3].
enum class Ret { kUnspecified, kHeaders, kFull };

enum class Action { kFailed, kDelayed, kDelivered, kRelayed };
std::string_view action_name(Action a);
// RET= as the queue stores it ("FULL", "HDRS", "").
Ret ret_from(std::string_view ret);

// True when a notice of `action` goes to the sender: never for a message from the null sender (a
// bounce must not bounce), never with NOTIFY=NEVER, and otherwise per NOTIFY (default failure+delay).
bool wants_notice(std::string_view envelope_sender, const Notify& notify, Action action);
// A message from the null sender <> is itself a notification.
inline bool is_bounce(std::string_view envelope_sender) { return envelope_sender.empty(); }

struct DsnRecipient {
  std::string final_recipient;     // the address delivery was attempted to
  std::string original_recipient;  // ORCPT as received ("rfc822;a@b"), empty when not given
  Action action = Action::kFailed;
  std::string status;              // enhanced status code, "5.1.1"
  std::string remote_mta;          // the MX host that answered ("mx.example.net"), may be empty
  std::string diagnostic;          // the remote reply ("550 5.1.1 No such user"), may be empty
  std::optional<SysTime> last_attempt;
  std::optional<SysTime> will_retry_until;  // for Action::kDelayed
};

struct DsnInput {
  std::string reporting_mta;     // this server's host name
  std::string to;                // the original envelope sender (gets the DSN)
  std::string envelope_id;       // ENVID, as received (xtext-decoded), may be empty
  SysTime arrival{};
  SysTime now{};
  Ret ret = Ret::kUnspecified;
  std::vector<DsnRecipient> recipients;
  // The original message (or at least its header). Only its header is returned for delay notices,
  // RET=HDRS, and originals larger than max_returned_bytes.
  std::string_view original;
  size_t max_returned_bytes = 10 * 1024 * 1024;
};

struct Dsn {
  std::string envelope_from;  // always "" (the null sender)
  std::string envelope_to;
  std::string message;        // CRLF line ends throughout
  bool eight_bit = false;     // the message has 8-bit bytes: send with BODY=8BITMIME
};

// Builds the DSN. The Date and Message-ID come from `now` and a random token.
Dsn build_dsn(const DsnInput& in);

}  // namespace posthorn::queue
