// The scheduler's core: planning (one due set, one armed wake-up), ticks through the overlap
// policies, catch-up of missed ticks, the queue under the concurrency cap, exclusive schedules.
//
// Everything mutable is guarded by one mutex. Launching a start (executor::async_start) under it
// is safe: a start never completes inside its initiating call, and the executor calls nothing
// of ours under its own lock. executor::stop() is called after the mutex is released.
#include "scheduler_state.hpp"

#include <jobs/detail/executor_access.hpp>

#include <stdexcept>

namespace jobs::detail {

namespace {

std::string quoted_id(std::string_view id) {
  std::string out = "\"";
  out += id.substr(0, 200);
  out += id.size() > 200 ? "\"..." : "\"";
  return out;
}

}  // namespace

scheduler_state::scheduler_state(registry r, scheduler_config c) : reg_(std::move(r)), cfg_(std::move(c)) {}

sched_entry& scheduler_state::find_locked(std::string_view id, const char* op) const {
  const auto it = by_id_.find(id);
  if (it == by_id_.end())
    throw std::out_of_range(std::string("jobs::scheduler::") + op + ": no schedule with id " + quoted_id(id));
  return *it->second;
}

std::optional<scheduler_state::time_point> scheduler_state::next_after(const sched_entry& e,
                                                                       time_point t) const {
  const time_point n = e.spec.next(t);
  if (n == time_point{} || n == time_point::max()) return std::nullopt;  // nothing matches any more
  return n;
}

void scheduler_state::plan_locked(sched_entry& e, std::optional<time_point> due) {
  if (e.due) due_.erase({*e.due, e.serial, &e});
  e.due = due;
  if (due) due_.emplace(*due, e.serial, &e);
}

// After a clock change: every schedule from `now`, except that a tick already seen is not run
// again when the clock went back by up to three hours (cron's rule for small changes); a
// bigger step back (a clock that was wrong) plans from the new time.
void scheduler_state::replan_all_locked(time_point now) {
  constexpr auto rerun_limit = std::chrono::hours(3);
  due_.clear();
  for (auto& [id, e] : by_id_) {
    e->due.reset();
    if (e->paused) continue;
    time_point from = now;
    if (e->last_tick && *e->last_tick > now && *e->last_tick - now <= rerun_limit) from = *e->last_tick;
    plan_locked(*e, next_after(*e, from));
  }
}

// A tick of `e`: through the overlap policy when its previous start is running or queued, else
// into the queue (dispatch_locked launches it at once if a slot is free).
void scheduler_state::tick_locked(sched_entry& e, tick_kind kind, time_point due, stop_list& stops) {
  if (!e.running && !e.queued) {
    enqueue_locked(e, kind, due);
    return;
  }
  switch (e.cfg.overlap) {
    case overlap::skip: ++e.ticks_skipped; return;
    case overlap::buffer_one:
      if (e.queued || e.buffered) {
        ++e.ticks_skipped;  // the waiting start covers this tick
        return;
      }
      e.buffered = true;
      e.buffered_kind = kind;
      return;
    case overlap::cancel_previous:
      if (e.queued || e.restart) {
        ++e.ticks_skipped;
        return;
      }
      e.restart = true;
      stops.push_back(e.exec);
      return;
  }
}

void scheduler_state::enqueue_locked(sched_entry& e, tick_kind kind, time_point due) {
  e.queue_key = {-e.cfg.priority, due, ++arrivals_};
  queue_.emplace(e.queue_key, &e);
  e.queued = true;
  if (e.cfg.exclusive) ++exclusive_waiting_;
  e.queued_kind = kind;
}

void scheduler_state::dequeue_locked(sched_entry& e, bool count_skipped) {
  if (!e.queued) return;
  queue_.erase({e.queue_key, &e});
  e.queued = false;
  if (e.cfg.exclusive) --exclusive_waiting_;
  if (count_skipped) ++e.ticks_skipped;
}

// Launches from the head of the queue while the head may run: strict order, so that a higher
// priority is never overtaken. While an exclusive schedule waits, nothing else is launched (it
// would never find the scheduler idle otherwise); it runs once nothing else does.
void scheduler_state::dispatch_locked() {
  while (!queue_.empty() && !stopped_locked()) {
    if (cfg_.max_concurrent != 0 && running_ >= cfg_.max_concurrent) return;
    if (exclusive_running_) return;
    auto it = queue_.begin();
    if (exclusive_waiting_ > 0) {
      if (running_ > 0) return;
      while (!it->second->cfg.exclusive) ++it;
    }
    sched_entry& e = *it->second;
    dequeue_locked(e, false);
    launch_locked(e, e.queued_kind);
  }
}

void scheduler_state::launch_locked(sched_entry& e, tick_kind kind) {
  auto sp = by_id_.at(e.id);
  e.running = true;
  e.running_kind = kind;
  ++running_;
  if (e.cfg.exclusive) exclusive_running_ = true;
  ++e.ticks_run;
  if (kind == tick_kind::caught_up) ++e.ticks_caught_up;
  e.last_start = cfg_.clock->now();
  try {
    e.exec.async_start(e.cfg.params, [w = weak_from_this(), sp](std::exception_ptr ep) mutable {
      if (auto s = w.lock()) s->on_end(sp, std::move(ep));
    });
  } catch (...) {  // out of memory, or the job's context has shut down
    finish_locked(e, std::current_exception());
  }
}

void scheduler_state::on_end(const std::shared_ptr<sched_entry>& sp, std::exception_ptr ep) {
  std::lock_guard lk(mu_);
  finish_locked(*sp, ep);
}

void scheduler_state::finish_locked(sched_entry& e, const std::exception_ptr& ep) {
  if (!e.running) return;
  auto [outcome, error] = classify_outcome(ep);
  e.running = false;
  --running_;
  if (e.cfg.exclusive) exclusive_running_ = false;
  e.last_end = cfg_.clock->now();
  if (is_refusal(ep)) {
    --e.ticks_run;
    ++e.ticks_skipped;
    if (e.running_kind == tick_kind::caught_up) --e.ticks_caught_up;
  }
  e.last_outcome = std::move(outcome);
  e.last_error = std::move(error);
  if (!e.removed && !stopped_locked()) {
    const time_point now = cfg_.clock->now();
    if (e.restart) {
      e.restart = false;
      enqueue_locked(e, tick_kind::triggered, now);
    } else if (e.buffered) {
      e.buffered = false;
      enqueue_locked(e, e.buffered_kind, now);
    }
  } else {
    e.restart = e.buffered = false;
  }
  dispatch_locked();
}

void scheduler_state::on_wake(std::uint64_t gen, wake w) {
  stop_list stops;
  {
    std::lock_guard lk(mu_);
    if (gen != wake_gen_ || stopped_locked()) return;
    armed_at_.reset();
    const time_point now = cfg_.clock->now();
    if (w == wake::jumped) {
      replan_all_locked(now);
    } else {
      while (!due_.empty() && std::get<0>(*due_.begin()) <= now) {
        const auto [due, serial, ep] = *due_.begin();
        sched_entry& e = *ep;
        due_.erase(due_.begin());
        e.due.reset();
        e.last_tick = due;
        const auto following = next_after(e, due);
        const bool missed = (following && *following <= now) || now - due > cfg_.misfire_grace;
        if (missed) {
          ++e.ticks_missed;
          if (e.cfg.catch_up)
            tick_locked(e, tick_kind::caught_up, due, stops);
          else
            ++e.ticks_skipped;
          plan_locked(e, next_after(e, now));
        } else {
          tick_locked(e, tick_kind::scheduled, due, stops);
          plan_locked(e, following);
        }
      }
    }
    dispatch_locked();
    rearm_locked();
  }
  stop_all(stops);
}

void scheduler_state::rearm_locked() {
  if (stopped_locked() || due_.empty()) {
    if (armed_at_) {
      armed_at_.reset();
      ++wake_gen_;
      cfg_.clock->disarm();
    }
    return;
  }
  const time_point earliest = std::get<0>(*due_.begin());
  if (armed_at_ == earliest) return;
  const std::uint64_t gen = ++wake_gen_;
  armed_at_ = earliest;
  cfg_.clock->arm(earliest, [w = weak_from_this(), gen](wake why) {
    if (auto s = w.lock()) s->on_wake(gen, why);
  });
}

void scheduler_state::stop_all(stop_list& stops) noexcept {
  for (auto& e : stops) {
    try {
      e.stop();
    } catch (...) {  // the executor's own failure to stop: nothing to add
    }
  }
}

// ---- members --------------------------------------------------------------------------------------

void scheduler_state::add(executor e, cron::schedule s, schedule_config c) {
  if (!executor_access::state(e))
    throw std::invalid_argument(
        "jobs::scheduler::add: the executor handle was moved from (it holds no executor)");
  std::string id = e.get_job().id();
  std::lock_guard lk(mu_);
  if (by_id_.count(id))
    throw error(errc::duplicate_id,
                "jobs::scheduler::add: a schedule with id " + quoted_id(id) + " already exists");
  bool added = false;
  if (auto found = reg_.find(id)) {
    if (!found->executor || !(*found->executor == e))
      throw error(errc::duplicate_id, "jobs::scheduler::add: the registry holds another job with id " +
                                          quoted_id(id) + " (not this executor)");
  } else {
    jobs::registry(reg_).add(e);
    added = true;
  }
  auto entry = std::make_shared<sched_entry>(std::move(id), std::move(e), std::move(s), std::move(c));
  entry->added_to_registry = added;
  entry->serial = ++serials_;
  entry->paused = entry->cfg.paused;
  try {
    by_id_.emplace(entry->id, entry);
    if (!entry->paused) plan_locked(*entry, next_after(*entry, cfg_.clock->now()));
    rearm_locked();
  } catch (...) {
    if (entry->due) due_.erase({*entry->due, entry->serial, entry.get()});
    by_id_.erase(entry->id);
    if (added) jobs::registry(reg_).remove(entry->id);
    throw;
  }
}

void scheduler_state::remove(std::string_view id) {
  std::shared_ptr<sched_entry> gone;  // destroyed outside the mutex
  {
    std::lock_guard lk(mu_);
    sched_entry& e = find_locked(id, "remove");
    gone = by_id_.at(e.id);
    plan_locked(e, std::nullopt);
    dequeue_locked(e, false);
    e.removed = true;
    e.buffered = e.restart = false;
    by_id_.erase(e.id);
    if (e.added_to_registry) jobs::registry(reg_).remove(e.id);
    dispatch_locked();
    rearm_locked();
  }
}

void scheduler_state::pause(std::string_view id) {
  std::lock_guard lk(mu_);
  sched_entry& e = find_locked(id, "pause");
  if (e.paused) return;
  e.paused = true;
  plan_locked(e, std::nullopt);
  dequeue_locked(e, true);
  e.buffered = false;
  dispatch_locked();
  rearm_locked();
}

void scheduler_state::resume(std::string_view id) {
  std::lock_guard lk(mu_);
  sched_entry& e = find_locked(id, "resume");
  if (!e.paused) return;
  e.paused = false;
  plan_locked(e, next_after(e, cfg_.clock->now()));
  rearm_locked();
}

void scheduler_state::trigger(std::string_view id) {
  stop_list stops;
  {
    std::lock_guard lk(mu_);
    sched_entry& e = find_locked(id, "trigger");
    if (stopped_locked()) {
      ++e.ticks_skipped;
      return;
    }
    tick_locked(e, tick_kind::triggered, cfg_.clock->now(), stops);
    dispatch_locked();
  }
  stop_all(stops);
}

std::optional<scheduler_state::time_point> scheduler_state::next(std::string_view id) const {
  std::lock_guard lk(mu_);
  return find_locked(id, "next").due;
}

bool scheduler_state::contains(std::string_view id) const {
  std::lock_guard lk(mu_);
  return by_id_.count(id) != 0;
}

std::size_t scheduler_state::size() const {
  std::lock_guard lk(mu_);
  return by_id_.size();
}

std::size_t scheduler_state::running() const {
  std::lock_guard lk(mu_);
  return running_;
}

void scheduler_state::stop(bool drain) noexcept {
  std::lock_guard lk(mu_);
  (drain ? stopped_by_drain_ : stopped_by_user_) = true;
  while (!queue_.empty()) dequeue_locked(*queue_.begin()->second, true);
  for (auto& [id, e] : by_id_) e->buffered = e->restart = false;
  try {
    rearm_locked();  // disarms (cannot throw: disarm is noexcept)
  } catch (...) {
  }
}

void scheduler_state::start(bool drain) {
  std::lock_guard lk(mu_);
  (drain ? stopped_by_drain_ : stopped_by_user_) = false;
  if (stopped_locked()) return;
  replan_all_locked(cfg_.clock->now());
  rearm_locked();
}

void scheduler_state::on_drain() noexcept { stop(true); }

void scheduler_state::on_reopen() noexcept {
  try {
    start(true);
  } catch (...) {  // out of memory re-planning: the schedules stay stopped
  }
}

}  // namespace jobs::detail
