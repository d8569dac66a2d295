// jobs/detail/backoff.hpp — the delay before a retry, as a pure function (not installed).
#pragma once

#include <jobs/executor.hpp>

#include <chrono>

namespace jobs::detail {

/// The delay before the attempt after `failed` (>= 1) failed attempts under `b`:
/// `min(max_delay, initial * multiplier^(failed-1))`, then reduced by `jitter * random01` of
/// itself (`random01` drawn uniformly from [0, 1)); never negative, never NaN (0 x inf is 0).
std::chrono::nanoseconds backoff_delay(const backoff_policy& b, unsigned failed,
                                       long double random01) noexcept;

}  // namespace jobs::detail
