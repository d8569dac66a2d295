// The executor's shared state: the delay before a retry, and the end of a start (stop waiters).
#include "executor_state.hpp"

#include <jobs/detail/backoff.hpp>

namespace jobs::detail {

// The delay before the attempt after `failed` failed attempts: the fixed delay, or the backoff
// (see backoff_delay) with the jitter drawn from this executor's generator.
nanoseconds executor_state::next_delay(unsigned failed) {
  if (!cfg.has_backoff) return cfg.delay;
  long double r = 0;
  if (cfg.backoff.jitter > 0) {
    std::uniform_real_distribution<long double> u(0, 1);
    std::lock_guard lk(mu);
    r = u(rng);
  }
  return backoff_delay(cfg.backoff, failed, r);
}

// The start is over (its caller may start again): wakes stop(true) and hands the async_stop
// waiters on to the job's async_wait (which completes when no run is pending).
void executor_state::release(const start_op* op) {
  {
    std::lock_guard lk(mu);
    release_locked(op);
  }
  cv.notify_all();
}

void executor_state::release_locked(const start_op* op) {
  if (active != op) return;
  active = nullptr;
  active_id = 0;
  current.reset();
  in_progress = false;
  // The async_stop waiters move on to the job's async_wait before the mutex is released:
  // no later start can be admitted in between, so they wait for the run pending now (one the
  // stop cancelled), never for a later start's run that no stop has cancelled. Executor
  // mutex → job mutex is the lock order; async_wait only queues or posts.
  std::vector<stop_wait> waiters;
  waiters.swap(stop_waiters);  // none is left behind moved-from, whatever throws below
  for (auto& w : waiters) {
    try {
      initiate_wait(impl, wait_handler(std::move(w)));
    } catch (...) {
      // (std::bad_alloc) This waiter is destroyed unrun, as a handler Asio cannot queue is;
      // the others, and the start's own completion, still go on.
    }
  }
}

// A start that never completed: its op was destroyed with the execution context. Releases
// stop(true); async_stop waiters are dropped with the context, as Asio drops handlers.
void executor_state::abandon(const start_op* op) noexcept {
  std::vector<stop_wait> dropped;
  {
    std::lock_guard lk(mu);
    if (active != op) return;
    active = nullptr;
    active_id = 0;
    current.reset();
    in_progress = false;
    dropped.swap(stop_waiters);
  }
  cv.notify_all();
}
}  // namespace jobs::detail
