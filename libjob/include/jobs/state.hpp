// jobs/state.hpp — the lifecycle states of a job.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace jobs {

/// The state of a job. A job starts `created`; a run moves it to `running`, a cancellation
/// request (or an executor timeout) to `canceling`, and the end of the run to one of the
/// terminal states `succeeded`, `failed` or `canceled`.
enum class state : std::uint8_t { created, running, canceling, succeeded, failed, canceled };

/// The state's name: "created", "running", "canceling", "succeeded", "failed", "canceled".
std::string_view to_string(state s) noexcept;

std::ostream& operator<<(std::ostream& os, state s);

/// True for the terminal states: succeeded, failed, canceled.
constexpr bool is_done(state s) noexcept {
  return s == state::succeeded || s == state::failed || s == state::canceled;
}

/// True while a run is in flight: running, canceling.
constexpr bool is_pending(state s) noexcept { return s == state::running || s == state::canceling; }

}  // namespace jobs
