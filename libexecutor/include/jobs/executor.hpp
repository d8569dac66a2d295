// jobs/executor.hpp — a policy runner around a job: retry (fixed delay or exponential backoff),
// per-attempt timeout, cooldown, once, stop and statistics. `co_await exec.start(params)`.
//
// Not an Asio executor: this is the Go package's Executor.
#pragma once

#include <jobs/coordination.hpp>
#include <jobs/job.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/json/fwd.hpp>

#include <any>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace jobs {

namespace asio = boost::asio;

namespace detail {

class executor_state;
struct executor_access;

using on_complete_fn = std::function<void(const job&)>;
using retry_if_fn = std::function<bool(std::exception_ptr)>;
using on_retry_fn = std::function<void(unsigned, std::exception_ptr, std::chrono::nanoseconds)>;

/// How long to wait before the next attempt. Exponential when `multiplier` > 1.
struct backoff_policy {
  std::chrono::nanoseconds initial{0};
  double multiplier = 1;
  std::chrono::nanoseconds max_delay{0};
  double jitter = 0;
};

/// Everything the options set. Defaults: one attempt, no delay, no timeout, no cooldown.
struct executor_config {
  unsigned attempts = 1;
  std::chrono::nanoseconds delay{0};  // fixed delay between attempts (unless `backoff`)
  bool has_backoff = false;
  backoff_policy backoff;
  std::chrono::nanoseconds timeout{0};   // per attempt; 0 = none
  std::chrono::nanoseconds cooldown{0};  // after each admitted start; 0 = none
  bool once = false;
  on_complete_fn on_complete;
  retry_if_fn retry_if;
  on_retry_fn on_retry;
  std::shared_ptr<const coordination_config> coordination;  // with_coordinator (null: local only)
};

struct retry_option {
  int attempts;
  std::chrono::nanoseconds delay;
};
struct timeout_option {
  std::chrono::nanoseconds timeout;
};
struct no_timeout_option {};
struct cooldown_option {
  std::chrono::nanoseconds cooldown;
};
struct once_option {};
struct on_complete_option {
  on_complete_fn fn;
};
struct backoff_option {
  backoff_policy policy;
};
struct retry_if_option {
  retry_if_fn fn;
};
struct on_retry_option {
  on_retry_fn fn;
};

void apply(executor_config& c, retry_option o);
void apply(executor_config& c, timeout_option o);
void apply(executor_config& c, no_timeout_option o);
void apply(executor_config& c, cooldown_option o);
void apply(executor_config& c, once_option o);
void apply(executor_config& c, on_complete_option o);
void apply(executor_config& c, backoff_option o);
void apply(executor_config& c, retry_if_option o);
void apply(executor_config& c, on_retry_option o);
void apply(executor_config& c, coordinator_option o);

/// `ns` nanoseconds, saturated to the range of std::chrono::nanoseconds. Throws
/// std::invalid_argument (naming `what`) for NaN.
std::chrono::nanoseconds saturate_ns(long double ns, const char* what);

template <class Rep, class Period>
std::chrono::nanoseconds to_ns(std::chrono::duration<Rep, Period> d, const char* what) {
  return saturate_ns(std::chrono::duration<long double, std::nano>(d).count(), what);
}

retry_option make_retry(int attempts, long double delay_ns);
backoff_option make_backoff(long double initial_ns, double multiplier, long double max_delay_ns,
                            double jitter);

using start_handler = asio::any_completion_handler<void(std::exception_ptr)>;
using stop_handler = asio::any_completion_handler<void()>;

std::shared_ptr<executor_state> make_executor(job j, executor_config config);
/// `own`: the handler's associated executor where it converts to any_io_executor (empty otherwise).
void initiate_start(const std::shared_ptr<executor_state>& s, std::any params, start_handler h,
                    asio::any_io_executor own);
void initiate_stop(const std::shared_ptr<executor_state>& s, stop_handler h);

}  // namespace detail

// ---- options (apply left to right; a later option of one kind replaces an earlier one) --------

/// `attempts` = total tries per start, `delay` apart (fixed; see with_backoff). `attempts` <= 0:
/// the option is ignored (as in Go). Throws std::invalid_argument for a negative delay.
template <class Rep, class Period>
detail::retry_option with_retry(int attempts, std::chrono::duration<Rep, Period> delay) {
  return detail::make_retry(attempts, std::chrono::duration<long double, std::nano>(delay).count());
}

/// Exponential backoff between attempts, replacing with_retry's fixed delay (whichever order
/// the two options come in; the number of attempts still comes from with_retry). The delay
/// before attempt k+1 is `min(max_delay, initial * multiplier^(k-1))`, then with `jitter` = j
/// drawn uniformly from `[d * (1 - j), d]` (j = 1 is "full jitter"); it never exceeds max_delay.
/// Throws std::invalid_argument for a multiplier < 1 (or NaN), a negative delay, or a jitter
/// outside [0, 1].
template <class Rep1, class Period1, class Rep2, class Period2>
detail::backoff_option with_backoff(std::chrono::duration<Rep1, Period1> initial, double multiplier,
                                    std::chrono::duration<Rep2, Period2> max_delay, double jitter = 0) {
  return detail::make_backoff(std::chrono::duration<long double, std::nano>(initial).count(), multiplier,
                              std::chrono::duration<long double, std::nano>(max_delay).count(), jitter);
}

/// A timeout per attempt (<= 0: ignored; huge values saturate, NaN throws std::invalid_argument).
/// The timer is handled on the job's strand. A timeout is cooperative, like a Go context deadline:
/// it cancels the run with reason errc::timeout and the next attempt starts only once the run
/// has ended (a body that never yields delays it). A timed-out attempt is a failed attempt.
template <class Rep, class Period>
detail::timeout_option with_timeout(std::chrono::duration<Rep, Period> d) {
  return {detail::to_ns(d, "jobs::with_timeout: the timeout")};
}

/// No timeout (undoes an earlier with_timeout).
inline detail::no_timeout_option no_timeout() { return {}; }

/// After each admitted start ends, whatever its outcome, further starts are refused with
/// errc::cooldown for `d` (<= 0: ignored).
template <class Rep, class Period>
detail::cooldown_option with_cooldown(std::chrono::duration<Rep, Period> d) {
  return {detail::to_ns(d, "jobs::with_cooldown: the cooldown")};
}

/// At most one *successful* start: after one, starts are refused with errc::once. Failed or
/// stopped starts do not count (retries within one start are allowed).
inline detail::once_option once() { return {}; }

/// Called once for every admitted start, after its outcome is known and before the start's
/// completion handler runs. If it throws, the start completes with that exception.
inline detail::on_complete_option on_complete(std::function<void(const job&)> fn) { return {std::move(fn)}; }

/// Retry only the failures `pred` accepts; any other failure ends the start at once with it. Not
/// called for the last attempt. If it throws, the start completes with that exception.
inline detail::retry_if_option retry_if(std::function<bool(std::exception_ptr)> pred) {
  return {std::move(pred)};
}

/// Called after attempt `attempt` (1-based) failed with `error`, when another attempt follows
/// after `next_delay`. If it throws, the start completes with that exception.
inline detail::on_retry_option on_retry(
    std::function<void(unsigned attempt, std::exception_ptr error, std::chrono::nanoseconds next_delay)> fn) {
  return {std::move(fn)};
}

// ---- statistics --------------------------------------------------------------------------------

/// How one attempt ended.
enum class attempt_outcome : std::uint8_t {
  succeeded,
  failed,     ///< the run failed (its body threw, or the job refused the run)
  timed_out,  ///< the per-attempt timeout fired during the run and the run did not succeed
  canceled,   ///< ended by stop() or the caller's cancellation (not counted in `retries`)
};

/// "succeeded", "failed", "timed_out", "canceled".
std::string_view to_string(attempt_outcome o) noexcept;
std::ostream& operator<<(std::ostream& os, attempt_outcome o);

struct attempt_stats {
  attempt_outcome outcome = attempt_outcome::succeeded;
  std::string error;             ///< what() of the attempt's error ("" on success)
  std::exception_ptr exception;  ///< the attempt's error (null on success)
  std::chrono::nanoseconds duration{0};
};

/// A snapshot. `boost::json::value_from(s)` gives {"retries": n, "cooldown": ns, "starts",
/// "successes", "failures", "canceled", "in_progress", "attempts": [{"outcome", "error",
/// "duration": ns}, ...]}.
struct executor_stats {
  unsigned retries = 0;                  ///< failed attempts in the last start (timeouts included)
  std::chrono::nanoseconds cooldown{0};  ///< time left in the cooldown window, 0 if none
  /// The attempts of the last admitted start so far, oldest first: the last
  /// `executor_stats::kept_attempts` of them (`retries` still counts every failed one), so that
  /// a start with many attempts keeps bounded memory.
  std::vector<attempt_stats> attempts;
  static constexpr std::size_t kept_attempts = 64;
  std::uint64_t starts = 0;     ///< admitted starts (refused ones are not counted)
  std::uint64_t successes = 0;  ///< starts that ended with a successful attempt
  std::uint64_t failures = 0;   ///< starts that ended with a failure
  std::uint64_t canceled = 0;   ///< starts ended by stop() or the caller's cancellation
  bool in_progress = false;     ///< a start is in progress
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const executor_stats& s);

// ---- executor ----------------------------------------------------------------------------------

/// Runs a job under policies: retry, per-attempt timeout, cooldown, once.
///
/// A cheap, copyable handle: copies share one executor's state, so it can live in containers and
/// be captured by value; a start in flight keeps that state alive.
///
/// \par Start, in order
/// A start in progress, or a run of the job pending (also one started with `job.run()`) →
/// errc::still_pending; once() and a successful start before → errc::once; inside the cooldown
/// window → errc::cooldown ("job is still in cooldown, <time> left"). A first attempt that cannot
/// even be launched (the job's execution context has shut down: std::logic_error; out of memory:
/// std::bad_alloc) also makes the start a refused one, completing with that error. A refused
/// start changes nothing (no stats, no cooldown, no on_complete). Then up to `attempts` attempts; the start
/// ends with the first success, the last attempt's failure (the body's own exception object, rethrown as is),
/// or errc::canceled once stop() or the caller's cancellation arrives. Attempts never overlap: the next one
/// starts only once the previous run has ended. If the job is started on its own (job.run()) during a retry
/// delay, the next attempt is refused by the job and counts as a failed attempt with
/// errc::still_pending.
///
/// \par Statistics
/// `retries` counts the failed attempts of the last admitted start (timeouts included; an attempt
/// ended by stop() or the caller's cancellation is not counted); it restarts at 0 with each
/// admitted start. Refused starts change nothing.
///
/// \par Thread safety
/// Every member may be called from any thread at any time.
class executor {
 public:
  /// Throws std::invalid_argument for a moved-from job handle.
  template <class... Options>
  explicit executor(job j, Options&&... options)
      : state_(detail::make_executor(std::move(j), make_config(std::forward<Options>(options)...))) {}

  /// `co_await exec.start(params)`: returns on success, throws the failure. The caller's
  /// cancellation (terminal or partial) ends the start with errc::canceled.
  asio::awaitable<void> start(std::any params = {});

  /// Starts the job under the executor's policies.
  ///
  /// \par Handler signature  void(std::exception_ptr): null on success.
  /// \par Executor  the handler's associated executor, defaulting to the job's executor; never
  ///      invoked inside this call; work is counted on it while the start is in progress.
  /// \par Per-operation cancellation  terminal and partial: end the start with errc::canceled
  ///      (the running attempt is cancelled and awaited, a retry delay is cut short, no further
  ///      attempt runs). total is not supported (cancelling changes the job) and is ignored.
  template <class Token = asio::deferred_t>
  auto async_start(std::any params = {}, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::exception_ptr)>(start_initiation{state_}, token,
                                                                 std::move(params));
  }
  /// `async_start(token)`: a completion token is never taken for the params.
  template <detail::run_token Token>
  auto async_start(Token&& token) {
    return async_start(std::any{}, std::forward<Token>(token));
  }

  /// Cancels the job's current run (whoever started it) and ends any start in progress: a retry
  /// delay is cut short at once, a running attempt ends when its body responds (cancellation is
  /// cooperative). With `wait`, returns once no run is pending and no start is in progress; it
  /// throws std::logic_error where it would deadlock (on the job's strand, or inside on_complete,
  /// on_retry or retry_if). Never call stop(true) on a thread the job's executor needs.
  void stop(bool wait = false);

  /// Like stop(false), then completes once the start in progress (if any) and the job's run
  /// pending at the call have ended. A start admitted after the call is neither stopped nor
  /// waited for; one admitted before it is both.
  /// \par Handler signature  void()
  /// \par Per-operation cancellation  not supported.
  template <class Token = asio::deferred_t>
  auto async_stop(Token&& token = {}) {
    return asio::async_initiate<Token, void()>(stop_initiation{state_}, token);
  }

  executor_stats stats() const;

  /// Retries (and the attempt records) and the cooldown back to zero. `once` and the counts of
  /// starts are kept.
  void reset();

  const jobs::job& get_job() const noexcept;

  friend bool operator==(const executor& a, const executor& b) noexcept { return a.state_ == b.state_; }

 private:
  friend struct detail::executor_access;

  template <class... Options>
  static detail::executor_config make_config(Options&&... options) {
    detail::executor_config c;
    (detail::apply(c, std::forward<Options>(options)), ...);
    return c;
  }

  struct start_initiation {
    std::shared_ptr<detail::executor_state> state;
    template <class Handler>
    void operator()(Handler&& h, std::any params) const {
      // The handler's own executor, while its type is known: a completion that must not run
      // inside async_start is posted there (an any_completion_executor cannot be posted to).
      asio::any_io_executor own;
      if constexpr (std::is_convertible_v<
                        asio::associated_executor_t<std::decay_t<Handler>, asio::any_io_executor>,
                        asio::any_io_executor>)
        own = asio::get_associated_executor(h, asio::any_io_executor());
      detail::initiate_start(state, std::move(params), detail::start_handler(std::forward<Handler>(h)),
                             std::move(own));
    }
  };
  struct stop_initiation {
    std::shared_ptr<detail::executor_state> state;
    template <class Handler>
    void operator()(Handler&& h) const {
      detail::initiate_stop(state, detail::stop_handler(std::forward<Handler>(h)));
    }
  };

  std::shared_ptr<detail::executor_state> state_;
};

}  // namespace jobs
