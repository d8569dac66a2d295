// The decisions of one executor start, as pure functions (no io_context, no lock, no clock):
// whether a start is admitted, and what it does once an attempt's run has ended. libexecutor's
// start_op gathers the facts under the executor's mutex and acts on the answer; the tests check
// the answers table by table (test/executor/start_rules.cpp).
#pragma once

#include <jobs/executor.hpp>

#include <cstdint>

namespace jobs::detail {

// ---- admission ----------------------------------------------------------------------------------

/// Why a start is refused, in the order the checks are made (none: it is admitted).
enum class refusal_reason : std::uint8_t { none, shutting_down, still_pending, once, cooldown };

/// What the admission looks at.
struct admission_facts {
  bool closed = false;          ///< a draining registry closed the executor
  bool in_progress = false;     ///< a start of this executor is in progress
  bool job_executing = false;   ///< the job has a run pending (one started by hand, say)
  bool once_succeeded = false;  ///< with_once, and a start has succeeded
  bool cooldown_open = false;   ///< the cooldown window has time left
};

/// closed → still pending (a start or the job's own run) → once → cooldown.
constexpr refusal_reason admission(const admission_facts& f) noexcept {
  if (f.closed) return refusal_reason::shutting_down;
  if (f.in_progress || f.job_executing) return refusal_reason::still_pending;
  if (f.once_succeeded) return refusal_reason::once;
  if (f.cooldown_open) return refusal_reason::cooldown;
  return refusal_reason::none;
}

// ---- the end of an attempt ------------------------------------------------------------------------

/// How an attempt's run ended, as its start sees it.
struct attempt_end_facts {
  bool succeeded = false;   ///< the run ended without an error
  bool stopped = false;     ///< stop() or the caller's cancellation has reached the start
  bool run_failed = false;  ///< the run's final state is failed: it failed on its own (a run a
                            ///< stop cancelled ends canceled)
  bool timed_out = false;   ///< the attempt's deadline cancelled the run
  bool draining = false;    ///< the job refused the run with errc::shutting_down
  unsigned attempt = 1;     ///< this attempt's number, from 1
  unsigned attempts = 1;    ///< with_retry's total
};

/// What the start does next.
enum class start_next : std::uint8_t {
  succeed,  ///< the start succeeded
  fail,     ///< the start failed with the run's error
  cancel,   ///< the start ends with errc::canceled
  retry,    ///< another attempt (unless retry_if says no), after the delay
};

struct attempt_end_decision {
  attempt_outcome recorded;  ///< the attempt, in the stats' history
  bool counts_as_retry;      ///< a failed attempt: counted in `retries`
  start_next next;
};

/// A success ends the start, whatever else happened. A stopped start ends canceled, except an
/// attempt that had failed on its own before the stop reached it: a failed attempt, and if it
/// was the last, the start failed (its outcome was decided before the stop). Otherwise a failed
/// attempt (timed out, if its deadline cancelled it) is retried unless it was the last or the
/// job's registry is draining.
constexpr attempt_end_decision after_attempt(const attempt_end_facts& f) noexcept {
  if (f.succeeded) return {attempt_outcome::succeeded, false, start_next::succeed};
  const attempt_outcome failed = f.timed_out ? attempt_outcome::timed_out : attempt_outcome::failed;
  const bool last = f.attempt >= f.attempts;
  if (f.stopped) {
    if (f.run_failed) return {failed, true, last ? start_next::fail : start_next::cancel};
    return {attempt_outcome::canceled, false, start_next::cancel};
  }
  if (last || f.draining) return {failed, true, start_next::fail};
  return {failed, true, start_next::retry};
}

}  // namespace jobs::detail
