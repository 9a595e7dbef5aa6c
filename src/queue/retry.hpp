// The retry schedule of the outbound queue: exponential backoff after each temporary failure (retry_min
// doubling up to retry_max), a maximum lifetime after which the message bounces, and the time for the
// one "delayed" DSN. Pure functions of their inputs (no clock read here); thread-safe.
// Depends on config/ (the [delivery] values) only.
#pragma once

#include <chrono>
#include <cstdint>

#include "config/config.hpp"

namespace posthorn::queue {

using SysTime = std::chrono::system_clock::time_point;

struct RetryPolicy {
  std::chrono::seconds retry_min{300};
  std::chrono::seconds retry_max{4 * 3600};
  std::chrono::seconds lifetime{5 * 86400};
  std::chrono::seconds delay_notice{4 * 3600};  // 0 = never send one

  static RetryPolicy from(const config::Delivery& d) { return {d.retry_min, d.retry_max, d.lifetime, d.delay_notice}; }
};

// The wait after the n-th failed attempt (n >= 1): retry_min * 2^(n-1), at most retry_max.
std::chrono::seconds backoff(const RetryPolicy& p, uint32_t failed_attempts);

struct RetryDecision {
  bool expired = false;         // give up now: bounce the remaining recipients (Action: failed)
  SysTime next_attempt{};       // when not expired; never later than the expiry
  bool send_delay_notice = false;  // send the one "delayed" DSN now
  SysTime retry_until{};        // arrival + lifetime (Will-Retry-Until in DSNs)
};

// After a temporary failure at `now` of the `failed_attempts`-th attempt of a message that arrived at
// `arrival`. The last retry is placed at the expiry time itself, so a message gets one attempt at the
// end of its lifetime; a failure at or after the expiry expires it.
RetryDecision after_temporary_failure(const RetryPolicy& p, SysTime arrival, uint32_t failed_attempts, SysTime now,
                                      bool delay_notice_sent);

}  // namespace posthorn::queue
