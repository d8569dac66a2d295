// Waiting for and watching a job: blocking wait(), async_wait, async_watch and the snapshots
// they are given. Handlers complete on their own executors (jobs/detail/completion.hpp).
#include "job_impl.hpp"
#include "run_errors.hpp"

#include <jobs/detail/completion.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>

namespace jobs::detail {

namespace {

using std::chrono::steady_clock;

// Installed in an async_wait caller's slot: any type cancels the wait only.
struct wait_cancellation {
  std::weak_ptr<job_impl> job;
  std::uint64_t key;
  void operator()(asio::cancellation_type_t type) const {
    if (type == asio::cancellation_type::none) return;
    if (auto j = job.lock()) j->cancel_wait(key);
  }
};

// Installed in an async_watch caller's slot: any type cancels the watch only.
struct watch_cancellation {
  std::weak_ptr<job_impl> job;
  std::uint64_t key;
  void operator()(asio::cancellation_type_t type) const {
    if (type == asio::cancellation_type::none) return;
    if (auto j = job.lock()) j->cancel_watch(key);
  }
};

}  // namespace

void job_impl::wait() {
  const auto would_deadlock = [] {
    return std::logic_error(
        "jobs::job::wait() called from the job's own strand (its body or a callback "
        "of its run): it would deadlock; use async_wait");
  };
  if (blocking_guard::active(this)) throw would_deadlock();
  std::unique_lock lk(mu);
  if (!is_pending(st_locked())) return;
  // A run is pending. On the job's strand (its body, or a completion handler that the end of the
  // previous run dispatched there, inline) that run could never start or end.
  if (running_in(strand_ex)) {
    lk.unlock();
    throw would_deadlock();
  }
  const std::uint64_t run = generation;
  auto& cv = blocking_cv_locked();
  ++blocked;
  cv.wait(lk, [&] { return finished >= run; });
  --blocked;
}

void job_impl::async_wait(const std::shared_ptr<job_impl>& self, wait_handler h) {
  assert(self.get() == this);
  auto work = tracked(asio::get_associated_executor(h, ex.completion()));
  auto slot = asio::get_associated_cancellation_slot(h);
  std::unique_lock lk(mu);
  check_attached_locked();
  if (!is_pending(st_locked())) {
    lk.unlock();
    post_completion(ex.get(), std::move(h), std::move(work), boost::system::error_code{});
    return;
  }
  auto& r = room_locked();
  const std::uint64_t key = ++r.next_wait_key;
  r.waits.push_back(pending_wait{std::move(h), std::move(work), key});
  if (slot.is_connected()) {
    try {
      slot.template emplace<wait_cancellation>(wait_cancellation{std::weak_ptr<job_impl>(self), key});
    } catch (...) {
      r.waits.pop_back();
      throw;
    }
  }
}

namespace {

// The pending async wait or watch with `key`, taken out of the job's waiting room (its list
// `from`) under the job's mutex (none if it has completed already). Its handler is then
// completed outside the mutex.
template <class Pending>
std::list<Pending> take_pending(job_impl& j, std::list<Pending> waiting_room::*from, std::uint64_t key) {
  std::list<Pending> taken;
  std::lock_guard lk(j.mu);
  if (!j.room) return taken;
  auto& list = (*j.room).*from;
  const auto it = std::find_if(list.begin(), list.end(), [key](const Pending& p) { return p.key == key; });
  if (it != list.end()) taken.splice(taken.end(), list, it);
  return taken;
}

}  // namespace

// Both run from a cancellation slot, inside whoever emitted the signal: never throw into it (out
// of memory, the wait or watch is destroyed unrun, as Asio drops a handler it cannot queue).
void job_impl::cancel_wait(std::uint64_t key) noexcept {
  for (auto& w : take_pending(*this, &waiting_room::waits, key))
    post_completion_nothrow(ex.get(), std::move(w.handler), std::move(w.work),
                            boost::system::error_code(asio::error::operation_aborted));
}

void job_impl::fill_locked(jobs::stats& s) const {
  s.id = id;
  s.labels = label_set();
  s.state = st_locked();
  s.progress = progress;
  s.started_at = started;
  s.execution_time = execution_time_locked();
  s.version = version;
  s.error = error_text_locked();
}

const std::string& job_impl::error_text_locked() const noexcept {
  if (error_kind != run_error::body) return library_error_text(error_kind);
  return body_error_text ? *body_error_text : library_error_text(run_error::none);
}

jobs::stats job_impl::snapshot() const {
  jobs::stats s;
  std::lock_guard lk(mu);
  fill_locked(s);
  return s;
}

void job_impl::changed_locked(watch_batch& out) {
  ++version;
  if (!room || room->watches.empty()) return;  // the common case costs two branches
  auto& watches = room->watches;
  jobs::stats snap;
  fill_locked(snap);
  // Everything that can throw (bad_alloc) comes before a watcher is moved out of `watches`: a
  // failure leaves it queued and intact, never moved-from (an empty handler and executor there
  // would crash the next delivery).
  out.reserve(out.size() + watches.size());
  for (auto it = watches.begin(); it != watches.end();) {
    if (it->after < version) {
      jobs::stats copy = snap;
      out.push_back(ready_watch{std::move(*it), std::move(copy)});
      it = watches.erase(it);
    } else {
      ++it;
    }
  }
}

void job_impl::deliver(watch_batch& b) noexcept {
  for (auto& r : b)
    post_completion_nothrow(ex.get(), std::move(r.watch.handler), std::move(r.watch.work),
                            boost::system::error_code{}, std::move(r.snapshot));
  b.clear();
}

void job_impl::async_watch(const std::shared_ptr<job_impl>& self, std::uint64_t after, watch_handler h) {
  assert(self.get() == this);
  auto work = tracked(asio::get_associated_executor(h, ex.completion()));
  auto slot = asio::get_associated_cancellation_slot(h);
  jobs::stats snap;
  {
    std::unique_lock lk(mu);
    check_attached_locked();
    auto& r = room_locked();
    if (!r.terminal_log) {
      r.terminal_log = std::make_unique<std::deque<jobs::stats>>();
      r.terminal_floor = version;  // no end after this one is missing from the log
    }
    // An unseen end of a run first, oldest first, so that none is missed; else the latest state.
    // Version 0, or one older than the log's floor (ends may have been dropped since), gets the
    // current snapshot: never an older run's end, which would read as the job's state now.
    const jobs::stats* unseen = nullptr;
    if (after != 0 && after >= r.terminal_floor) {
      for (const auto& t : *r.terminal_log) {
        if (t.version > after) {
          unseen = &t;
          break;
        }
      }
    }
    if (unseen) {
      snap = *unseen;
    } else if (version > after) {
      fill_locked(snap);
    } else {
      const std::uint64_t key = ++r.next_wait_key;
      r.watches.push_back(pending_watch{std::move(h), std::move(work), after, key});
      if (slot.is_connected()) {
        try {
          slot.template emplace<watch_cancellation>(watch_cancellation{std::weak_ptr<job_impl>(self), key});
        } catch (...) {
          r.watches.pop_back();
          throw;
        }
      }
      return;
    }
  }
  post_completion(ex.get(), std::move(h), std::move(work), boost::system::error_code{}, std::move(snap));
}

void job_impl::cancel_watch(std::uint64_t key) noexcept {
  for (auto& w : take_pending(*this, &waiting_room::watches, key))
    post_completion_nothrow(ex.get(), std::move(w.handler), std::move(w.work),
                            boost::system::error_code(asio::error::operation_aborted), jobs::stats{});
}

}  // namespace jobs::detail
