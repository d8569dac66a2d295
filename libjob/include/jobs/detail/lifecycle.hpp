// jobs/detail/lifecycle.hpp — the lifecycle as a small pure state machine.
//
// Everything the job does to its state goes through these functions; the Asio glue in job.cpp
// only decides *when* to call them. They are constexpr and free of I/O so that tests can drive
// them directly (and compare a real job against them).
#pragma once

#include <jobs/state.hpp>

#include <cstdint>
#include <optional>

namespace jobs::detail {

/// Why cancellation was requested for a run.
enum class cancel_reason : std::uint8_t { none, canceled, timeout, lease_lost };

/// How a body ended.
enum class body_end : std::uint8_t {
  returned,            ///< co_return / fell off the end
  threw_cancellation,  ///< threw the cancellation itself (operation_aborted / operation_canceled)
  threw_other,         ///< threw anything else
  abandoned,           ///< never finished: its frame was destroyed (execution context shut down)
};

/// What a finished run's error() holds.
enum class run_error : std::uint8_t {
  none,        ///< null
  body,        ///< the body's own exception, as thrown
  canceled,    ///< jobs::errc::canceled
  timeout,     ///< jobs::errc::timeout
  lease_lost,  ///< jobs::errc::lease_lost (a coordinated run whose lease was lost)
};

struct run_outcome {
  state final;
  run_error error;
  friend constexpr bool operator==(run_outcome, run_outcome) = default;
};

/// run(): any non-pending state -> running; refused (nullopt) while a run is pending.
constexpr std::optional<state> on_start(state s) noexcept {
  if (is_pending(s)) return std::nullopt;
  return state::running;
}

/// cancel() or timeout: running -> canceling; refused otherwise (a second request, or a
/// request after the timeout, changes nothing).
constexpr std::optional<state> on_cancel(state s) noexcept {
  if (s != state::running) return std::nullopt;
  return state::canceling;
}

/// The end of a run (API.md "Outcome of a run"):
/// - canceled: the run ends `canceled` however the body ends; error() is the body's exception,
///   or errc::canceled if it returned or threw the cancellation itself;
/// - timeout: cooperative, like a Go context deadline: returned -> succeeded; threw the
///   cancellation -> failed with errc::timeout; threw anything else -> failed with that;
/// - none: returned -> succeeded; threw -> failed with what it threw.
/// A body that never finished (its frame destroyed at shutdown) ends `canceled`.
constexpr run_outcome on_end(cancel_reason r, body_end b) noexcept {
  if (b == body_end::abandoned) return {state::canceled, run_error::canceled};
  switch (r) {
    case cancel_reason::canceled:
      return {state::canceled, b == body_end::threw_other ? run_error::body : run_error::canceled};
    case cancel_reason::lease_lost:  // as canceled: the run must not go on without its lease
      return {state::canceled, b == body_end::threw_other ? run_error::body : run_error::lease_lost};
    case cancel_reason::timeout:
      if (b == body_end::returned) return {state::succeeded, run_error::none};
      return {state::failed, b == body_end::threw_cancellation ? run_error::timeout : run_error::body};
    case cancel_reason::none: break;
  }
  if (b == body_end::returned) return {state::succeeded, run_error::none};
  return {state::failed, run_error::body};
}

}  // namespace jobs::detail
