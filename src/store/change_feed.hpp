// LocalChangeFeed: the in-process ChangeFeed of one node. Backends publish after a change is
// durable; sessions subscribe per account. Thread-safe: publish and subscribe may race freely; a
// callback is never called after its Subscription handle has been destroyed.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "store/store.hpp"

namespace posthorn::store {

class LocalChangeFeed final : public ChangeFeed {
 public:
  LocalChangeFeed();
  ~LocalChangeFeed() override;
  std::unique_ptr<Subscription> subscribe(AccountId account, Callback callback) override;
  void publish(const ChangeEvent& event) override;
  std::size_t subscriber_count() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace posthorn::store
