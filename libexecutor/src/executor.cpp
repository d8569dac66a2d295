// jobs::executor, the public handle: construction, stop, statistics. One start is in start.cpp,
// the options in options.cpp.
#include "executor_state.hpp"

#include <jobs/detail/executor_access.hpp>

#include <boost/asio/use_awaitable.hpp>
#include <boost/json/value.hpp>

#include <ostream>
#include <stdexcept>

namespace jobs {
namespace detail {

std::shared_ptr<executor_state> make_executor(jobs::job j, executor_config config) {
  // A moved-from job handle has no job: refuse it here rather than crash on first use.
  if (!job_access::impl(j))
    throw std::invalid_argument("jobs::executor: the job handle is empty (moved from)");
  return std::make_shared<executor_state>(std::move(j), std::move(config));
}

void set_closed(executor_state& s, bool closed) noexcept {
  std::lock_guard lk(s.mu);
  s.closed = closed;
}

const jobs::job& job_of(const executor_state& s) noexcept { return s.job; }

}  // namespace detail

// ---- executor ---------------------------------------------------------------------------------

asio::awaitable<void> executor::start(std::any params) {
  // use_awaitable's async_result is lazy (the start is initiated when awaited), rethrows a
  // non-null exception_ptr, and hands the coroutine's cancellation slot to the start.
  return async_start(std::move(params), asio::use_awaitable);
}

void executor::stop(bool wait) {
  auto& s = *state_;
  if (wait && (detail::on_job_strand(*s.impl) || detail::blocking_guard::active(s.impl.get())))
    throw std::logic_error(
        "jobs::executor::stop(true) called from the job's own strand or from a callback of a start "
        "(on_complete, on_retry, retry_if): it would deadlock; use async_stop");
  detail::stop_starts(s, wait);
}

executor_stats executor::stats() const {
  auto& s = *state_;
  executor_stats out;
  std::vector<detail::attempt_entry> attempts;
  {
    std::lock_guard lk(s.mu);
    out.retries = s.retries;
    out.cooldown = s.cooldown_left_locked();
    attempts = s.attempts;
    out.starts = s.starts;
    out.successes = s.successes;
    out.failures = s.failures;
    out.canceled = s.cancellations;
    out.in_progress = s.in_progress;
  }
  // Text outside the lock: describing an error rethrows it.
  out.attempts.reserve(attempts.size());
  for (auto& a : attempts)
    out.attempts.push_back(attempt_stats{a.outcome, detail::describe(a.error), a.error, a.duration});
  return out;
}

void executor::reset() {
  auto& s = *state_;
  std::lock_guard lk(s.mu);
  s.retries = 0;
  s.attempts.clear();
  s.cooldown_until = {};
}

const jobs::job& executor::get_job() const noexcept { return state_->job; }

std::string_view to_string(attempt_outcome o) noexcept {
  switch (o) {
    case attempt_outcome::succeeded: return "succeeded";
    case attempt_outcome::failed: return "failed";
    case attempt_outcome::timed_out: return "timed_out";
    case attempt_outcome::canceled: return "canceled";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, attempt_outcome o) { return os << to_string(o); }

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const executor_stats& s) {
  boost::json::object o;
  o["retries"] = s.retries;
  o["cooldown"] = static_cast<std::int64_t>(s.cooldown.count());
  o["starts"] = s.starts;
  o["successes"] = s.successes;
  o["failures"] = s.failures;
  o["canceled"] = s.canceled;
  o["in_progress"] = s.in_progress;
  boost::json::array attempts;
  for (const auto& a : s.attempts) {
    boost::json::object r;
    r["outcome"] = to_string(a.outcome);
    r["error"] = a.error;
    r["duration"] = static_cast<std::int64_t>(a.duration.count());
    attempts.push_back(std::move(r));
  }
  o["attempts"] = std::move(attempts);
  v = std::move(o);
}

}  // namespace jobs
