// jobs::registry::async_drain: close admission, wait for the running entries to end on their
// own, cancel what is left, wait again, report.
//
// One drain_op per drain, shared by every caller that waits for it. Its state lives on a strand
// of the registry's executor; the registry's mutex guards only what callers touch (the waiters,
// `completed`). How it learns that an entry has ended:
//   - a job's run: job.async_wait, bound to the strand and to a per-entry cancellation signal
//     (emitted when the drain completes, so that no wait, and no work count, outlives it);
//   - an executor's start that goes on while its job is idle (a retry delay; its next attempt
//     can only be refused now): polled on a timer, 1 ms doubling to 50 ms, as the executor has
//     no "start ended" event to wait for.
// Two grace timers bound it whatever the jobs do, so a body that ignores cancellation is
// reported, never waited for.
#include "registry_state.hpp"

#include <jobs/detail/completion.hpp>
#include <jobs/detail/registry_extension.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace jobs {

namespace detail {

using std::chrono::nanoseconds;
using std::chrono::steady_clock;

namespace {

constexpr nanoseconds first_poll = std::chrono::milliseconds(1);
constexpr nanoseconds max_poll = std::chrono::milliseconds(50);

struct drain_waiter {
  drain_handler handler;
  asio::any_completion_executor work;  // the handler's executor, work counted
};

// One entry the drain follows. Never erased while the drain lives: a job's async_wait may still
// be bound to `wait_signal`.
struct followed {
  explicit followed(registry::entry e) : entry(std::move(e)) {}
  registry::entry entry;
  bool running = false;   // counted in running_
  bool waiting = false;   // a job.async_wait is in flight
  bool polling = false;   // in polling_
  bool canceled = false;  // the drain cancelled it
  bool removed = false;   // removed from the registry: no longer followed
  asio::cancellation_signal wait_signal;
};

}  // namespace

class drain_op : public std::enable_shared_from_this<drain_op> {
 public:
  drain_op(std::shared_ptr<registry_state> reg, nanoseconds grace)
      : reg_(std::move(reg)),
        grace_(grace),
        strand_(asio::make_strand(reg_->ex)),
        grace_timer_(strand_),
        poll_timer_(strand_),
        started_(steady_clock::now()) {}

  // ---- guarded by the registry's mutex ----
  std::vector<drain_waiter> waiters;
  bool completed = false;
  std::vector<std::pair<std::uint64_t, registry::entry>> initial;  // the entries when it started

  // ---- any thread: each posts to the strand (and may throw std::bad_alloc, changing nothing) ----
  void post_begin() {
    on_strand([](drain_op& d) { d.begin(); });
  }
  void post_added(std::uint64_t serial, const registry::entry& e) {
    on_strand([serial, e](drain_op& d) { d.track(serial, e); });
  }
  void post_removed(std::uint64_t serial) {
    on_strand([serial](drain_op& d) { d.untrack(serial); });
  }
  void post_cancel() {
    on_strand([](drain_op& d) { d.on_cancel(); });
  }

 private:
  enum class phase : std::uint8_t { starting, waiting, canceling, done };

  template <class F>
  void on_strand(F f) {
    asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable { self->guarded(f); });
  }

  // Runs a step on the strand. Out of memory inside a step, the drain cancels everything and
  // completes rather than risk waiting forever (no exception leaves a handler of ours).
  template <class F>
  void guarded(F& f) noexcept {
    try {
      f(*this);
    } catch (...) {
      if (phase_ == phase::done) return;
      try {
        escalate();
      } catch (...) {
      }
      try {
        complete(asio::error::no_memory);
      } catch (...) {
      }
    }
  }

  void begin() {
    std::vector<std::pair<std::uint64_t, registry::entry>> entries;
    {
      std::unique_lock lk(reg_->mu);
      entries.swap(initial);
    }
    phase_ = phase::waiting;
    for (auto& [serial, e] : entries) track(serial, std::move(e));
    if (cancel_pending_) return on_cancel();
    arm_grace();
    maybe_complete();
  }

  void track(std::uint64_t serial, registry::entry e) {
    if (phase_ == phase::done) return;
    const auto [it, inserted] = tracked_.try_emplace(serial, std::move(e));
    if (inserted) check(serial, it->second);
  }

  void untrack(std::uint64_t serial) {
    const auto it = tracked_.find(serial);
    if (phase_ == phase::done || it == tracked_.end()) return;
    followed& t = it->second;
    t.removed = true;
    if (t.running) {
      t.running = false;
      --running_;
    }
    maybe_complete();
  }

  // Looks at one entry: ended, or still running (then followed by a wait or a poll).
  void check(std::uint64_t serial, followed& t) {
    if (t.removed || phase_ == phase::done) return;
    const bool job_busy = t.entry.job.is_executing();
    const bool start_busy = !job_busy && t.entry.executor && t.entry.executor->stats().in_progress;
    if (!job_busy && !start_busy) {
      if (t.running) {
        t.running = false;
        --running_;
        if (!t.canceled) ++ended_;
      }
      return;
    }
    if (!t.running) {
      t.running = true;
      ++running_;
      if (phase_ == phase::canceling) cancel_one(t);  // found running once the drain cancels
    }
    if (job_busy && !t.waiting) {
      start_wait(serial, t);
    } else if (!job_busy && !t.polling) {
      start_poll(serial, t);
    }
  }

  void start_wait(std::uint64_t serial, followed& t) {
    t.waiting = true;
    try {
      t.entry.job.async_wait(asio::bind_cancellation_slot(
          t.wait_signal.slot(),
          asio::bind_executor(strand_, [self = shared_from_this(), serial](boost::system::error_code) {
            self->guarded_wait_end(serial);
          })));
    } catch (const std::logic_error&) {
      // The job's execution context has shut down: no run of it can end by an event any more.
      t.waiting = false;
      start_poll(serial, t);
    }
  }

  void guarded_wait_end(std::uint64_t serial) {
    auto step = [serial](drain_op& d) { d.wait_ended(serial); };
    guarded(step);
  }

  void wait_ended(std::uint64_t serial) {
    followed& t = tracked_.at(serial);
    t.waiting = false;
    if (phase_ == phase::done) return;
    check(serial, t);
    maybe_complete();
  }

  void start_poll(std::uint64_t serial, followed& t) {
    polling_.push_back(serial);
    t.polling = true;
    if (poll_armed_) return;  // the next poll takes it (on_poll itself keeps poll_armed_ set)
    poll_interval_ = first_poll;
    arm_poll();
  }

  // The poll timer is armed only while no wait of it is pending: re-arming a pending wait would
  // abort it, and its handler would poll again at once.
  void arm_poll() {
    poll_armed_ = true;
    poll_timer_.expires_after(poll_interval_);
    poll_timer_.async_wait([self = shared_from_this()](boost::system::error_code) {
      auto step = [](drain_op& d) { d.on_poll(); };
      self->guarded(step);
    });
  }

  void on_poll() {
    if (phase_ == phase::done) {
      poll_armed_ = false;
      return;
    }
    auto due = std::move(polling_);
    polling_.clear();
    for (const auto serial : due) {
      followed& t = tracked_.at(serial);
      t.polling = false;
      check(serial, t);
    }
    maybe_complete();
    if (phase_ == phase::done || polling_.empty()) {
      poll_armed_ = false;
      return;
    }
    poll_interval_ = std::min(poll_interval_ * 2, max_poll);
    arm_poll();
  }

  void arm_grace() {
    grace_timer_.expires_after(grace_);
    grace_timer_.async_wait([self = shared_from_this()](boost::system::error_code) {
      auto step = [](drain_op& d) { d.on_grace(); };
      self->guarded(step);
    });
  }

  void on_grace() {
    if (phase_ == phase::waiting) {
      escalate();
      arm_grace();
      maybe_complete();
    } else if (phase_ == phase::canceling) {
      complete({});
    }
  }

  // Cancels every entry still running; later ones are cancelled as they are found.
  void escalate() {
    phase_ = phase::canceling;
    for (auto& [serial, t] : tracked_) {
      if (!t.running || t.canceled) continue;
      try {
        cancel_one(t);
      } catch (...) {
        // Out of memory: the others are still cancelled.
      }
    }
  }

  void cancel_one(followed& t) {
    // stop() alone for an executor: it cancels the job's run too, after marking the start
    // stopped (a job.cancel() first could be taken for a failed attempt and retried).
    if (t.entry.executor)
      t.entry.executor->stop();
    else
      t.entry.job.cancel();
    t.canceled = true;  // (not if that threw: out of memory, it runs on, uncancelled)
    ++canceled_;
  }

  void on_cancel() {
    if (phase_ == phase::starting) {
      cancel_pending_ = true;
      return;
    }
    if (phase_ == phase::done) return;
    if (phase_ == phase::waiting) escalate();
    complete(asio::error::operation_aborted);
  }

  void maybe_complete() {
    if ((phase_ == phase::waiting || phase_ == phase::canceling) && running_ == 0) complete({});
  }

  static bool still_running(const registry::entry& e) noexcept {
    try {
      return is_running(e);
    } catch (...) {
      return true;  // out of memory reading the executor's stats: reported, to be safe
    }
  }

  void complete(boost::system::error_code ec) {
    phase_ = phase::done;
    grace_timer_.cancel();
    poll_timer_.cancel();
    drain_report r;
    r.canceled = canceled_;
    r.ended = ended_;
    for (auto& [serial, t] : tracked_) {
      if (t.waiting) {
        try {
          t.wait_signal.emit(asio::cancellation_type::terminal);  // its wait ends (and its work count)
        } catch (...) {
          // Out of memory posting the wait's end: it ends with its job's run instead.
        }
      }
      if (!t.running) continue;
      if (still_running(t.entry))
        r.still_running.push_back(t.entry.job.id());
      else if (!t.canceled)
        ++r.ended;  // ended just now, its event not yet seen
    }
    std::sort(r.still_running.begin(), r.still_running.end());
    r.duration = std::chrono::duration_cast<nanoseconds>(steady_clock::now() - started_);

    std::vector<drain_waiter> ws;
    {
      std::unique_lock lk(reg_->mu);
      completed = true;
      ws.swap(waiters);
      if (reg_->drain.lock().get() == this) reg_->drain.reset();
    }
    // Each on its own executor (out of memory, destroyed unrun with its work count, as Asio
    // drops a handler it cannot queue).
    for (auto& w : ws) post_completion_nothrow(reg_->ex, std::move(w.handler), std::move(w.work), ec, r);
  }

  const std::shared_ptr<registry_state> reg_;
  const nanoseconds grace_;
  asio::strand<asio::any_io_executor> strand_;

  // ---- strand only ----
  asio::steady_timer grace_timer_;
  asio::steady_timer poll_timer_;
  const steady_clock::time_point started_;
  phase phase_ = phase::starting;
  bool cancel_pending_ = false;
  bool poll_armed_ = false;
  nanoseconds poll_interval_ = first_poll;
  std::unordered_map<std::uint64_t, followed> tracked_;
  std::vector<std::uint64_t> polling_;
  std::size_t running_ = 0;
  std::size_t ended_ = 0;
  std::size_t canceled_ = 0;
};

namespace {

// Installed in a drain caller's slot: terminal or partial cancellation cuts the drain short
// (total is not supported: it changes the jobs). Holds the drain weakly: it may outlive it.
struct drain_cancellation {
  std::weak_ptr<drain_op> op;
  void operator()(asio::cancellation_type_t type) const {
    if (!stops_operation(type)) return;
    if (auto d = op.lock()) {
      try {
        d->post_cancel();
      } catch (...) {
      }
    }
  }
};

}  // namespace

void drain_added(drain_op& d, std::uint64_t serial, const registry::entry& e) { d.post_added(serial, e); }
void drain_removed(drain_op& d, std::uint64_t serial) { d.post_removed(serial); }
bool drain_in_progress(const drain_op& d) noexcept { return !d.completed; }

void initiate_drain(const std::shared_ptr<registry_state>& sp, std::chrono::nanoseconds grace,
                    drain_handler h) {
  registry_state& s = checked(sp);
  auto work = tracked(asio::get_associated_executor(h, completion_executor(s.ex)));
  auto slot = asio::get_associated_cancellation_slot(h);
  // What adds work to the registry (a scheduler) stops first, then the registry drains.
  for (const auto& x : extensions_of(s)) x->on_drain();

  std::unique_lock lk(s.mu);
  std::shared_ptr<drain_op> op = s.drain.lock();
  const bool fresh = !op || op->completed;
  if (fresh) {
    op = std::make_shared<drain_op>(sp, grace);
    op->initial.reserve(s.nodes.size());
    for (const auto& n : s.nodes) op->initial.emplace_back(n.serial, n.entry);
  }
  op->waiters.reserve(op->waiters.size() + 1);
  if (slot.is_connected()) slot.template emplace<drain_cancellation>(drain_cancellation{op});
  op->waiters.push_back(drain_waiter{std::move(h), std::move(work)});  // cannot throw now
  if (!fresh) return;                                                  // waits for the drain in progress

  const bool was_closed = s.closed;
  s.closed = true;
  for (const auto& n : s.nodes) set_closed(n.entry, true);
  try {
    op->post_begin();
  } catch (...) {
    if (!was_closed) {
      s.closed = false;
      for (const auto& n : s.nodes) set_closed(n.entry, false);
    }
    if (slot.is_connected()) slot.clear();
    throw;
  }
  s.drain = op;
}

}  // namespace detail
}  // namespace jobs
