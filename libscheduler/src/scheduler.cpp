// jobs::scheduler: the public handle, its options, and the statistics (a snapshot, its JSON, and
// the "schedule" key it adds to registry.stats()).
#include "scheduler_state.hpp"

#include <jobs/error.hpp>
#include <jobs/stats.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/system/system_error.hpp>

#include <ostream>
#include <stdexcept>

namespace jobs {

std::string_view to_string(overlap o) noexcept {
  switch (o) {
    case overlap::skip: return "skip";
    case overlap::buffer_one: return "buffer_one";
    case overlap::cancel_previous: return "cancel_previous";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, overlap o) { return os << to_string(o); }

namespace detail {

void apply(scheduler_config& c, max_concurrent_option o) { c.max_concurrent = o.n; }
void apply(scheduler_config& c, clock_option o) {
  if (!o.clock) throw std::invalid_argument("jobs::with_clock: the clock is null");
  c.clock = std::move(o.clock);
}
void apply(scheduler_config& c, misfire_grace_option o) {
  if (o.grace.count() < 0)
    throw std::invalid_argument("jobs::with_misfire_grace: the grace is negative (" +
                                std::to_string(o.grace.count()) + " ns)");
  c.misfire_grace = o.grace;
}
void apply(schedule_config& c, overlap_option o) {
  if (o.policy != overlap::skip && o.policy != overlap::buffer_one && o.policy != overlap::cancel_previous)
    throw std::invalid_argument("jobs::with_overlap: unknown overlap policy " +
                                std::to_string(static_cast<int>(o.policy)));
  c.overlap = o.policy;
}
void apply(schedule_config& c, priority_option o) { c.priority = o.priority; }
void apply(schedule_config& c, exclusive_option) { c.exclusive = true; }
void apply(schedule_config& c, catch_up_option o) { c.catch_up = o.on; }
void apply(schedule_config& c, paused_option) { c.paused = true; }
void apply(schedule_config& c, params_option o) { c.params = std::move(o.params); }

bool is_refusal(const std::exception_ptr& ep) {
  if (!ep) return false;
  try {
    std::rethrow_exception(ep);
  } catch (const error& e) {
    const auto c = e.code();
    return c == errc::cooldown || c == errc::once || c == errc::still_pending || c == errc::shutting_down;
  } catch (...) {
  }
  return false;
}

std::pair<std::string, std::string> classify_outcome(const std::exception_ptr& ep) {
  if (!ep) return {"succeeded", ""};
  try {
    std::rethrow_exception(ep);
  } catch (const boost::system::system_error& e) {
    if (is_refusal(ep)) return {"refused", e.what()};
    if (e.code() == errc::canceled) return {"canceled", e.what()};
    return {"failed", e.what()};
  } catch (const std::exception& e) {
    return {"failed", e.what()};
  } catch (...) {
    return {"failed", "unknown exception"};
  }
}

void scheduler_state::annotate(const registry::entry& re, boost::json::object& out) const {
  std::optional<schedule_stats> s;
  {
    std::lock_guard lk(mu_);
    const auto it = by_id_.find(re.id());
    if (it == by_id_.end() || !re.executor || !(*re.executor == it->second->exec)) return;
  }
  try {
    s = stats(re.id());
  } catch (const std::out_of_range&) {  // removed meanwhile
    return;
  }
  out["schedule"] = boost::json::value_from(*s);
}

schedule_stats scheduler_state::stats(std::string_view id) const {
  std::lock_guard lk(mu_);
  const sched_entry& e = find_locked(id, "stats");
  schedule_stats s;
  s.id = e.id;
  s.spec = e.spec.spec();
  s.next_due = e.due;
  s.paused = e.paused;
  s.last_start = e.last_start;
  s.last_end = e.last_end;
  s.last_outcome = e.last_outcome;
  s.last_error = e.last_error;
  s.ticks_run = e.ticks_run;
  s.ticks_skipped = e.ticks_skipped;
  s.ticks_caught_up = e.ticks_caught_up;
  s.ticks_missed = e.ticks_missed;
  s.running = e.running;
  s.queued = e.queued;
  s.overlap = e.cfg.overlap;
  s.priority = e.cfg.priority;
  s.exclusive = e.cfg.exclusive;
  s.catch_up = e.cfg.catch_up;
  return s;
}

}  // namespace detail

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const schedule_stats& s) {
  auto time = [](const std::optional<schedule_stats::time_point>& t) -> boost::json::value {
    if (!t) return nullptr;
    return boost::json::string(format_rfc3339(*t));
  };
  boost::json::object o;
  o["spec"] = s.spec;
  o["next_due"] = time(s.next_due);
  o["paused"] = s.paused;
  o["last_start"] = time(s.last_start);
  if (s.last_outcome.empty())
    o["last_outcome"] = nullptr;
  else
    o["last_outcome"] = s.last_outcome;
  o["ticks_run"] = s.ticks_run;
  o["ticks_skipped"] = s.ticks_skipped;
  o["ticks_caught_up"] = s.ticks_caught_up;
  o["ticks_missed"] = s.ticks_missed;
  o["last_end"] = time(s.last_end);
  o["last_error"] = s.last_error;
  o["running"] = s.running;
  o["queued"] = s.queued;
  o["overlap"] = to_string(s.overlap);
  o["priority"] = s.priority;
  o["exclusive"] = s.exclusive;
  o["catch_up"] = s.catch_up;
  v = std::move(o);
}

// ---- scheduler ------------------------------------------------------------------------------------

namespace {
detail::scheduler_config with_default_clock(const registry& reg, detail::scheduler_config c) {
  if (!c.clock) c.clock = make_system_clock(reg.get_executor());
  return c;
}
}  // namespace

scheduler::scheduler(registry reg, detail::scheduler_config config)
    : reg_(std::move(reg)),
      state_(std::make_shared<detail::scheduler_state>(reg_, with_default_clock(reg_, std::move(config)))) {
  detail::add_extension(reg_, state_);
  if (reg_.is_closed()) state_->stop(true);
}

scheduler::~scheduler() {
  detail::remove_extension(reg_, state_.get());
  state_->stop(false);
}

void scheduler::add_impl(executor e, cron::schedule s, detail::schedule_config c) {
  state_->add(std::move(e), std::move(s), std::move(c));
}
void scheduler::remove(std::string_view id) { state_->remove(id); }
void scheduler::pause(std::string_view id) { state_->pause(id); }
void scheduler::resume(std::string_view id) { state_->resume(id); }
void scheduler::trigger(std::string_view id) { state_->trigger(id); }
std::optional<scheduler::time_point> scheduler::next(std::string_view id) const { return state_->next(id); }
schedule_stats scheduler::stats(std::string_view id) const { return state_->stats(id); }
bool scheduler::contains(std::string_view id) const { return state_->contains(id); }
std::size_t scheduler::size() const { return state_->size(); }
std::size_t scheduler::running() const { return state_->running(); }
void scheduler::stop() { state_->stop(false); }
void scheduler::start() { state_->start(false); }
const registry& scheduler::get_registry() const noexcept { return reg_; }
const std::shared_ptr<scheduler_clock>& scheduler::clock() const noexcept { return state_->clock(); }

}  // namespace jobs
