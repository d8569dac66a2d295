// The scheduler's shared state: its schedules, the due set behind the one armed wake-up, the
// queue of starts waiting for a slot, and the registry hook. Private to libscheduler.
#pragma once

#include <jobs/detail/registry_extension.hpp>
#include <jobs/scheduler.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobs::detail {

/// Why a start is launched.
enum class tick_kind : std::uint8_t { scheduled, caught_up, triggered };

/// One schedule. Every mutable member is guarded by the scheduler's mutex.
struct sched_entry {
  using time_point = std::chrono::system_clock::time_point;

  sched_entry(std::string i, executor e, cron::schedule s, schedule_config c)
      : id(std::move(i)), exec(std::move(e)), spec(std::move(s)), cfg(std::move(c)) {}

  const std::string id;
  executor exec;
  const cron::schedule spec;
  const schedule_config cfg;
  bool added_to_registry = false;
  std::uint64_t serial = 0;  // order of add: ties in due time tick in this order

  bool removed = false;
  bool paused = false;
  std::optional<time_point> due;        // in the due set when set (and not paused)
  std::optional<time_point> last_tick;  // the due time of the last tick seen (not triggers)
  bool running = false;
  tick_kind running_kind = tick_kind::scheduled;
  bool queued = false;
  tick_kind queued_kind = tick_kind::scheduled;
  std::tuple<int, time_point, std::uint64_t> queue_key{};  // (-priority, due, arrival)
  bool buffered = false;                                   // buffer_one: one more start after the running one
  tick_kind buffered_kind = tick_kind::scheduled;
  bool restart = false;  // cancel_previous: start again once the stopped start has ended

  std::optional<time_point> last_start, last_end;
  std::string last_outcome, last_error;
  std::uint64_t ticks_run = 0, ticks_skipped = 0, ticks_caught_up = 0, ticks_missed = 0;
};

class scheduler_state final : public registry_extension,
                              public std::enable_shared_from_this<scheduler_state> {
 public:
  using time_point = std::chrono::system_clock::time_point;

  scheduler_state(registry r, scheduler_config c);

  // registry_extension
  void annotate(const registry::entry& e, boost::json::object& stats) const override;
  void on_drain() noexcept override;
  void on_reopen() noexcept override;

  void add(executor e, cron::schedule s, schedule_config c);
  void remove(std::string_view id);
  void pause(std::string_view id);
  void resume(std::string_view id);
  void trigger(std::string_view id);
  std::optional<time_point> next(std::string_view id) const;
  schedule_stats stats(std::string_view id) const;
  bool contains(std::string_view id) const;
  std::size_t size() const;
  std::size_t running() const;
  /// `drain`: stopped by the registry's drain (else by the user); ticking resumes only once
  /// neither holds it.
  void stop(bool drain) noexcept;
  void start(bool drain);

  const std::shared_ptr<scheduler_clock>& clock() const noexcept { return cfg_.clock; }

 private:
  using stop_list = std::vector<executor>;

  sched_entry& find_locked(std::string_view id, const char* op) const;
  std::optional<time_point> next_after(const sched_entry& e, time_point t) const;
  void plan_locked(sched_entry& e, std::optional<time_point> due);
  void replan_all_locked(time_point now);
  void tick_locked(sched_entry& e, tick_kind kind, time_point due, stop_list& stops);
  void enqueue_locked(sched_entry& e, tick_kind kind, time_point due);
  void dequeue_locked(sched_entry& e, bool count_skipped);
  void dispatch_locked();
  void launch_locked(sched_entry& e, tick_kind kind);
  void on_end(const std::shared_ptr<sched_entry>& e, std::exception_ptr ep);
  void finish_locked(sched_entry& e, const std::exception_ptr& ep);
  void on_wake(std::uint64_t gen, wake w);
  void rearm_locked();
  bool stopped_locked() const noexcept { return stopped_by_user_ || stopped_by_drain_; }
  static void stop_all(stop_list& stops) noexcept;

  const registry reg_;
  const scheduler_config cfg_;

  mutable std::mutex mu_;
  std::unordered_map<std::string_view, std::shared_ptr<sched_entry>> by_id_;  // key: the entry's id
  std::set<std::tuple<time_point, std::uint64_t, sched_entry*>> due_;
  std::uint64_t serials_ = 0;
  std::size_t exclusive_waiting_ = 0;  // exclusive entries in the queue
  std::set<std::pair<std::tuple<int, time_point, std::uint64_t>, sched_entry*>> queue_;
  std::uint64_t arrivals_ = 0;
  std::size_t running_ = 0;
  bool exclusive_running_ = false;
  bool stopped_by_user_ = false;
  bool stopped_by_drain_ = false;
  std::uint64_t wake_gen_ = 0;
  std::optional<time_point> armed_at_;
};

/// The outcome of a start as schedule_stats::last_outcome names it, and its error text.
std::pair<std::string, std::string> classify_outcome(const std::exception_ptr& ep);
/// Whether the start was refused by the executor (it did not run).
bool is_refusal(const std::exception_ptr& ep);

}  // namespace jobs::detail
