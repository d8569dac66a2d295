// The per-attempt timeout of an executor's starts: one steady_timer per executor, re-armed
// lazily. Private to libexecutor.
//
// An executor has at most one attempt in progress, so it has at most one live deadline. Arming
// and cancelling a kernel timer per attempt costs a timerfd_settime system call whenever it is
// the earliest deadline of its io_context, which is most of what a hand-written timeout race
// costs; and timeouts are almost never reached. So the timer is armed once, at the first
// deadline, and left alone:
//   - arm(): records the attempt's deadline; only if the pending wait would expire *after* it
//     (or there is none) is the timer set again;
//   - disarm(): forgets the deadline (the attempt ended first); the wait stays pending;
//   - the wait's completion, on the context's own executor (see timer_executor), under mu_: if
//     the live deadline has come, the attempt times out (posted to the job's strand); if it is
//     still to come (a later attempt's), the timer is set for it; if there is none, nothing
//     more is armed.
// A generation number names each armed attempt, so a late expiry can never time out a later
// attempt. The timer's completion holds the executor weakly: an executor destroyed meanwhile
// cancels its timer, and the completion does nothing.
//
// Work counting. A pending Asio wait keeps its io_context's run() from returning: a timer left
// armed 30 s ahead would hold up every program that runs its context until it is out of work.
// So, on an io_context, the wait does not count as work: right after async_wait() counted it,
// the count is given back (on_work_finished), and taken again first thing in its completion
// handler, before the scheduler's work_cleanup gives it back for that completion. This is exact
// because the timer uses the io_context's own executor and its handler has no executor of its
// own: Asio's handler_work then holds no second count (detail/handler_work.hpp, Boost 1.81),
// and the handler runs directly from the scheduler. An expiry that must act is then posted to
// the job's strand. What counts instead is the live deadline: from arm() until disarm() or
// expiry, the context has one unit of work, so a timeout keeps its context running exactly as
// long as a plain steady_timer would have. A test checks that run() returns at once after a
// start with a 30 s timeout. On any other executor (a thread_pool's, a user's), the timer is
// set per attempt and cancelled when the attempt ends, as a hand-written
// timeout would be.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

namespace jobs::detail {

class executor_state;
class job_impl;
class start_op;

// start.cpp: the attempt armed as `generation` of `op` has reached its deadline.
void attempt_deadline_reached(const std::shared_ptr<start_op>& op, std::uint64_t generation);

/// The raw work count of an io_context (empty for any other executor).
class context_work {
 public:
  explicit context_work(const boost::asio::any_io_executor& ex) noexcept;
  context_work() noexcept = default;
  explicit operator bool() const noexcept { return io_.has_value(); }
  void started() const noexcept { io_->on_work_started(); }
  void finished() const noexcept { io_->on_work_finished(); }

 private:
  std::optional<boost::asio::io_context::executor_type> io_;
};

class deadline_timer {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  deadline_timer() = default;
  deadline_timer(const deadline_timer&) = delete;
  deadline_timer& operator=(const deadline_timer&) = delete;
  /// The timer is destroyed only while the job's execution context is attached: an executor
  /// handle may outlive a context that was destroyed with everything pending, and a timer whose
  /// service is gone must not be touched. On an io_context or a thread_pool its executor is the
  /// context's own, which owns nothing: nothing leaks. (On another context, a job executor that
  /// owns memory, such as a strand, is then never released.)
  ~deadline_timer();

  /// Arms the deadline `at` for the attempt of `op`; returns its generation (never 0). The timer
  /// is made on first use, on the job's context's own executor (timer_executor). Throws (std::bad_alloc, or
  /// the job's execution context has shut down) with nothing changed.
  std::uint64_t arm(const std::shared_ptr<executor_state>& owner, const job_impl& job, time_point at,
                    std::weak_ptr<start_op> op);
  /// The attempt `generation` has ended: its deadline no longer applies.
  void disarm(std::uint64_t generation) noexcept;

 private:
  struct expiry {
    std::weak_ptr<executor_state> owner;
    std::uint64_t wait;
    context_work work;  // (lazy timers) taken again first thing: see "Work counting"
    void operator()(boost::system::error_code ec) const;
  };
  void expired(std::uint64_t wait, const std::shared_ptr<executor_state>& owner) noexcept;
  void set_locked(const std::shared_ptr<executor_state>& owner, time_point at);

  std::mutex mu_;
  boost::asio::steady_timer& timer() noexcept {
    return *reinterpret_cast<boost::asio::steady_timer*>(timer_buf_);
  }

  // On the context's own executor (see timer_executor): an expiry that acts is posted to the
  // job's strand.
  alignas(boost::asio::steady_timer) unsigned char timer_buf_[sizeof(boost::asio::steady_timer)];
  bool has_timer_ = false;
  const job_impl* job_ = nullptr;
  context_work work_;                         // empty: not lazy (set and cancelled per attempt)
  time_point kernel_at_ = time_point::max();  // the pending wait's expiry (max: none)
  std::uint64_t wait_ = 0;                    // the pending wait's number
  time_point due_ = time_point::max();        // the live attempt's deadline (max: none)
  std::weak_ptr<start_op> target_;            // the live attempt's start
  std::uint64_t generation_ = 0;              // the live attempt's generation
};

}  // namespace jobs::detail
