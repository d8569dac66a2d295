// A run's start and launch: the Asio glue around the lifecycle in detail/lifecycle.hpp.
//
// How a run travels (see DESIGN.md "Data flow of a run"), and where each step lives:
//   start()  — under the job's mutex: lifecycle::on_start, reset the per-run data, queue the
//              launch (queue_launch): posted to the job's strand, or, from that strand itself,
//              deferred to its executor, which dispatches it onto the strand;
//   launch() — on the strand: start the body's coroutine there, its slot the run's signal;
//   body     — runs on the strand, reports through its context;
//   cancel() — cancel.cpp: under the mutex, lifecycle::on_cancel, record the reason; then the
//              emit, on the strand (signals are not thread-safe): inline if already there, else
//              posted;
//   finish() — finish.cpp: at the body's end, inline on the strand: lifecycle::on_end, wake
//              blocking waiters; then complete() (complete.cpp) dispatches every asynchronous
//              waiter's handler and the caller's to its own executor. abandon(), also in
//              finish.cpp, ends a run whose frame is destroyed unfinished.
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
                     run_ticket* ticket, run_result* result_out, run_continuation then) {
  // Everything that can fail is done before the state changes: a failed start leaves the job
  // exactly as it was.
  assert(self.get() == this);
  assert(!(h && then));  // a run completes one caller: the async_run handler, or the executor's
  auto rs = std::make_shared<run_state>();
  rs->job = self;
  rs->params = std::move(params);
  rs->result = result_out;
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

}  // namespace jobs::detail
