// The executor's options, as pure functions: validation, saturation, left-to-right application,
// and the backoff delay.
#include <jobs/detail/backoff.hpp>
#include <jobs/executor.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace jobs::detail {

using std::chrono::nanoseconds;

nanoseconds backoff_delay(const backoff_policy& b, unsigned failed, long double random01) noexcept {
  long double d = static_cast<long double>(b.initial.count()) *
                  std::pow(static_cast<long double>(b.multiplier), static_cast<long double>(failed - 1));
  d = std::min(d, static_cast<long double>(b.max_delay.count()));
  if (b.jitter > 0) d *= 1 - static_cast<long double>(b.jitter) * random01;
  if (!(d > 0)) return nanoseconds::zero();
  if (d >= static_cast<long double>(std::numeric_limits<nanoseconds::rep>::max())) return nanoseconds::max();
  return nanoseconds(static_cast<nanoseconds::rep>(d));
}

nanoseconds saturate_ns(long double ns, const char* what) {
  if (std::isnan(ns)) throw std::invalid_argument(std::string(what) + " is not a number");
  constexpr auto lo = static_cast<long double>(std::numeric_limits<nanoseconds::rep>::min());
  constexpr auto hi = static_cast<long double>(std::numeric_limits<nanoseconds::rep>::max());
  if (ns <= lo) return nanoseconds::min();
  if (ns >= hi) return nanoseconds::max();
  return nanoseconds(static_cast<nanoseconds::rep>(ns));
}

retry_option make_retry(int attempts, long double delay_ns) {
  if (attempts <= 0) return {attempts, nanoseconds::zero()};  // ignored whatever the delay (API.md)
  const nanoseconds d = saturate_ns(delay_ns, "jobs::with_retry: the delay");
  if (d < nanoseconds::zero()) throw std::invalid_argument("jobs::with_retry: the delay is negative");
  return {attempts, d};
}

backoff_option make_backoff(long double initial_ns, double multiplier, long double max_delay_ns,
                            double jitter) {
  const nanoseconds initial = saturate_ns(initial_ns, "jobs::with_backoff: the initial delay");
  const nanoseconds max_delay = saturate_ns(max_delay_ns, "jobs::with_backoff: the maximum delay");
  if (initial < nanoseconds::zero())
    throw std::invalid_argument("jobs::with_backoff: the initial delay is negative");
  if (max_delay < nanoseconds::zero())
    throw std::invalid_argument("jobs::with_backoff: the maximum delay is negative");
  if (!(multiplier >= 1))
    throw std::invalid_argument("jobs::with_backoff: the multiplier must be at least 1");
  if (!(jitter >= 0 && jitter <= 1))
    throw std::invalid_argument("jobs::with_backoff: the jitter must be within [0, 1]");
  return {backoff_policy{initial, multiplier, max_delay, jitter}};
}

void apply(executor_config& c, retry_option o) {
  if (o.attempts <= 0) return;  // ignored, as in Go
  c.attempts = static_cast<unsigned>(o.attempts);
  c.delay = o.delay;
}
void apply(executor_config& c, timeout_option o) {
  if (o.timeout <= nanoseconds::zero()) return;  // ignored
  c.timeout = o.timeout;
}
void apply(executor_config& c, no_timeout_option) { c.timeout = nanoseconds::zero(); }
void apply(executor_config& c, cooldown_option o) {
  if (o.cooldown <= nanoseconds::zero()) return;  // ignored
  c.cooldown = o.cooldown;
}
void apply(executor_config& c, once_option) { c.once = true; }
void apply(executor_config& c, on_complete_option o) { c.on_complete = std::move(o.fn); }
void apply(executor_config& c, backoff_option o) {
  c.has_backoff = true;
  c.backoff = o.policy;
}
void apply(executor_config& c, retry_if_option o) { c.retry_if = std::move(o.fn); }
void apply(executor_config& c, on_retry_option o) { c.on_retry = std::move(o.fn); }
void apply(executor_config& c, coordinator_option o) { c.coordination = std::move(o.c); }

}  // namespace jobs::detail
