// Injected time, so throttling, caches and retries are testable without sleeping (DESIGN.md, LevelDB Env).
// SystemClock is thread-safe; ManualClock is for single-threaded tests.
#pragma once

#include <atomic>
#include <chrono>

namespace posthorn {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  static Clock& system();
};

class ManualClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1000)};
};

}  // namespace posthorn
