// jobs::job: the Asio glue around the lifecycle in detail/lifecycle.hpp.
//
// How a run travels (see DESIGN.md "Data flow of a run"):
//   start()  — under the job's mutex: lifecycle::on_start, reset the per-run data, queue the
//              launch on the job's executor (as a continuation), which dispatches it onto the
//              job's strand;
//   launch() — on the strand: start the body's coroutine there, its slot the run's signal;
//   body     — runs on the strand, reports through its context;
//   cancel() — under the mutex: lifecycle::on_cancel, record the reason; then the emit, on the
//              strand (signals are not thread-safe): inline if already there, else posted;
//   finish() — at the body's end, inline on the strand: lifecycle::on_end, wake blocking
//              waiters; then complete() dispatches every asynchronous waiter's handler and the
//              caller's to its own executor.
#include "job_impl.hpp"
#include "run_errors.hpp"

#include <jobs/detail/completion.hpp>
#include <jobs/detail/log.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/version.hpp>

#include <optional>

namespace jobs::detail {

namespace {

using std::chrono::steady_clock;
using std::chrono::system_clock;

// Installed in an async_run caller's slot: terminal or partial cancellation cancels the run
// (total is not supported: cancelling changes the job). Holds the run weakly: it may outlive it.
struct run_cancellation {
  std::weak_ptr<run_state> run;
  void operator()(asio::cancellation_type_t type) const {
    if (!stops_operation(type)) return;
    // Out of memory the cancellation is lost (cancel_run changes nothing then), never thrown into
    // whoever emitted the signal.
    try {
      if (auto rs = run.lock()) rs->job->cancel_run(rs, cancel_reason::canceled);
    } catch (...) {
    }
  }
};

// The bottom frame of a run's coroutine stack: the body, then the run's end, inline on the
// strand. It is what co_spawn's own entry point does, without its three extra steps, none of
// which a run needs (see launch()): a dispatch onto the strand (the launch is already there), a
// post when the body never suspended (the launch was posted, so this is never inside the
// initiating call), and a second cancellation signal between the caller's slot and the body.
//
// If the frame is destroyed before the body has ended (the execution context shut down with the
// body suspended), the guard abandons the run.
using entry_point = asio::awaitable<asio::detail::awaitable_thread_entry_point, asio::any_io_executor>;

struct abandon_guard {
  run_state* rs;
  bool armed = true;
  explicit abandon_guard(run_state* r) noexcept : rs(r) {}
  abandon_guard(const abandon_guard&) = delete;
  abandon_guard& operator=(const abandon_guard&) = delete;
  ~abandon_guard() {
    if (armed) rs->job->abandon(*rs);
  }
};

// The run's end, out of line: GCC keeps every local of a coroutine in its frame, suspension point
// or not, and a run_end (176 bytes) would then be part of every live run's frame.
[[gnu::noinline]] void end_run(run_state& rs, std::exception_ptr e) {
  run_end end = rs.job->finish(rs, std::move(e));
  // A handler that throws propagates out of the io_context's run(), as Asio's own do.
  rs.job->complete(end);
}

entry_point run_body(std::shared_ptr<run_state> rs) {
  std::exception_ptr e;
  {
    abandon_guard guard{rs.get()};
    context ctx(rs);  // lives in this frame for as long as the body does
    try {
      co_await rs->job->fn(ctx);
    } catch (...) {
      e = std::current_exception();
    }
    guard.armed = false;
  }
  end_run(*rs, std::move(e));
}

// The launch of a run (see job_impl::start), one of three steps:
//   dispatch_to_strand — deferred to the job's executor by a start made on the strand; it
//                        dispatches the launch onto the strand (launch_dispatched);
//   launch_posted      — posted to the strand by start(): launches the body;
//   launch_dispatched  — dispatched there by the first step: launches the body.
// If it is destroyed unrun, the execution context shut down before the body could start: the run
// is abandoned, once the step that queued it has succeeded (`posted`, set by start(), or
// `on_strand_queue`, set by the first step): a launch destroyed while its own post or dispatch
// throws is the queuing step's to handle.
struct deferred_launch {
  enum class step : unsigned char { dispatch_to_strand, launch_posted, launch_dispatched };
  std::shared_ptr<run_state> rs;
  step at;

  deferred_launch(std::shared_ptr<run_state> r, step s) noexcept : rs(std::move(r)), at(s) {}
  deferred_launch(deferred_launch&&) noexcept = default;
  deferred_launch& operator=(deferred_launch&&) = delete;
  ~deferred_launch() {
    if (!rs) return;
    const std::atomic<bool>& queued = at == step::launch_dispatched ? rs->on_strand_queue : rs->posted;
    if (queued.load(std::memory_order_acquire)) rs->job->abandon(*rs);
  }

  void operator()() {
    auto r = std::move(rs);
    if (at != step::dispatch_to_strand) {
      r->job->launch(r);
      return;
    }
    // On the job's executor, off the strand. The dispatch runs the launch right here when the
    // strand is idle (this thread then runs the strand's invoker inline); else the launch queues
    // on the strand. strand_ex is read without mu, as in launch().
    try {
      const auto& strand = r->job->strand_ex;
      if (auto* s = strand.target<io_strand>())
        asio::dispatch(*s, deferred_launch(r, step::launch_dispatched));
      else if (auto* p = strand.target<pool_strand>())
        asio::dispatch(*p, deferred_launch(r, step::launch_dispatched));
      r->on_strand_queue.store(true, std::memory_order_release);
    } catch (...) {
      // Out of memory for the strand's operation: the run fails with std::bad_alloc, as a launch
      // whose frame cannot be made does (launch()), its waiters and caller completed; not
      // abandoned, as the context lives on. Off the strand, so the strand-only flags are left
      // alone (an emit posted meanwhile finds the run unlaunched and leaves it pending, for a
      // launch that never comes). A handler that throws leaves run(), as at any run's end.
      run_end end = r->job->finish(*r, std::current_exception(), false);
      r->job->complete(end);
    }
  }
};

// Queues the launch of a run, from start(), under the job's mutex.
//
// A start made on the job's strand (the end of the previous run calling its caller or the
// executor's continuation inline; a handler or body on that strand) defers the launch to the
// strand's executor (relationship.continuation) when that is an io_context's or a
// thread_pool's: the scheduler keeps it on this thread's private queue, without its lock or a
// wake-up, and queues it when the current handler returns; the strand is then usually idle and
// the dispatch runs the body at once on the thread that takes it, which is most often this one.
// Posted to the strand instead, the launch would wait for the strand's invoker to post itself to
// the scheduler again once the current handler is done, not as a continuation: the scheduler's
// mutex and the wake-up of an idle thread (a futex call) for every run, and two independent jobs
// on a 2-thread pool handing their runs to each other's thread.
//
// Anywhere else the launch is posted to the strand, as soon as possible: a start made from
// another handler is not a continuation of it (that handler may go on, or block on the run).
void queue_launch(const asio::any_io_executor& strand, const std::shared_ptr<run_state>& rs) {
  using step = deferred_launch::step;
  if (running_in(strand)) {
    if (auto* s = strand.target<io_strand>()) {
      asio::defer(s->get_inner_executor(), deferred_launch(rs, step::dispatch_to_strand));
      return;
    }
    if (auto* p = strand.target<pool_strand>()) {
      asio::defer(p->get_inner_executor(), deferred_launch(rs, step::dispatch_to_strand));
      return;
    }
  }
  post_to_strand(strand, deferred_launch(rs, step::launch_posted));
}

}  // namespace

// A run's continuation, posted to the job's executor: for a refused run (never inside the
// initiation), or when a handler at the run's end threw before it.
bool job_impl::post_then(run_continuation then, const std::exception_ptr& e) {
  asio::post(ex.get(), [then = std::move(then), e] { then.fn(then.owner, e); });
  return false;
}

bool job_impl::start(const std::shared_ptr<job_impl>& self, std::any params, run_handler h,
                     run_ticket* ticket, state* final_out, run_continuation then) {
  // Everything that can fail is done before the state changes: a failed start leaves the job
  // exactly as it was.
  assert(self.get() == this);
  assert(!(h && then));  // a run completes one caller: the async_run handler, or the executor's
  auto rs = std::make_shared<run_state>();
  rs->job = self;
  rs->params = std::move(params);
  rs->final_out = final_out;
  asio::cancellation_slot caller_slot;
  if (h) {
    auto work = tracked(asio::get_associated_executor(h, ex.completion()));
    caller_slot = asio::get_associated_cancellation_slot(h);
    rs->caller.set_handler(h, std::move(work));
  } else if (then) {
    rs->caller.set_then(std::move(then));
  }
  // A refused run completes its caller with `e`: posted, never inside this call.
  const auto refuse = [&](std::exception_ptr e) {
    if (rs->caller.has_then()) return post_then(rs->caller.take_then(), e);
    if (!rs->caller.has_handler()) std::rethrow_exception(e);  // run() throws
    run_handler handler;
    asio::any_completion_executor work;
    rs->caller.take_handler(handler, work);
    post_completion(ex.get(), std::move(handler), std::move(work), e);
    return false;
  };

  std::unique_lock lk(mu);
  check_attached_locked();
  if (closed) {
    // Its registry is draining: refused, like a pending run, through the handler if there is
    // one; run() itself throws (false would read as "a run is pending").
    lk.unlock();
    return refuse(error_ptr(errc::shutting_down));
  }
  if (!on_start(st_locked())) {
    lk.unlock();
    // run() returns false for a pending run (it throws only for a draining registry, above).
    if (!rs->caller.has_then() && !rs->caller.has_handler()) return false;
    return refuse(error_ptr(errc::still_pending));
  }
  if (caller_slot.is_connected()) caller_slot.template emplace<run_cancellation>(run_cancellation{rs});

  struct saved {
    state st;
    double progress;
    std::shared_ptr<std::any> result;
    std::exception_ptr error;
    run_error error_kind;
    std::unique_ptr<std::string> body_error_text;
    system_clock::time_point started;
    steady_clock::duration run_clock;
  } old{st_locked(), progress, std::move(result), std::move(error), error_kind, std::move(body_error_text),
        started,     run_clock};

  st.store(state::running, std::memory_order_release);
  rs->fencing = fencing;
  rs->has_fencing = has_fencing;
  progress = -1;
  result.reset();
  error = nullptr;
  error_kind = run_error::none;
  body_error_text.reset();
  started = system_clock::now();
  run_clock = steady_clock::now().time_since_epoch();  // (st is running: see run_clock)
  rs->generation = ++generation;
  current = rs;

  // The launch is queued (queue_launch), under the mutex: the body never starts inside this call
  // (co_spawn alone would dispatch it inline when the strand is idle and this thread runs the
  // underlying executor — under our mutex). Posted to the strand, it runs before any emit that
  // cancel() posts there later. Deferred (a start on the strand), an emit may run first: it finds
  // the run not yet launched and leaves the emit pending, which launch() makes once the body has
  // reached its first suspension, where the emit would have found it otherwise too.
  try {
    queue_launch(strand_ex, rs);
    rs->posted.store(true, std::memory_order_release);
  } catch (...) {
    st.store(old.st, std::memory_order_release);
    progress = old.progress;
    result = std::move(old.result);
    error = std::move(old.error);
    error_kind = old.error_kind;
    body_error_text = std::move(old.body_error_text);
    started = old.started;
    run_clock = old.run_clock;
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
  // On the strand, from the launch that start() queued. The body's coroutine starts here, inline:
  // an awaitable thread whose bottom frame is run_body, with the run's own signal as its parent
  // slot (what co_spawn builds, minus its entry dispatch and its proxy signal). Asio's public API
  // has no "start this awaitable now"; awaitable_thread is the machinery co_spawn itself uses,
  // checked against Boost 1.81 (see the static_assert below).
  static_assert(BOOST_ASIO_VERSION == 102600,
                "awaitable_thread is used as checked on Asio 1.26 (Boost 1.81)");
  std::optional<asio::detail::awaitable_thread<asio::any_io_executor>> thread;
  try {
    auto slot = rs->signal.slot();
    // strand_ex is read here without mu: this is a handler of the job's execution context,
    // and the only write after construction is detach(), at that context's shutdown. Asio's
    // contexts shut down only in their destructors, once no thread runs their handlers
    // (io_context: running it while it is destroyed is undefined; thread_pool and
    // system_context join their threads first). A context of one's own that shut down while
    // its threads still ran handlers would race with Asio's own services (strands, timers) in
    // the same way. The coroutine keeps its own copy.
    thread.emplace(run_body(rs), strand_ex, slot, asio::cancellation_state(slot));
  } catch (...) {
    // Out of memory for the frame: the run fails with std::bad_alloc, the body never ran.
    run_end end = finish(*rs, std::current_exception());
    complete(end);
    return;
  }
  rs->launched = true;
  thread->launch();  // runs the body up to its first suspension, or to its end
  // A cancel whose emit ran before the launch (see start()): the body has suspended now, on the
  // operation the emit cancels.
  if (rs->emit_pending && !rs->ended_on_strand) rs->signal.emit(asio::cancellation_type::terminal);
}

bool job_impl::cancel_current(cancel_reason why) {
  std::unique_lock lk(mu);
  if (!on_cancel(st_locked())) return false;
  auto rs = current.lock();
  if (!rs) return false;
  return cancel_locked(lk, std::move(rs), why, true);
}

bool job_impl::cancel_run(const std::shared_ptr<run_state>& rs, cancel_reason why) {
  std::unique_lock lk(mu);
  if (rs->ended || rs->generation != generation || !on_cancel(st_locked())) return false;
  return cancel_locked(lk, rs, why, false);
}

bool job_impl::cancel_locked(std::unique_lock<std::mutex>& lk, std::shared_ptr<run_state> rs,
                             cancel_reason why, bool may_emit_inline) {
  // The reason first, so that context::is_canceled() is true by the time the body sees the emit.
  // Then the emit is arranged, the one step that can fail (its post allocates): if it throws, the
  // reason is taken back and the job is exactly as it was. Only then does the state change;
  // nothing after that throws.
  //
  // The signal is touched only on the strand. A public cancel() made on the strand once the body
  // has started (a body cancelling itself, a handler on the job's strand) emits right here,
  // after the mutex is released (an emit runs the awaited operation's cancellation handler,
  // which may call back into the job). Anywhere else, and for the library's own cancellations
  // (cancel_run: the executor's timeout and stop hold the start's mutex), the emit is posted to
  // the strand. If it runs there before the launch (a launch deferred by a start on the strand,
  // see queue_launch), it is left pending and the launch makes it once the body has suspended.
  // The post runs nothing inline, so holding mu here is safe.
  //
  // The strand is the job's (`strand_ex`, read under mu): a run keeps no copy of its own. It is
  // empty only once the execution context has shut down, when no handler runs any more and the
  // run's frame is about to be destroyed (abandon() then ends the run): there is nothing to emit
  // into, and the reason alone is recorded.
  rs->reason.store(why, std::memory_order_relaxed);
  const bool inline_emit = may_emit_inline && running_in(strand_ex) && rs->launched;
  if (!inline_emit && strand_ex) {
    try {
      post_to_strand(strand_ex, [rs] {
        if (rs->ended_on_strand) return;
        if (rs->launched)
          rs->signal.emit(asio::cancellation_type::terminal);
        else
          rs->emit_pending = true;  // the launch emits it (see start())
      });
    } catch (...) {
      rs->reason.store(cancel_reason::none, std::memory_order_relaxed);
      throw;
    }
  }
  st.store(state::canceling, std::memory_order_release);
  watch_batch batch;
  try {
    changed_locked(batch);  // out of memory, the watchers wait for the next change
  } catch (...) {
  }
  lk.unlock();
  if (inline_emit && !rs->ended_on_strand) rs->signal.emit(asio::cancellation_type::terminal);
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
    if (rs.final_out) *rs.final_out = final;
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
