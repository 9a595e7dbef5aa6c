#include "server/pop3/maildrop_lock.hpp"

namespace posthorn::server::pop3 {

std::optional<MaildropLocks::Guard> MaildropLocks::try_lock(int64_t account) {
  std::lock_guard lock(mu_);
  if (!held_.insert(account).second) return std::nullopt;
  return Guard(this, account);
}

bool MaildropLocks::locked(int64_t account) {
  std::lock_guard lock(mu_);
  return held_.contains(account);
}

void MaildropLocks::release(int64_t account) {
  std::lock_guard lock(mu_);
  held_.erase(account);
}

}  // namespace posthorn::server::pop3
