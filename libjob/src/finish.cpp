// The end of a run: finish(), at the body's end on the strand (lifecycle::on_end, the stamps,
// the blocking waiters, what is left to complete); abandon(), when the run's frame is destroyed
// unfinished (its execution context shut down). complete.cpp completes what finish() released.
// See run.cpp for how a run travels.
#include "job_impl.hpp"
#include "run_errors.hpp"

#include <jobs/detail/log.hpp>

namespace jobs::detail {

using std::chrono::steady_clock;

run_end job_impl::finish(run_state& rs, std::exception_ptr e, bool on_strand) noexcept {
  // On the strand, at the end of the body. Nothing here may throw (it would leave
  // io_context::run() and lose the waiters): every step that can fail (std::bad_alloc) is on its
  // own, and the waiters are released first.
  if (on_strand) rs.ended_on_strand = true;

  // The body's what() is user code: taken here, before the mutex. Not for Asio's own
  // system_error (the cancellation itself, the common case of a canceled run): its what() is
  // Boost's, safe under the mutex, and needed only when it is the run's error after all.
  // Boxed here too, as the job keeps it (body_error_text): under the mutex it is only moved.
  std::unique_ptr<std::string> text;
  boost::system::error_code ignored;
  const bool library_type = e && is_boost_system_error(e, ignored);
  if (e && !library_type) {
    try {
      text = std::make_unique<std::string>(describe(e));
    } catch (...) {  // (std::bad_alloc) stats().error stays empty
    }
  }

  run_end end;
  std::exception_ptr& run_error_ptr = end.error;
  std::list<pending_wait>& woken = end.woken;
  watch_batch& batch = end.batch;
  state final;
  std::chrono::nanoseconds took;
  std::string log_text;
  std::list<pending_watch>& starved = end.starved;
  {
    std::lock_guard lk(mu);
    const cancel_reason why = rs.reason.load(std::memory_order_relaxed);
    body_end how = body_end::returned;
    if (e)
      how = (why != cancel_reason::none && threw_cancellation(e)) ? body_end::threw_cancellation
                                                                  : body_end::threw_other;
    const run_outcome out = on_end(why, how);
    switch (out.error) {
      case run_error::none: break;
      case run_error::body: run_error_ptr = e; break;
      case run_error::canceled: run_error_ptr = error_ptr(errc::canceled); break;
      case run_error::timeout: run_error_ptr = error_ptr(errc::timeout); break;
      case run_error::lease_lost: run_error_ptr = error_ptr(errc::lease_lost); break;
    }
    rs.ended = true;
    // One clock read (~45 ns on a VM's vDSO): ended_at is started_at plus the steady duration
    // (ended_locked()), so that ended_at - started_at == execution_time() even if the wall clock
    // was set meanwhile. Read from the run's start before st leaves pending, and stored as it
    // does (run_clock holds one or the other).
    took = steady_clock::now() - started_steady_locked();
    final = out.final;
    st.store(final, std::memory_order_release);
    run_clock = took;
    if (rs.result) *rs.result = run_result{final, took};
    error = run_error_ptr;
    error_kind = out.error;
    if (out.error == run_error::body) {
      if (library_type) {
        try {
          text = std::make_unique<std::string>(describe(e));  // Boost's what(): no user code under the mutex
        } catch (...) {
        }
      }
      if (text && !text->empty()) body_error_text = std::move(text);
    }
    // The error's text for the end record, copied only if a record will be opened (the job's
    // text may change as soon as the mutex is released, by the next run).
    if (final != state::succeeded &&
        (user_logger || library_log_on(final == state::canceled ? boost::log::trivial::info
                                                                : boost::log::trivial::warning))) {
      try {
        log_text = error_text_locked();
      } catch (...) {
      }
    }
    ++finished;
    current.reset();
    // The waiters first: nothing above can fail, so they are always released.
    if (room) woken.swap(room->waits);
    notify_blocked_locked();
    // Then the watchers, whose snapshots allocate. Out of memory, changed_locked leaves a
    // watcher queued and intact: it is tried once more, then waits for the next change (or the
    // job's destruction, which completes it with operation_aborted).
    try {
      changed_locked(batch);
    } catch (...) {
      try {
        changed_locked(batch);  // (the version moves on once more: harmless)
      } catch (...) {
        // Still no memory for their snapshots: the watchers this end satisfies are released
        // all the same (a splice allocates nothing), completed below with not_enough_memory.
        // (changed_locked throws only with a watcher queued: the room exists.)
        auto& watches = room->watches;
        for (auto it = watches.begin(); it != watches.end();) {
          const auto next = std::next(it);
          if (it->after < version) starved.splice(starved.end(), watches, it);
          it = next;
        }
      }
    }
    if (room && room->terminal_log) {
      auto& r = *room;
      // Kept so that a watcher re-arming late still sees this run's end (see async_watch). Out
      // of memory, the floor moves past this end: a late watcher then gets the current snapshot.
      try {
        jobs::stats snap;
        fill_locked(snap);
        if (r.terminal_log->size() == terminal_log_size) {
          r.terminal_floor = r.terminal_log->front().version;
          r.terminal_log->pop_front();
        }
        r.terminal_log->push_back(std::move(snap));
      } catch (...) {
        r.terminal_floor = version;
      }
    }
  }
  // A success is a lifecycle record (debug); a cancellation was asked for (info); a failure,
  // a timeout included, is a warning (API.md, "Library logging"). Durations are written for people.
  try {
    if (final == state::succeeded) {
      JOBS_LOG(lifecycle_logger(), debug, id, "job " << id << " succeeded in " << human(took));
    } else if (final == state::canceled) {
      JOBS_LOG(lifecycle_logger(), info, id,
               "job " << id << " canceled after " << human(took) << ": " << log_text);
    } else {
      JOBS_LOG(lifecycle_logger(), warning, id,
               "job " << id << " failed after " << human(took) << ": " << log_text);
    }
  } catch (...) {
  }
  if (rs.caller.has_handler())
    rs.caller.take_handler(end.handler, end.handler_work);
  else if (rs.caller.has_then())
    end.then = rs.caller.take_then();
  return end;
}

void job_impl::abandon(run_state& rs) noexcept {
  // The run's coroutine was destroyed without completing (its execution context was shut down
  // or destroyed). Release every waiter: blocking ones wake up, asynchronous ones are
  // destroyed without being invoked, as Asio does with the handlers of a context that shuts down.
  std::list<pending_wait> dropped;
  std::list<pending_watch> dropped_watches;
  {
    std::lock_guard lk(mu);
    if (rs.ended) return;
    rs.ended = true;
    if (rs.generation == generation && is_pending(st_locked())) {
      const run_outcome out = on_end(rs.reason.load(std::memory_order_relaxed), body_end::abandoned);
      const auto took = steady_clock::now() - started_steady_locked();  // (before st leaves pending)
      st.store(out.final, std::memory_order_release);
      run_clock = took;
      error = error_ptr(errc::canceled);
      error_kind = run_error::canceled;
      ++finished;
      ++version;
      current.reset();
      take_waiters_locked(dropped, dropped_watches);
      notify_blocked_locked();
    }
  }
  rs.caller.reset();
}

}  // namespace jobs::detail
