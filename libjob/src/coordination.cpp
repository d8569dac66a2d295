// What a coordinator (jobs::with_coordinator, libexecutor) needs of a job: the fencing token
// handed to its runs, and cancelling the current run because its lease was lost.
#include "job_impl.hpp"

namespace jobs {

std::optional<std::uint64_t> context::fencing_token() const noexcept {
  if (!run_->has_fencing) return std::nullopt;
  return run_->fencing;
}

namespace detail {

void set_fencing_token(job_impl& j, std::optional<std::uint64_t> token) noexcept {
  std::lock_guard lk(j.mu);
  j.has_fencing = token.has_value();
  j.fencing = token.value_or(0);
}

bool cancel_current(job_impl& j, cancel_reason why) { return j.cancel_current(why); }

}  // namespace detail
}  // namespace jobs
