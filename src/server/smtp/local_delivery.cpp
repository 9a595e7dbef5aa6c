// Local delivery implementation. co_await only as a statement or plain initializer (g++ 12).
#include "server/smtp/local_delivery.hpp"

namespace posthorn::server::smtp {

namespace asio = boost::asio;

asio::awaitable<Result<store::Limits>> account_limits(auth::Directory* directory, net::BlockingPool* pool,
                                                      store::AccountId account) {
  auto task = net::run_blocking(*pool, [directory, account]() { return directory->find_account_by_id(account); });
  auto found = co_await std::move(task);
  if (!found) co_return found.error();
  co_return store::Limits{found->quota_bytes, 0};
}

asio::awaitable<std::map<store::AccountId, Result<store::AppendResult>>> deliver_to_accounts(
    store::MailStore* store, std::string message, std::vector<LocalTarget> targets) {
  std::map<store::AccountId, Result<store::AppendResult>> delivered;
  if (targets.empty()) co_return delivered;
  store::Delivery delivery;
  for (auto& t : targets) {
    store::DeliveryTarget target;
    target.account = t.account;
    target.limits = t.limits;
    target.prefix = std::move(t.prefix);
    delivery.targets.push_back(std::move(target));
  }
  delivery.message = std::move(message);
  auto task = store->deliver(std::move(delivery));
  auto results = co_await std::move(task);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!results) {
      delivered.emplace(targets[i].account, results.error());
    } else if (i < results->size()) {
      delivered.emplace(targets[i].account, std::move((*results)[i]));
    } else {
      delivered.emplace(targets[i].account, make_error(Errc::kInternal, "not delivered"));
    }
  }
  co_return delivered;
}

asio::awaitable<Result<std::vector<std::string>>> deliver_generated(auth::Directory* directory,
                                                                    net::BlockingPool* pool, store::MailStore* store,
                                                                    std::string address, std::string message,
                                                                    std::string prefix) {
  auto task = net::run_blocking(*pool, [directory, address]() { return directory->resolve(address); });
  auto resolved = co_await std::move(task);
  if (!resolved) co_return resolved.error();
  std::vector<LocalTarget> targets;
  for (store::AccountId account : resolved->accounts) {
    auto limits_task = account_limits(directory, pool, account);
    auto limits = co_await std::move(limits_task);
    if (!limits) co_return limits.error();
    targets.push_back(LocalTarget{account, *limits, prefix});
  }
  auto deliver_task = deliver_to_accounts(store, std::move(message), std::move(targets));
  auto delivered = co_await std::move(deliver_task);
  for (auto& [account, result] : delivered) {
    if (!result) co_return result.error();
  }
  co_return std::move(resolved->remote);
}

}  // namespace posthorn::server::smtp
