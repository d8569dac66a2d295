// executor::stop(), stop(true) and async_stop: what a stop stops and what it waits for.
#include "start_op.hpp"

namespace jobs::detail {
namespace {

// Under s.mu, what every stop does (see initiate_stop for the order): the job's run is
// cancelled, then the start in progress is stopped. Returns that start, for the caller to
// release once the mutex is (an op's destruction takes it). Out of memory the job's run is not
// cancelled (cancel() changed nothing): what it threw is left in `failed`, and the start is
// stopped all the same (its own run cancelled by stop_locked, if memory allows).
std::shared_ptr<start_op> stop_locked(executor_state& s, std::exception_ptr& failed) {
  auto op = s.current.lock();
  try {
    s.job.cancel();  // the job's current run, whoever started it
  } catch (...) {
    failed = std::current_exception();
  }
  if (op) op->stop_locked();
  return op;
}

}  // namespace

void initiate_stop(const std::shared_ptr<executor_state>& s, stop_handler h) {
  auto ex = tracked(asio::get_associated_executor(h, completion_executor(s->job.get_executor())));
  stop_wait w{std::move(h), std::move(ex)};
  std::shared_ptr<start_op> op;
  {
    // One critical section decides what this stop stops and what it waits for, so that a start
    // admitted concurrently is either stopped and waited for (admitted before) or neither
    // (after). The job's run is cancelled first (whoever started it: from the job's strand,
    // cancel() emits inline), then the start in progress is stopped: its retry delay is cut
    // short, no further attempt runs, and its own run is cancelled if the job's cancel did not
    // reach it. Its attempt cannot end as a failure and retry in between: a run's end takes this
    // mutex before it looks at the stop, and a start launches its attempts under this mutex, so
    // none is between its stop check and its launch. A start admitted after this section never
    // has its run cancelled by this stop. Lock order: executor mutex → job mutex (cancel and
    // async_wait only queue or post work, or emit into the body's slot).
    std::lock_guard lk(s->mu);
    // Out of memory the job's run is not cancelled: async_stop still waits for that run to end on
    // its own, rather than being left half done.
    std::exception_ptr ignored;
    op = stop_locked(*s, ignored);
    if (s->in_progress)
      s->stop_waiters.push_back(std::move(w));
    else
      initiate_wait(s->impl, wait_handler(std::move(w)));
  }
}

// executor::stop(wait), after its deadlock checks.
void stop_starts(executor_state& s, bool wait) {
  // As async_stop (see initiate_stop), then, with `wait`, blocks for exactly what it
  // stopped: the start in progress at the call (by its admission number) and the job's run
  // pending at the call. A start abandoned with its execution context releases both.
  std::shared_ptr<start_op> op;
  std::uint64_t start = 0, run = 0;
  std::exception_ptr failed;
  {
    std::lock_guard lk(s.mu);
    start = s.active_id;
    if (wait) run = run_generation(*s.impl);
    op = stop_locked(s, failed);  // (failed: std::bad_alloc, the job's run goes on)
  }
  // The start in progress is stopped all the same; the caller learns that the job's run was not
  // cancelled, and does not wait for a run that may never end.
  if (failed) std::rethrow_exception(failed);
  op.reset();  // not kept alive while waiting: an abandoned start must be able to go
  if (!wait) return;
  if (start != 0) {
    std::unique_lock lk(s.mu);
    s.cv.wait(lk, [&] { return s.active_id != start; });
  }
  wait_for_run(*s.impl, run);
}

}  // namespace jobs::detail
