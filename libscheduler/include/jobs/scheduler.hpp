// jobs/scheduler.hpp — runs executors on cron schedules (jobs::cron, robfig/cron v3 syntax),
// with overlap policies, catch-up of missed ticks, a concurrency cap with priorities, exclusive
// schedules and per-schedule statistics in registry.stats().
//
//   jobs::registry reg(io);
//   jobs::scheduler sched(reg, jobs::with_max_concurrent(4));
//   sched.add(jobs::executor(report, jobs::with_timeout(10min)), "@daily");
//   sched.add(jobs::executor(probe), "@every 5s", jobs::with_overlap(jobs::overlap::skip));
//   sched.add(jobs::executor(refresh, jobs::with_cooldown(5min)), "0 */15 * * * *",
//             jobs::with_priority(10));
#pragma once

#include <jobs/cron.hpp>
#include <jobs/executor.hpp>
#include <jobs/registry.hpp>
#include <jobs/scheduler_clock.hpp>

#include <boost/json/fwd.hpp>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace jobs {

/// What a tick does while the schedule's previous start is still in progress (or still waiting
/// for a slot under with_max_concurrent).
enum class overlap : std::uint8_t {
  skip,             ///< the tick is counted as skipped (the default)
  buffer_one,       ///< at most one more start, right after the current one; further ticks skip
  cancel_previous,  ///< stop the current start (executor.stop()), then start again once it ended
};

/// "skip", "buffer_one", "cancel_previous".
std::string_view to_string(overlap o) noexcept;
std::ostream& operator<<(std::ostream& os, overlap o);

namespace detail {

class scheduler_state;

struct scheduler_config {
  std::size_t max_concurrent = 0;  // 0: no cap
  std::shared_ptr<scheduler_clock> clock;
  std::chrono::nanoseconds misfire_grace = std::chrono::seconds(1);
};

struct schedule_config {
  jobs::overlap overlap = jobs::overlap::skip;
  int priority = 0;
  bool exclusive = false;
  bool catch_up = true;
  bool paused = false;
  std::any params;
};

struct max_concurrent_option {
  std::size_t n;
};
struct clock_option {
  std::shared_ptr<scheduler_clock> clock;
};
struct misfire_grace_option {
  std::chrono::nanoseconds grace;
};
struct overlap_option {
  jobs::overlap policy;
};
struct priority_option {
  int priority;
};
struct exclusive_option {};
struct catch_up_option {
  bool on;
};
struct paused_option {};
struct params_option {
  std::any params;
};

void apply(scheduler_config& c, max_concurrent_option o);
void apply(scheduler_config& c, clock_option o);
void apply(scheduler_config& c, misfire_grace_option o);
void apply(schedule_config& c, overlap_option o);
void apply(schedule_config& c, priority_option o);
void apply(schedule_config& c, exclusive_option o);
void apply(schedule_config& c, catch_up_option o);
void apply(schedule_config& c, paused_option o);
void apply(schedule_config& c, params_option o);

}  // namespace detail

// ---- scheduler options ---------------------------------------------------------------------------

/// At most `n` scheduled starts run at once on this scheduler; due starts wait in a queue ordered
/// by priority (higher first), then due time, then arrival. 0: no cap (the default).
inline detail::max_concurrent_option with_max_concurrent(std::size_t n) { return {n}; }
/// The clock and timer to use (default: make_system_clock on the registry's executor). A test
/// passes a jobs::test_clock. Throws std::invalid_argument for a null clock.
inline detail::clock_option with_clock(std::shared_ptr<scheduler_clock> c) { return {std::move(c)}; }
/// A tick seen more than `d` after its due time (default 1 s), or once a later tick of the same
/// schedule is due too, was missed (the process was suspended or busy): see catch_up(). Throws
/// std::invalid_argument for a negative `d`.
template <class Rep, class Period>
detail::misfire_grace_option with_misfire_grace(std::chrono::duration<Rep, Period> d) {
  return {detail::to_ns(d, "jobs::with_misfire_grace: the grace")};
}

// ---- schedule options (per add) -------------------------------------------------------------

/// The overlap policy (default overlap::skip).
inline detail::overlap_option with_overlap(overlap o) { return {o}; }
/// The priority in the queue of with_max_concurrent: higher runs first (default 0).
inline detail::priority_option with_priority(int p) { return {p}; }
/// The schedule runs alone: its start waits until no other scheduled start runs, and holds every
/// other start back until it has ended.
inline detail::exclusive_option exclusive() { return {}; }
/// Missed ticks (see with_misfire_grace): with catch_up(true), the default, the schedule runs
/// once when the scheduler sees them, however many were missed (counted in ticks_caught_up);
/// with catch_up(false) they are skipped (counted in ticks_skipped) and the next tick is planned.
inline detail::catch_up_option catch_up(bool on = true) { return {on}; }
/// The schedule is added paused (see scheduler::resume).
inline detail::paused_option start_paused() { return {}; }
/// The params of every start of this schedule (executor::async_start's params).
inline detail::params_option with_params(std::any p) { return {std::move(p)}; }

// ---- statistics ----------------------------------------------------------------------------------

/// A snapshot of one schedule. `boost::json::value_from(s)` gives the object that
/// registry.stats() shows under "schedule" for a scheduled entry: {"spec", "next_due" (RFC 3339
/// UTC or null), "paused", "last_start" (or null), "last_outcome" (or null), "ticks_run",
/// "ticks_skipped", "ticks_caught_up", "ticks_missed", "last_end" (or null), "last_error",
/// "running", "queued", "overlap", "priority", "exclusive", "catch_up"}.
struct schedule_stats {
  using time_point = std::chrono::system_clock::time_point;
  std::string id;
  std::string spec;
  std::optional<time_point> next_due;  ///< none while paused or when nothing matches any more
  bool paused = false;
  std::optional<time_point> last_start;  ///< scheduler clock time the last start was launched
  std::optional<time_point> last_end;
  /// How the last start ended: "succeeded", "failed", "canceled" (stop(), cancel_previous, a
  /// drain), "refused" (the executor refused it: cooldown, once, shutting down, still pending);
  /// empty before the first.
  std::string last_outcome;
  std::string last_error;             ///< what() of the last start's error, "" on success
  std::uint64_t ticks_run = 0;        ///< starts launched (ticks, catch-ups and triggers)
  std::uint64_t ticks_skipped = 0;    ///< ticks that started nothing (overlap, missed, refused)
  std::uint64_t ticks_caught_up = 0;  ///< starts that caught up missed ticks
  std::uint64_t ticks_missed = 0;     ///< times missed ticks were seen (caught up or skipped)
  bool running = false;               ///< a scheduled start is in progress
  bool queued = false;                ///< a start waits for a slot (with_max_concurrent, exclusive)
  jobs::overlap overlap = jobs::overlap::skip;
  int priority = 0;
  bool exclusive = false;
  bool catch_up = true;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const schedule_stats& s);

// ---- scheduler -----------------------------------------------------------------------------------

/// Runs executors on cron schedules. Each schedule has one persistent executor (so its cooldown,
/// once and statistics hold across ticks), registered in the scheduler's registry.
///
/// \par Timing
/// One wake-up is armed at a time, at the earliest due time of all schedules (none while nothing
/// is due): 10^5 idle schedules cost no CPU. Times come from the scheduler's clock (with_clock);
/// a wall-clock jump, forward or back, plans every schedule again from the new time: ticks jumped
/// over are not run, and a tick already run is not run again when the clock goes back by up to
/// three hours (cron's rule; after a bigger step back the schedule follows the new time).
///
/// \par Drain
/// When the registry drains, the scheduler stops ticking first (queued starts are dropped and
/// counted skipped; running ones are the drain's), then the registry drains. reopen() on the
/// registry resumes ticking, planned from the time then (nothing is caught up).
///
/// \par Errors
/// An unknown id → std::out_of_range naming it; a bad spec → std::invalid_argument naming the
/// field and position (jobs::cron::schedule::parse); a duplicate id → jobs::error with
/// errc::duplicate_id.
///
/// \par Thread safety
/// Every member may be called from any thread at any time. Destroying the scheduler stops it
/// (starts in progress go on; their executors stay in the registry).
class scheduler {
 public:
  using time_point = std::chrono::system_clock::time_point;

  /// Options: with_max_concurrent, with_clock, with_misfire_grace.
  template <class... Options>
  explicit scheduler(registry reg, Options&&... options)
      : scheduler(std::move(reg), make_config(std::forward<Options>(options)...)) {}
  scheduler(registry reg, detail::scheduler_config config);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// Schedules `e` (under its job's id) on `s`. Adds `e` to the registry unless the registry
  /// already has it (an entry with that id holding this executor; another entry with the id →
  /// jobs::error errc::duplicate_id). Options: with_overlap, with_priority, exclusive,
  /// catch_up, start_paused, with_params. Throws jobs::error errc::duplicate_id if the id is
  /// already scheduled, std::invalid_argument for a moved-from executor handle.
  template <class... Options>
  void add(executor e, cron::schedule s, Options&&... options) {
    add_impl(std::move(e), std::move(s), make_schedule_config(std::forward<Options>(options)...));
  }
  /// add(e, cron::schedule::parse(spec), options...).
  template <class... Options>
  void add(executor e, std::string_view spec, Options&&... options) {
    add(std::move(e), cron::schedule::parse(spec), std::forward<Options>(options)...);
  }

  /// Unschedules `id`; a start in progress goes on. The executor leaves the registry if add()
  /// put it there. Throws std::out_of_range for an unknown id.
  void remove(std::string_view id);
  /// No more ticks until resume() (a start in progress goes on; a queued one is dropped).
  void pause(std::string_view id);
  /// Ticks again, planned from now (ticks during the pause are not caught up).
  void resume(std::string_view id);
  /// Runs the schedule now, through its overlap policy and the concurrency cap (also while
  /// paused); its due time does not change.
  void trigger(std::string_view id);
  /// The next due time; empty while paused or if nothing matches any more.
  std::optional<time_point> next(std::string_view id) const;
  schedule_stats stats(std::string_view id) const;
  /// Whether `id` is scheduled.
  bool contains(std::string_view id) const;
  /// How many schedules there are.
  std::size_t size() const;
  /// How many scheduled starts are running now.
  std::size_t running() const;

  /// Stops ticking (as a drain does; start() resumes). Starts in progress go on.
  void stop();
  /// Ticks again after stop(), planned from now.
  void start();

  const registry& get_registry() const noexcept;
  /// The scheduler's clock (with_clock, or the system clock).
  const std::shared_ptr<scheduler_clock>& clock() const noexcept;

 private:
  template <class... Options>
  static detail::scheduler_config make_config(Options&&... options) {
    detail::scheduler_config c;
    (detail::apply(c, std::forward<Options>(options)), ...);
    return c;
  }
  template <class... Options>
  static detail::schedule_config make_schedule_config(Options&&... options) {
    detail::schedule_config c;
    (detail::apply(c, std::forward<Options>(options)), ...);
    return c;
  }
  void add_impl(executor e, cron::schedule s, detail::schedule_config c);

  registry reg_;
  std::shared_ptr<detail::scheduler_state> state_;
};

}  // namespace jobs
