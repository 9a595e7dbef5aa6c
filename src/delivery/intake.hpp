// The delivery pipeline: what happens to a message once the SMTP dialogue (MX, submission, LMTP)
// has received it, up to the point where every recipient has it or is owed a notice. The session
// keeps the dialogue and its policy (who may send, to whom, how much); everything after the final
// dot or BDAT LAST is here, as stages applied in order to one message:
//
//   1. prepare    (submission) Bcc removed, Message-ID/Date added, DKIM signature.
//   2. authenticate (MX) SPF/DKIM/DMARC/ARC checked, Authentication-Results added, the verdict
//                 recorded for DMARC reports and acted on: refuse (the whole message), file in Junk,
//                 or deliver as usual.
//   3. queue      remote recipients (our aliases' forwarding targets, or anyone from submission):
//                 one queue entry, durable before anything is delivered locally, ARC-sealed when an
//                 alias forwards checked mail.
//   4. store      local recipients: one store::Delivery, one blob, one target per account with its
//                 trace fields (Return-Path, Authentication-Results, Received) as a stored prefix.
//   5. notify     "delivered" DSNs for NOTIFY=SUCCESS, and a queued DSN for recipients whose local
//                 delivery failed when others succeeded.
// A stage that refuses returns a Rejection; later stages do not run. New stages (Sieve, spam
// filtering) go between 2 and 4 and see the same Message.
//
// The message is normalised to CRLF once (Message's constructor) and then only moved: no stage
// copies the whole message except where it must change it (submission fields, a removed forged
// Authentication-Results field) and the queue entry, which owns its own bytes.
//
// Depends on store/, queue/, auth/ (Directory), msgauth/, dns/, proto/smtp (the reply a failure
// maps to, for DSNs), base/ (BlockingPool), config/, base/. Thread-safe (stateless; the services are).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/directory.hpp"
#include "base/result.hpp"
#include "config/config.hpp"
#include "dns/resolver.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dmarc_report.hpp"
#include "msgauth/psl.hpp"
#include "base/blocking_pool.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"

namespace posthorn::delivery {

// A received message with CRLF line ends. Built once from what the client sent; the only place
// received mail is normalised.
class Message {
 public:
  explicit Message(std::string received);
  const std::string& bytes() const { return bytes_; }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

// Where the message came from.
enum class Origin { kMx, kSubmission, kLmtp };

struct Recipient {
  std::string address;                     // as accepted at RCPT
  std::vector<store::AccountId> accounts;  // local accounts it resolves to
  std::vector<std::string> remote;         // remote addresses to queue: itself, or alias targets
  uint8_t notify = 0;                      // queue::Notify bits [RFC 3461]
  std::string orcpt;
};

// What the dialogue established about the message.
struct Envelope {
  Origin origin = Origin::kMx;
  std::string log;     // names the session in log lines ("conn=12")
  std::string id;      // the transaction id (logs, Received, the 250)
  std::string sender;  // "" for the null sender
  std::vector<Recipient> recipients;
  std::map<store::AccountId, store::Limits> limits;  // quota of every local account
  std::string ret;     // "FULL", "HDRS" or "" [RFC 3461 §4.3]
  std::string envid;
  bool smtputf8 = false;
  bool eight_bit = false;  // 8BITMIME or BINARYMIME
  // The client, for the Received field and the checks.
  std::string client_ip;
  std::string helo;
  std::string with;            // "ESMTPS" ... [RFC 3848]
  std::string tls;             // "TLSv1.3 ..." or ""
  std::string sender_domain;   // submission: the authenticated user's domain (Message-ID, signing)
};

// The services the stages use. Null pointers turn their stage off (no signer: no DKIM signature;
// no resolver or psl: no checks; no queue: remote recipients fail).
struct Services {
  const config::Config* config = nullptr;
  store::MailStore* store = nullptr;
  queue::Queue* queue = nullptr;
  auth::Directory* directory = nullptr;
  BlockingPool* pool = nullptr;
  const msgauth::DkimSigner* signer = nullptr;
  dns::Resolver* resolver = nullptr;
  const msgauth::PublicSuffixList* psl = nullptr;
  msgauth::DmarcReportLog* dmarc_log = nullptr;
  std::function<void()> queued;  // called after a queue entry is committed (wakes the queue runner)
};

// The whole message refused by a stage (the same reply for every recipient).
struct Rejection {
  uint16_t code = 550;
  std::string status;  // "5.7.1"
  std::string text;
};

struct Outcome {
  std::optional<Rejection> refused;          // a stage refused the message: nobody has it
  std::optional<Error> not_queued;           // the queue entry failed: nobody has it
  std::vector<std::optional<Error>> failed;  // per recipient (as in the envelope): its failure
  bool accepted() const { return !refused && !not_queued; }
};

// Runs the stages. When some recipients failed and others have the message, a DSN for the failed
// ones is already queued (never for the null sender, nor on LMTP, which replies per recipient).
boost::asio::awaitable<Outcome> accept(Services services, Envelope envelope, Message message);

}  // namespace posthorn::delivery
