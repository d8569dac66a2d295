// jobs/detail/job_access.hpp — the internal interface between jobs::job and the layers built on
// it (the executor). Not part of the public API, and not installed (internal/).
#pragma once

#include <jobs/detail/lifecycle.hpp>
#include <jobs/job.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>

namespace jobs::detail {

struct run_state;

/// Identifies one run, so that a late timeout can never cancel a later run.
using run_ticket = std::weak_ptr<run_state>;

struct job_access {
  static const std::shared_ptr<job_impl>& impl(const job& j) noexcept { return j.impl_; }
};

/// A run's internal continuation (the executor's), in place of a completion handler: called with
/// the run's error at its end, inline on the job's strand, after the handlers of the run's
/// waiters; for a run the job refuses, posted to the job's executor. Never invoked inside the
/// initiation. `owner` is kept alive until then, and released unrun if the run is abandoned
/// (its execution context shut down). Costs no allocation and no executor hop: the owner handles
/// its own placement and work counting.
struct run_continuation {
  void (*fn)(const std::shared_ptr<void>& owner, std::exception_ptr e) = nullptr;
  std::shared_ptr<void> owner;
  explicit operator bool() const noexcept { return fn != nullptr; }
};

/// What the job writes about a run as it ends, for the run's internal caller (the executor).
struct run_result {
  state final = state::created;      ///< created: the job refused the run, or it never ended
  std::chrono::nanoseconds took{0};  ///< the run's execution time, as job.execution_time() gives it
};

/// initiate_run with a continuation instead of a handler.
void initiate_run(const std::shared_ptr<job_impl>& j, std::any params, run_continuation then,
                  run_ticket* ticket, run_result* result);

/// async_run's initiation, also handing back the run's ticket when the run was admitted
/// (the ticket is set before the body can start). With `result`, the run's final state and
/// execution time are written there when it ends, before its handler is posted or its
/// continuation called (the caller keeps it alive).
void initiate_run(const std::shared_ptr<job_impl>& j, std::any params, run_handler h, run_ticket* ticket,
                  run_result* result = nullptr);

/// Requests cancellation of the run `t` with the given reason: running -> canceling and the
/// body's slot fires. False if that run has ended or is already canceling.
bool cancel_run(const run_ticket& t, cancel_reason why);

/// The job's strand (where its body runs), for timers that must be handled there. Throws
/// std::logic_error once the job's execution context has shut down.
asio::any_io_executor strand_of(const job_impl& j);

/// While `closed`, new runs are refused with errc::shutting_down: async_run (and an executor's
/// attempt) through the handler, run() by throwing jobs::error. A run in progress goes on.
void set_closed(job_impl& j, bool closed) noexcept;

/// Runs started from now on carry `token` as their context's fencing_token() (with_coordinator:
/// the lease's epoch, set while the lease is held; nullopt clears it). coordination.cpp.
void set_fencing_token(job_impl& j, std::optional<std::uint64_t> token) noexcept;

/// Requests cancellation of the job's current run, whoever started it, with the given reason
/// (with_coordinator: cancel_reason::lease_lost). False if no run is running.
bool cancel_current(job_impl& j, cancel_reason why);

/// False once the job's execution context has shut down (its strand is released).
bool is_attached(const job_impl& j) noexcept;

/// True if the calling thread is running the job's strand (its body, or a callback on it).
bool on_job_strand(const job_impl& j) noexcept;

/// The job's own logger (with_logger), or null.
jobs::logger* user_logger_of(const job_impl& j) noexcept;

/// Blocks until the job has ended `runs` runs (finished counts them); returns at once if it has.
/// The generation of the run pending now is what run_generation() returns. Can throw
/// std::bad_alloc (the first blocking wait on a job makes its condition variable).
std::uint64_t run_generation(const job_impl& j);
void wait_for_run(job_impl& j, std::uint64_t generation);

/// How many runs the job has started.
std::uint64_t runs_of(const job_impl& j);

/// The framework's own error `e` (canceled, timeout or still_pending) as an exception_ptr made
/// once and shared: completing with it allocates nothing and throws nothing.
const std::exception_ptr& error_ptr(errc e);

/// An exception's what(), or "unknown exception" for a type without one; "" for null.
std::string describe(const std::exception_ptr& e);

/// Marks the calling thread as inside a callback of `j` that a blocking wait on `j` would
/// deadlock (e.g. an executor's on_complete). RAII.
class blocking_guard {
 public:
  explicit blocking_guard(const job_impl* j) noexcept;
  ~blocking_guard();
  blocking_guard(const blocking_guard&) = delete;
  blocking_guard& operator=(const blocking_guard&) = delete;

  /// True if the calling thread is inside such a callback of `j`.
  static bool active(const job_impl* j) noexcept;

 private:
  const job_impl* previous_;
};

}  // namespace jobs::detail
