#include "store/store.hpp"

#include <utility>
#include <vector>

namespace posthorn::store {

Task<AppendResult> Mailbox::append(AppendMessage message) {
  std::vector<AppendMessage> one;
  one.push_back(std::move(message));
  auto many_task = append_many(std::move(one));  // named: the argument is moved before the first suspension
  auto many = co_await std::move(many_task);
  if (!many) co_return many.error();
  co_return many->front();
}

}  // namespace posthorn::store
