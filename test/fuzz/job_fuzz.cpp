// libFuzzer target: decodes its input into a sequence of job and executor operations, runs them
// on an io_context, drives it to completion within a deadline and checks the API's invariants.
// Any violation calls __builtin_trap() (a crash that libFuzzer reports and minimises).
//
// Input layout (see gen_corpus.py, which writes the seed corpus):
//   byte 0   mode: 0 = one thread (the fuzzer's own thread polls the io_context between
//            operations; blocking calls are used only where they cannot block), 1 = one
//            background thread runs the io_context, 2 = two background threads
//   byte 1   ending: bit 0 set = abandon (destroy every handle, then the io_context, with
//            operations still in flight: nothing may be invoked twice and nothing may leak)
//   then     operations, one opcode byte each followed by its arguments (a missing byte reads 0)
//
// Invariants checked:
//   - every completion handler (async_run, async_wait, async_watch, async_start, co_spawned
//     start, async_stop) is called exactly once after a drain (the watches still waiting are
//     cancelled through their slots first), at most once after an abandon;
//   - a watch completes with a newer version than it asked for, or with operation_aborted and
//     an empty snapshot; one that asked for an older version than the job's completes with it;
//   - no handler and no body is ever invoked inside an initiating call;
//   - a handler bound to a strand runs on that strand;
//   - after the drain, every job is created (never started) or in a terminal state, error() is
//     null exactly when it succeeded, progress() is -1 or in [0, 1]; every executor has no start
//     in progress, starts == successes + failures + canceled, and on_complete ran once per start;
//   - at any time: progress in [0, 1] or -1, executor counts consistent;
//   - one thread (deterministic checks): run()/async_run refuse exactly when a run is pending;
//     cancel() succeeds exactly when the job is running and leaves it canceling; a run canceled
//     while the async_run caller's run is pending completes with an error; set_progress stores
//     the clamped value (NaN ignored); a body's own wait() throws std::logic_error and its own
//     run() returns false; async_start is refused with still_pending exactly when a start is in
//     progress or the job's run is pending, never with cooldown when no cooldown is left;
//   - with_retry / with_backoff throw std::invalid_argument exactly for the documented inputs.
#include <jobs/executor.hpp>
#include <jobs/job.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/value_from.hpp>
#include <boost/log/core/core.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <limits>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "job_fuzz: invariant violated: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}
#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) fail(#cond " @ line " JOBS_FUZZ_STR(__LINE__)); \
  } while (0)
#define JOBS_FUZZ_STR2(x) #x
#define JOBS_FUZZ_STR(x) JOBS_FUZZ_STR2(x)

// ---- input ------------------------------------------------------------------------------------

class reader {
 public:
  reader(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return i_ >= n_; }
  std::uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
  unsigned pick(unsigned n) { return u8() % n; }
  double real() {
    switch (const std::uint8_t b = u8(); b % 16) {
      case 0: return std::numeric_limits<double>::quiet_NaN();
      case 1: return std::numeric_limits<double>::infinity();
      case 2: return -std::numeric_limits<double>::infinity();
      case 3: return -0.0;
      case 4: return 0.5;
      case 5: return 1.0;
      case 6: return 2.0;
      case 7: return -1.0;
      case 8: return std::numeric_limits<double>::denorm_min();
      case 9: return 1e300;
      case 10: {  // any bit pattern (signalling NaNs and payloads included)
        std::uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = bits << 8 | u8();
        double x;
        std::memcpy(&x, &bits, sizeof x);
        return x;
      }
      default: return static_cast<double>(b) / 255.0;
    }
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t i_ = 0;
};

constexpr unsigned max_ops = 48;
constexpr unsigned max_jobs = 8;
constexpr unsigned max_execs = 8;
constexpr unsigned max_records = 96;
constexpr unsigned max_signals = 32;
constexpr auto advance_budget = 25ms;  // total time the operations may spend waiting

// ---- bookkeeping ------------------------------------------------------------------------------

// Initiating calls in progress on this thread: a handler or a body that starts while it is
// non-zero was invoked inside an initiating call.
thread_local int api_depth = 0;
struct in_api {
  in_api() { ++api_depth; }
  ~in_api() { --api_depth; }
  in_api(const in_api&) = delete;
  in_api& operator=(const in_api&) = delete;
};

enum class op_kind : std::uint8_t { run, wait, watch, start, spawned_start, stop };

// One asynchronous operation: how often its handler was called and what it must see.
struct record {
  op_kind kind;
  std::atomic<int> calls{0};
  bool expect_refusal = false;  // one thread: must complete with errc::still_pending / once
  jobs::errc refusal{};
  bool expect_error = false;  // one thread: canceled while pending → must complete with an error
  bool no_cooldown = false;   // one thread: no cooldown was left when it was initiated
  bool on_strand = false;     // bound to `strand`: must run there
  std::optional<asio::strand<asio::io_context::executor_type>> strand;
};

bool has_code(const std::exception_ptr& e, jobs::errc c) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& se) {
    return se.code() == c;
  } catch (...) {
    return false;
  }
}

void check_progress(double p) { CHECK(p == -1 || (p >= 0 && p <= 1)); }

void check_stats(const jobs::stats& s) {
  check_progress(s.progress);
  CHECK(s.execution_time >= std::chrono::nanoseconds::zero());
  CHECK(static_cast<unsigned>(s.state) <= static_cast<unsigned>(jobs::state::canceled));
  auto v = boost::json::value_from(s);
  CHECK(v.is_object());
}

struct exec_slot {
  jobs::executor exec;
  unsigned job_index;
  unsigned attempts;  // configured attempts per start (>= 1)
  bool once;
  bool has_on_complete;
  std::shared_ptr<std::atomic<std::uint64_t>> completes;  // on_complete calls
};

struct fuzz_state;

// A job body: a short script of steps decoded from the input.
struct step {
  std::uint8_t op;
  std::uint8_t arg;
  double value;
};

struct world {
  int mode = 0;  // 0: one thread
  asio::io_context* io = nullptr;
  std::deque<std::optional<jobs::job>> jobs;
  std::deque<std::optional<exec_slot>> execs;
  std::deque<record>* records = nullptr;
  // One thread: the record of the async_run whose run a job is running (null if another).
  std::array<record*, max_jobs> current_run{};
  // The version of the last snapshot a watcher of each job got (written by watch handlers).
  std::array<std::atomic<std::uint64_t>, max_jobs> last_version{};

  bool one_thread() const { return mode == 0; }
};

record* new_record(world& w, op_kind k) {
  if (w.records->size() >= max_records) return nullptr;
  auto& r = w.records->emplace_back();
  r.kind = k;
  return &r;
}

// The handler of every asynchronous operation that completes with an exception_ptr.
struct ep_handler {
  record* r;
  void operator()(std::exception_ptr e) const {
    CHECK(api_depth == 0);
    CHECK(r->calls.fetch_add(1) == 0);
    if (r->on_strand) CHECK(r->strand->running_in_this_thread());
    if (r->expect_refusal) CHECK(has_code(e, r->refusal));
    if (r->expect_error) CHECK(e != nullptr);
    if (r->no_cooldown) CHECK(!has_code(e, jobs::errc::cooldown));
  }
};

struct ec_handler {
  record* r;
  bool expect_success;
  void operator()(boost::system::error_code ec) const {
    CHECK(api_depth == 0);
    CHECK(r->calls.fetch_add(1) == 0);
    if (r->on_strand) CHECK(r->strand->running_in_this_thread());
    CHECK(!ec || ec == asio::error::operation_aborted);
    if (expect_success) CHECK(!ec);
  }
};

struct watch_handler {
  record* r;
  std::uint64_t after;
  bool expect_success;
  std::atomic<std::uint64_t>* last_version;
  void operator()(boost::system::error_code ec, jobs::stats s) const {
    CHECK(api_depth == 0);
    CHECK(r->calls.fetch_add(1) == 0);
    if (r->on_strand) CHECK(r->strand->running_in_this_thread());
    if (ec) {
      CHECK(ec == asio::error::operation_aborted);
      CHECK(!expect_success);
      CHECK(s.version == 0 && s.id.empty());  // an empty snapshot
      return;
    }
    CHECK(s.version > after);
    check_progress(s.progress);
    CHECK(!s.id.empty());
    last_version->store(s.version);
  }
};

struct void_handler {
  record* r;
  void operator()() const {
    CHECK(api_depth == 0);
    CHECK(r->calls.fetch_add(1) == 0);
    if (r->on_strand) CHECK(r->strand->running_in_this_thread());
  }
};

asio::awaitable<void> sleep_ms(const asio::any_io_executor& ex, int ms) {
  asio::steady_timer t(ex, milliseconds(ms));
  co_await t.async_wait(asio::use_awaitable);
}

// The body's steps. `w` and `self` are used only with one thread (where every access to the
// world happens on the fuzzer's thread).
asio::awaitable<void> run_script(jobs::context& ctx, std::vector<step> steps, world* w, unsigned self) {
  CHECK(api_depth == 0);  // a body never starts inside an initiating call
  auto ex = ctx.get_executor();
  for (const step& s : steps) {
    switch (s.op % 12) {
      case 0: co_await sleep_ms(ex, s.arg % 6); break;
      case 1: co_await asio::post(ex, asio::use_awaitable); break;
      case 2: {
        ctx.set_progress(s.value);
        if (w->one_thread() && w->jobs[self]) {
          const double p = w->jobs[self]->progress();
          check_progress(p);
          if (!std::isnan(s.value)) CHECK(p == std::clamp(s.value, 0.0, 1.0));
        }
        break;
      }
      case 3: ctx.set_result(int(s.arg)); break;
      case 4: throw std::runtime_error("body failed");
      case 5: throw 42;  // not a std::exception
      case 6: throw boost::system::system_error(asio::error::operation_aborted);
      case 7: {  // polls for cancellation a few times; arg: how it reacts
        for (int k = 0; k < 1 + (s.arg >> 2) % 5; ++k) {
          if (ctx.is_canceled()) {
            CHECK(ctx.cancel_reason() == jobs::errc::canceled || ctx.cancel_reason() == jobs::errc::timeout);
            if (s.arg & 1) co_return;
            throw boost::system::system_error(asio::error::operation_aborted);
          }
          try {
            co_await sleep_ms(ex, 1);
          } catch (const boost::system::system_error&) {
            if (s.arg & 2) co_return;  // swallows the cancellation
            throw;
          }
        }
        break;
      }
      case 8: {  // ignores cancellation for a bounded while
        co_await asio::this_coro::reset_cancellation_state();
        bool aborted = false;
        try {
          co_await sleep_ms(ex, s.arg % 4);
        } catch (const boost::system::system_error&) {
          aborted = true;
        }
        if (aborted) co_await asio::this_coro::reset_cancellation_state();
        break;
      }
      case 9:
        CHECK(ctx.params().has_value() == false || ctx.params().type() == typeid(int));
        check_progress(w->one_thread() && w->jobs[self] ? w->jobs[self]->progress() : -1);
        break;
      default: {  // one thread: calls into its own job or another one from the body
        if (!w->one_thread()) break;
        auto& own = w->jobs[self];
        auto& other = w->jobs[s.arg % w->jobs.size()];
        switch ((s.arg >> 3) % 5) {
          case 0:
            if (own) {
              bool threw = false;
              try {
                own->wait();
              } catch (const std::logic_error&) {
                threw = true;
              }
              CHECK(threw);
            }
            break;
          case 1:
            if (own) {
              in_api g;
              CHECK(!own->run());
            }
            break;
          case 2:
            if (own) {
              const auto before = own->state();
              in_api g;
              CHECK(own->cancel() == (before == jobs::state::running));
            }
            break;
          case 3:
            if (other) {
              const bool pending = other->is_executing();
              in_api g;
              CHECK(other->run() == !pending);
              if (!pending) w->current_run[s.arg % w->jobs.size()] = nullptr;
            }
            break;
          case 4:
            if (other) {
              const auto before = other->state();
              in_api g;
              CHECK(other->cancel() == (before == jobs::state::running));
            }
            break;
        }
        break;
      }
    }
  }
}

std::vector<step> decode_steps(reader& in) {
  std::vector<step> steps(in.pick(5));
  for (auto& s : steps) {
    s.op = in.u8();
    s.arg = in.u8();
    s.value = (s.op % 12 == 2) ? in.real() : 0;
  }
  return steps;
}

// ---- the operations ---------------------------------------------------------------------------

void create_job(world& w, reader& in) {
  if (w.jobs.size() >= max_jobs) return;
  const unsigned self = static_cast<unsigned>(w.jobs.size());
  auto steps = decode_steps(in);
  world* wp = &w;
  jobs::body fn = [steps, wp, self](jobs::context& ctx) { return run_script(ctx, steps, wp, self); };
  const auto how = in.pick(3);
  if (how == 0)
    w.jobs.emplace_back(jobs::job(*w.io, "", std::move(fn)));
  else if (how == 1)
    w.jobs.emplace_back(
        jobs::job(*w.io, "job" + std::to_string(self), std::move(fn), jobs::with_label("k", "v")));
  else
    w.jobs.emplace_back(
        jobs::job(asio::make_strand(*w.io), "s", std::move(fn), jobs::with_labels({{"a", "b"}})));
  CHECK(w.jobs.back()->is_state(jobs::state::created));
  CHECK(w.jobs.back()->progress() == -1);
}

std::optional<jobs::job>* pick_job(world& w, reader& in, unsigned* index = nullptr) {
  const auto b = in.u8();
  if (w.jobs.empty()) return nullptr;
  const unsigned i = b % w.jobs.size();
  if (index) *index = i;
  return w.jobs[i] ? &w.jobs[i] : nullptr;
}

exec_slot* pick_exec(world& w, reader& in) {
  const auto b = in.u8();
  if (w.execs.empty()) return nullptr;
  auto& e = w.execs[b % w.execs.size()];
  return e ? &*e : nullptr;
}

// The cancellation signal an operation may be bound to, and its strand: with threads, a
// signal is emitted only on the strand its handler completes on (signals are not thread-safe).
struct bound {
  asio::cancellation_signal* signal = nullptr;
  std::optional<asio::strand<asio::io_context::executor_type>> strand;
};

template <class Handler, class Initiate>
void initiate(record& r, bound b, Handler h, Initiate&& init) {
  if (b.strand) {
    r.on_strand = true;
    r.strand = b.strand;
  }
  in_api g;
  if (b.signal && b.strand)
    init(asio::bind_cancellation_slot(b.signal->slot(), asio::bind_executor(*b.strand, std::move(h))));
  else if (b.signal)
    init(asio::bind_cancellation_slot(b.signal->slot(), std::move(h)));
  else if (b.strand)
    init(asio::bind_executor(*b.strand, std::move(h)));
  else
    init(std::move(h));
}

struct signal_slot {
  asio::cancellation_signal signal;
  std::optional<asio::strand<asio::io_context::executor_type>> strand;
  record* r = nullptr;  // the operation it is bound to
  unsigned job_index = 0;
  bool is_run = false;
  bool is_watch = false;  // cancelled at the drain (a watch waits for a change that may never come)
};

struct run_env {
  world& w;
  std::deque<signal_slot>& signals;
};

bound make_bound(run_env& env, reader& in, record* r, unsigned job_index, bool is_run) {
  bound b;
  const auto how = in.pick(4);
  // With threads a signal needs a strand (its emits are posted there).
  const bool want_signal = (how & 1) && env.signals.size() < max_signals;
  const bool want_strand = (how & 2) || (want_signal && !env.w.one_thread());
  if (want_strand) b.strand.emplace(asio::make_strand(*env.w.io));
  if (want_signal) {
    auto& s = env.signals.emplace_back();
    s.strand = b.strand;
    s.r = r;
    s.job_index = job_index;
    s.is_run = is_run;
    b.signal = &s.signal;
  }
  return b;
}

void op_run(world& w, reader& in) {
  unsigned i = 0;
  auto* j = pick_job(w, in, &i);
  if (!j) return;
  const bool pending = (*j)->is_executing();
  bool started;
  {
    in_api g;
    started = (*j)->run(in.pick(2) ? std::any(int(in.u8())) : std::any());
  }
  if (w.one_thread()) {
    CHECK(started == !pending);
    if (started) {
      CHECK((*j)->is_state(jobs::state::running));
      CHECK((*j)->progress() == -1);
      w.current_run[i] = nullptr;
    }
  }
}

void op_async_run(run_env& env, reader& in) {
  auto& w = env.w;
  unsigned i = 0;
  auto* j = pick_job(w, in, &i);
  if (!j) return;
  record* r = new_record(w, op_kind::run);
  if (!r) return;
  bound b = make_bound(env, in, r, i, true);
  const bool pending = (*j)->is_executing();
  if (w.one_thread() && pending) {
    r->expect_refusal = true;
    r->refusal = jobs::errc::still_pending;
  }
  std::any params = in.pick(2) ? std::any(int(in.u8())) : std::any();
  initiate(*r, b, ep_handler{r}, [&](auto h) { (*j)->async_run(std::move(params), std::move(h)); });
  if (w.one_thread() && !pending) {
    CHECK((*j)->is_state(jobs::state::running));
    w.current_run[i] = r;
  }
}

void op_cancel(world& w, reader& in) {
  unsigned i = 0;
  auto* j = pick_job(w, in, &i);
  if (!j) return;
  const auto before = (*j)->state();
  bool ok;
  {
    in_api g;
    ok = (*j)->cancel();
  }
  if (w.one_thread()) {
    CHECK(ok == (before == jobs::state::running));
    if (ok) {
      CHECK((*j)->is_state(jobs::state::canceling));
      if (record* r = w.current_run[i]; r && r->calls.load() == 0) r->expect_error = true;
    }
  }
}

void op_async_wait(run_env& env, reader& in) {
  auto& w = env.w;
  unsigned i = 0;
  auto* j = pick_job(w, in, &i);
  if (!j) return;
  record* r = new_record(w, op_kind::wait);
  if (!r) return;
  bound b = make_bound(env, in, r, i, false);
  const bool pending = (*j)->is_executing();
  initiate(*r, b, ec_handler{r, w.one_thread() && !pending}, [&](auto h) { (*j)->async_wait(std::move(h)); });
}

void op_emit(run_env& env, reader& in) {
  const auto which = in.u8();
  const auto type_bits = in.u8();
  if (env.signals.empty()) return;
  auto& s = env.signals[which % env.signals.size()];
  static constexpr asio::cancellation_type types[] = {
      asio::cancellation_type::terminal, asio::cancellation_type::partial, asio::cancellation_type::total,
      asio::cancellation_type::terminal | asio::cancellation_type::partial, asio::cancellation_type::none};
  const auto t = types[type_bits % 5];
  auto& w = env.w;
  if (w.one_thread()) {
    // The run this signal's async_run started is still pending exactly when its handler has not
    // been called and it is the job's current run (see world::current_run).
    const bool cancels_run = (t & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) !=
                             asio::cancellation_type::none;
    auto& j = w.jobs[s.job_index];
    const bool mine = s.is_run && s.r && s.r->calls.load() == 0 && w.current_run[s.job_index] == s.r;
    const auto before = j ? j->state() : jobs::state::created;
    {
      in_api g;
      s.signal.emit(t);
    }
    if (mine && cancels_run && j) {
      CHECK(jobs::is_pending(j->state()));
      if (before == jobs::state::running) CHECK(j->is_state(jobs::state::canceling));
      s.r->expect_error = true;
    }
  } else {
    asio::post(*s.strand, [sig = &s.signal, t] { sig->emit(t); });
  }
}

void op_async_watch(run_env& env, reader& in, unsigned i, jobs::job& j) {
  auto& w = env.w;
  const auto sel = in.u8();
  if (env.signals.size() >= max_signals) return;
  record* r = new_record(w, op_kind::watch);
  if (!r) return;
  const std::uint64_t last = w.last_version[i].load();
  const std::uint64_t after = sel % 3 == 0 ? 0 : sel % 3 == 1 ? last : last + 1 + (sel >> 2) % 4;
  // Always with a signal (the drain cancels the watches still waiting), and with threads on a
  // strand where the signal is emitted.
  bound b;
  if ((sel & 0x40) || !w.one_thread()) b.strand.emplace(asio::make_strand(*w.io));
  auto& s = env.signals.emplace_back();
  s.strand = b.strand;
  s.r = r;
  s.job_index = i;
  s.is_watch = true;
  b.signal = &s.signal;
  // One thread: a version older than the job's gets the current snapshot at once.
  const bool at_once = w.one_thread() && after < j.stats().version;
  initiate(*r, b, watch_handler{r, after, at_once, &w.last_version[i]},
           [&](auto h) { j.async_watch(after, std::move(h)); });
}

void op_stats(run_env& env, reader& in) {
  auto& w = env.w;
  unsigned i = 0;
  auto* j = pick_job(w, in, &i);
  const auto how = in.u8();
  if (!j) return;
  if (how % 4 == 3) return op_async_watch(env, in, i, **j);
  check_stats((*j)->stats());
  check_progress((*j)->progress());
  CHECK((*j)->execution_time() >= std::chrono::nanoseconds::zero());
  (void)(*j)->result();
  (void)(*j)->error();
  (void)(*j)->labels();
}

std::chrono::nanoseconds small_duration(std::uint8_t b) {
  switch (b % 8) {
    case 0: return 0ms;
    case 1: return -1ms;
    case 2: return 100us;
    case 6: return std::chrono::nanoseconds(1);
    default: return milliseconds(b % 8 - 2);  // 1..3 ms (3,4,5 → 1,2,3; 7 → 5)
  }
}

void create_exec(world& w, reader& in) {
  unsigned i = 0;
  auto* j = pick_job(w, in, &i);
  if (!j || w.execs.size() >= max_execs) return;
  const auto flags = in.u8();
  const int attempts = static_cast<int>(in.pick(6)) - 1;  // -1..4
  const auto delay = small_duration(in.u8());
  const auto timeout = small_duration(in.u8());
  const auto cooldown_b = in.u8();
  const auto cooldown =
      (cooldown_b % 16 == 15) ? std::chrono::nanoseconds::max() : small_duration(cooldown_b);
  auto completes = std::make_shared<std::atomic<std::uint64_t>>(0);
  const bool throwing_callbacks = flags & 0x40;

  std::optional<jobs::detail::retry_option> retry;
  bool threw = false;
  try {
    retry = jobs::with_retry(attempts, delay);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw == (attempts >= 1 && delay < 0ns));  // attempts <= 0: ignored whatever the delay
  if (threw) return;

  std::optional<jobs::detail::backoff_option> backoff;
  if (flags & 0x08) {
    const auto initial = small_duration(in.u8());
    const double mult = in.real();
    const auto max_delay = small_duration(in.u8());
    const double jitter = in.real();
    bool bthrew = false;
    try {
      backoff = jobs::with_backoff(initial, mult, max_delay, jitter);
    } catch (const std::invalid_argument&) {
      bthrew = true;
    }
    const bool invalid = initial < 0ns || max_delay < 0ns || !(mult >= 1) || !(jitter >= 0 && jitter <= 1);
    CHECK(bthrew == invalid);
  }

  exec_slot slot{jobs::executor(**j), i,        attempts > 0 ? unsigned(attempts) : 1u, bool(flags & 0x02),
                 bool(flags & 0x10),  completes};
  auto on_complete = jobs::on_complete([completes, throwing_callbacks](const jobs::job& jb) {
    completes->fetch_add(1);
    (void)jb.state();
    if (throwing_callbacks && (completes->load() & 1)) throw std::runtime_error("on_complete failed");
  });
  auto retry_if = jobs::retry_if([flags](std::exception_ptr e) {
    CHECK(e != nullptr);
    if ((flags & 0x60) == 0x60) throw std::runtime_error("retry_if failed");
    return !(flags & 0x80);
  });
  auto on_retry = jobs::on_retry(
      [throwing_callbacks](unsigned attempt, std::exception_ptr e, std::chrono::nanoseconds next) {
        CHECK(attempt >= 1);
        CHECK(e != nullptr);
        CHECK(next >= 0ns);
        if (throwing_callbacks && attempt == 2) throw std::runtime_error("on_retry failed");
      });
  // Options in a few combinations (a later one of a kind replaces an earlier one).
  auto make = [&](auto&&... extra) {
    return jobs::executor(**j, *retry, std::forward<decltype(extra)>(extra)...);
  };
  jobs::executor e = make();
  const bool oc = slot.has_on_complete;
  switch ((flags & 0x01) | (flags & 0x02) | (oc ? 4 : 0)) {
    case 0: e = make(jobs::with_timeout(timeout), jobs::with_cooldown(cooldown)); break;
    case 1: e = make(jobs::with_timeout(timeout), jobs::no_timeout(), retry_if, on_retry); break;
    case 2: e = make(jobs::once(), jobs::with_timeout(timeout), jobs::with_cooldown(cooldown)); break;
    case 3: e = make(jobs::once(), jobs::with_cooldown(cooldown), retry_if); break;
    case 4:
      e = make(jobs::with_timeout(timeout), on_complete, jobs::with_cooldown(cooldown), on_retry);
      break;
    case 5: e = make(on_complete, jobs::with_timeout(timeout), retry_if); break;
    case 6: e = make(jobs::once(), on_complete, jobs::with_timeout(timeout)); break;
    default: e = make(jobs::once(), on_complete, jobs::with_cooldown(cooldown), retry_if, on_retry); break;
  }
  if (backoff) {  // (without once)
    slot.once = false;
    if (oc)
      e = jobs::executor(**j, *retry, *backoff, jobs::with_timeout(timeout), on_complete);
    else
      e = jobs::executor(**j, *backoff, *retry, jobs::with_timeout(timeout));
  }
  slot.exec = e;
  CHECK(slot.exec.get_job() == **j);
  w.execs.emplace_back(std::move(slot));
}

void check_exec_stats(const exec_slot& s, bool drained) {
  const auto st = s.exec.stats();
  // A start's outcome is counted before on_complete runs, and the start stays in progress until
  // on_complete has returned (API.md): in that window both show.
  const auto ended = st.successes + st.failures + st.canceled;
  CHECK(st.starts == ended + (st.in_progress ? 1 : 0) || (st.in_progress && st.starts == ended));
  CHECK(st.attempts.size() <= s.attempts);
  CHECK(st.retries <= s.attempts);
  CHECK(st.cooldown >= 0ns);
  for (const auto& a : st.attempts) {
    CHECK(a.duration >= 0ns);
    CHECK((a.outcome == jobs::attempt_outcome::succeeded) == (a.exception == nullptr));
  }
  auto v = boost::json::value_from(st);
  CHECK(v.is_object());
  if (drained) {
    CHECK(!st.in_progress);
    if (s.has_on_complete) CHECK(s.completes->load() == st.starts);
    if (s.once) CHECK(st.successes <= 1);
  }
}

void op_async_start(run_env& env, reader& in) {
  auto& w = env.w;
  auto* e = pick_exec(w, in);
  if (!e) return;
  const auto how = in.u8();
  record* r = new_record(w, (how & 4) ? op_kind::spawned_start : op_kind::start);
  if (!r) return;
  bound b = make_bound(env, in, r, e->job_index, false);
  // One thread, async_start: what admission must decide is known here (the co_spawned form is
  // initiated later, when the coroutine first runs, so nothing is predicted for it).
  if (w.one_thread() && !(how & 4)) {
    const auto st = e->exec.stats();
    auto& j = e->exec.get_job();
    if (st.in_progress || j.is_executing()) {
      r->expect_refusal = true;
      r->refusal = jobs::errc::still_pending;
    } else if (e->once && st.successes > 0) {
      r->expect_refusal = true;
      r->refusal = jobs::errc::once;
    }
    if (st.cooldown == 0ns) r->no_cooldown = true;
    if (!r->expect_refusal) w.current_run[e->job_index] = nullptr;
  }
  std::any params = (how & 1) ? std::any(int(how)) : std::any();
  if (how & 4) {
    // The coroutine form: co_spawn(exec.start(params)); the start is initiated when awaited.
    b.signal = nullptr;  // (no slot: co_spawn's own cancellation is not what is tested here)
    initiate(*r, b, ep_handler{r},
             [&](auto h) { asio::co_spawn(*w.io, e->exec.start(std::move(params)), std::move(h)); });
  } else {
    initiate(*r, b, ep_handler{r}, [&](auto h) { e->exec.async_start(std::move(params), std::move(h)); });
  }
}

void op_stop(run_env& env, reader& in) {
  auto& w = env.w;
  auto* e = pick_exec(w, in);
  const auto how = in.u8();
  if (!e) return;
  switch (how % 3) {
    case 0: {
      in_api g;
      e->exec.stop(false);
      break;
    }
    case 1: {
      // Blocking: only where it cannot block (one thread, nothing pending) or with threads.
      if (w.one_thread() && (e->exec.stats().in_progress || e->exec.get_job().is_executing())) break;
      e->exec.stop(true);
      if (w.one_thread()) CHECK(!e->exec.get_job().is_executing());
      break;
    }
    default: {
      record* r = new_record(w, op_kind::stop);
      if (!r) return;
      bound b = make_bound(env, in, r, e->job_index, false);
      b.signal = nullptr;  // async_stop supports no cancellation
      initiate(*r, b, void_handler{r}, [&](auto h) { e->exec.async_stop(std::move(h)); });
      break;
    }
  }
}

void op_wait(world& w, reader& in) {
  auto* j = pick_job(w, in);
  if (!j) return;
  if (w.one_thread() && (*j)->is_executing()) return;  // would block the only thread
  (*j)->wait();
  if (w.one_thread()) CHECK(!(*j)->is_executing());
}

// ---- one input --------------------------------------------------------------------------------

void advance(world& w, std::chrono::nanoseconds d) {
  if (w.one_thread()) {
    if (d > 0ns) w.io->run_for(d);
    w.io->restart();
    w.io->poll();
    w.io->restart();
  } else {
    std::this_thread::sleep_for(d);
  }
}

void run_one(const std::uint8_t* data, std::size_t size) {
  reader in(data, size);
  const int mode = in.pick(3);
  const bool abandon = in.u8() & 1;

  // Declared first, destroyed last: handlers (which point into them) may be destroyed with the
  // io_context.
  std::deque<record> records;
  std::deque<signal_slot> signals;
  std::optional<asio::io_context> io;
  io.emplace(mode == 2 ? 2 : 1);
  world w;
  w.mode = mode;
  w.io = &*io;
  w.records = &records;
  run_env env{w, signals};

  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::vector<std::thread> threads;
  if (mode != 0) {
    guard.emplace(io->get_executor());
    for (int k = 0; k < mode; ++k) threads.emplace_back([&io] { io->run(); });
  }

  std::chrono::nanoseconds budget = advance_budget;
  // JOB_FUZZ_TRACE=1 prints each operation, to read a failing input.
  static const bool trace = std::getenv("JOB_FUZZ_TRACE") != nullptr;
  if (trace) std::fprintf(stderr, "mode %d abandon %d\n", mode, abandon ? 1 : 0);
  for (unsigned n = 0; n < max_ops && !in.empty(); ++n) {
    const auto op = in.pick(16);
    if (trace) std::fprintf(stderr, "op %u\n", op);
    switch (op) {
      case 0:
      case 1: create_job(w, in); break;
      case 2: op_run(w, in); break;
      case 3:
      case 4: op_async_run(env, in); break;
      case 5: op_cancel(w, in); break;
      case 6: op_async_wait(env, in); break;
      case 7: op_emit(env, in); break;
      case 8: op_stats(env, in); break;
      case 9: create_exec(w, in); break;
      case 10:
      case 11: op_async_start(env, in); break;
      case 12: op_stop(env, in); break;
      case 13: {
        const auto d = std::min<std::chrono::nanoseconds>(milliseconds(in.pick(6)), budget);
        budget -= d;
        advance(w, d);
        break;
      }
      case 14: {  // stats of an executor / reset
        const auto how = in.u8();
        if (auto* e = pick_exec(w, in)) {
          if (how & 1) e->exec.reset();
          check_exec_stats(*e, false);
        }
        break;
      }
      default: {  // wait, or drop a handle (operations keep what they need alive)
        const auto how = in.u8();
        if (how % 4 == 0) {
          op_wait(w, in);
        } else if (how % 4 == 1 && !w.jobs.empty()) {
          w.jobs[in.u8() % w.jobs.size()].reset();
        } else if (how % 4 == 2 && !w.execs.empty()) {
          w.execs[in.u8() % w.execs.size()].reset();
        }
        break;
      }
    }
  }

  // Strands kept by the bookkeeping are released while their io_context still exists.
  auto drop_strands = [&] {
    for (auto& r : records) r.strand.reset();
    for (auto& s : signals) s.strand.reset();
  };

  if (abandon) {
    // Handles first, then the context with operations in flight: frames are destroyed and
    // handlers dropped, never invoked twice.
    w.execs.clear();
    w.jobs.clear();
    if (mode != 0) {
      io->stop();
      for (auto& t : threads) t.join();
    }
    guard.reset();
    drop_strands();
    io.reset();
    for (auto& r : records) CHECK(r.calls.load() <= 1);
    return;
  }

  // Drain: everything completes by itself (bodies and policies are bounded in time), except
  // watches waiting for a change that may never come: they are cancelled first.
  for (auto& s : signals) {
    if (!s.is_watch || s.r->calls.load() != 0) continue;
    if (mode == 0)
      s.signal.emit(asio::cancellation_type::terminal);
    else
      asio::post(*s.strand, [sig = &s.signal] { sig->emit(asio::cancellation_type::terminal); });
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  if (mode == 0) {
    io->restart();
    io->run_until(deadline);
    CHECK(io->stopped());  // out of work; else some operation never completed
  } else {
    guard.reset();
    for (auto& t : threads) {
      // A thread that does not finish by the deadline means work that never ends.
      auto done = std::async(std::launch::async, [&t] { t.join(); });
      if (done.wait_until(deadline) != std::future_status::ready) fail("the io_context did not drain");
    }
  }

  for (auto& r : records) CHECK(r.calls.load() == 1);
  for (auto& j : w.jobs) {
    if (!j) continue;
    const auto s = j->state();
    if (s == jobs::state::created) {
      CHECK(j->started_at() == std::chrono::system_clock::time_point{});
    } else {
      CHECK(jobs::is_done(s));
      CHECK((j->error() == nullptr) == (s == jobs::state::succeeded));
      CHECK(j->ended_at() >= j->started_at());
    }
    check_progress(j->progress());
    check_stats(j->stats());
  }
  for (auto& e : w.execs)
    if (e) check_exec_stats(*e, true);
  w.execs.clear();
  w.jobs.clear();
  drop_strands();
  io.reset();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The library logs through Boost.Log; with no sink configured the core prints every record.
  boost::log::core::get()->set_logging_enabled(false);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run_one(data, size);
  return 0;
}
