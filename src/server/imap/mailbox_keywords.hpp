// MailboxKeywords: the keywords each mailbox has carried since the server started, shared by every
// IMAP session of the process, so that FLAGS on SELECT / EXAMINE lists a keyword that is defined
// in the mailbox even while no message carries it [RFC 3501 §7.2.6, RFC 9051 §7.3.5]. Without it a
// session selecting at such a moment would not be told of the keyword, while sessions selected
// longer are: clients (imaptest's own_flags mode among them) then take it for a keyword nobody
// uses yet. Dovecot keeps the same list in its index.
//
// Sessions add what they learn (SELECT, other sessions' changes) and every keyword a STORE names
// before the STORE reaches the store, so a keyword is here before any message can lose it.
// Not persistent: after a restart the list starts from the keywords on messages again.
//
// Bounded: at most kMaxPerMailbox keywords per mailbox (more are left to the messages) and
// kMaxTotal in all; past that whole mailboxes are forgotten, oldest first. Thread-safe.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/types.hpp"

namespace posthorn::server::imap {

class MailboxKeywords {
 public:
  static constexpr std::size_t kMaxPerMailbox = 128;
  static constexpr std::size_t kMaxTotal = 65536;

  // The keywords recorded for the mailbox, in the order first recorded.
  std::vector<std::string> get(store::AccountId account, store::MailboxId mailbox) const;
  // Records the keywords not yet recorded (case-insensitively) for the mailbox.
  void add(store::AccountId account, store::MailboxId mailbox, const std::vector<std::string>& keywords);
  std::size_t total() const;

 private:
  using Key = std::pair<store::AccountId, store::MailboxId>;
  mutable std::mutex mu_;
  std::map<Key, std::vector<std::string>> by_mailbox_;  // guarded by mu_
  std::list<Key> order_;                                // guarded by mu_: mailboxes, first recorded first
  std::size_t total_ = 0;                               // guarded by mu_
};

}  // namespace posthorn::server::imap
