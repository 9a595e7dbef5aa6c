// Retry schedule implementation.
#include "queue/retry.hpp"

#include <algorithm>

namespace posthorn::queue {

std::chrono::seconds backoff(const RetryPolicy& p, uint32_t failed_attempts) {
  std::chrono::seconds wait = p.retry_min;
  for (uint32_t i = 1; i < failed_attempts && wait < p.retry_max; ++i) wait *= 2;
  return std::min(wait, p.retry_max);
}

RetryDecision after_temporary_failure(const RetryPolicy& p, SysTime arrival, uint32_t failed_attempts, SysTime now,
                                      bool delay_notice_sent) {
  RetryDecision d;
  d.retry_until = arrival + p.lifetime;
  if (now >= d.retry_until) {
    d.expired = true;
    return d;
  }
  d.next_attempt = std::min<SysTime>(now + backoff(p, std::max<uint32_t>(1, failed_attempts)), d.retry_until);
  d.send_delay_notice = !delay_notice_sent && p.delay_notice.count() > 0 && now - arrival >= p.delay_notice;
  return d;
}

}  // namespace posthorn::queue
