// The executor's shared state, and what its parts share. Private to libexecutor.
#pragma once

#include "deadline.hpp"

#include <jobs/detail/job_access.hpp>
#include <jobs/detail/start_rules.hpp>
#include <jobs/executor.hpp>

#include <boost/asio/any_completion_executor.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace jobs::detail {

using std::chrono::nanoseconds;
using std::chrono::steady_clock;

class start_op;

// One attempt's record, kept until stats() turns its error into text.
struct attempt_entry {
  attempt_outcome outcome;
  std::exception_ptr error;
  nanoseconds duration;
};

// An async_stop waiting for the start in progress to end; then it waits for the job's run.
struct stop_wait {
  using executor_type = asio::any_completion_executor;
  stop_handler handler;
  asio::any_completion_executor ex;  // the handler's associated executor, work counted
  executor_type get_executor() const noexcept { return ex; }
  void operator()(boost::system::error_code) {
    auto w = std::move(ex);
    std::move(handler)();
  }
};

enum class start_end : std::uint8_t { succeeded, failed, canceled };

class executor_state {
 public:
  executor_state(jobs::job j, executor_config c)
      : job(std::move(j)), impl(job_access::impl(job)), cfg(std::move(c)) {
    if (cfg.has_backoff && cfg.backoff.jitter > 0) rng.seed(std::random_device{}());
  }

  jobs::job job;  // a handle; never reassigned
  const std::shared_ptr<job_impl> impl;
  const executor_config cfg;

  mutable std::mutex mu;
  std::condition_variable cv;  // in_progress became false
  bool in_progress = false;
  start_op* active = nullptr;       // the start in progress (identity only)
  std::uint64_t active_id = 0;      // its admission number (0: none), for stop(true)
  std::uint64_t admissions = 0;     // starts admitted so far
  std::weak_ptr<start_op> current;  // the same, for stop()
  bool succeeded_once = false;
  bool closed = false;  // starts refused with errc::shutting_down (a draining registry)
  steady_clock::time_point cooldown_until{};
  unsigned retries = 0;
  std::vector<attempt_entry> attempts;
  // Always empty: the buffer the next start's attempts are recorded in (admission moves it into
  // `attempts`; a start's end hands back the buffer of the attempts it replaced, emptied outside
  // the mutex), so that a start allocates no history of its own.
  std::vector<attempt_entry> spare_attempts;
  std::uint64_t starts = 0, successes = 0, failures = 0, cancellations = 0;
  std::vector<stop_wait> stop_waiters;
  std::mt19937_64 rng;      // jitter
  deadline_timer deadline;  // the attempts' timeout (with_timeout)

  // Under mu: how long the cooldown window has still to run (zero if none is open). The clock
  // is read only while a window has been opened: a read is ~25-45 ns on a VM's vDSO, a
  // sizeable part of a start.
  nanoseconds cooldown_left_locked() const {
    if (cooldown_until == steady_clock::time_point{}) return nanoseconds::zero();
    const auto now = steady_clock::now();
    return now < cooldown_until ? nanoseconds(cooldown_until - now) : nanoseconds::zero();
  }

  // Under mu: why a start would be refused now (start_rules.hpp, admission); with a cooldown
  // window open, the time it has still to run in `cooldown_left`. The job's state is read
  // without its mutex (job_impl::st is atomic): a run started by hand is seen once it is.
  refusal_reason refusal_locked(nanoseconds& cooldown_left) const {
    cooldown_left = cooldown_left_locked();
    return admission({closed, in_progress, job.is_executing(), cfg.once && succeeded_once,
                      cooldown_left > nanoseconds::zero()});
  }

  // The delay before the attempt after `failed` failed attempts (draws the jitter).
  nanoseconds next_delay(unsigned failed);

  // The start is over (its caller may start again): wakes stop(true) and hands the async_stop
  // waiters on to the job's async_wait (which completes when no run is pending).
  void release(const start_op* op);
  // release() without its lock and its notification: under mu, followed by cv.notify_all()
  // once mu is released (a start's end with no on_complete does it in the lock it takes anyway).
  void release_locked(const start_op* op);

  // A start that never completed: its op was destroyed with the execution context. Releases
  // stop(true); async_stop waiters are dropped with the context, as Asio drops handlers.
  void abandon(const start_op* op) noexcept;
};

// errors.cpp: the refusal errc::once, made once and shared (canceled, still_pending and
// shutting_down are libjob's, detail::error_ptr); durations for people; saturating time.
const std::exception_ptr& once_error();
std::string go_duration_text(nanoseconds d);
steady_clock::time_point saturated_add(steady_clock::time_point t, nanoseconds d) noexcept;

// start.cpp: why a start is refused, as the error its handler gets; a refused start's end (its
// handler posted with that error: nothing else changes).
std::exception_ptr refusal_error(refusal_reason why, nanoseconds cooldown_left);
void refuse_start(const executor_state& s, std::exception_ptr e, start_handler h,
                  asio::any_completion_executor work, const asio::any_io_executor& own);
// start.cpp: the local start, admission included (initiate_start without a coordinator).
void admit_start(const std::shared_ptr<executor_state>& s, std::any params, start_handler h,
                 asio::any_io_executor own);
// coordinated_start.cpp: a start under with_coordinator: the lease, then admit_start.
void initiate_coordinated_start(const std::shared_ptr<executor_state>& s, std::any params, start_handler h,
                                asio::any_io_executor own);

// start.cpp: stop() and stop(true) (executor::stop), after its checks.
void stop_starts(executor_state& s, bool wait);

}  // namespace jobs::detail
