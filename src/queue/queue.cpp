// Small helpers of the queue's value types.
#include "queue/queue.hpp"

#include <algorithm>

#include "base/random.hpp"

namespace posthorn::queue {

std::string_view to_string(RecipientState state) {
  switch (state) {
    case RecipientState::kPending:
      return "pending";
    case RecipientState::kDelivered:
      return "delivered";
    case RecipientState::kFailed:
      return "failed";
  }
  return "pending";
}

bool Entry::has_pending() const {
  return std::any_of(recipients.begin(), recipients.end(),
                     [](const Recipient& r) { return r.state == RecipientState::kPending; });
}

bool is_entry_id(std::string_view id) {
  return id.size() == 16 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string new_entry_id() { return random_hex(8); }

RecipientState recipient_state(int64_t stored) {
  if (stored == int64_t(RecipientState::kDelivered)) return RecipientState::kDelivered;
  if (stored == int64_t(RecipientState::kFailed)) return RecipientState::kFailed;
  return RecipientState::kPending;
}

}  // namespace posthorn::queue
