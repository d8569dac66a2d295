// Stress (issue #4, point 1): eight threads hammer shared jobs and executors with random calls —
// run, async_run (also raced against a timer, which cancels it), cancel, wait, async_wait (also
// cancelled), stats/progress/state/error/result, async_start and start (also raced), stop,
// stop(true), async_stop, reset — while the bodies run on a 4-thread asio::thread_pool. The
// bodies are a mix: immediate, awaiting a short timer, CPU-polling is_canceled(), throwing,
// reporting progress (also out of range and NaN) and results, ignoring cancellation, and handing
// their context to work offloaded to the pool.
//
// Afterwards the main thread checks: every body that was entered exited exactly once and no two
// bodies of one job ever overlapped; every async_run / async_wait / async_start / start /
// async_stop handler completed exactly once with an outcome the API allows; each async_run's
// outcome agrees with how its body ended (a refused run never ran its body, a successful one
// returned, a failed one threw what the handler got); the executors' counters add up (starts =
// successes + failures + canceled, on_complete once per admitted start); every blocking wait()
// and stop(true) returned; no run is left pending; progress() and stats().progress, observed from
// other threads while the runs went on, never left {-1} ∪ [0, 1]; a snapshot's error agrees with
// its state. Finally every job and executor still works, and the pool runs out of work (nothing
// keeps a work count up forever). A hang fails the test after a generous deadline.
//
// Environment:
//   JOBS_STRESS_SECONDS  how long the threads hammer, in seconds (default 3); e.g. 60 for a soak
//   JOBS_STRESS_SEED     the seed of the threads' random choices (default: random); printed, and
//                        part of every failure message. Thread scheduling is not reproducible,
//                        so a seed replays the same mix of calls, not the same interleaving.
#include <jobs/executor.hpp>
#include <jobs/job.hpp>

#include "log_sinks.hpp"

#include "test_util.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace stress_race {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using jobs::state;
using steady = std::chrono::steady_clock;

// ---- environment -------------------------------------------------------------------------------

double stress_seconds() {
  if (const char* s = std::getenv("JOBS_STRESS_SECONDS")) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end != s && v > 0 && std::isfinite(v)) return v;
  }
  return 3.0;
}

std::uint64_t stress_seed() {
  if (const char* s = std::getenv("JOBS_STRESS_SEED")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 0);
    if (end != s) return v;
  }
  return (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
}

// ---- what the bodies do ------------------------------------------------------------------------

struct body_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class body_kind : std::uint8_t {
  immediate,        // sets a result, returns
  timer,            // awaits a short timer (throws operation_aborted when cancelled)
  poll,             // spins on is_canceled() for a bounded time, reporting progress
  throws,           // throws body_error at once
  progress_result,  // progress (in and out of range, NaN) and results between short timers
  timer_throws,     // a short timer, then body_error
  ignore_cancel,    // throw_if_cancelled(false), a timer whose error it ignores, returns
  offload,          // hands its context to work posted to the pool, awaits a timer
  count_,
};

constexpr std::uint32_t untracked = std::numeric_limits<std::uint32_t>::max();

struct run_params {
  body_kind kind = body_kind::immediate;
  std::uint32_t serial = untracked;  // identifies a run(), async_run() call (not executor starts)
  std::uint32_t micros = 0;          // how long the body's timer / poll lasts
};

// How a body ended.
enum : std::uint8_t { end_none, end_returned, end_threw_body, end_threw_cancellation, end_threw_other };

// What a completion's exception_ptr holds.
enum class outcome : std::uint8_t {
  success,
  still_pending,
  once,
  cooldown,
  canceled,
  timeout,
  body,
  other,
  count_
};

constexpr const char* outcome_names[] = {"success",  "still_pending", "once", "cooldown",
                                         "canceled", "timeout",       "body", "other"};

std::ostream& operator<<(std::ostream& os, outcome o) { return os << outcome_names[static_cast<int>(o)]; }

outcome classify(const std::exception_ptr& e) {
  if (!e) return outcome::success;
  try {
    std::rethrow_exception(e);
  } catch (const body_error&) {
    return outcome::body;
  } catch (const boost::system::system_error& x) {
    if (x.code() == jobs::errc::still_pending) return outcome::still_pending;
    if (x.code() == jobs::errc::once) return outcome::once;
    if (x.code() == jobs::errc::cooldown) return outcome::cooldown;
    if (x.code() == jobs::errc::canceled) return outcome::canceled;
    if (x.code() == jobs::errc::timeout) return outcome::timeout;
    return outcome::other;
  } catch (...) {
    return outcome::other;
  }
}

// ---- shared bookkeeping (atomics only: the hammer and pool threads never assert) ---------------

// One run() / async_run() call, by its serial.
struct serial_record {
  std::atomic<std::uint8_t> origin{0};  // 1 run() admitted, 2 run() refused, 3 async_run
  std::atomic<std::uint8_t> entries{0};
  std::atomic<std::uint8_t> exits{0};
  std::atomic<std::uint8_t> how{end_none};
  std::atomic<std::uint8_t> completions{0};  // of the async_run handler
  std::atomic<std::uint8_t> result{0};       // outcome of the async_run handler
};
enum : std::uint8_t { origin_none, origin_run_admitted, origin_run_refused, origin_async };

struct job_counters {
  std::atomic<int> active{0};  // bodies of this job running now: never more than one
  std::atomic<std::uint64_t> entries{0}, exits{0}, overlaps{0};
};

struct exec_counters {
  std::atomic<std::uint64_t> calls{0}, completions{0}, on_complete{0}, on_retry{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(outcome::count_)> by_outcome{};
};

constexpr std::size_t n_jobs = 6;
constexpr std::size_t n_execs = 5;
constexpr std::size_t n_threads = 8;
constexpr std::size_t max_serials = std::size_t{1} << 21;
constexpr std::size_t max_ops = std::size_t{1} << 21;
constexpr std::uint64_t max_outstanding = 20000;  // async operations in flight, before throttling

enum op : std::uint8_t {
  op_run,
  op_async_run,
  op_async_run_raced,
  op_cancel,
  op_wait,
  op_async_wait,
  op_async_wait_raced,
  op_read_job,
  op_async_start,
  op_start_coro,
  op_async_start_raced,
  op_stop,
  op_stop_wait,
  op_async_stop,
  op_reset,
  op_read_exec,
  op_count_,
};
constexpr const char* op_names[] = {"run",
                                    "async_run",
                                    "async_run_raced",
                                    "cancel",
                                    "wait",
                                    "async_wait",
                                    "async_wait_raced",
                                    "read_job",
                                    "async_start",
                                    "start_coro",
                                    "async_start_raced",
                                    "stop",
                                    "stop_wait",
                                    "async_stop",
                                    "reset",
                                    "read_exec"};
static_assert(std::size(op_names) == op_count_);

struct world {
  std::uint64_t seed = 0;
  asio::thread_pool* pool = nullptr;

  std::unique_ptr<serial_record[]> serials{new serial_record[max_serials]};
  std::atomic<std::uint32_t> next_serial{0};
  std::unique_ptr<std::atomic<std::uint8_t>[]> op_done { new std::atomic<std::uint8_t>[ max_ops ] };
  std::atomic<std::uint32_t> next_op{0};
  std::atomic<std::uint64_t> async_issued{0}, async_completed{0};
  std::atomic<std::uint64_t> untracked_async{0};  // issued after the id space ran out

  std::array<job_counters, n_jobs> jc;
  std::array<exec_counters, n_execs> ec;
  std::array<std::atomic<std::uint64_t>, op_count_> op_counts{};

  std::atomic<std::uint64_t> blocking_calls{0}, blocking_returns{0};  // wait(), stop(true)
  std::atomic<std::uint64_t> offloads_pending{0};
  std::atomic<std::uint64_t> progress_reads{0}, bad_progress{0}, bad_snapshots{0};
  std::atomic<std::uint64_t> bad_wait_results{0}, bad_run_results{0}, bad_exec_stats{0};
  std::atomic<std::uint64_t> wrong_result_type{0};

  std::mutex notes_mu;
  std::vector<std::string> notes;  // the first few anomalies, described (reported by the main thread)

  world() {
    for (std::size_t i = 0; i < max_ops; ++i) op_done[i].store(0, std::memory_order_relaxed);
  }

  void note(std::string s) {
    std::lock_guard lk(notes_mu);
    if (notes.size() < 20) notes.push_back(std::move(s));
  }

  // An id for an asynchronous operation whose completion is counted; `untracked` once the
  // space has run out (then only the totals are checked).
  std::uint32_t new_op() {
    async_issued.fetch_add(1);
    const std::uint32_t id = next_op.fetch_add(1);
    if (id >= max_ops) {
      untracked_async.fetch_add(1);
      return untracked;
    }
    return id;
  }
  void complete_op(std::uint32_t id) {
    if (id != untracked) op_done[id].fetch_add(1);
    async_completed.fetch_add(1);
  }
  std::uint32_t new_serial() {
    const std::uint32_t s = next_serial.fetch_add(1);
    return s < max_serials ? s : untracked;
  }
  bool throttled() const { return async_issued.load() - async_completed.load() > max_outstanding; }

  void check_progress(double p, const char* where) {
    progress_reads.fetch_add(1, std::memory_order_relaxed);
    if (!(p == -1.0 || (p >= 0.0 && p <= 1.0))) {
      if (bad_progress.fetch_add(1) < 5) note(std::string(where) + ": progress " + std::to_string(p));
    }
  }

  // A snapshot is taken under the job's mutex: its parts agree with each other.
  void check_snapshot(const jobs::stats& s) {
    check_progress(s.progress, "stats().progress");
    bool ok = true;
    switch (s.state) {
      case state::created:
        ok = s.error.empty() && s.progress == -1.0 && s.started_at == decltype(s.started_at){};
        break;
      case state::running:
      case state::canceling: ok = s.error.empty() && s.started_at != decltype(s.started_at){}; break;
      case state::succeeded: ok = s.error.empty(); break;
      case state::failed:
      case state::canceled: ok = !s.error.empty(); break;
    }
    if (!ok && bad_snapshots.fetch_add(1) < 5)
      note("inconsistent snapshot: state " + std::string(jobs::to_string(s.state)) + ", error \"" + s.error +
           "\", progress " + std::to_string(s.progress));
  }

  // The async_run handler of serial `s` completed with `o`.
  void record_run_result(std::uint32_t s, outcome o) {
    if (o != outcome::success && o != outcome::still_pending && o != outcome::canceled &&
        o != outcome::body) {
      if (bad_run_results.fetch_add(1) < 5)
        note(std::string("async_run completed with ") + outcome_names[int(o)]);
    }
    if (s == untracked) return;
    serials[s].result.store(static_cast<std::uint8_t>(o));
    serials[s].completions.fetch_add(1);
  }
};

// ---- bodies ------------------------------------------------------------------------------------

asio::awaitable<void> short_timer(const jobs::context& ctx, std::uint32_t micros) {
  asio::steady_timer t(ctx.get_executor(), std::chrono::microseconds(micros));
  co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<void> work(jobs::context& ctx, const run_params& p, world& w) {
  switch (p.kind) {
    case body_kind::immediate: ctx.set_result(static_cast<int>(p.micros)); co_return;
    case body_kind::timer: co_await short_timer(ctx, p.micros); co_return;
    case body_kind::poll: {
      const auto until = steady::now() + std::chrono::microseconds(p.micros);
      for (unsigned i = 0; !ctx.is_canceled() && steady::now() < until; ++i)
        if (i % 32 == 0) ctx.set_progress(static_cast<double>(i % 1000) / 999.0);
      co_return;
    }
    case body_kind::throws: throw body_error("body failed at once");
    case body_kind::progress_result: {
      static constexpr double values[] = {-0.5, 0.25, std::numeric_limits<double>::quiet_NaN(),
                                          1.5,  0.75, -std::numeric_limits<double>::infinity()};
      int i = 0;
      for (double v : values) {
        ctx.set_progress(v);
        ctx.set_result(++i);
        co_await short_timer(ctx, p.micros / 4);
      }
      co_return;
    }
    case body_kind::timer_throws:
      co_await short_timer(ctx, p.micros);
      throw body_error("body failed after a timer");
    case body_kind::ignore_cancel: {
      co_await asio::this_coro::throw_if_cancelled(false);
      asio::steady_timer t(ctx.get_executor(), std::chrono::microseconds(p.micros));
      auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)ec;
      ctx.set_progress(1.0);
      co_return;
    }
    case body_kind::offload: {
      w.offloads_pending.fetch_add(1);
      // The context goes to another thread and may be used after the run has ended (ignored).
      asio::post(*w.pool, [c = ctx, &w]() mutable {
        c.set_progress(0.5);
        c.set_result(42);
        c.set_progress(2.0);
        (void)c.is_canceled();
        (void)c.cancel_reason();
        w.offloads_pending.fetch_sub(1);
      });
      co_await short_timer(ctx, p.micros);
      co_return;
    }
    case body_kind::count_: break;
  }
  co_return;
}

jobs::body make_body(world& w, std::size_t job_index) {
  return [&w, job_index](jobs::context& ctx) -> asio::awaitable<void> {
    run_params p;
    if (const auto* q = std::any_cast<run_params>(&ctx.params())) p = *q;
    job_counters& jc = w.jc[job_index];
    jc.entries.fetch_add(1);
    if (jc.active.fetch_add(1) != 0) jc.overlaps.fetch_add(1);
    if (p.serial != untracked) w.serials[p.serial].entries.fetch_add(1);
    struct leave {
      world& w;
      job_counters& jc;
      std::uint32_t serial;
      std::uint8_t how = end_threw_other;  // also if the frame were destroyed unfinished
      ~leave() {
        if (serial != untracked) {
          w.serials[serial].how.store(how);
          w.serials[serial].exits.fetch_add(1);
        }
        jc.active.fetch_sub(1);
        jc.exits.fetch_add(1);
      }
    } guard{w, jc, p.serial};
    try {
      co_await work(ctx, p, w);
    } catch (const body_error&) {
      guard.how = end_threw_body;
      throw;
    } catch (const boost::system::system_error& e) {
      guard.how = e.code() == asio::error::operation_aborted ? end_threw_cancellation : end_threw_other;
      throw;
    } catch (...) {
      guard.how = end_threw_other;
      throw;
    }
    guard.how = end_returned;
  };
}

// ---- one hammer thread -------------------------------------------------------------------------

struct rig {
  world& w;
  std::vector<jobs::job>& jobs;
  std::vector<jobs::executor>& execs;
  std::vector<std::size_t>& exec_job;  // which job each executor runs
};

run_params random_params(std::mt19937_64& rng) {
  run_params p;
  p.kind = static_cast<body_kind>(rng() % static_cast<unsigned>(body_kind::count_));
  p.micros = static_cast<std::uint32_t>(rng() % 2000);  // up to 2 ms
  return p;
}

void hammer(rig r, std::uint64_t seed, const std::atomic<bool>& stop) {
  world& w = r.w;
  std::mt19937_64 rng(seed);
  // Weights of the operations (reads are cheap and frequent; blocking calls rarer).
  static constexpr unsigned weights[op_count_] = {6, 6, 3, 2, 1, 3, 2, 8, 5, 2, 2, 1, 1, 1, 2, 4};
  unsigned total = 0;
  for (unsigned x : weights) total += x;

  while (!stop.load(std::memory_order_relaxed)) {
    unsigned pick = static_cast<unsigned>(rng() % total);
    unsigned o = 0;
    while (pick >= weights[o]) pick -= weights[o++];
    const bool async_op = o == op_async_run || o == op_async_run_raced || o == op_async_wait ||
                          o == op_async_wait_raced || o == op_async_start || o == op_start_coro ||
                          o == op_async_start_raced || o == op_async_stop;
    if (async_op && w.throttled()) {
      std::this_thread::yield();  // let the pool catch up instead of queueing without end
      o = op_read_job;
    }
    w.op_counts[o].fetch_add(1, std::memory_order_relaxed);
    const std::size_t ji = rng() % r.jobs.size();
    const std::size_t ei = rng() % r.execs.size();
    jobs::job& j = r.jobs[ji];
    jobs::executor& e = r.execs[ei];
    exec_counters& ec = w.ec[ei];
    const auto race_delay = std::chrono::microseconds(rng() % 1500);

    switch (o) {
      case op_run: {
        run_params p = random_params(rng);
        p.serial = w.new_serial();
        const bool admitted = j.run(p);
        if (p.serial != untracked)
          w.serials[p.serial].origin.store(admitted ? origin_run_admitted : origin_run_refused);
        break;
      }
      case op_async_run: {
        run_params p = random_params(rng);
        p.serial = w.new_serial();
        if (p.serial != untracked) w.serials[p.serial].origin.store(origin_async);
        const std::uint32_t id = w.new_op();
        j.async_run(p, [&w, id, s = p.serial](std::exception_ptr ex) {
          w.record_run_result(s, classify(ex));
          w.complete_op(id);
        });
        break;
      }
      case op_async_run_raced: {
        // Raced against a timer on a strand: the loser is cancelled (the run by the caller's
        // cancellation). Everything of the race runs on the strand, the async_run's completion
        // too (bound to it): a parallel group emits the loser's cancellation from the winner's
        // completion, and a cancellation slot is not thread-safe, so both must complete on one
        // strand (with the job's default, the pool, the emit would race with the async_run
        // completing on another thread).
        run_params p = random_params(rng);
        p.serial = w.new_serial();
        if (p.serial != untracked) w.serials[p.serial].origin.store(origin_async);
        const std::uint32_t id = w.new_op();
        auto strand = asio::make_strand(*w.pool);
        asio::post(strand, [&w, j, strand, p, id, race_delay]() mutable {
          auto timer = std::make_shared<asio::steady_timer>(strand, race_delay);
          asio::experimental::make_parallel_group(j.async_run(p, asio::bind_executor(strand, asio::deferred)),
                                                  timer->async_wait(asio::deferred))
              .async_wait(asio::experimental::wait_for_one(),
                          asio::bind_executor(
                              strand, [&w, id, s = p.serial, timer](std::array<std::size_t, 2>,
                                                                    std::exception_ptr ex, error_code) {
                                w.record_run_result(s, classify(ex));
                                w.complete_op(id);
                              }));
        });
        break;
      }
      case op_cancel: (void)j.cancel(); break;
      case op_wait:
        w.blocking_calls.fetch_add(1);
        j.wait();
        w.blocking_returns.fetch_add(1);
        break;
      case op_async_wait: {
        const std::uint32_t id = w.new_op();
        j.async_wait([&w, id](error_code ec2) {
          if (ec2 && w.bad_wait_results.fetch_add(1) < 5)
            w.note("async_wait completed with " + ec2.message());
          w.complete_op(id);
        });
        break;
      }
      case op_async_wait_raced: {
        const std::uint32_t id = w.new_op();
        auto strand = asio::make_strand(*w.pool);
        asio::post(strand, [&w, j, strand, id, race_delay]() mutable {
          auto timer = std::make_shared<asio::steady_timer>(strand, race_delay);
          asio::experimental::make_parallel_group(j.async_wait(asio::bind_executor(strand, asio::deferred)),
                                                  timer->async_wait(asio::deferred))
              .async_wait(asio::experimental::wait_for_one(),
                          asio::bind_executor(strand, [&w, id, timer](std::array<std::size_t, 2>,
                                                                      error_code wait_ec, error_code) {
                            if (wait_ec && wait_ec != asio::error::operation_aborted &&
                                w.bad_wait_results.fetch_add(1) < 5)
                              w.note("raced async_wait completed with " + wait_ec.message());
                            w.complete_op(id);
                          }));
        });
        break;
      }
      case op_read_job: {
        const double p = j.progress();
        w.check_progress(p, "progress()");
        w.check_snapshot(j.stats());
        (void)j.state();
        (void)j.is_done();
        (void)j.is_executing();
        (void)j.error();
        (void)j.execution_time();
        (void)j.started_at();
        (void)j.ended_at();
        const std::any res = j.result();
        if (res.has_value() && !std::any_cast<int>(&res)) w.wrong_result_type.fetch_add(1);
        break;
      }
      case op_async_start: {
        run_params p = random_params(rng);
        const std::uint32_t id = w.new_op();
        ec.calls.fetch_add(1);
        e.async_start(p, [&w, &ec, id](std::exception_ptr ex) {
          ec.by_outcome[static_cast<std::size_t>(classify(ex))].fetch_add(1);
          ec.completions.fetch_add(1);
          w.complete_op(id);
        });
        break;
      }
      case op_start_coro: {
        run_params p = random_params(rng);
        const std::uint32_t id = w.new_op();
        ec.calls.fetch_add(1);
        asio::co_spawn(*w.pool, e.start(p), [&w, &ec, id](std::exception_ptr ex) {
          ec.by_outcome[static_cast<std::size_t>(classify(ex))].fetch_add(1);
          ec.completions.fetch_add(1);
          w.complete_op(id);
        });
        break;
      }
      case op_async_start_raced: {
        run_params p = random_params(rng);
        const std::uint32_t id = w.new_op();
        ec.calls.fetch_add(1);
        auto strand = asio::make_strand(*w.pool);
        asio::post(strand, [&w, &ec, e, strand, p, id, race_delay]() mutable {
          auto timer = std::make_shared<asio::steady_timer>(strand, race_delay);
          asio::experimental::make_parallel_group(
              e.async_start(p, asio::bind_executor(strand, asio::deferred)),
              timer->async_wait(asio::deferred))
              .async_wait(
                  asio::experimental::wait_for_one(),
                  asio::bind_executor(strand, [&w, &ec, id, timer](std::array<std::size_t, 2>,
                                                                   std::exception_ptr ex, error_code) {
                    ec.by_outcome[static_cast<std::size_t>(classify(ex))].fetch_add(1);
                    ec.completions.fetch_add(1);
                    w.complete_op(id);
                  }));
        });
        break;
      }
      case op_stop: e.stop(); break;
      case op_stop_wait:
        w.blocking_calls.fetch_add(1);
        e.stop(true);
        w.blocking_returns.fetch_add(1);
        break;
      case op_async_stop: {
        const std::uint32_t id = w.new_op();
        e.async_stop([&w, id] { w.complete_op(id); });
        break;
      }
      case op_reset: e.reset(); break;
      case op_read_exec: {
        const jobs::executor_stats s = e.stats();
        const std::uint64_t ended = s.successes + s.failures + s.canceled;
        // Counted under one lock: a start is admitted (starts + 1, in progress) and later
        // counted as ended, then released; at most one start is in progress.
        const bool ok = ended <= s.starts && s.starts <= ended + 1 && (s.in_progress || s.starts == ended) &&
                        s.retries <= s.attempts.size() && s.attempts.size() <= 4;
        if (!ok && w.bad_exec_stats.fetch_add(1) < 5) {
          std::ostringstream os;
          os << "executor " << ei << " stats: starts " << s.starts << ", successes " << s.successes
             << ", failures " << s.failures << ", canceled " << s.canceled << ", in_progress "
             << s.in_progress << ", retries " << s.retries << ", attempts " << s.attempts.size();
          w.note(os.str());
        }
        (void)e.get_job().state();
        break;
      }
      default: break;
    }
  }
}

// ---- the main thread's failure with no return ---------------------------------------------------

[[noreturn]] void fail_hard(const world& w, const std::string& what) {
  // A thread is stuck in a blocking call, or work never ends: it cannot be joined, so the test
  // cannot end normally. Say why (with the seed) and end the process with a failure.
  std::cerr << "stress race test FAILED (seed " << w.seed << "): " << what << "\n"
            << "  blocking calls " << w.blocking_calls.load() << ", returned " << w.blocking_returns.load()
            << "; async ops issued " << w.async_issued.load() << ", completed " << w.async_completed.load()
            << std::endl;
  std::_Exit(EXIT_FAILURE);
}

}  // namespace stress_race

BOOST_AUTO_TEST_SUITE(stress)

BOOST_AUTO_TEST_CASE(race_jobs_and_executors_from_many_threads) {
  using namespace stress_race;
  const double seconds = stress_seconds();
  auto w = std::make_unique<world>();
  w->seed = stress_seed();
  const auto deadline_after =
      std::chrono::duration_cast<steady::duration>(60s + 4 * std::chrono::duration<double>(seconds));
  BOOST_TEST_MESSAGE("stress race: seed " << w->seed << " (JOBS_STRESS_SEED), " << seconds
                                          << " s (JOBS_STRESS_SECONDS)");
  BOOST_TEST_CONTEXT("seed " << w->seed << " (rerun with JOBS_STRESS_SEED=" << w->seed << ")") {
    // Every record is formatted and consumed: the library's logging runs in full.
    jobs_test::discard_sink logs(true);
    asio::thread_pool pool(4);
    w->pool = &pool;

    std::vector<jobs::job> jobs;
    for (std::size_t i = 0; i < n_jobs; ++i) {
      // The last job is constructed on a strand of the pool (the body then runs on a strand of it).
      asio::any_io_executor ex = i + 1 == n_jobs ? asio::any_io_executor(asio::make_strand(pool))
                                                 : asio::any_io_executor(pool.get_executor());
      jobs.emplace_back(ex, "stress-" + std::to_string(i), make_body(*w, i),
                        jobs::with_label("n", std::to_string(i)));
    }
    std::vector<std::size_t> exec_job = {0, 1, 2, 3, 0};  // two executors share job 0
    std::vector<jobs::executor> execs;
    world* wp = w.get();
    auto counted = [wp](std::size_t k) {
      return jobs::on_complete([wp, k](const jobs::job&) { wp->ec[k].on_complete.fetch_add(1); });
    };
    execs.emplace_back(jobs[0], jobs::with_retry(3, 200us), jobs::with_timeout(1ms), counted(0));
    execs.emplace_back(jobs[1], jobs::with_cooldown(1ms), counted(1));
    execs.emplace_back(jobs[2], jobs::once(), jobs::with_retry(2, 0ms), counted(2));
    execs.emplace_back(jobs[3], jobs::with_retry(4, 100us), jobs::with_backoff(100us, 2.0, 1ms, 0.5),
                       jobs::with_timeout(2ms),
                       jobs::retry_if([](std::exception_ptr ex) { return classify(ex) != outcome::other; }),
                       jobs::on_retry([wp](unsigned, std::exception_ptr, std::chrono::nanoseconds) {
                         wp->ec[3].on_retry.fetch_add(1);
                       }),
                       counted(3));
    execs.emplace_back(jobs[0], counted(4));
    BOOST_TEST_REQUIRE(execs.size() == n_execs);

    // ---- hammer -------------------------------------------------------------------------------
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> finished{0};
    std::vector<std::thread> threads;
    const auto t0 = steady::now();
    for (std::size_t i = 0; i < n_threads; ++i)
      threads.emplace_back([&, i] {
        hammer(rig{*w, jobs, execs, exec_job}, w->seed + 0x9e3779b97f4a7c15ULL * (i + 1), stop);
        finished.fetch_add(1);
      });

    // Meanwhile this thread observes progress and snapshots from outside.
    const auto hammer_end =
        t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    std::uint64_t observations = 0;
    while (steady::now() < hammer_end) {
      for (auto& j : jobs) {
        w->check_progress(j.progress(), "progress() seen by the observer");
        w->check_snapshot(j.stats());
        ++observations;
      }
      std::this_thread::yield();
    }
    stop.store(true);

    // ---- quiescence, each step bounded ----------------------------------------------------
    const auto deadline = steady::now() + deadline_after;
    if (!jobs_test::spin_until([&] { return finished.load() == n_threads; }, deadline - steady::now()))
      fail_hard(*w, "a hammer thread never returned from a blocking call (wait() or stop(true))");
    for (auto& t : threads) t.join();
    const auto hammer_took = steady::now() - t0;
    if (!jobs_test::spin_until([&] { return w->async_completed.load() == w->async_issued.load(); },
                               deadline - steady::now()))
      fail_hard(*w, "an asynchronous operation never completed");
    if (!jobs_test::spin_until(
            [&] {
              for (auto& j : jobs)
                if (j.is_executing()) return false;
              for (auto& e : execs)
                if (e.stats().in_progress) return false;
              return w->offloads_pending.load() == 0;
            },
            deadline - steady::now()))
      fail_hard(*w, "a run or a start is still pending after every caller has finished");

    // ---- invariants -----------------------------------------------------------------------
    {
      std::lock_guard lk(w->notes_mu);
      for (const auto& n : w->notes) BOOST_TEST_MESSAGE("anomaly: " << n);
    }
    BOOST_TEST(w->blocking_calls.load() == w->blocking_returns.load());
    BOOST_TEST(w->bad_progress.load() == 0u);
    BOOST_TEST(w->bad_snapshots.load() == 0u);
    BOOST_TEST(w->bad_wait_results.load() == 0u);
    BOOST_TEST(w->bad_run_results.load() == 0u);
    BOOST_TEST(w->bad_exec_stats.load() == 0u);
    BOOST_TEST(w->wrong_result_type.load() == 0u);
    BOOST_TEST(w->progress_reads.load() > 0u);

    // Every asynchronous operation completed exactly once.
    const std::uint32_t ops = std::min<std::uint32_t>(w->next_op.load(), max_ops);
    std::uint64_t op_not_once = 0;
    for (std::uint32_t i = 0; i < ops; ++i)
      if (w->op_done[i].load() != 1) ++op_not_once;
    BOOST_TEST_INFO(op_not_once << " of " << ops << " asynchronous operations did not complete exactly once");
    BOOST_TEST(op_not_once == 0u);
    BOOST_TEST(w->async_completed.load() == w->async_issued.load());

    // Bodies: entered = exited, never two at once per job.
    std::uint64_t entries = 0;
    for (std::size_t i = 0; i < n_jobs; ++i) {
      auto& jc = w->jc[i];
      BOOST_TEST_CONTEXT("job " << i) {
        BOOST_TEST(jc.entries.load() == jc.exits.load());
        BOOST_TEST(jc.overlaps.load() == 0u);
        BOOST_TEST(jc.active.load() == 0);
        entries += jc.entries.load();
      }
    }
    BOOST_TEST(entries > 0u);

    // Each run() / async_run() call against how its body ended.
    const std::uint32_t serials = std::min<std::uint32_t>(w->next_serial.load(), max_serials);
    std::uint64_t bad_serials = 0, runs_admitted = 0, runs_refused = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(outcome::count_)> async_outcomes{};
    auto bad_serial = [&](std::uint32_t s, const std::string& why) {
      if (++bad_serials <= 10) BOOST_TEST_MESSAGE("serial " << s << ": " << why);
    };
    for (std::uint32_t s = 0; s < serials; ++s) {
      const serial_record& r = w->serials[s];
      const unsigned in = r.entries.load(), out = r.exits.load(), how = r.how.load();
      if (in != out || in > 1)
        bad_serial(s, "body entered " + std::to_string(in) + ", exited " + std::to_string(out));
      switch (r.origin.load()) {
        case origin_run_admitted: ++runs_admitted; break;
        case origin_run_refused:
          ++runs_refused;
          if (in != 0) bad_serial(s, "run() returned false but the body ran");
          break;
        case origin_async: {
          const unsigned done = r.completions.load();
          const auto res = static_cast<outcome>(r.result.load());
          if (done != 1) {
            bad_serial(s, "async_run handler completed " + std::to_string(done) + " times");
            break;
          }
          ++async_outcomes[static_cast<std::size_t>(res)];
          switch (res) {
            case outcome::still_pending:
              if (in != 0) bad_serial(s, "async_run was refused but the body ran");
              break;
            case outcome::success:
              ++runs_admitted;
              if (in != 1 || how != end_returned)
                bad_serial(s, "succeeded, but the body did not return normally");
              break;
            case outcome::body:
              ++runs_admitted;
              if (in != 1 || how != end_threw_body)
                bad_serial(s, "failed with the body's error the body did not throw");
              break;
            case outcome::canceled:
              // Canceled: the body returned or threw the cancellation (else its own error is
              // the outcome), or it never ran.
              ++runs_admitted;
              if (how == end_threw_body || how == end_threw_other)
                bad_serial(s, "errc::canceled although the body threw its own error");
              break;
            default: bad_serial(s, std::string("async_run completed with ") + outcome_names[int(res)]); break;
          }
          break;
        }
        default: bad_serial(s, "no origin recorded"); break;
      }
    }
    BOOST_TEST(bad_serials == 0u);
    if (w->untracked_async.load() > 0)
      BOOST_TEST_MESSAGE("the id space ran out: " << w->untracked_async.load()
                                                  << " operations counted in totals only");

    // Executors: handlers exactly once, counters add up.
    std::ostringstream exec_summary;
    for (std::size_t k = 0; k < n_execs; ++k) {
      BOOST_TEST_CONTEXT("executor " << k) {
        auto& ec = w->ec[k];
        const jobs::executor_stats s = execs[k].stats();
        auto n = [&](outcome o) { return ec.by_outcome[static_cast<std::size_t>(o)].load(); };
        BOOST_TEST(ec.calls.load() == ec.completions.load());
        BOOST_TEST(!s.in_progress);
        BOOST_TEST(s.starts == s.successes + s.failures + s.canceled);
        BOOST_TEST(ec.on_complete.load() == s.starts);
        BOOST_TEST(n(outcome::success) == s.successes);
        // A start ended by stop() or the caller's cancellation completes with errc::canceled; so
        // does a failed attempt whose run somebody else cancelled (job.cancel(), or the other
        // executor's stop() on the shared job 0), which is a failure.
        BOOST_TEST(s.canceled <= n(outcome::canceled));
        // A failure is the body's error, a timeout, such a cancellation, or errc::still_pending
        // when the job was run on its own during a retry delay.
        BOOST_TEST(n(outcome::body) + n(outcome::timeout) <= s.failures);
        BOOST_TEST(s.failures <= n(outcome::body) + n(outcome::timeout) + n(outcome::still_pending) +
                                     (n(outcome::canceled) - s.canceled));
        BOOST_TEST(n(outcome::other) == 0u);
        // Refusals (still_pending, once, cooldown) are the rest.
        BOOST_TEST(ec.completions.load() >= s.starts + n(outcome::once) + n(outcome::cooldown));
        if (k != 1) BOOST_TEST(n(outcome::cooldown) == 0u);
        if (k != 2) BOOST_TEST(n(outcome::once) == 0u);
        if (k != 0 && k != 3) BOOST_TEST(n(outcome::timeout) == 0u);
        exec_summary << "\n  executor " << k << ": " << ec.calls.load() << " starts asked, " << s.starts
                     << " admitted;";
        for (std::size_t o = 0; o < static_cast<std::size_t>(outcome::count_); ++o)
          exec_summary << ' ' << outcome_names[o] << '=' << ec.by_outcome[o].load();
      }
    }

    // A job's last snapshot agrees with itself, and the job and its executors still work.
    for (std::size_t i = 0; i < n_jobs; ++i) {
      BOOST_TEST_CONTEXT("job " << i) {
        const jobs::stats s = jobs[i].stats();
        BOOST_TEST(!jobs::is_pending(s.state));
        if (jobs::is_done(s.state)) BOOST_TEST((s.state == state::succeeded) == !jobs[i].error());
        std::atomic<int> done{0};
        std::exception_ptr got;
        run_params p;
        p.kind = body_kind::immediate;
        p.micros = 7;
        jobs[i].async_run(p, [&](std::exception_ptr ex) {
          got = ex;
          done.store(1);
        });
        BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return done.load() == 1; }));
        BOOST_TEST(!got);
        BOOST_TEST(jobs[i].state() == state::succeeded);
        BOOST_TEST(jobs[i].result<int>() == 7);
        BOOST_TEST(jobs[i].progress() == -1.0);
      }
    }
    for (std::size_t k = 0; k < n_execs; ++k) {
      BOOST_TEST_CONTEXT("executor " << k) {
        execs[k].reset();
        const bool once_used = k == 2 && execs[k].stats().successes > 0;
        std::atomic<int> done{0};
        std::exception_ptr got;
        run_params p;
        execs[k].async_start(p, [&](std::exception_ptr ex) {
          got = ex;
          done.store(1);
        });
        BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return done.load() == 1; }));
        BOOST_TEST(classify(got) == (once_used ? outcome::once : outcome::success));
      }
    }

    // Nothing keeps the pool's work count up: it runs out of work and its threads end.
    std::atomic<bool> joined{false};
    std::thread joiner([&] {
      pool.join();
      joined.store(true);
    });
    if (!jobs_test::spin_until([&] { return joined.load(); }, 60s))
      fail_hard(*w, "the thread pool never ran out of work (a handler or work count was leaked)");
    joiner.join();

    std::ostringstream os;
    for (std::size_t o = 0; o < op_count_; ++o) os << ' ' << op_names[o] << '=' << w->op_counts[o].load();
    std::ostringstream ao;
    for (std::size_t o = 0; o < static_cast<std::size_t>(outcome::count_); ++o)
      ao << ' ' << outcome_names[o] << '=' << async_outcomes[o];
    BOOST_TEST_MESSAGE("stress race: hammered "
                       << std::chrono::duration<double>(hammer_took).count() << " s; calls:" << os.str()
                       << "; bodies run " << entries << "; run()/async_run admitted " << runs_admitted
                       << ", run() refused " << runs_refused << "; async_run outcomes:" << ao.str()
                       << "; observer reads " << observations << ", progress reads "
                       << w->progress_reads.load() << exec_summary.str());
  }
}

// An executor's per-attempt timeout racing the end of its run, on a thread pool: the timer and
// the run complete on different threads unless the executor serializes them. Each body awaits a
// timer about as long as the timeout, so the timeout fires just as the run ends, again and again.
// Every start must complete exactly once, with success or errc::timeout.
BOOST_AUTO_TEST_CASE(race_executor_timeouts_against_run_ends) {
  using namespace stress_race;
  const std::uint64_t seed = stress_seed();
  BOOST_TEST_MESSAGE("timeout race: seed " << seed << " (JOBS_STRESS_SEED)");
  BOOST_TEST_CONTEXT("seed " << seed << " (rerun with JOBS_STRESS_SEED=" << seed << ")") {
    // Every record is formatted and consumed: the library's logging runs in full.
    jobs_test::discard_sink logs(true);
    asio::thread_pool pool(4);
    struct chain {
      jobs::job job;
      jobs::executor exec;
      std::uint32_t micros;
      std::atomic<std::uint64_t> issued{0}, done{0}, succeeded{0}, timed_out{0}, bad{0};
      std::atomic<bool> over{false};
    };
    const auto until = steady::now() + std::chrono::duration_cast<steady::duration>(
                                           std::chrono::duration<double>(std::min(1.0, stress_seconds())));
    std::mt19937_64 rng(seed);
    std::vector<std::unique_ptr<chain>> chains;
    for (int i = 0; i < 8; ++i) {
      const auto timeout = std::chrono::microseconds(20 + rng() % 200);
      jobs::job j(pool, "timeout-race-" + std::to_string(i), [](jobs::context& ctx) -> asio::awaitable<void> {
        asio::steady_timer t(ctx.get_executor(), std::chrono::microseconds(ctx.params<std::uint32_t>()));
        co_await t.async_wait(asio::use_awaitable);
      });
      jobs::executor e(j, jobs::with_timeout(timeout));
      chains.push_back(std::unique_ptr<chain>(
          new chain{j, e, static_cast<std::uint32_t>(timeout.count()), {}, {}, {}, {}, {}, {}}));
    }
    // Each chain starts again from its own completion until the time is up.
    std::function<void(chain&)> kick = [&kick, until](chain& c) {
      c.issued.fetch_add(1);
      c.exec.async_start(c.micros, [&kick, &c, until](std::exception_ptr ex) {
        const outcome o = classify(ex);
        if (o == outcome::success)
          c.succeeded.fetch_add(1);
        else if (o == outcome::timeout)
          c.timed_out.fetch_add(1);
        else
          c.bad.fetch_add(1);
        c.done.fetch_add(1);
        if (steady::now() < until)
          kick(c);
        else
          c.over.store(true);
      });
    };
    for (auto& c : chains) kick(*c);
    const bool ended = jobs_test::spin_until(
        [&] {
          for (auto& c : chains)
            if (!c->over.load()) return false;
          return true;
        },
        60s);
    if (!ended) {
      std::cerr << "timeout race (seed " << seed << "): a start never completed" << std::endl;
      std::_Exit(EXIT_FAILURE);
    }
    pool.join();
    std::uint64_t starts = 0, timeouts = 0;
    for (std::size_t i = 0; i < chains.size(); ++i) {
      auto& c = *chains[i];
      BOOST_TEST_CONTEXT("chain " << i) {
        BOOST_TEST(c.issued.load() == c.done.load());
        BOOST_TEST(c.bad.load() == 0u);
        BOOST_TEST(c.succeeded.load() + c.timed_out.load() == c.done.load());
        const jobs::executor_stats s = c.exec.stats();
        BOOST_TEST(s.starts == c.issued.load());
        BOOST_TEST(s.successes == c.succeeded.load());
        BOOST_TEST(s.failures == c.timed_out.load());
      }
      starts += c.done.load();
      timeouts += c.timed_out.load();
    }
    BOOST_TEST(starts > 0u);
    BOOST_TEST_MESSAGE("timeout race: " << starts << " starts, " << timeouts << " timed out");
  }
}

BOOST_AUTO_TEST_SUITE_END()
