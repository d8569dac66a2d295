// start_op.hpp — one start of a jobs::executor (private to libexecutor): admission, retry,
// per-attempt timeout and stop around a job's runs.
//
// One start is one `start_op`, a small callback state machine (no coroutine: no frame to
// allocate, and no exception is thrown anywhere on a successful start):
//
//   begin()         the caller's cancellation slot, then, in one critical section of the
//                   executor's mutex, the admission (start_rules.hpp's admission: closed →
//                   still_pending → once → cooldown) and the first attempt's launch. Refused: the
//                   handler is posted with the refusal and nothing else changes.
//   attempt_locked() job.async_run through detail::initiate_run (which hands back the run's
//                   ticket): the first from begin(), the next ones from attempt(), after a
//                   failed one and its delay; with a timeout, the attempt's deadline is armed on the
//                   executor's deadline_timer (deadline.hpp: one timer, re-armed lazily, on the job's
//                   strand), which cancels the run through its ticket if it comes first. The
//                   attempt ends when the run ends. A first attempt that the job refuses or
//                   that cannot launch makes a refused start.
//   on_run_done()   what comes next is start_rules.hpp's after_attempt: in one critical
//                   section the attempt is recorded and a success, a stop or a last failure ends
//                   the start there; a failure to retry → retry_if / on_retry / wait the delay
//                   on the timer → attempt().
//   end_locked()    outcome into the stats, cooldown opens, the start is no longer in progress
//   ended()         (with on_complete: once it has run), then the caller's handler on its own
//                   executor. finish() is both, where no run's end decided the start.
//
// Threads. The op's steps run one after another (each step is started by the completion of the
// previous one, so Asio orders them); only stop(), the deadline and the caller's cancellation
// reach it from elsewhere. What they share with the steps (the phase, the stop, the run's
// ticket, the delay timer, the armed deadline) is guarded by the executor's mutex: only one
// start is in progress per executor, so a mutex of the op's own would only add locks. A
// successful start takes the executor's mutex twice (admission with the launch; the run's end
// with the start's end; with on_complete, once more for the release) and the job's twice (its
// run's start and end). Lock order: executor mutex → deadline_timer's → job mutex. Under the
// executor's mutex the job's run is launched (initiate_run queues it on the strand and never
// ends it inline: its end takes this mutex) and cancelled (cancel_run only posts the emit).
// What runs there of the user's: the params' move into the run (and their destructor, if the
// job refuses the run or it cannot be launched), and log records (the job's "started", "cancel requested",
// "timed out"), so a log sink must not call into the executor (README, Logging). No callback of the user's
// (on_complete, on_retry, retry_if, handlers) and no params copy runs under it.
#pragma once

#include "executor_state.hpp"

#include <jobs/detail/completion.hpp>
#include <jobs/detail/log.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cassert>
#include <optional>
#include <tuple>

namespace jobs::detail {

inline bool is_unset(const run_ticket& t) noexcept {
  // Owner-based: true only if the ticket was never assigned (an assigned ticket whose run has
  // already ended and been freed is expired, but still not equivalent to an empty one).
  const run_ticket empty;
  return !t.owner_before(empty) && !empty.owner_before(t);
}

// ---- one start --------------------------------------------------------------------------------

// Installed in the caller's cancellation slot: terminal or partial ends the start (total is not
// supported: cancelling changes the job). Holds the op weakly: the slot may outlive it.
struct start_cancellation {
  std::weak_ptr<start_op> op;
  void operator()(asio::cancellation_type_t type) const;
};

class start_op : public std::enable_shared_from_this<start_op> {
 public:
  start_op(std::shared_ptr<executor_state> s, std::any p, start_handler h, asio::any_completion_executor w,
           asio::any_io_executor own)
      : exec_(std::move(s)),
        params_(std::move(p)),
        handler_(std::move(h)),
        work_(std::move(w)),
        own_(std::move(own)) {}

  ~start_op() {
    // Destroyed without having completed only when the execution context went away with the
    // start pending (its pending handlers, which own this op, were destroyed).
    if (!completed_) exec_->abandon(this);
  }

  start_op(const start_op&) = delete;
  start_op& operator=(const start_op&) = delete;

  // async_start's initiation, once the op is made (admit_start): the admission and the first
  // attempt. Throws only if the caller's slot cannot take our handler, before anything changed
  // (the handler is destroyed with the op, never invoked).
  void begin(asio::cancellation_slot slot) {
    // The slot first, outside the mutex (it may allocate, and destroys the slot's previous
    // handler). A cancellation that arrives between here and the admission (under
    // with_coordinator this runs from the lease's grant, after async_start has returned) finds
    // the op idle and marks it stopped; the admission below then refuses the start with
    // errc::canceled, changing nothing, as a cancellation during the lease's acquire does.
    if (slot.is_connected()) {
      try {
        slot.template emplace<start_cancellation>(start_cancellation{weak_from_this()});
      } catch (...) {
        completed_ = true;  // nothing was admitted
        throw;
      }
    }
    initiating_.store(true, std::memory_order_release);
    // The first attempt's params, made before the mutex is taken (a copy runs the user's code;
    // with attempts > 1, a start the admission then refuses has copied them for nothing). A copy
    // that throws makes a refused start with its error, as a launch that fails does, unless the
    // admission refuses the start first. Destroyed, if not launched, once the mutex is released.
    std::any p;
    std::exception_ptr copy_failed;
    try {
      p = take_params(1);
    } catch (...) {
      copy_failed = std::current_exception();
    }
    nanoseconds cooldown_left{0};
    bool stopped, admitted = false;
    refusal_reason why = refusal_reason::none;
    launch_result launched;
    {
      std::lock_guard lk(exec_->mu);
      stopped = stop_requested_;
      if (!stopped) why = exec_->refusal_locked(cooldown_left);
      if (!stopped && why == refusal_reason::none && !copy_failed) {
        admit_locked();
        admitted = true;
        launched = attempt_locked(p);
      }
    }
    if (!admitted) {
      // In order: the caller's cancellation, the admission's refusal, the params copy.
      if (slot.is_connected()) slot.clear();
      return refuse(stopped                       ? error_ptr(errc::canceled)
                    : why != refusal_reason::none ? refusal_error(why, cooldown_left)
                                                  : std::move(copy_failed));
    }
    // A first attempt is never stopped: it was checked in the same critical section, and stop()
    // reaches the op only once that section has made it the start in progress.
    assert(launched.how != launch_result::stopped);
    after_launch(std::move(launched));
    initiating_.store(false, std::memory_order_release);
  }

  // stop() (whole) or the caller's cancellation: no further attempt runs, a retry delay is cut
  // short at once, and the attempt's run is cancelled (stop() also cancels the job's current
  // run itself, whoever started it). Under the executor's mutex.
  void stop_locked() {
    if (phase_ == phase::done || stop_requested_) return;
    stop_requested_ = true;
    if (phase_ == phase::delay) delay_timer_->cancel();
    // Out of memory the run's cancellation is lost (cancel_run changed nothing); the op is still
    // marked stopped and ends at its next step.
    try {
      if (phase_ == phase::running && !is_unset(ticket_)) cancel_run(ticket_, cancel_reason::canceled);
    } catch (...) {
    }
  }

  // The caller's cancellation (start_cancellation).
  void request_stop() {
    std::lock_guard lk(exec_->mu);
    stop_locked();
  }

  // The deadline armed as `generation` has come (on the job's strand): if that attempt's run is
  // still on, it is cancelled with the reason timeout (the ticket is per run, so this can never
  // cancel a later run). cancel_run only posts: it runs no callback of the user's.
  void deadline_reached(std::uint64_t generation) {
    std::lock_guard lk(exec_->mu);
    if (phase_ != phase::running || generation != deadline_generation_) return;
    // Out of memory the timeout is lost (cancel_run changes nothing then): the attempt goes on
    // without it.
    try {
      if (cancel_run(ticket_, cancel_reason::timeout)) timed_out_ = true;
    } catch (...) {
    }
  }

 private:
  enum class phase : std::uint8_t { idle, running, delay, done };

  // What attempt_locked() did; the rest is done once the mutex is released.
  struct launch_result {
    enum kind : std::uint8_t { launched, stopped, failed } how = launched;
    std::exception_ptr error;  // failed: why the run could not be launched
  };

  // The run's end (run_continuation): inline on the job's strand where the run ended, or, for
  // a run the job refused, from a post to the job's executor.
  static void run_ended(const std::shared_ptr<void>& op, std::exception_ptr e) {
    static_cast<start_op*>(op.get())->on_run_done(std::move(e));
  }

  struct delay_done {
    std::shared_ptr<start_op> op;
    void operator()(boost::system::error_code) { op->attempt(); }
  };

  const executor_config& cfg() const noexcept { return exec_->cfg; }

  // Attempt `n`'s params: the last attempt takes them; earlier ones get a copy.
  std::any take_params(unsigned n) { return n >= cfg().attempts ? std::move(params_) : params_; }

  // Under the executor's mutex: this op becomes the start in progress. What the start replaces
  // in the stats is kept, to be put back if the job refuses its first attempt (a refused start
  // changes nothing).
  void admit_locked() {
    auto& s = *exec_;
    s.in_progress = true;
    s.active = this;
    s.active_id = ++s.admissions;
    s.current = weak_from_this();
    saved_retries_ = std::exchange(s.retries, 0);
    saved_attempts_ = std::exchange(s.attempts, std::move(s.spare_attempts));
    ++s.starts;
  }

  // Refused at admission: nothing changed (start.cpp, refuse_start).
  void refuse(std::exception_ptr e) {
    completed_ = true;
    refuse_start(*exec_, std::move(e), std::move(handler_), std::move(work_), own_);
  }

  // Attempt k > 1 (after a failed one, from its end or its delay).
  void attempt() {
    // The params outside the mutex: a copy runs the user's code. One that throws makes a failed
    // attempt like one that cannot launch (unless the start was stopped meanwhile).
    std::any p;
    std::exception_ptr copy_failed;
    try {
      p = take_params(attempt_no_ + 1);
    } catch (...) {
      copy_failed = std::current_exception();
    }
    launch_result r;
    {
      std::lock_guard lk(exec_->mu);
      r = attempt_locked(p, std::move(copy_failed));
    }
    after_launch(std::move(r));
  }

  // Under the executor's mutex, held until the launch is over: once the run is launched its end
  // may run on another thread at once, and on_run_done() takes the mutex before it reads what
  // is written here (attempt_no_, refused_, the ticket; run_ is the job's to write by then). A
  // stop that took the mutex before us is seen here (no run starts); one that takes it after us
  // finds the run's ticket.
  // `p` is moved into the run only when it is launched: otherwise the caller destroys the params
  // once the mutex is released. `copy_failed`: making `p` threw (an attempt after the first;
  // begin() refuses the start for the first).
  launch_result attempt_locked(std::any& p, std::exception_ptr copy_failed = nullptr) {
    if (stop_requested_) return {launch_result::stopped, nullptr};
    ++attempt_no_;
    if (copy_failed) return {launch_result::failed, std::move(copy_failed)};
    phase_ = phase::running;
    timed_out_ = false;
    run_ = run_result{};
    ticket_.reset();
    try {
      initiate_run(exec_->impl, std::move(p), run_continuation{&run_ended, shared_from_this()}, &ticket_,
                   &run_);
      if (cfg().timeout > nanoseconds::zero() && !is_unset(ticket_)) arm_deadline();
      if (is_unset(ticket_) && attempt_no_ == 1) {
        // The job refused the first run (it was started on its own with job.run() between our
        // admission check and here, or its registry is draining): the start is refused with the
        // job's error and changes nothing. The refusal arrives through the run's continuation
        // (posted by the job).
        refused_ = true;
        unadmit_locked();
      }
      return {launch_result::launched, nullptr};
    } catch (...) {
      phase_ = phase::idle;
      if (attempt_no_ == 1) {
        // The first attempt could not be launched (the job's execution context has shut down,
        // or an allocation failed): nothing ran, so this is a refused start like the job's own
        // refusal above — the stats and the cooldown are untouched, on_complete is not called,
        // and the error reaches the handler posted, never inside async_start.
        refused_ = true;
        unadmit_locked();
      }
      return {launch_result::failed, std::current_exception()};
    }
  }

  // After attempt_locked(), the mutex released.
  void after_launch(launch_result r) {
    if (refused_) exec_->cv.notify_all();  // unadmit_locked() released the start
    switch (r.how) {
      case launch_result::launched: return;
      case launch_result::stopped: return finish(error_ptr(errc::canceled), start_end::canceled);
      case launch_result::failed: {
        if (refused_) return complete(std::move(r.error));
        // Attempt k > 1 could not be launched: a failed attempt like any other, in the stats.
        attempt_entry a{attempt_outcome::failed, r.error, nanoseconds::zero()};
        return finish(std::move(r.error), start_end::failed, &a, true);
      }
    }
  }

  // Under the executor's mutex: the start is refused after all; puts back the stats as they
  // were before its admission and releases it (cv.notify_all() once the mutex is released).
  void unadmit_locked() {
    exec_->retries = saved_retries_;
    exec_->attempts = std::move(saved_attempts_);
    --exec_->starts;
    exec_->release_locked(this);
  }

  void arm_deadline() {
    // Under the executor's mutex, once the run is launched (its end takes the mutex first, so it
    // disarms after this). Out of memory (or the timer cannot be made), this one attempt goes
    // without its timeout rather than failing after its run was launched. The timeout counts
    // from here, the attempt's launch.
    try {
      deadline_generation_ = exec_->deadline.arm(
          exec_, *exec_->impl, saturated_add(steady_clock::now(), cfg().timeout), weak_from_this());
    } catch (...) {
    }
  }

  void on_run_done(std::exception_ptr e) {
    // The attempts this start replaced are no longer needed once one of its runs has run (only
    // a refused first attempt puts them back): destroyed here, outside the mutex, and their
    // buffer kept for the next start (end_locked). Not for a run the job refused: that may be
    // the first, whose refusal is posted by the job as it refuses, so that this can run on
    // another thread while begin() still holds the mutex and is about to put them back. The job
    // writes run_ before calling us, for a run that ran only.
    if (run_.final != state::created) saved_attempts_.clear();
    // The attempt's duration is its run's execution time, which the job measured (no clock
    // read of our own: on a VM's vDSO a read is a sizeable part of a start).
    const nanoseconds took = run_.took;
    bool refused;
    attempt_end_decision d{};
    {
      // One critical section: the stop is read, the attempt recorded and, unless it is retried,
      // the start ended (a stop arriving after it finds the start done).
      std::lock_guard lk(exec_->mu);
      if (deadline_generation_ != 0) exec_->deadline.disarm(std::exchange(deadline_generation_, 0));
      refused = refused_;
      if (!refused) {
        d = after_attempt({.succeeded = !e,
                           .stopped = stop_requested_,
                           .run_failed = run_.final == state::failed,
                           .timed_out = timed_out_,
                           .draining = e && e == error_ptr(errc::shutting_down),
                           .attempt = attempt_no_,
                           .attempts = cfg().attempts});
        // A canceled attempt keeps the body's own exception, if any (it is also job.error()).
        attempt_entry a{d.recorded, e, took};
        switch (d.next) {
          case start_next::succeed: end_locked(start_end::succeeded, &a, false); break;
          case start_next::fail: end_locked(start_end::failed, &a, d.counts_as_retry); break;
          case start_next::cancel: end_locked(start_end::canceled, &a, d.counts_as_retry); break;
          case start_next::retry:
            record_locked(std::move(a), d.counts_as_retry);
            phase_ = phase::idle;
            break;
        }
      }
    }
    if (refused) return complete(std::move(e));  // the job refused the first run: a refused start
    switch (d.next) {
      case start_next::succeed: return ended(nullptr);
      case start_next::fail: return ended(std::move(e));
      case start_next::cancel: return ended(error_ptr(errc::canceled));
      case start_next::retry: break;
    }

    nanoseconds delay{0};
    try {
      blocking_guard guard(exec_->impl.get());
      if (cfg().retry_if && !cfg().retry_if(e)) return finish(std::move(e), start_end::failed);
      delay = exec_->next_delay(attempt_no_);
      if (cfg().on_retry) cfg().on_retry(attempt_no_, e, delay);
    } catch (...) {
      return finish(std::current_exception(), start_end::failed);
    }
    try {
      JOBS_LOG(user_logger_of(*exec_->impl), info, exec_->job.id(),
               "job " << exec_->job.id() << " attempt " << attempt_no_ << " of " << cfg().attempts
                      << " failed (" << describe(e) << "), retrying in " << go_duration_text(delay));
    } catch (...) {
    }
    if (delay <= nanoseconds::zero()) return attempt();

    std::unique_lock lk(exec_->mu);
    if (stop_requested_) {
      lk.unlock();
      return finish(error_ptr(errc::canceled), start_end::canceled);
    }
    try {
      // A stop after this check takes the mutex after us and cancels the timer armed here.
      // On the job's executor, not its strand: a run started by hand on the job must not hold
      // up stop() cutting the delay short, nor the next attempt.
      if (!delay_timer_) delay_timer_.emplace(exec_->job.get_executor());
      delay_timer_->expires_after(delay);
      delay_timer_->async_wait(delay_done{shared_from_this()});
      phase_ = phase::delay;
    } catch (...) {
      lk.unlock();
      return finish(std::current_exception(), start_end::failed);
    }
  }

  // Under the executor's mutex.
  void record_locked(attempt_entry a, bool failed) {
    if (failed) ++exec_->retries;
    // Bounded: with_retry(INT_MAX, 0) must not grow the history until the start is stopped.
    if (exec_->attempts.size() == executor_stats::kept_attempts)
      exec_->attempts.erase(exec_->attempts.begin());
    exec_->attempts.push_back(std::move(a));
  }

  // The start's end where no run's end decided it (on_run_done ends those itself): a stop or
  // a failure around a retry, with the attempt that failed to launch, if any (end_locked).
  void finish(std::exception_ptr e, start_end how, attempt_entry* last = nullptr, bool last_failed = false) {
    {
      std::lock_guard lk(exec_->mu);
      end_locked(how, last, last_failed);
    }
    ended(std::move(e));
  }

  // Under the executor's mutex: the start is done; `last`, the attempt that ended it if not
  // recorded yet (`last_failed`: a failed attempt, counted in retries), into the history with
  // the outcome's counters; the cooldown window opens; without on_complete, the start is
  // released here too.
  void end_locked(start_end how, attempt_entry* last, bool last_failed) {
    phase_ = phase::done;
    // Emptied by on_run_done (every start that ends here has had a run end): the spare buffer
    // must stay empty.
    assert(saved_attempts_.empty());
    if (exec_->spare_attempts.capacity() == 0) exec_->spare_attempts.swap(saved_attempts_);
    if (last) record_locked(std::move(*last), last_failed);
    switch (how) {
      case start_end::succeeded:
        ++exec_->successes;
        if (cfg().once) exec_->succeeded_once = true;
        break;
      case start_end::failed: ++exec_->failures; break;
      case start_end::canceled: ++exec_->cancellations; break;
    }
    // The window opens when the start ends, whatever its outcome.
    if (cfg().cooldown > nanoseconds::zero())
      exec_->cooldown_until = saturated_add(steady_clock::now(), cfg().cooldown);
    if (!cfg().on_complete) exec_->release_locked(this);
  }

  // After end_locked(), the mutex released: on_complete, the release, the caller's handler.
  void ended(std::exception_ptr e) {
    if (!cfg().on_complete) {
      exec_->cv.notify_all();
      return complete(std::move(e));
    }
    {
      // on_complete sees the outcome and runs before the caller's handler. The guard makes
      // job.wait() and stop(true) throw std::logic_error here instead of deadlocking.
      blocking_guard guard(exec_->impl.get());
      try {
        cfg().on_complete(exec_->job);
      } catch (...) {
        e = std::current_exception();
      }
    }
    // No longer in progress once on_complete has returned, and before the caller's handler runs:
    // a handler that starts again at once is admitted.
    exec_->release(this);
    complete(std::move(e));
  }

  void complete(std::exception_ptr e) {
    completed_ = true;
    using call = completion_call<start_handler, std::exception_ptr>;
    call c{std::move(handler_), std::move(work_), std::tuple<std::exception_ptr>(std::move(e))};
    if (initiating_.load(std::memory_order_acquire)) {
      // Possibly still inside async_start (a first attempt that could not launch, or one that
      // ended on another thread before async_start returned): never complete inside the
      // initiating call. Posted to the handler's own executor (own_, taken by async_start where
      // the handler's type is known: an any_completion_executor cannot be posted to), so that a
      // job's context that has shut down (the usual reason a first attempt cannot launch) does
      // not hold it. Never through asio::system_executor.
      post_completion(own_, std::move(c.handler), std::move(c.work), std::move(std::get<0>(c.args)));
    } else {
      // From the completion of one of our own operations: dispatch, as Asio's composed
      // operations do at their end (inline when already on the handler's executor).
      asio::dispatch(std::move(c));
    }
  }

  const std::shared_ptr<executor_state> exec_;
  std::any params_;
  start_handler handler_;
  asio::any_completion_executor work_;
  asio::any_io_executor own_;  // where a completion inside async_start is posted (initiate_start)
  std::atomic<bool> initiating_{false};

  // Touched by one step at a time (Asio orders the steps).
  unsigned attempt_no_ = 0;
  // The attempt's run's final state and execution time, written by the job when the run ends,
  // before the run's continuation is called (state::created: the job refused the run).
  run_result run_;
  bool refused_ = false;
  bool completed_ = false;
  // The stats as they were before this start was admitted, put back if the job refuses its
  // first attempt.
  unsigned saved_retries_ = 0;
  std::vector<attempt_entry> saved_attempts_;

  // Shared with stop(), the deadline and the caller's cancellation: under the executor's mutex.
  phase phase_ = phase::idle;
  bool stop_requested_ = false;
  bool timed_out_ = false;  // the deadline cancelled this attempt's run
  run_ticket ticket_;
  std::optional<asio::steady_timer> delay_timer_;  // the retry delay, on the job's executor
  std::uint64_t deadline_generation_ = 0;          // the attempt's armed deadline (0: none)
};

}  // namespace jobs::detail
