#include "server/imap/mailbox_keywords.hpp"

#include <algorithm>

#include "base/ascii.hpp"

namespace posthorn::server::imap {

std::vector<std::string> MailboxKeywords::get(store::AccountId account, store::MailboxId mailbox) const {
  std::lock_guard lock(mu_);
  auto it = by_mailbox_.find(Key{account, mailbox});
  return it == by_mailbox_.end() ? std::vector<std::string>{} : it->second;
}

void MailboxKeywords::add(store::AccountId account, store::MailboxId mailbox, const std::vector<std::string>& keywords) {
  if (keywords.empty()) return;
  std::lock_guard lock(mu_);
  const Key key{account, mailbox};
  auto it = by_mailbox_.find(key);
  for (const auto& k : keywords) {
    if (it != by_mailbox_.end()) {
      const auto& known = it->second;
      if (known.size() >= kMaxPerMailbox) return;
      if (std::any_of(known.begin(), known.end(), [&k](const std::string& x) { return ascii::iequals(x, k); })) continue;
    }
    // Room first: forget whole mailboxes, oldest first (never the one being added to).
    while (total_ >= kMaxTotal && !order_.empty() && order_.front() != key) {
      auto old = by_mailbox_.find(order_.front());
      total_ -= old->second.size();
      by_mailbox_.erase(old);
      order_.pop_front();
    }
    if (total_ >= kMaxTotal) return;
    if (it == by_mailbox_.end()) {
      it = by_mailbox_.emplace(key, std::vector<std::string>{}).first;
      order_.push_back(key);
    }
    it->second.push_back(k);
    ++total_;
  }
}

std::size_t MailboxKeywords::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace posthorn::server::imap
