#pragma once
// Clock: the only way code outside */server/ and health/prober learns the time. Pure code takes
// time values as arguments; servers pass a RealClock, tests a ManualClock.

#include <atomic>
#include <chrono>

namespace common {

using WallTime = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;

// Clock is an interface. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time: used for values that leave the process (etcd expiration times).
  virtual WallTime wall_now() const = 0;
  // Monotonic time: used for deadlines and durations.
  virtual SteadyTime steady_now() const = 0;
};

// RealClock reads the system clocks.
class RealClock final : public Clock {
 public:
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
};

// ManualClock moves only when a test advances it. Both clocks move together.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime{std::chrono::seconds{1'800'000'000}})
      : wall_start_(start) {}
  WallTime wall_now() const override { return wall_start_ + elapsed(); }
  SteadyTime steady_now() const override { return SteadyTime{} + elapsed(); }
  void advance(std::chrono::nanoseconds by) { elapsed_ns_.fetch_add(by.count()); }

 private:
  std::chrono::nanoseconds elapsed() const { return std::chrono::nanoseconds{elapsed_ns_.load()}; }
  WallTime wall_start_;
  std::atomic<std::int64_t> elapsed_ns_{0};
};

}  // namespace common
