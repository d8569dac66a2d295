// The executor's refusals and the text of its messages.
#include "executor_state.hpp"

#include <cstdio>

namespace jobs::detail {

// The refusals and errc::canceled carry no start-specific text: made once and shared, so that
// completing with them allocates nothing and throws nothing (canceled and still_pending are
// libjob's, detail::error_ptr).
const std::exception_ptr& once_error() {
  static const std::exception_ptr e = std::make_exception_ptr(error(errc::once, "job can only start once"));
  return e;
}

// A human-readable duration in the style of Go's time.Duration.String ("1h2m3.5s", "250ms",
// "1.5µs"): below a second rounded up to the millisecond (a time left never shows as 0), from
// a second on truncated to the millisecond.
std::string go_duration_text(nanoseconds d) {
  using std::chrono::milliseconds;
  if (d <= nanoseconds::zero()) return "0s";
  char buf[64];
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  };
  const long long ns = d.count();
  if (ns < 1'000) return std::to_string(ns) + "ns";
  if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1e3);
    return trim(buf) + "µs";
  }
  if (ns < 1'000'000'000) return std::to_string(std::chrono::ceil<milliseconds>(d).count()) + "ms";
  const long long ms = std::chrono::floor<milliseconds>(d).count();
  const long long h = ms / 3'600'000, m = ms / 60'000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
  std::string out;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  std::snprintf(buf, sizeof buf, "%lld.%03lld", s, frac);
  return out + trim(buf) + "s";
}

// t + d, saturated at the clock's maximum (with_cooldown(hours::max()) is a valid "forever").
steady_clock::time_point saturated_add(steady_clock::time_point t, nanoseconds d) noexcept {
  if (d > steady_clock::time_point::max() - t) return steady_clock::time_point::max();
  return t + d;
}

}  // namespace jobs::detail
