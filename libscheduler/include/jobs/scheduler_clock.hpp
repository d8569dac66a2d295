// jobs/scheduler_clock.hpp — the wall clock and the one wake-up timer of a jobs::scheduler:
// the system's (a Linux timerfd on CLOCK_REALTIME that also reports clock changes) or a test
// clock whose virtual time a test advances, so that no test waits for a real minute.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace jobs {

namespace asio = boost::asio;

/// Why a scheduler clock woke its scheduler.
enum class wake : std::uint8_t {
  due,     ///< the armed time has come (maybe late: the process was suspended or busy)
  jumped,  ///< the wall clock was set (forward or back): every schedule must be planned again
};

/// What a jobs::scheduler reads the time from and sleeps on: one wake-up armed at a time (the
/// earliest due time of all its schedules), never one per schedule.
///
/// \par Contract for implementations
/// - now() is the wall-clock time, thread-safe.
/// - arm(at, fn) replaces any armed wake-up: `fn` is called once, at or after `at` with
///   wake::due, or earlier with wake::jumped when the wall clock is set; never inside arm()
///   itself (the scheduler holds its lock there); from any thread. A wake-up that is replaced
///   may still be delivered: the scheduler ignores stale ones.
/// - disarm() forgets the armed wake-up (it may still be delivered, as above).
class scheduler_clock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  using wake_fn = std::function<void(wake)>;

  virtual ~scheduler_clock() = default;
  virtual time_point now() const = 0;
  virtual void arm(time_point at, wake_fn fn) = 0;
  virtual void disarm() noexcept = 0;
};

/// The system's wall clock: one timerfd on CLOCK_REALTIME (absolute expiry, cancelled on clock
/// changes) watched on `ex`. It fires at the wall-clock time even across a clock change or a
/// suspend. When the clock is set it wakes with wake::jumped, unless the change matches the
/// time spent suspended (CLOCK_BOOTTIME advanced as much, within a second): a resume after a
/// suspend is wake::due, so the schedules catch up. Throws boost::system::system_error if the
/// timerfd cannot be made.
std::shared_ptr<scheduler_clock> make_system_clock(asio::any_io_executor ex);

/// Virtual time for tests and demonstrations. Time moves only when advance() or set() is
/// called; a wake-up it delivers is posted to `ex`.
///
/// \par Thread safety  every member may be called from any thread.
class test_clock final : public scheduler_clock {
 public:
  /// Starts at `start` (default: 2026-01-01T00:00:00Z).
  explicit test_clock(asio::any_io_executor ex, time_point start = default_start());

  time_point now() const override;
  void arm(time_point at, wake_fn fn) override;
  void disarm() noexcept override;

  /// Time passes, as when the process is suspended or busy: now() += d (d >= 0, else
  /// std::invalid_argument), and the armed wake-up is delivered (wake::due) if it has come.
  void advance(std::chrono::nanoseconds d);
  /// Advances to the armed wake-up (if later than now) and delivers it; false if none is armed.
  bool advance_to_next();
  /// The wall clock is set to `t`, forward or back: delivers the armed wake-up with wake::jumped.
  void set(time_point t);
  /// set(now() + d).
  void jump(std::chrono::nanoseconds d);

  /// The armed wake-up time, if any.
  std::optional<time_point> armed() const;
  /// How many times arm() was called.
  std::uint64_t arms() const;

  static time_point default_start() noexcept;

 private:
  void fire_locked(wake w);

  asio::any_io_executor ex_;
  mutable std::mutex mu_;
  time_point now_;
  std::optional<time_point> at_;
  wake_fn fn_;
  std::uint64_t arms_ = 0;
};

}  // namespace jobs
