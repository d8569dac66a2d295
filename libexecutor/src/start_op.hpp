// start_op.hpp — one start of a jobs::executor (private to libexecutor): retry, per-attempt timeout and stop
// around a job's runs.
//
// One start is one `start_op`, a small callback state machine (no coroutine: no frame to
// allocate, and no exception is thrown anywhere on a successful start):
//
//   initiate_start  admission under the executor's mutex (still_pending → once → cooldown);
//                   refused: the handler is posted with the refusal and nothing else changes.
//   attempt()       job.async_run through detail::initiate_run (which hands back the run's
//                   ticket); with a timeout, the attempt's deadline is armed on the executor's
//                   deadline_timer (deadline.hpp: one timer, re-armed lazily, on the job's
//                   strand), which cancels the run through its ticket if it comes first. The
//                   attempt ends when the run ends. A first attempt that the job refuses or
//                   that cannot launch makes a refused start.
//   on_run_done()   success → finish; stop requested → finish(canceled); failure → count it,
//                   then retry_if / on_retry / wait the delay on the timer → attempt().
//   finish()        outcome into the stats, cooldown opens, on_complete, the start is no longer
//                   in progress, then the caller's handler on its own executor.
//
// Threads. The op's steps run one after another (each step is started by the completion of the
// previous one, so Asio orders them); only stop() and the caller's cancellation reach it from
// elsewhere, through `start_op::mu`. Lock order: op mutex → executor mutex → job mutex (the op
// mutex is never taken under the executor's). stop() decides what it stops under the executor's
// mutex, cancelling the job's run there. Log records are emitted under these mutexes (the
// job's "started" and "cancel requested"), and an attempt's params are copied under the op's:
// a log sink, or a params type's copy constructor, must not call into the executor (README,
// Logging). No callback of the user's (on_complete, on_retry, retry_if, handlers) runs under any.
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

  // The stats as they were before this start was admitted, put back if the job refuses its
  // first attempt (a refused start changes nothing).
  unsigned saved_retries = 0;
  std::vector<attempt_entry> saved_attempts;

  // Called inside async_start's initiation, right after admission.
  void begin(asio::cancellation_slot slot) {
    initiating_.store(true, std::memory_order_release);
    if (slot.is_connected()) {
      try {
        slot.template emplace<start_cancellation>(start_cancellation{weak_from_this()});
      } catch (...) {
        // Nothing ran: undo the admission and let the error leave async_start (the handler is
        // destroyed with the op, never invoked).
        completed_ = true;
        std::lock_guard lk(mu_);
        unadmit();
        throw;
      }
    }
    attempt();
    initiating_.store(false, std::memory_order_release);
  }

  // stop() (whole) or the caller's cancellation: no further attempt runs and a retry delay is
  // cut short at once. A running attempt is cancelled by the caller: stop() cancels the job's
  // current run itself (whoever started it).
  // Under the executor's mutex (stop()): from now on the op treats the end of its attempt as
  // stopped, even before request_stop() below has run (the stop cancels the job's run first).
  void mark_stopped() noexcept { stop_marked_.store(true, std::memory_order_release); }

  void request_stop(bool cancel_own_run) {
    run_ticket t;
    {
      std::lock_guard lk(mu_);
      if (phase_ == phase::done || stop_acted_) return;
      stop_acted_ = true;
      stop_requested_ = true;
      // The delay timer is touched only under mu_ (here, and where the delay is armed), so
      // cancel() never races with its own async_wait. In phase::running we cancel the run (its
      // deadline, if any, is disarmed when the run ends).
      if (phase_ == phase::delay) delay_timer_->cancel();
      if (phase_ == phase::running) t = ticket_;
    }
    if (cancel_own_run && !is_unset(t)) cancel_run(t, cancel_reason::canceled);
  }

 private:
  enum class phase : std::uint8_t { idle, running, delay, done };

  // The run's end (run_continuation): inline on the job's strand where the run ended, or, for
  // a run the job refused, from a post to the job's executor.
  static void run_ended(const std::shared_ptr<void>& op, std::exception_ptr e) {
    static_cast<start_op*>(op.get())->on_run_done(std::move(e));
  }

 public:
  // The deadline armed as `generation` has come (on the job's strand): if that attempt's run is
  // still on, it is cancelled with the reason timeout (the ticket is per run, so this can never
  // cancel a later run). Lock order op → job; cancel_run runs no callback of the user's.
  void deadline_reached(std::uint64_t generation) {
    std::lock_guard lk(mu_);
    if (phase_ != phase::running || generation != deadline_generation_) return;
    // Out of memory the timeout is lost (cancel_run changes nothing then): the attempt goes on
    // without it.
    try {
      if (cancel_run(ticket_, cancel_reason::timeout)) timed_out_ = true;
    } catch (...) {
    }
  }

 private:
  struct delay_done {
    std::shared_ptr<start_op> op;
    void operator()(boost::system::error_code) { op->attempt(); }
  };

  const executor_config& cfg() const noexcept { return exec_->cfg; }

  // Under mu_.
  bool stopped_locked() const noexcept {
    return stop_requested_ || stop_marked_.load(std::memory_order_acquire);
  }

  void attempt() {
    std::exception_ptr failed_to_launch;
    bool stopped = false;
    {
      // Held until this step is over: once the run is launched its completion may run on
      // another thread at once, and on_run_done() starts by taking mu_, so it sees everything
      // written here (attempt_no_, refused_, the ticket).
      std::unique_lock lk(mu_);
      if (stopped_locked()) {
        stopped = true;
      } else {
        ++attempt_no_;
        phase_ = phase::running;
        timed_out_ = false;
        run_final_ = state::created;
        ticket_.reset();
        attempt_started_ = steady_clock::now();
        try {
          // The last attempt takes the params; earlier ones get a copy.
          std::any p = attempt_no_ >= cfg().attempts ? std::move(params_) : params_;
          initiate_run(exec_->impl, std::move(p), run_continuation{&run_ended, shared_from_this()}, &ticket_,
                       &run_final_);
          if (cfg().timeout > nanoseconds::zero() && !is_unset(ticket_)) arm_deadline();
          if (is_unset(ticket_) && attempt_no_ == 1) {
            // The job refused the first run (it was started on its own with job.run() between
            // our admission check and here): the start is refused with errc::still_pending and
            // changes nothing. The refusal arrives through the run's continuation (posted by the job).
            // Lock order op → executor → job is never reversed (the executor mutex is never held
            // while taking an op's mutex).
            refused_ = true;
            unadmit();
          }
        } catch (...) {
          failed_to_launch = std::current_exception();
          phase_ = phase::idle;
          if (attempt_no_ == 1) {
            // The first attempt could not be launched (the job's execution context has shut
            // down, or an allocation failed): nothing ran, so this is a refused start like the
            // job's own refusal above — the stats and the cooldown are untouched, on_complete is
            // not called, and the error reaches the handler posted, never inside async_start.
            refused_ = true;
            unadmit();
          }
        }
      }
      // A stop() that took mu_ before us was seen above (no run started); one that takes it
      // after us finds the run's ticket, and stop() cancels the job's run itself in any case.
    }
    if (stopped) {
      if (attempt_no_ == 0) {
        // Stopped between admission and the first launch: still inside async_start (begin()),
        // where on_complete must not run. The start ends, canceled, from the handler's own
        // executor. If even that post fails (std::bad_alloc), nothing has run: a refused start.
        try {
          asio::post(own_, [op = shared_from_this()] {
            op->finish(error_ptr(errc::canceled), start_end::canceled);
          });
        } catch (...) {
          std::lock_guard lk(mu_);
          completed_ = true;
          unadmit();
          throw;
        }
        return;
      }
      return finish(error_ptr(errc::canceled), start_end::canceled);
    }
    if (failed_to_launch) {
      if (refused_) return complete(std::move(failed_to_launch));
      // Attempt k > 1 could not be launched: a failed attempt like any other, in the stats.
      record({attempt_outcome::failed, failed_to_launch, nanoseconds::zero()}, true);
      return finish(std::move(failed_to_launch), start_end::failed);
    }
  }

  // Under mu_ (lock order op → executor): the start is refused after all; puts back the stats
  // as they were before its admission and ends it.
  void unadmit() {
    {
      std::lock_guard elk(exec_->mu);
      exec_->retries = saved_retries;
      exec_->attempts = std::move(saved_attempts);
      --exec_->starts;
    }
    exec_->release(this);
  }

  void arm_deadline() {
    // Under mu_, once the run is launched (its end takes mu_ first, so it disarms after this).
    // Out of memory (or the timer cannot be made), this one attempt goes without its timeout
    // rather than failing after its run was launched.
    try {
      deadline_generation_ = exec_->deadline.arm(
          exec_, *exec_->impl, saturated_add(attempt_started_, cfg().timeout), weak_from_this());
    } catch (...) {
    }
  }

  void on_run_done(std::exception_ptr e) {
    bool stopped, refused;
    nanoseconds took;
    bool timed_out;
    {
      std::lock_guard lk(mu_);
      took = steady_clock::now() - attempt_started_;
      // A run that succeeded ends the start whatever else happens (a stop arriving now would
      // find nothing to cancel): done at once, so that finish() need not take mu_ again.
      phase_ = (!e && !refused_) ? phase::done : phase::idle;
      stopped = stopped_locked();
      refused = refused_;
      timed_out = timed_out_;
      if (deadline_generation_ != 0) exec_->deadline.disarm(std::exchange(deadline_generation_, 0));
    }
    if (refused) return complete(std::move(e));  // the job refused the first run: a refused start

    if (!e) {
      attempt_entry a{attempt_outcome::succeeded, nullptr, took};
      return finish(nullptr, start_end::succeeded, &a);
    }
    if (stopped) {
      if (run_final_ == state::failed) {
        // The attempt had failed on its own before the stop reached its run (a run the stop
        // cancelled ends `canceled`): a failed attempt, counted in retries; no further one runs.
        // If it was the last, the outcome was decided before the stop: the start failed.
        record({timed_out ? attempt_outcome::timed_out : attempt_outcome::failed, e, took}, true);
        if (attempt_no_ >= cfg().attempts) return finish(std::move(e), start_end::failed);
        return finish(error_ptr(errc::canceled), start_end::canceled);
      }
      // Ended by stop() or the caller's cancellation: not a failed attempt. The body's own
      // exception, if any, stays in job.error().
      record({attempt_outcome::canceled, std::move(e), took}, false);
      return finish(error_ptr(errc::canceled), start_end::canceled);
    }
    record({timed_out ? attempt_outcome::timed_out : attempt_outcome::failed, e, took}, true);
    if (attempt_no_ >= cfg().attempts) return finish(std::move(e), start_end::failed);
    // The job refused this attempt because its registry is draining: no further attempt either.
    if (e == error_ptr(errc::shutting_down)) return finish(std::move(e), start_end::failed);

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

    std::unique_lock lk(mu_);
    if (stopped_locked()) {
      lk.unlock();
      return finish(error_ptr(errc::canceled), start_end::canceled);
    }
    try {
      // A stop marked after this check takes mu_ in request_stop() after us and cancels the
      // timer armed here.
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

  void record(attempt_entry a, bool failed) {
    std::lock_guard lk(exec_->mu);
    record_locked(std::move(a), failed);
  }

  // Under the executor's mutex.
  void record_locked(attempt_entry a, bool failed) {
    if (failed) ++exec_->retries;
    // Bounded: with_retry(INT_MAX, 0) must not grow the history until the start is stopped.
    if (exec_->attempts.size() == executor_stats::kept_attempts)
      exec_->attempts.erase(exec_->attempts.begin());
    exec_->attempts.push_back(std::move(a));
  }

  // The start's end. `last`: the attempt that ended it, if not recorded yet (a success), recorded
  // in the same critical section as the counters; without on_complete, the start is released
  // there too (one lock of the executor's mutex for the whole end of a start).
  void finish(std::exception_ptr e, start_end how, attempt_entry* last = nullptr) {
    if (!last) {  // (on_run_done marked the success it passes here done already)
      std::lock_guard lk(mu_);
      phase_ = phase::done;
    }
    const bool hook = static_cast<bool>(cfg().on_complete);
    // The attempts this start replaced are no longer needed (only a refused start puts them
    // back): destroyed here, outside the mutex, and their buffer kept for the next start.
    saved_attempts.clear();
    {
      std::lock_guard lk(exec_->mu);
      if (exec_->spare_attempts.capacity() == 0) exec_->spare_attempts.swap(saved_attempts);
      if (last) record_locked(std::move(*last), false);
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
      if (!hook) exec_->release_locked(this);
    }
    if (!hook) {
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
  steady_clock::time_point attempt_started_{};
  bool timed_out_ = false;  // under mu_: the deadline cancelled this attempt's run
  // The attempt's run's final state, written by the job when the run ends, before the run's
  // handler is posted (created: the job refused the run or it never ended).
  state run_final_ = state::created;
  bool refused_ = false;
  bool completed_ = false;

  // Shared with stop() and the caller's cancellation.
  std::mutex mu_;
  phase phase_ = phase::idle;
  bool stop_requested_ = false;
  bool stop_acted_ = false;               // request_stop() has run
  std::atomic<bool> stop_marked_{false};  // mark_stopped(), under the executor's mutex
  run_ticket ticket_;
  std::optional<asio::steady_timer> delay_timer_;  // the retry delay, on the job's executor
  std::uint64_t deadline_generation_ = 0;          // the attempt's armed deadline (0: none)
};

}  // namespace jobs::detail
