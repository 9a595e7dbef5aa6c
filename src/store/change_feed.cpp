// LocalChangeFeed: subscribers per account in a multimap under one mutex. publish() copies the
// account's callbacks under the lock and calls them outside it; a per-subscription mutex makes
// unsubscribe wait for a running callback, so none runs after its handle is gone.
#include "store/change_feed.hpp"

#include <vector>

namespace posthorn::store {

namespace {
struct Entry {
  ChangeFeed::Callback callback;
  std::mutex mu;       // held while the callback runs
  bool active = true;  // guarded by mu
};
}  // namespace

struct LocalChangeFeed::State {
  mutable std::mutex mu;
  std::multimap<AccountId, std::shared_ptr<Entry>> subscribers;
};

namespace {
class LocalSubscription final : public ChangeFeed::Subscription {
 public:
  LocalSubscription(std::weak_ptr<void> state, std::mutex* mu,
                    std::multimap<AccountId, std::shared_ptr<Entry>>* map, AccountId account,
                    std::shared_ptr<Entry> entry)
      : state_(std::move(state)), mu_(mu), map_(map), account_(account), entry_(std::move(entry)) {}
  ~LocalSubscription() override {
    {
      std::lock_guard lock(entry_->mu);
      entry_->active = false;
    }
    auto alive = state_.lock();
    if (!alive) return;
    std::lock_guard lock(*mu_);
    auto [first, last] = map_->equal_range(account_);
    for (auto it = first; it != last; ++it) {
      if (it->second == entry_) {
        map_->erase(it);
        break;
      }
    }
  }

 private:
  std::weak_ptr<void> state_;
  std::mutex* mu_;
  std::multimap<AccountId, std::shared_ptr<Entry>>* map_;
  AccountId account_;
  std::shared_ptr<Entry> entry_;
};
}  // namespace

LocalChangeFeed::LocalChangeFeed() : state_(std::make_shared<State>()) {}
LocalChangeFeed::~LocalChangeFeed() = default;

std::unique_ptr<ChangeFeed::Subscription> LocalChangeFeed::subscribe(AccountId account, Callback callback) {
  auto entry = std::make_shared<Entry>();
  entry->callback = std::move(callback);
  {
    std::lock_guard lock(state_->mu);
    state_->subscribers.emplace(account, entry);
  }
  return std::make_unique<LocalSubscription>(std::weak_ptr<void>(state_), &state_->mu,
                                             &state_->subscribers, account, std::move(entry));
}

void LocalChangeFeed::publish(const ChangeEvent& event) {
  std::vector<std::shared_ptr<Entry>> targets;
  {
    std::lock_guard lock(state_->mu);
    auto [first, last] = state_->subscribers.equal_range(event.account);
    for (auto it = first; it != last; ++it) targets.push_back(it->second);
  }
  for (auto& entry : targets) {
    std::lock_guard lock(entry->mu);
    if (entry->active) entry->callback(event);
  }
}

std::size_t LocalChangeFeed::subscriber_count() const {
  std::lock_guard lock(state_->mu);
  return state_->subscribers.size();
}

}  // namespace posthorn::store
