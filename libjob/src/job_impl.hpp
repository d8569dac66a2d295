// The job's shared state and one run's state. Private to libjob.
#pragma once

#include <jobs/detail/completion.hpp>
#include <jobs/detail/job_access.hpp>
#include <jobs/detail/lifecycle.hpp>
#include <jobs/job.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>  // (the strand types below)
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

namespace jobs::detail {

/// An async_wait in flight: its handler and the tracked executor that keeps its work count up.
struct pending_wait {
  wait_handler handler;
  asio::any_completion_executor work;
  std::uint64_t key;
};

/// An async_watch in flight: completes once the job's version exceeds `after`.
struct pending_watch {
  watch_handler handler;
  asio::any_completion_executor work;
  std::uint64_t after;
  std::uint64_t key;
};

/// Watchers that a change satisfied, with the snapshot each gets; posted after the mutex is
/// released.
struct ready_watch {
  pending_watch watch;
  jobs::stats snapshot;
};
using watch_batch = std::vector<ready_watch>;

class job_service;

/// What the end of a run completes, once the job's mutex is released: the async_run caller, the
/// async waiters, the watchers (with their snapshots), and watchers whose snapshot could not be
/// made (completed with not_enough_memory).
struct run_end {
  run_handler handler;
  asio::any_completion_executor handler_work;
  run_continuation then;
  std::exception_ptr error;
  std::list<pending_wait> woken;
  watch_batch batch;
  std::list<pending_watch> starved;
};

/// How many run ends a watched job keeps (async_watch).
constexpr std::size_t terminal_log_size = 64;

/// What a job needs only once something waits for it or watches it: made by the first wait,
/// async_wait or async_watch (job_impl::room_locked), guarded by the job's mutex, and kept until
/// the job is destroyed. Most jobs are never waited on: out of the job, these 120 bytes are one
/// pointer in it, which matters when 10^5 jobs are live at once.
struct waiting_room {
  std::list<pending_wait> waits;
  std::list<pending_watch> watches;
  // The condition variable of blocking waits (wait(), wait_for_run()).
  std::condition_variable cv;
  // The last runs' terminal snapshots, made by the first async_watch: a std::deque allocates
  // its map and first block (~0.5 KiB for stats) when constructed, and most watched jobs are
  // only awaited.
  std::unique_ptr<std::deque<jobs::stats>> terminal_log;
  // Every run end with a version above this one is in terminal_log: the version when the log
  // was made, then that of the last end it dropped. A watcher whose version is older cannot be
  // shown every end it missed, and gets the current snapshot instead (as for version 0).
  std::uint64_t terminal_floor = 0;
  std::uint64_t next_wait_key = 0;
};

/// The labels of a job made without any.
const jobs::labels& no_labels() noexcept;

/// The executor a job was made with (strand.cpp). An any_io_executor is 56 bytes, and a job keeps
/// its own for as long as it lives: here it is the concrete executor where it is an io_context's
/// or a thread_pool's (most are: 8 and 16 bytes), and a boxed any_io_executor otherwise.
class job_executor {
 public:
  explicit job_executor(const asio::any_io_executor& ex);
  ~job_executor();
  job_executor(const job_executor&) = delete;
  job_executor& operator=(const job_executor&) = delete;
  /// The executor, type-erased again: for the concrete kinds it fits in any_io_executor's small
  /// buffer (no allocation); a boxed one is copied (an executor's copy does not throw).
  asio::any_io_executor get() const noexcept;
  /// The default executor of a completion handler: completion_executor(get()), made from the
  /// concrete executor directly.
  asio::any_completion_executor completion() const;

 private:
  enum class kind : unsigned char { io, pool, other };
  union {
    asio::io_context::executor_type io_;
    asio::thread_pool::executor_type pool_;
    asio::any_io_executor* other_;
  };
  kind kind_;
};

/// The strand a job runs on (strand.cpp), and whether this thread runs it.
asio::any_io_executor make_job_strand(const asio::any_io_executor& ex);
bool running_in(const asio::any_io_executor& strand) noexcept;

/// The strand types make_job_strand makes, type-erased once.
using io_strand = asio::strand<asio::io_context::executor_type>;
using pool_strand = asio::strand<asio::thread_pool::executor_type>;
using any_strand = asio::strand<asio::any_io_executor>;

/// Posts `f` to a job's strand, through its concrete type where make_job_strand made one. Through
/// any_io_executor, a post wraps `f` in an executor_function (one allocation) that the strand
/// then queues in an operation of its own (a second one), after a prefer() that copies the
/// executor; posted to the strand itself, `f` is queued once, as a bare co_spawn's would be.
template <class F>
void post_to_strand(const asio::any_io_executor& strand, F&& f) {
  if (auto* s = strand.target<io_strand>()) {
    asio::post(*s, std::forward<F>(f));
  } else if (auto* p = strand.target<pool_strand>()) {
    asio::post(*p, std::forward<F>(f));
  } else {
    asio::post(strand, std::forward<F>(f));
  }
}

/// The context's logger when making the job's own failed (log.cpp).
jobs::logger& fallback_logger();

/// Whom a run's end completes: the async_run caller (its handler, and its executor with the work
/// counted), or the executor's continuation, or no one (run()). Never both: the executor's work
/// and the continuation share storage, as a run_state lives as long as its run (80 bytes, where
/// the three side by side were 96).
class run_caller {
 public:
  run_caller() noexcept {}  // (no member of the union is active)
  ~run_caller() { reset(); }
  run_caller(const run_caller&) = delete;
  run_caller& operator=(const run_caller&) = delete;

  /// Takes `h` (swapped out: Boost 1.81's any_completion_handler move assignment recurses
  /// without end when given an lvalue through its converting constructor).
  void set_handler(run_handler& h, asio::any_completion_executor work) noexcept {
    reset();
    new (&work_) asio::any_completion_executor(std::move(work));
    handler_.swap(h);
    kind_ = kind::handler;
  }
  void set_then(run_continuation then) noexcept {
    reset();
    new (&then_) run_continuation(std::move(then));
    kind_ = kind::then;
  }
  bool has_handler() const noexcept { return kind_ == kind::handler; }
  bool has_then() const noexcept { return kind_ == kind::then; }
  /// The handler and its executor (has_handler()); the caller is left with no one.
  void take_handler(run_handler& h, asio::any_completion_executor& work) noexcept {
    assert(kind_ == kind::handler);
    h.swap(handler_);
    work = std::move(work_);
    reset();
  }
  run_continuation take_then() noexcept {
    assert(kind_ == kind::then);
    run_continuation t = std::move(then_);
    reset();
    return t;
  }
  /// Drops whoever it is, unrun.
  void reset() noexcept {
    switch (kind_) {
      case kind::none: return;
      case kind::handler:
        handler_ = nullptr;
        work_.~any_completion_executor();
        break;
      case kind::then: then_.~run_continuation(); break;
    }
    kind_ = kind::none;
  }

 private:
  run_handler handler_;
  union {
    asio::any_completion_executor work_;  // kind::handler
    run_continuation then_;               // kind::then
  };
  enum class kind : unsigned char { none, handler, then } kind_ = kind::none;
};

/// One run. Owned by the run's coroutine (its completion handler and its context) and by the
/// contexts a body copies; the job refers to its current run only weakly, so that a run whose
/// frame is destroyed at shutdown frees everything.
///
/// A run_state is live as long as its run, so its size is paid per live job (10^6 blocked runs
/// are 10^6 of them): it holds no copy of the strand (the job has one, and the run's coroutine
/// another), and its flags share one word.
struct run_state {
  std::shared_ptr<job_impl> job;
  std::any params;               // immutable while the run exists
  std::uint64_t generation = 0;  // which run of the job this is (1, 2, ...)
  std::uint64_t fencing = 0;     // the lease's epoch (with_coordinator), if has_fencing
  std::atomic<cancel_reason> reason{cancel_reason::none};  // written under job->mu
  std::atomic<bool> posted{false};           // start() has queued the launch (see deferred_launch)
  std::atomic<bool> on_strand_queue{false};  // the launch, deferred, has been dispatched to the strand
  bool launched = false;         // strand only: the body's coroutine has started (its slot is connected)
  bool ended = false;            // guarded by job->mu
  bool ended_on_strand = false;  // strand only: no more emits into `signal`
  bool emit_pending = false;     // strand only: a cancel's emit came before the launch
  bool has_fencing = false;      // immutable while the run exists
  run_result* result = nullptr;  // where finish() writes the run's final state and time (the executor's)
  // The body's cancellation signal: the parent slot of the run's coroutine. Not thread-safe:
  // touched only on the job's strand (launch() connects it, cancel emits it there).
  asio::cancellation_signal signal;
  run_caller caller;  // the async_run caller or the executor's continuation, if any
};

class job_impl {
 public:
  job_impl(asio::any_io_executor ex, std::string id, body fn, job_config config);
  ~job_impl();
  job_impl(const job_impl&) = delete;
  job_impl& operator=(const job_impl&) = delete;

  /// `self` is the job's own shared_ptr, which the run keeps (a job_impl does not derive from
  /// enable_shared_from_this: its weak_ptr would be 16 bytes in every job).
  bool start(const std::shared_ptr<job_impl>& self, std::any params, run_handler h, run_ticket* ticket,
             run_result* result = nullptr, run_continuation then = {});
  void launch(const std::shared_ptr<run_state>& rs);
  /// Posts a run's continuation to the job's executor with `e` (a refused run, or a run
  /// whose end could not call it inline); returns false.
  bool post_then(run_continuation then, const std::exception_ptr& e);
  bool cancel_current(cancel_reason why);
  bool cancel_run(const std::shared_ptr<run_state>& rs, cancel_reason why);
  /// The run's end, on the strand: the state, the stamps, the blocking waiters. Returns what is
  /// left to complete (see complete()).
  /// `on_strand` false: a launch that could not be queued on the strand ends its run from the
  /// job's executor (the strand-only flags are then left alone).
  run_end finish(run_state& rs, std::exception_ptr e, bool on_strand = true) noexcept;
  /// Completes everything a run's end released, each on its own executor, inline where this
  /// thread may run it (the end of a run is never inside an initiating call). If a handler
  /// throws, the rest are queued instead (never lost) and the exception propagates.
  void complete(run_end& end);
  void abandon(run_state& rs) noexcept;
  void wait();
  void async_wait(const std::shared_ptr<job_impl>& self, wait_handler h);
  void cancel_wait(std::uint64_t key) noexcept;
  void async_watch(const std::shared_ptr<job_impl>& self, std::uint64_t after, watch_handler h);
  void cancel_watch(std::uint64_t key) noexcept;
  /// Under mu: the version moves on; the watchers this satisfies move to `out`.
  void changed_locked(watch_batch& out);
  /// Completes the watchers in `b` (without the mutex). Never throws: a watcher whose completion
  /// cannot be posted (std::bad_alloc) is destroyed unrun, as Asio drops a handler it cannot queue.
  void deliver(watch_batch& b) noexcept;
  /// Under mu: what() of the current error ("" if none), taken when the run ended.
  const std::string& error_text_locked() const noexcept;
  /// Under mu: a snapshot of the mutable part (id and labels included).
  void fill_locked(jobs::stats& s) const;
  /// The execution context is shutting down: hands over every pending async waiter and watcher
  /// (to be destroyed, not invoked, by the caller).
  void detach(std::list<pending_wait>& waits_out, std::list<pending_watch>& watches_out) noexcept;
  /// Under mu: throws std::logic_error once the execution context has shut down.
  void check_attached_locked() const;
  /// Under mu: the waiting room, made on first use (can throw std::bad_alloc, before the caller
  /// has changed anything).
  waiting_room& room_locked();
  /// Under mu: the condition variable of blocking waits (room_locked: can throw std::bad_alloc,
  /// before the caller counts itself in `blocked`).
  std::condition_variable& blocking_cv_locked() { return room_locked().cv; }
  /// Under mu: wakes the blocking waiters, if any.
  void notify_blocked_locked() noexcept {
    // `blocked` is non-zero only once a waiter has made the room (under mu, before counting
    // itself), and the room lives as long as the job: a non-zero count under the same mutex
    // means it exists.
    if (blocked) room->cv.notify_all();
  }
  /// The job's labels (no_labels() when it has none).
  const jobs::labels& label_set() const noexcept { return labels ? *labels : no_labels(); }
  /// Under mu: hands over the async waiters and watchers, if any (a run that will never end, a
  /// context that shuts down).
  void take_waiters_locked(std::list<pending_wait>& waits_out,
                           std::list<pending_watch>& watches_out) noexcept {
    if (!room) return;
    waits_out.splice(waits_out.end(), room->waits);
    watches_out.splice(watches_out.end(), room->watches);
  }
  jobs::logger& context_logger() noexcept;
  jobs::stats snapshot() const;
  /// The job's own logger (with_logger), or null: then the library's records about this job go
  /// to the library's logger, if jobs::set_log_level enabled it.
  jobs::logger* lifecycle_logger() const noexcept { return user_logger.get(); }

  // ---- immutable after construction ----
  const job_executor ex;
  // The job's strand. Guarded by mu: released when the execution context shuts down (see
  // job_service), so that a handle that outlives its context can still be queried and
  // destroyed. A run's coroutine holds its own copy. (launch() reads it without mu: see there.)
  //
  // A strand of the concrete executor when `ex` holds an io_context's or a thread_pool's, then
  // type-erased once: that fits in any_io_executor's small buffer. A strand<any_io_executor> does
  // not, and every copy, prefer and require of it that Asio makes on the run path (work guards,
  // the awaitable thread, timers) is then a heap allocation. Empty once released.
  asio::any_io_executor strand_ex;
  const std::string id;
  // Null when the job has none (most jobs): a std::map is 48 bytes, the pointer 8.
  const std::unique_ptr<const jobs::labels> labels;
  const body fn;
  const std::chrono::system_clock::time_point created;
  // Set at construction only; on the heap, as a logger is 104 bytes and most jobs have none.
  const std::unique_ptr<jobs::logger> user_logger;

  // ---- guarded by mu ----
  mutable std::mutex mu;
  // Made by the first wait or watch (room_locked). Never destroyed before the job.
  std::unique_ptr<waiting_room> room;
  // Written only under mu (release stores); read under mu (st_locked()), or without it where the
  // state alone is wanted (job::state(), is_executing(): the executor's admission reads it under
  // its own mutex, and would otherwise nest the job's inside it on every start).
  //
  // start() stores `running` before it posts the launch, so that a body started at once on
  // another thread reads `running`. If that post fails (std::bad_alloc), the old state is put
  // back: a reader without the mutex may then have seen `running` for a run that never
  // started, as it would have seen a run that started and failed at once. Out of memory only.
  std::atomic<state> st{state::created};
  state st_locked() const noexcept { return st.load(std::memory_order_relaxed); }
  // What error() holds, and for the body's own exception its what() (body_error_text: null for
  // none, as most runs do not fail), taken when the run ended outside the mutex (what() is user
  // code: it must never run under mu).
  //
  // (st, error_kind, the two flags and `blocked` share one word.)
  run_error error_kind = run_error::none;
  bool closed = false;       // runs refused with errc::shutting_down (set_closed: a draining registry)
  bool has_fencing = false;  // runs started now carry `fencing`
  unsigned blocked = 0;      // threads inside wait() and wait_for_run()
  double progress = -1;
  // What the body set with set_result, boxed: the box moves and swaps under mu without running
  // the value's own (user) copy, move or destructor there.
  std::shared_ptr<std::any> result;
  std::exception_ptr error;
  std::unique_ptr<std::string> body_error_text;
  // When the current or last run started. When it ended is not kept: it is started plus
  // the time it took, once it has ended (ended_locked()).
  std::chrono::system_clock::time_point started{};
  // One word for two values, as a run that has ended needs its start no more: while a run is
  // pending, when it started on the steady clock (started_steady_locked()); once it has ended,
  // how long it took (last_execution_locked()). is_pending(st) tells which: both change under mu.
  std::chrono::steady_clock::duration run_clock{0};
  std::chrono::steady_clock::time_point started_steady_locked() const noexcept {
    return std::chrono::steady_clock::time_point(run_clock);
  }
  std::chrono::nanoseconds last_execution_locked() const noexcept { return run_clock; }
  /// Under mu: how long the pending run has been executing, or how long the last one took.
  std::chrono::nanoseconds execution_time_locked() const noexcept {
    if (is_pending(st_locked())) return std::chrono::steady_clock::now() - started_steady_locked();
    return last_execution_locked();
  }
  std::uint64_t generation = 0;  // runs started
  std::uint64_t finished = 0;    // runs ended
  std::uint64_t version = 1;     // bumped on every change of state or progress
  std::weak_ptr<run_state> current;
  std::uint64_t fencing = 0;  // handed to each run started while has_fencing (set_fencing_token)
  /// Under mu: when the last run ended, or the epoch while a run is pending or none has run.
  std::chrono::system_clock::time_point ended_locked() const noexcept {
    // (The same test as run_clock's: a pending run, or none yet, has not ended.)
    if (generation == 0 || is_pending(st_locked())) return {};
    return started + std::chrono::duration_cast<std::chrono::system_clock::duration>(last_execution_locked());
  }

 private:
  friend class job_service;

  job_service* registry_;
  // The job's links in its registry's intrusive list (no list node of its own on the heap).
  // Guarded by the registry's mutex.
  job_impl* registry_prev_ = nullptr;
  job_impl* registry_next_ = nullptr;
  bool cancel_locked(std::unique_lock<std::mutex>& lk, std::shared_ptr<run_state> rs, cancel_reason why,
                     bool may_emit_inline);

  // The context's logger, made under mu by the first context_logger(), then read without a
  // lock; owned (deleted by ~job_impl). One pointer, not a unique_ptr beside an atomic copy.
  std::atomic<jobs::logger*> context_logger_{nullptr};
};

}  // namespace jobs::detail
