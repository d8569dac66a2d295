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

#include <jobs/detail/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/log/attributes/constant.hpp>
#include <boost/throw_exception.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <tuple>
#include <typeinfo>

namespace jobs {
namespace detail {

// (job_access.hpp) Shared with libexecutor, which completes starts with the same errors.
const std::exception_ptr& error_ptr(errc e) {
  static const std::exception_ptr canceled = std::make_exception_ptr(error(errc::canceled, "job canceled"));
  static const std::exception_ptr timeout = std::make_exception_ptr(error(errc::timeout, "job timed out"));
  static const std::exception_ptr pending =
      std::make_exception_ptr(error(errc::still_pending, "job is still pending"));
  switch (e) {
    case errc::canceled: return canceled;
    case errc::timeout: return timeout;
    default: return pending;
  }
}

std::string describe(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

namespace {

using std::chrono::steady_clock;
using std::chrono::system_clock;

// "The cancellation itself" is what an Asio operation completes with when the body's slot is
// emitted: asio::error::operation_aborted, compared exactly (value and category). Not merely
// anything equivalent to errc::operation_canceled: a nested job's errc::canceled, or a library's
// own cancellation error, is an exception of the body like any other (API.md, "Outcome").
bool is_cancellation_code(const boost::system::error_code& ec) noexcept {
  return ec == boost::system::error_code(asio::error::operation_aborted);
}

// Is `e` an Asio system_error of exactly the library's own types (boost::system::system_error,
// as Asio throws it wrapped by boost::throw_exception)? Then its what() is Boost's, not user
// code, and may be called under the job's mutex. Sets `code` to its error code.
bool is_boost_system_error(const std::exception_ptr& e, boost::system::error_code& code) noexcept {
#if defined(__GLIBCXX__)
  static_assert(sizeof(std::exception_ptr) == sizeof(void*));
  if (const std::type_info* t = e.__cxa_exception_type()) {
    void* object = nullptr;
    std::memcpy(&object, &e, sizeof object);
    using wrapped = boost::wrapexcept<boost::system::system_error>;
    if (*t == typeid(wrapped)) {
      code = static_cast<const wrapped*>(object)->code();
      return true;
    }
    if (*t == typeid(boost::system::system_error)) {
      code = static_cast<const boost::system::system_error*>(object)->code();
      return true;
    }
  }
#else
  (void)e;
  (void)code;
#endif
  return false;
}

// Did the body throw the cancellation itself?
bool threw_cancellation(const std::exception_ptr& e) noexcept {
  // Fast path, no rethrow (a rethrow costs microseconds and cancellation is the common case of
  // a canceled run): libstdc++'s exception_ptr is one pointer to the thrown object, and
  // __cxa_exception_type() names its dynamic type.
  boost::system::error_code code;
  if (is_boost_system_error(e, code)) return is_cancellation_code(code);
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& se) {
    return is_cancellation_code(se.code());
  } catch (...) {
    return false;
  }
}

// The what() of the library's own run errors, described once (a rethrow per canceled run
// otherwise). Made by the first job's constructor, where a failure can throw.
const std::string& library_error_text(run_error kind) {
  static const std::string none;
  static const std::string canceled = describe(error_ptr(errc::canceled));
  static const std::string timeout = describe(error_ptr(errc::timeout));
  switch (kind) {
    case run_error::canceled: return canceled;
    case run_error::timeout: return timeout;
    default: return none;
  }
}

// A duration for people: "850ns", "12.3us", "4.56ms", "1.234s", "2m5.0s".
std::string human(std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  char buf[48];
  if (ns < 1e3)
    std::snprintf(buf, sizeof buf, "%.0fns", ns);
  else if (ns < 1e6)
    std::snprintf(buf, sizeof buf, "%.1fus", ns / 1e3);
  else if (ns < 1e9)
    std::snprintf(buf, sizeof buf, "%.2fms", ns / 1e6);
  else if (ns < 60e9)
    std::snprintf(buf, sizeof buf, "%.3fs", ns / 1e9);
  else
    std::snprintf(buf, sizeof buf, "%lldm%.1fs", static_cast<long long>(ns / 60e9),
                  (ns - 60e9 * static_cast<double>(static_cast<long long>(ns / 60e9))) / 1e9);
  return buf;
}

// `ex` as the default executor of a completion handler. Erased from the concrete executor when
// `ex` holds an io_context's or a thread_pool's: converting the any_io_executor itself nests one
// type erasure in another, a heap block (and another for every prefer made on it).
asio::any_completion_executor completion_executor(const asio::any_io_executor& ex) {
  if (auto* io = ex.target<asio::io_context::executor_type>()) return asio::any_completion_executor(*io);
  if (auto* pool = ex.target<asio::thread_pool::executor_type>()) return asio::any_completion_executor(*pool);
  return asio::any_completion_executor(ex);
}

asio::any_completion_executor tracked(asio::any_completion_executor ex) {
  // Asio 1.81 converts a handler's default executor (any_io_executor) to any_completion_executor
  // with a nothrow allocation: out of memory, the result is an empty executor whose prefer()
  // dereferences null. Report the allocation failure instead.
  if (!ex) throw std::bad_alloc();
  return asio::prefer(std::move(ex), asio::execution::outstanding_work.tracked);
}

// A handler's completion, posted: clears the caller's slot on the handler's own executor (so
// no handler of ours stays installed in it after completion), then calls the handler.
template <class Handler, class... Args>
struct completion_call {
  using executor_type = asio::any_completion_executor;

  Handler handler;
  asio::any_completion_executor work;  // the handler's executor, work counted
  std::tuple<Args...> args;

  executor_type get_executor() const noexcept { return work; }

  void operator()() {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    auto w = std::move(work);  // released after the call
    std::apply(std::move(handler), std::move(args));
  }
};

// Completes `h` on its own executor, never inside the caller: posted through the job's
// executor, then dispatched to the handler's associated executor (`work`, which holds its work
// count until then).
template <class Handler, class... Args>
void post_completion(const asio::any_io_executor& via, Handler h, asio::any_completion_executor work,
                     Args... args) {
  if (asio::prefer(work, asio::execution::outstanding_work.untracked) == completion_executor(via)) {
    // The handler's executor is the job's (the common case): posting through `via` is the whole
    // trip, without a work_dispatcher and a second work guard around the call.
    asio::post(via, [c = completion_call<Handler, Args...>{
                         std::move(h), {}, std::tuple<Args...>(std::move(args)...)}]() mutable { c(); });
    return;
  }
  asio::post(via, completion_call<Handler, Args...>{std::move(h), std::move(work),
                                                    std::tuple<Args...>(std::move(args)...)});
}

// post_completion for the paths that must not throw (the end of a run, cancel() once it has
// changed the job): out of memory, the handler is destroyed unrun (with its work count), as Asio
// drops a handler it cannot queue.
template <class Handler, class... Args>
void post_completion_nothrow(const asio::any_io_executor& via, Handler h, asio::any_completion_executor work,
                             Args... args) noexcept {
  try {
    post_completion(via, std::move(h), std::move(work), std::move(args)...);
  } catch (...) {
  }
}

// Installed in an async_run caller's slot: terminal or partial cancellation cancels the run
// (total is not supported: cancelling changes the job). Holds the run weakly: it may outlive it.
struct run_cancellation {
  std::weak_ptr<run_state> run;
  void operator()(asio::cancellation_type_t type) const {
    if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
        asio::cancellation_type::none)
      return;
    if (auto rs = run.lock()) rs->job->cancel_run(rs, cancel_reason::canceled);
  }
};

// Installed in an async_wait caller's slot: any type cancels the wait only.
struct wait_cancellation {
  std::weak_ptr<job_impl> job;
  std::uint64_t key;
  void operator()(asio::cancellation_type_t type) const {
    if (type == asio::cancellation_type::none) return;
    if (auto j = job.lock()) j->cancel_wait(key);
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

// Installed in an async_watch caller's slot: any type cancels the watch only.
struct watch_cancellation {
  std::weak_ptr<job_impl> job;
  std::uint64_t key;
  void operator()(asio::cancellation_type_t type) const {
    if (type == asio::cancellation_type::none) return;
    if (auto j = job.lock()) j->cancel_watch(key);
  }
};

constexpr std::size_t terminal_log_size = 64;

}  // namespace

// The jobs of one execution context, so that its shutdown can release the asynchronous waiters
// and watchers of idle jobs: they sit in no Asio queue, and a handler that holds a handle to
// its own job would otherwise keep both alive for ever. (Those of a pending run are released
// when the run's frame is destroyed: see abandon.)
class job_registry final : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;

  explicit job_registry(asio::execution_context& ctx) : service(ctx) {}

  void add(job_impl* j) {
    std::lock_guard lk(mu_);
    jobs_.push_back(j);
    j->registry_pos_ = std::prev(jobs_.end());
    j->registered_ = true;
  }
  void remove(job_impl* j) noexcept {
    std::lock_guard lk(mu_);
    if (j->registered_) jobs_.erase(j->registry_pos_);
    j->registered_ = false;
  }

 private:
  // Called by the context's shutdown (possibly more than once: io_context::shutdown(), then
  // again by the destructor). Every job is detached and forgotten: a detached job never calls
  // remove() once it has seen its registry pointer cleared.
  void shutdown() override {
    std::list<pending_wait> waits;
    std::list<pending_watch> watches;
    {
      std::lock_guard lk(mu_);
      for (job_impl* j : jobs_) {
        j->detach(waits, watches);
        j->registered_ = false;
      }
      jobs_.clear();
    }
    // Destroyed here, outside the lock: a handler's destructor may destroy a job.
  }

  std::mutex mu_;
  std::list<job_impl*> jobs_;
};

asio::execution_context::id job_registry::id;

namespace {

using io_strand = asio::strand<asio::io_context::executor_type>;
using pool_strand = asio::strand<asio::thread_pool::executor_type>;
using any_strand = asio::strand<asio::any_io_executor>;

asio::any_io_executor make_job_strand(const asio::any_io_executor& ex) {
  if (auto* io = ex.target<asio::io_context::executor_type>()) return io_strand(*io);
  if (auto* pool = ex.target<asio::thread_pool::executor_type>()) return pool_strand(*pool);
  return any_strand(ex);
}

bool running_in(const asio::any_io_executor& strand) noexcept {
  if (auto* s = strand.target<io_strand>()) return s->running_in_this_thread();
  if (auto* s = strand.target<pool_strand>()) return s->running_in_this_thread();
  if (auto* s = strand.target<any_strand>()) return s->running_in_this_thread();
  return false;
}

}  // namespace

std::atomic<int> library_log_threshold{-1};

thread_logger_t& thread_logger() {
  thread_local thread_logger_t lg(boost::log::keywords::channel = "jobs");
  return lg;
}

namespace {
// The context's logger when making the job's own one failed (std::bad_alloc): made by the first
// job's constructor, where a failure can throw.
jobs::logger& fallback_logger() {
  static jobs::logger lg(boost::log::keywords::channel = "jobs");
  return lg;
}
}  // namespace

// ---------------------------------------------------------------------------------------------

job_impl::job_impl(asio::any_io_executor e, std::string i, body f, job_config config)
    : ex(std::move(e)),
      strand_ex(make_job_strand(ex)),
      id(i.empty() ? boost::uuids::to_string(boost::uuids::random_generator()()) : std::move(i)),
      labels(std::move(config.labels)),
      fn(std::move(f)),
      created(system_clock::now()),
      user_logger(config.logger ? std::make_unique<jobs::logger>(std::move(*config.logger)) : nullptr),
      registry_(&asio::use_service<job_registry>(asio::query(ex, asio::execution::context))) {
  // Made now, where a failure can throw: the noexcept paths use them.
  (void)fallback_logger();
  (void)library_error_text(run_error::none);
  registry_->add(this);
}

job_impl::~job_impl() {
  job_registry* r;
  std::list<pending_watch> orphaned;
  {
    std::lock_guard lk(mu);
    r = registry_;  // null once the context has shut down (it may be gone by now)
    orphaned.swap(watches);
  }
  if (r) r->remove(this);
  // The last handle is gone while watchers still wait (no run is pending: a run keeps its job
  // alive), for a change that can no longer come. They complete with operation_aborted, as the
  // pending operations of a destroyed Asio I/O object do, instead of being dropped unseen. Only
  // while the context is alive (r non-null): at its shutdown detach() has taken every watcher.
  if (!r) return;
  for (auto& w : orphaned) {
    try {
      post_completion(ex, std::move(w.handler), std::move(w.work),
                      boost::system::error_code(asio::error::operation_aborted), jobs::stats{});
    } catch (...) {
      // (bad_alloc from the post: the handler is destroyed, as at shutdown)
    }
  }
}

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
    std::any result;
    std::exception_ptr error;
    run_error error_kind;
    std::string body_error_text;
    system_clock::time_point started, ended;
    steady_clock::time_point started_steady;
  } old{st,      progress, std::move(result), std::move(error), error_kind, std::move(body_error_text),
        started, ended,    started_steady};

  st = state::running;
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
  try {
    JOBS_LOG(lifecycle_logger(), debug, id,
             "job " << id << " cancel requested (" << (why == cancel_reason::timeout ? "timeout" : "canceled")
                    << ")");
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

void job_impl::wait() {
  if (on_job_strand(*this) || blocking_guard::active(this))
    throw std::logic_error(
        "jobs::job::wait() called from the job's own strand (its body or a callback "
        "of its run): it would deadlock; use async_wait");
  std::unique_lock lk(mu);
  if (!is_pending(st)) return;
  const std::uint64_t run = generation;
  ++blocked;
  cv.wait(lk, [&] { return finished >= run; });
  --blocked;
}

void job_impl::async_wait(wait_handler h) {
  auto work = tracked(asio::get_associated_executor(h, completion_executor(ex)));
  auto slot = asio::get_associated_cancellation_slot(h);
  std::unique_lock lk(mu);
  check_attached_locked();
  if (!is_pending(st)) {
    lk.unlock();
    post_completion(ex, std::move(h), std::move(work), boost::system::error_code{});
    return;
  }
  const std::uint64_t key = ++next_wait_key;
  waits.push_back(pending_wait{std::move(h), std::move(work), key});
  if (slot.is_connected()) {
    try {
      slot.template emplace<wait_cancellation>(wait_cancellation{weak_from_this(), key});
    } catch (...) {
      waits.pop_back();
      throw;
    }
  }
}

namespace {

// The pending async wait or watch with `key`, taken out of `from` under `mu` (none if it has
// completed already). Its handler is then completed outside the mutex.
template <class Pending>
std::list<Pending> take_pending(std::mutex& mu, std::list<Pending>& from, std::uint64_t key) {
  std::list<Pending> taken;
  std::lock_guard lk(mu);
  const auto it = std::find_if(from.begin(), from.end(), [key](const Pending& p) { return p.key == key; });
  if (it != from.end()) taken.splice(taken.end(), from, it);
  return taken;
}

}  // namespace

void job_impl::cancel_wait(std::uint64_t key) {
  for (auto& w : take_pending(mu, waits, key))
    post_completion(ex, std::move(w.handler), std::move(w.work),
                    boost::system::error_code(asio::error::operation_aborted));
}

jobs::logger& job_impl::context_logger() noexcept {
  // Made on first use (most bodies never log), then read without a lock. Not std::call_once:
  // libstdc++'s call_once on pthread_once never returns again after its callable has thrown
  // once (GCC PR 66146). context::logger() is noexcept, so a failure to make the logger
  // (std::bad_alloc) must not escape either: the body then logs through the lifecycle logger,
  // which exists already (see the constructor) but lacks the "Job" attribute; a later call
  // tries again.
  if (jobs::logger* lg = context_logger_ptr_.load(std::memory_order_acquire)) return *lg;
  std::lock_guard lk(mu);  // never held by a caller of this: bodies call it, the library does not
  if (!context_logger_) {
    try {
      auto lg = user_logger ? std::make_unique<jobs::logger>(*user_logger)
                            : std::make_unique<jobs::logger>(boost::log::keywords::channel = "jobs");
      lg->add_attribute("Job", boost::log::attributes::constant<std::string>(id));
      context_logger_ = std::move(lg);
      context_logger_ptr_.store(context_logger_.get(), std::memory_order_release);
    } catch (...) {
      return user_logger ? *user_logger : fallback_logger();
    }
  }
  return *context_logger_;
}

void job_impl::fill_locked(jobs::stats& s) const {
  s.id = id;
  s.labels = labels;
  s.state = st;
  s.progress = progress;
  s.started_at = started;
  s.execution_time =
      is_pending(st) ? std::chrono::nanoseconds(steady_clock::now() - started_steady) : last_execution;
  s.version = version;
  s.error = error_text_locked();
}

const std::string& job_impl::error_text_locked() const noexcept {
  return error_kind == run_error::body ? body_error_text : library_error_text(error_kind);
}

jobs::stats job_impl::snapshot() const {
  jobs::stats s;
  std::lock_guard lk(mu);
  fill_locked(s);
  return s;
}

void job_impl::changed_locked(watch_batch& out) {
  ++version;
  if (watches.empty()) return;  // the common case costs one branch
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
    post_completion_nothrow(ex, std::move(r.watch.handler), std::move(r.watch.work),
                            boost::system::error_code{}, std::move(r.snapshot));
  b.clear();
}

void job_impl::async_watch(std::uint64_t after, watch_handler h) {
  auto work = tracked(asio::get_associated_executor(h, completion_executor(ex)));
  auto slot = asio::get_associated_cancellation_slot(h);
  jobs::stats snap;
  {
    std::unique_lock lk(mu);
    check_attached_locked();
    if (!terminal_log) {
      terminal_log = std::make_unique<std::deque<jobs::stats>>();
      terminal_floor = version;  // no end after this one is missing from the log
    }
    // An unseen end of a run first, oldest first, so that none is missed; else the latest state.
    // Version 0, or one older than the log's floor (ends may have been dropped since), gets the
    // current snapshot: never an older run's end, which would read as the job's state now.
    const jobs::stats* unseen = nullptr;
    if (after != 0 && after >= terminal_floor) {
      for (const auto& t : *terminal_log) {
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
      const std::uint64_t key = ++next_wait_key;
      watches.push_back(pending_watch{std::move(h), std::move(work), after, key});
      if (slot.is_connected()) {
        try {
          slot.template emplace<watch_cancellation>(watch_cancellation{weak_from_this(), key});
        } catch (...) {
          watches.pop_back();
          throw;
        }
      }
      return;
    }
  }
  post_completion(ex, std::move(h), std::move(work), boost::system::error_code{}, std::move(snap));
}

void job_impl::cancel_watch(std::uint64_t key) {
  for (auto& w : take_pending(mu, watches, key))
    post_completion(ex, std::move(w.handler), std::move(w.work),
                    boost::system::error_code(asio::error::operation_aborted), jobs::stats{});
}

void job_impl::detach(std::list<pending_wait>& waits_out, std::list<pending_watch>& watches_out) noexcept {
  asio::any_io_executor released_ex;
  {
    std::lock_guard lk(mu);
    waits_out.splice(waits_out.end(), waits);
    watches_out.splice(watches_out.end(), watches);
    std::swap(released_ex, strand_ex);
    registry_ = nullptr;
  }
  // The strand is released here, while its service still exists.
}

void job_impl::check_attached_locked() const {
  if (!strand_ex)
    throw std::logic_error("jobs::job: the job's execution context has been shut down or destroyed");
}

// ---- the internal interface ------------------------------------------------------------------

std::shared_ptr<job_impl> make_job(asio::any_io_executor ex, std::string id, body fn, job_config config) {
  if (!ex) throw std::invalid_argument("jobs::job: the executor is null");
  if (!fn) throw std::invalid_argument("jobs::job: the body is empty");
  return std::make_shared<job_impl>(std::move(ex), std::move(id), std::move(fn), std::move(config));
}

// The job of a handle, which must not have been moved from: a moved-from handle holds no job,
// and using it is a clear error rather than a null dereference.
namespace {
job_impl& checked(const std::shared_ptr<job_impl>& j) {
  if (!j) throw std::logic_error("jobs::job: the handle was moved from (it holds no job)");
  return *j;
}
}  // namespace

void initiate_run(const std::shared_ptr<job_impl>& j, std::any params, run_handler h) {
  checked(j).start(std::move(params), std::move(h), nullptr);
}

void initiate_run(const std::shared_ptr<job_impl>& j, std::any params, run_handler h, run_ticket* ticket,
                  state* final_out) {
  checked(j).start(std::move(params), std::move(h), ticket, final_out);
}

jobs::logger* user_logger_of(const job_impl& j) noexcept { return j.lifecycle_logger(); }

std::uint64_t run_generation(const job_impl& j) {
  std::lock_guard lk(j.mu);
  return is_pending(j.st) ? j.generation : 0;
}

void wait_for_run(job_impl& m, std::uint64_t generation) {
  if (generation == 0) return;
  std::unique_lock lk(m.mu);
  if (m.finished >= generation) return;
  ++m.blocked;
  m.cv.wait(lk, [&] { return m.finished >= generation; });
  --m.blocked;
}

void initiate_wait(const std::shared_ptr<job_impl>& j, wait_handler h) {
  checked(j).async_wait(std::move(h));
}

void initiate_watch(const std::shared_ptr<job_impl>& j, std::uint64_t last_version, watch_handler h) {
  checked(j).async_watch(last_version, std::move(h));
}

bool cancel_run(const run_ticket& t, cancel_reason why) {
  auto rs = t.lock();
  return rs && rs->job->cancel_run(rs, why);
}

asio::any_io_executor strand_of(const job_impl& j) {
  std::lock_guard lk(j.mu);
  j.check_attached_locked();
  return j.strand_ex;
}

bool is_attached(const job_impl& j) noexcept {
  std::lock_guard lk(j.mu);
  return static_cast<bool>(j.strand_ex);
}

bool on_job_strand(const job_impl& j) noexcept {
  std::lock_guard lk(j.mu);
  return running_in(j.strand_ex);
}

namespace {
thread_local const job_impl* in_callback_of = nullptr;
}

blocking_guard::blocking_guard(const job_impl* j) noexcept : previous_(in_callback_of) { in_callback_of = j; }
blocking_guard::~blocking_guard() { in_callback_of = previous_; }
bool blocking_guard::active(const job_impl* j) noexcept { return in_callback_of == j; }

void apply(job_config& c, label_option o) { c.labels.insert_or_assign(std::move(o.key), std::move(o.value)); }
void apply(job_config& c, labels_option o) { c.labels = std::move(o.all); }
void apply(job_config& c, logger_option o) { c.logger.emplace(std::move(o.logger)); }

}  // namespace detail

// ---- job -------------------------------------------------------------------------------------

void set_log_level(std::optional<boost::log::trivial::severity_level> level) noexcept {
  detail::library_log_threshold.store(level ? static_cast<int>(*level) : -1, std::memory_order_relaxed);
}

std::optional<boost::log::trivial::severity_level> log_level() noexcept {
  const int t = detail::library_log_threshold.load(std::memory_order_relaxed);
  if (t < 0) return std::nullopt;
  return static_cast<boost::log::trivial::severity_level>(t);
}

body wrap(std::function<asio::awaitable<void>()> fn) {
  if (!fn) throw std::invalid_argument("jobs::wrap: the function is empty");
  return [fn = std::move(fn)](context&) { return fn(); };
}

// Every member but the two noexcept ones throws std::logic_error on a moved-from handle.
bool job::run(std::any params) { return detail::checked(impl_).start(std::move(params), nullptr, nullptr); }
void job::wait() { detail::checked(impl_).wait(); }
bool job::cancel() { return detail::checked(impl_).cancel_current(detail::cancel_reason::canceled); }
asio::any_io_executor job::get_executor() const noexcept {
  return impl_ ? impl_->ex : asio::any_io_executor();
}

jobs::state job::state() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.st;
}
bool job::is_state(jobs::state s) const { return state() == s; }
bool job::is_done() const { return jobs::is_done(state()); }
bool job::is_executing() const { return is_pending(state()); }

const std::string& job::id() const noexcept {
  static const std::string none;  // a moved-from handle's
  return impl_ ? impl_->id : none;
}
jobs::labels job::labels() const { return detail::checked(impl_).labels; }
std::any job::result() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.result;
}
std::exception_ptr job::error() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.error;
}
double job::progress() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.progress;
}
std::chrono::system_clock::time_point job::created_at() const { return detail::checked(impl_).created; }
std::chrono::system_clock::time_point job::started_at() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.started;
}
std::chrono::system_clock::time_point job::ended_at() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.ended;
}
std::chrono::nanoseconds job::execution_time() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  if (is_pending(j.st)) return std::chrono::steady_clock::now() - j.started_steady;
  return j.last_execution;
}
jobs::stats job::stats() const { return detail::checked(impl_).snapshot(); }

// ---- context ---------------------------------------------------------------------------------

context::context(std::shared_ptr<detail::run_state> run) noexcept : run_(std::move(run)) {}

const std::string& context::id() const noexcept { return run_->job->id; }
asio::any_io_executor context::get_executor() const noexcept { return run_->strand_ex; }
bool context::is_canceled() const noexcept {
  return run_->reason.load(std::memory_order_relaxed) != detail::cancel_reason::none;
}
boost::system::error_code context::cancel_reason() const noexcept {
  switch (run_->reason.load(std::memory_order_relaxed)) {
    case detail::cancel_reason::none: return {};
    case detail::cancel_reason::canceled: return make_error_code(errc::canceled);
    case detail::cancel_reason::timeout: return make_error_code(errc::timeout);
  }
  return {};
}
jobs::logger& context::logger() noexcept { return run_->job->context_logger(); }
const jobs::labels& context::labels() const noexcept { return run_->job->labels; }

void context::set_progress(double p) {
  if (std::isnan(p)) return;
  p = std::clamp(p, 0.0, 1.0);
  auto& j = *run_->job;
  detail::watch_batch batch;
  {
    std::lock_guard lk(j.mu);
    if (run_->ended || j.progress == p) return;
    j.progress = p;
    j.changed_locked(batch);
  }
  if (!batch.empty()) j.deliver(batch);
}

void context::set_result(std::any r) {
  auto& j = *run_->job;
  std::lock_guard lk(j.mu);
  if (run_->ended) return;
  // The old result is destroyed after the lock is released (its destructor is user code).
  std::swap(j.result, r);
}

const std::any& context::params() const noexcept { return run_->params; }

}  // namespace jobs
