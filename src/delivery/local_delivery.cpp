// Local delivery implementation. co_await only as a statement or plain initializer (g++ 12).
#include "delivery/local_delivery.hpp"

#include <spdlog/spdlog.h>

#include "base/ascii.hpp"
#include "delivery/message_prep.hpp"

namespace posthorn::delivery {

namespace asio = boost::asio;

asio::awaitable<Result<store::Limits>> account_limits(auth::Directory* directory, store::AccountId account) {
  auto task = directory->find_account_by_id(account);
  auto found = co_await std::move(task);
  if (!found) co_return found.error();
  co_return store::Limits{found->quota_bytes, 0};
}

asio::awaitable<std::map<store::AccountId, Result<store::AppendResult>>> deliver_to_accounts(
    store::MailStore* store, std::shared_ptr<const std::string> message, std::vector<LocalTarget> targets) {
  std::map<store::AccountId, Result<store::AppendResult>> delivered;
  if (targets.empty()) co_return delivered;
  store::Delivery delivery;
  for (auto& t : targets) {
    store::DeliveryTarget target;
    target.account = t.account;
    target.limits = t.limits;
    target.prefix = std::move(t.prefix);
    target.mailbox = std::move(t.mailbox);
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
                                                                    store::MailStore* store, std::string address,
                                                                    std::string message, std::string prefix) {
  auto task = directory->resolve(address);
  auto resolved = co_await std::move(task);
  if (!resolved) co_return resolved.error();
  std::vector<LocalTarget> targets;
  for (store::AccountId account : resolved->accounts) {
    auto limits_task = account_limits(directory, account);
    auto limits = co_await std::move(limits_task);
    if (!limits) co_return limits.error();
    targets.push_back(LocalTarget{account, *limits, prefix});
  }
  auto deliver_task = deliver_to_accounts(store, std::make_shared<const std::string>(std::move(message)), std::move(targets));
  auto delivered = co_await std::move(deliver_task);
  for (auto& [account, result] : delivered) {
    if (!result) co_return result.error();
  }
  co_return std::move(resolved->remote);
}

asio::awaitable<NoticeSent> send_notice(auth::Directory* directory, store::MailStore* store, queue::Queue* queue, std::string to, std::string message, bool eight_bit,
                                        std::string log_id, std::string sender) {
  const auto at = to.rfind('@');
  const std::string domain = at == std::string::npos ? std::string() : ascii::lower(to.substr(at + 1));
  std::vector<std::string> remote{to};
  if (!domain.empty() && !domain.starts_with('[')) {
    auto task = directory->is_local_domain(domain);
    auto local = co_await std::move(task);
    if (!local) {
      spdlog::warn("queue: {}: DSN to {} deferred: {}", log_id, to, local.error().message);
      co_return NoticeSent::kLater;
    }
    if (*local) {
      auto deliver = deliver_generated(directory, store, to, message, return_path_field(sender));
      auto delivered = co_await std::move(deliver);
      if (!delivered) {
        if (delivered.error().code == Errc::kNotFound || delivered.error().code == Errc::kInvalid) {
          spdlog::warn("queue: {}: DSN dropped: no local mailbox {}", log_id, to);
          co_return NoticeSent::kDone;
        }
        spdlog::warn("queue: {}: DSN to {} deferred: {}", log_id, to, delivered.error().message);
        co_return NoticeSent::kLater;
      }
      spdlog::info("queue: {}: DSN stored for {}", log_id, to);
      remote = std::move(*delivered);  // remote targets of an alias
      if (remote.empty()) co_return NoticeSent::kDone;
    }
  }
  if (queue == nullptr) {
    spdlog::warn("queue: {}: DSN to {} deferred: no outbound queue", log_id, to);
    co_return NoticeSent::kLater;
  }
  queue::NewEntry e;
  e.is_bounce = sender.empty();
  e.sender = std::move(sender);
  for (auto& r : remote) e.recipients.push_back(queue::Recipient{std::move(r), queue::RecipientState::kPending, "", 0, 0, ""});
  e.message = std::move(message);
  e.eight_bit = eight_bit;
  auto task = queue->enqueue(std::move(e));
  auto queued = co_await std::move(task);
  if (!queued) {
    spdlog::warn("queue: {}: DSN to {} deferred: {}", log_id, to, queued.error().message);
    co_return NoticeSent::kLater;
  }
  spdlog::info("queue: {}: DSN to {} queued as {}", log_id, to, *queued);
  co_return NoticeSent::kQueued;
}

}  // namespace posthorn::delivery
