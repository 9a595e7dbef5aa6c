#include "store/maildrop_lock.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in store/pg/pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace posthorn::store {

class LocalMaildropLocks::Lock final : public MaildropLock {
 public:
  Lock(std::shared_ptr<State> state, AccountId account) : state_(std::move(state)), account_(account) {}
  ~Lock() override { give_back(); }
  Task<void> release() override {
    give_back();
    co_return Result<void>{};
  }

 private:
  void give_back() {
    if (!state_) return;
    std::lock_guard lock(state_->mu);
    state_->held.erase(account_);
    state_.reset();
  }

  std::shared_ptr<State> state_;  // null once given back
  AccountId account_;
};

std::unique_ptr<MaildropLock> LocalMaildropLocks::try_lock_now(AccountId account) {
  std::lock_guard lock(state_->mu);
  if (!state_->held.insert(account).second) return nullptr;
  return std::make_unique<Lock>(state_, account);
}

Task<std::unique_ptr<MaildropLock>> LocalMaildropLocks::try_lock(AccountId account) {
  auto lock = try_lock_now(account);
  if (!lock) co_return make_error(Errc::kConflict, "the maildrop is locked by another session");
  co_return lock;
}

bool LocalMaildropLocks::held_here(AccountId account) {
  std::lock_guard lock(state_->mu);
  return state_->held.contains(account);
}

}  // namespace posthorn::store
