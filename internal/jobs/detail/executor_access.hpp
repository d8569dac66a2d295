// jobs/detail/executor_access.hpp — the internal interface between jobs::executor and the layers
// built on it (the registry). Not part of the public API, and not installed (internal/).
#pragma once

#include <jobs/executor.hpp>

#include <memory>

namespace jobs::detail {

struct executor_access {
  static const std::shared_ptr<executor_state>& state(const executor& e) noexcept { return e.state_; }
};

/// While `closed`, new starts are refused with errc::shutting_down (before every other check);
/// a start in progress goes on. The registry's drain closes every executor it holds.
void set_closed(executor_state& s, bool closed) noexcept;

/// The job an executor runs.
const jobs::job& job_of(const executor_state& s) noexcept;

}  // namespace jobs::detail
