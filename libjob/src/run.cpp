// jobs::job: the Asio glue around the lifecycle in detail/lifecycle.hpp.
//
// How a run travels (see DESIGN.md "Data flow of a run"):
//   start()  — under the job's mutex: lifecycle::on_start, reset the per-run data, co_spawn the
//              body on the job's strand with the run's cancellation signal bound to it;
//   body     — runs on the strand, reports through its context;
//   cancel() — under the mutex: lifecycle::on_cancel, record the reason; then the emit goes to
//              the strand (signals are not thread-safe);
//   finish() — the co_spawn completion, on the strand: lifecycle::on_end, wake blocking waiters,
//              post every asynchronous waiter's handler to its own executor.
#include "job_impl.hpp"
#include "run_errors.hpp"

#include <jobs/detail/completion.hpp>
#include <jobs/detail/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

namespace jobs::detail {

namespace {

using std::chrono::steady_clock;
using std::chrono::system_clock;

// Installed in an async_run caller's slot: terminal or partial cancellation cancels the run
// (total is not supported: cancelling changes the job). Holds the run weakly: it may outlive it.
struct run_cancellation {
  std::weak_ptr<run_state> run;
  void operator()(asio::cancellation_type_t type) const {
    if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
        asio::cancellation_type::none)
      return;
    // Out of memory the cancellation is lost (cancel_run changes nothing then), never thrown into
    // whoever emitted the signal.
    try {
      if (auto rs = run.lock()) rs->job->cancel_run(rs, cancel_reason::canceled);
    } catch (...) {
    }
  }
};

// The co_spawn completion of a run. If it is destroyed without having been called, the
// coroutine's frame was destroyed (the execution context shut down): the run is abandoned.
struct run_completion {
  std::shared_ptr<run_state> rs;

  explicit run_completion(std::shared_ptr<run_state> r) noexcept : rs(std::move(r)) {}
  run_completion(run_completion&&) noexcept = default;
  run_completion& operator=(run_completion&&) = delete;
  ~run_completion() {
    if (rs && rs->launched.load(std::memory_order_acquire)) rs->job->abandon(*rs);
  }

  void operator()(std::exception_ptr e) {
    auto r = std::move(rs);
    r->job->finish(*r, std::move(e));
  }
};

// What co_spawn calls on the strand: the body, with a context that lives in the coroutine
// frame for as long as the run does.
struct body_call {
  context ctx;
  const body* fn;
  asio::awaitable<void> operator()() { return (*fn)(ctx); }
};

// The launch of a run, posted to the strand (see job_impl::start). If it is destroyed unrun,
// the execution context shut down before the body could start: the run is abandoned.
struct deferred_launch {
  std::shared_ptr<run_state> rs;

  explicit deferred_launch(std::shared_ptr<run_state> r) noexcept : rs(std::move(r)) {}
  deferred_launch(deferred_launch&&) noexcept = default;
  deferred_launch& operator=(deferred_launch&&) = delete;
  ~deferred_launch() {
    // Only once the post has succeeded: a copy destroyed while post() throws (start() still
    // holds the job's mutex then, and rolls the run back itself) must not abandon the run.
    if (rs && rs->posted.load(std::memory_order_acquire)) rs->job->abandon(*rs);
  }

  void operator()() {
    auto r = std::move(rs);
    try {
      r->job->launch(r);
    } catch (...) {
      r->job->finish(*r, std::current_exception());  // e.g. std::bad_alloc: the run fails with it
    }
  }
};

}  // namespace

bool job_impl::start(std::any params, run_handler h, run_ticket* ticket, state* final_out) {
  // Everything that can fail is done before the state changes: a failed start leaves the job
  // exactly as it was.
  auto rs = std::make_shared<run_state>();
  rs->job = shared_from_this();
  rs->params = std::move(params);
  rs->final_out = final_out;
  asio::cancellation_slot caller_slot;
  if (h) {
    rs->handler_work = tracked(asio::get_associated_executor(h, completion_executor(ex)));
    caller_slot = asio::get_associated_cancellation_slot(h);
    // Not `rs->handler = std::move(h)`: Boost 1.81's any_completion_handler move assignment
    // copies from an lvalue through its converting constructor and recurses without end.
    rs->handler.swap(h);
  }

  std::unique_lock lk(mu);
  check_attached_locked();
  if (closed) {
    // Its registry is draining: refused, like a pending run, through the handler if there is
    // one; run() itself throws (false would read as "a run is pending").
    lk.unlock();
    if (!rs->handler) std::rethrow_exception(error_ptr(errc::shutting_down));
    post_completion(ex, std::move(rs->handler), std::move(rs->handler_work), error_ptr(errc::shutting_down));
    return false;
  }
  if (!on_start(st)) {
    lk.unlock();
    if (rs->handler)
      post_completion(ex, std::move(rs->handler), std::move(rs->handler_work),
                      error_ptr(errc::still_pending));
    return false;
  }
  if (caller_slot.is_connected()) caller_slot.template emplace<run_cancellation>(run_cancellation{rs});

  struct saved {
    state st;
    double progress;
    std::shared_ptr<std::any> result;
    std::exception_ptr error;
    run_error error_kind;
    std::string body_error_text;
    system_clock::time_point started, ended;
    steady_clock::time_point started_steady;
  } old{st,      progress, std::move(result), std::move(error), error_kind, std::move(body_error_text),
        started, ended,    started_steady};

  st = state::running;
  rs->fencing = fencing;
  progress = -1;
  result.reset();
  error = nullptr;
  error_kind = run_error::none;
  body_error_text.clear();
  ended = {};
  started = system_clock::now();
  started_steady = steady_clock::now();
  rs->generation = ++generation;
  rs->strand_ex = strand_ex;
  current = rs;

  // The launch is posted to the strand, under the mutex: the body never starts inside this call
  // (co_spawn alone would dispatch it inline when the strand is idle and this thread runs the
  // underlying executor — under our mutex), and every emit that cancel() posts later queues
  // behind it on the FIFO strand, so the run's signal is connected before anything is emitted.
  try {
    asio::post(rs->strand_ex, deferred_launch(rs));
    rs->posted.store(true, std::memory_order_release);
  } catch (...) {
    st = old.st;
    progress = old.progress;
    result = std::move(old.result);
    error = std::move(old.error);
    error_kind = old.error_kind;
    body_error_text = std::move(old.body_error_text);
    started = old.started;
    ended = old.ended;
    started_steady = old.started_steady;
    --generation;
    current.reset();
    if (caller_slot.is_connected()) caller_slot.clear();
    throw;
  }
  if (ticket) *ticket = rs;
  // The run has started: from here on nothing may throw out of start(). Out of memory, a
  // watcher that cannot be handed its snapshot waits for the next change (changed_locked
  // leaves it queued), or is dropped if its post fails (its handler destroyed, as Asio drops
  // the handler of a post that fails).
  watch_batch batch;
  try {
    changed_locked(batch);
  } catch (...) {
  }
  lk.unlock();
  deliver(batch);

  // The run has started: a record that cannot be logged (bad_alloc) must not make run() report
  // a failure, or throw out of async_run after its handler was taken.
  try {
    JOBS_LOG(lifecycle_logger(), debug, id, "job " << id << " started (run " << rs->generation << ")");
  } catch (...) {
  }
  return true;
}

void job_impl::launch(const std::shared_ptr<run_state>& rs) {
  // On the strand. co_spawn dispatches its first step inline here, so the body runs at once.
  asio::co_spawn(rs->strand_ex, body_call{context(rs), &fn},
                 asio::bind_cancellation_slot(rs->signal.slot(), run_completion(rs)));
  rs->launched.store(true, std::memory_order_release);
}

bool job_impl::cancel_current(cancel_reason why) {
  std::unique_lock lk(mu);
  if (!on_cancel(st)) return false;
  auto rs = current.lock();
  if (!rs) return false;
  return cancel_locked(lk, std::move(rs), why);
}

bool job_impl::cancel_run(const std::shared_ptr<run_state>& rs, cancel_reason why) {
  std::unique_lock lk(mu);
  if (rs->ended || rs->generation != generation || !on_cancel(st)) return false;
  return cancel_locked(lk, rs, why);
}

bool job_impl::cancel_locked(std::unique_lock<std::mutex>& lk, std::shared_ptr<run_state> rs,
                             cancel_reason why) {
  // The reason first, so that context::is_canceled() is true by the time the body sees the emit.
  // Then the emit, the one step that can fail (its post allocates): if it throws, the reason is
  // taken back and the job is exactly as it was. Only then does the state change; nothing after
  // that throws.
  //
  // The signal is touched only on the strand, and the emit is posted (never dispatched): it
  // queues behind the launch that start() posted, so the body's slot is connected by then. The
  // post runs nothing inline, so holding mu here is safe.
  rs->reason.store(why, std::memory_order_relaxed);
  try {
    auto ex = rs->strand_ex;
    asio::post(ex, [rs] {
      if (!rs->ended_on_strand) rs->signal.emit(asio::cancellation_type::terminal);
    });
  } catch (...) {
    rs->reason.store(cancel_reason::none, std::memory_order_relaxed);
    throw;
  }
  st = state::canceling;
  watch_batch batch;
  try {
    changed_locked(batch);  // out of memory, the watchers wait for the next change
  } catch (...) {
  }
  lk.unlock();
  deliver(batch);
  // A cancellation the application asked for is a lifecycle record; a timeout is a warning
  // (API.md, "Library logging").
  try {
    if (why == cancel_reason::timeout)
      JOBS_LOG(lifecycle_logger(), warning, id, "job " << id << " timed out: cancel requested");
    else
      JOBS_LOG(lifecycle_logger(), debug, id, "job " << id << " cancel requested (canceled)");
  } catch (...) {
  }
  return true;
}

void job_impl::finish(run_state& rs, std::exception_ptr e) noexcept {
  // On the strand: the co_spawn completion. Nothing here may throw (it would leave
  // io_context::run() and lose the waiters): every step that can fail (std::bad_alloc) is on its
  // own, and the waiters are released first.
  rs.ended_on_strand = true;

  // The body's what() is user code: taken here, before the mutex. Not for Asio's own
  // system_error (the cancellation itself, the common case of a canceled run): its what() is
  // Boost's, safe under the mutex, and needed only when it is the run's error after all.
  std::string text;
  boost::system::error_code ignored;
  const bool library_type = e && is_boost_system_error(e, ignored);
  if (e && !library_type) {
    try {
      text = describe(e);
    } catch (...) {  // (std::bad_alloc) stats().error stays empty
    }
  }

  std::exception_ptr run_error_ptr;
  std::list<pending_wait> woken;
  watch_batch batch;
  state final;
  std::chrono::nanoseconds took;
  std::string log_text;
  std::list<pending_watch> starved;
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
    st = final = out.final;
    if (rs.final_out) *rs.final_out = final;
    error = run_error_ptr;
    error_kind = out.error;
    if (out.error == run_error::body) {
      if (library_type) {
        try {
          text = describe(e);  // Boost's what(): no user code under the mutex
        } catch (...) {
        }
      }
      body_error_text = std::move(text);
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
    // One clock read (~45 ns on a VM's vDSO): ended_at is started_at plus the steady duration,
    // so that ended_at - started_at == execution_time() even if the wall clock was set meanwhile.
    last_execution = took = steady_clock::now() - started_steady;
    ended = started + std::chrono::duration_cast<system_clock::duration>(took);
    ++finished;
    current.reset();
    // The waiters first: nothing above can fail, so they are always released.
    woken.swap(waits);
    if (blocked) cv.notify_all();
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
        for (auto it = watches.begin(); it != watches.end();) {
          const auto next = std::next(it);
          if (it->after < version) starved.splice(starved.end(), watches, it);
          it = next;
        }
      }
    }
    if (terminal_log) {
      // Kept so that a watcher re-arming late still sees this run's end (see async_watch). Out
      // of memory, the floor moves past this end: a late watcher then gets the current snapshot.
      try {
        jobs::stats snap;
        fill_locked(snap);
        if (terminal_log->size() == terminal_log_size) {
          terminal_floor = terminal_log->front().version;
          terminal_log->pop_front();
        }
        terminal_log->push_back(std::move(snap));
      } catch (...) {
        terminal_floor = version;
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
  if (rs.handler)
    post_completion_nothrow(ex, std::move(rs.handler), std::move(rs.handler_work), run_error_ptr);
  for (auto& w : woken)
    post_completion_nothrow(ex, std::move(w.handler), std::move(w.work), boost::system::error_code{});
  deliver(batch);
  for (auto& w : starved)
    post_completion_nothrow(ex, std::move(w.handler), std::move(w.work),
                            make_error_code(boost::system::errc::not_enough_memory), jobs::stats{});
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
    if (rs.generation == generation && is_pending(st)) {
      const run_outcome out = on_end(rs.reason.load(std::memory_order_relaxed), body_end::abandoned);
      st = out.final;
      error = error_ptr(errc::canceled);
      error_kind = run_error::canceled;
      ended = system_clock::now();
      last_execution = steady_clock::now() - started_steady;
      ++finished;
      ++version;
      current.reset();
      dropped.swap(waits);
      dropped_watches.swap(watches);
      if (blocked) cv.notify_all();
    }
  }
  rs.handler = nullptr;
  rs.handler_work = nullptr;
}

}  // namespace jobs::detail
