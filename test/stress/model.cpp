// Model-based test (issue #4, point 2).
//
// `ref` below is a reference model of a job's lifecycle written from API.md ("Outcome of a run",
// "Precise semantics") alone: state × event → state, and how a run's end is classified. Then:
//  (a) the pure transition functions in <jobs/detail/lifecycle.hpp> are checked against it
//      exhaustively (every state, every reason × every way a body can end), and over random
//      sequences of the composed machine;
//  (b) a REAL jobs::job on an io_context is driven through thousands of random events — run,
//      async_run (also cancelled through its slot: terminal, partial, total), a run with a ticket
//      (the executor's internal interface), cancel, timeout (the executor's cancel-with-reason),
//      progress and results from the body and from contexts of ended runs, every way for a body to end,
//      async_wait and wait — and after each event state(), is_done(), is_executing(), error(), result(),
//      progress(), stats(), the timestamps, the body's context flags and every handler's completion are
//      compared with the model. The body obeys the test: it awaits a timer the test cancels to hand it a
//      command.
//
// Environment: JOBS_MODEL_SEED (default: random) seeds the event sequences. Everything runs on
// the test's thread, so a seed replays exactly; it is printed and part of every failure message.
#include <jobs/detail/job_access.hpp>
#include <jobs/detail/lifecycle.hpp>
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace stress_model {

namespace asio = boost::asio;
using jobs::state;
using jobs::detail::body_end;
using jobs::detail::cancel_reason;
using jobs::detail::run_error;

std::uint64_t model_seed() {
  if (const char* s = std::getenv("JOBS_MODEL_SEED")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 0);
    if (end != s) return v;
  }
  return (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
}

constexpr std::array<state, 6> all_states = {state::created,   state::running, state::canceling,
                                             state::succeeded, state::failed,  state::canceled};
constexpr std::array<cancel_reason, 3> all_reasons = {cancel_reason::none, cancel_reason::canceled,
                                                      cancel_reason::timeout};
constexpr std::array<body_end, 4> all_ends = {body_end::returned, body_end::threw_cancellation,
                                              body_end::threw_other, body_end::abandoned};

const char* name(cancel_reason r) {
  switch (r) {
    case cancel_reason::none: return "none";
    case cancel_reason::canceled: return "canceled";
    case cancel_reason::timeout: return "timeout";
    case cancel_reason::lease_lost: return "lease_lost";
  }
  return "?";
}
const char* name(body_end b) {
  switch (b) {
    case body_end::returned: return "returned";
    case body_end::threw_cancellation: return "threw_cancellation";
    case body_end::threw_other: return "threw_other";
    case body_end::abandoned: return "abandoned";
  }
  return "?";
}
const char* name(run_error e) {
  switch (e) {
    case run_error::none: return "none";
    case run_error::body: return "body";
    case run_error::canceled: return "errc::canceled";
    case run_error::timeout: return "errc::timeout";
    case run_error::lease_lost: return "errc::lease_lost";
  }
  return "?";
}

// ---- the reference model, from API.md ----------------------------------------------------------

namespace ref {

constexpr bool pending(state s) { return s == state::running || s == state::canceling; }

// run() / async_run(): from `created` or a terminal state a run starts (`running` when run()
// returns); while a run is pending it is refused (run() false, async_run errc::still_pending).
constexpr std::optional<state> start(state s) {
  switch (s) {
    case state::created:
    case state::succeeded:
    case state::failed:
    case state::canceled: return state::running;
    case state::running:
    case state::canceling: return std::nullopt;
  }
  return std::nullopt;
}

// cancel() or the executor's timeout: running -> canceling (cancel() true); anything else is a
// no-op (false) — a second request, or a cancel() after the timeout, changes nothing.
constexpr std::optional<state> cancel(state s) {
  if (s == state::running) return state::canceling;
  return std::nullopt;
}

struct end_row {
  cancel_reason reason;
  body_end how;
  state final;
  run_error error;
};

// "Outcome of a run", one row per (reason, how the body ended).
constexpr end_row end_table[] = {
    // nobody asked for cancellation: returns -> succeeded, throws -> failed with what it threw
    // (operation_aborted thrown with no cancellation requested is just an exception)
    {cancel_reason::none, body_end::returned, state::succeeded, run_error::none},
    {cancel_reason::none, body_end::threw_cancellation, state::failed, run_error::body},
    {cancel_reason::none, body_end::threw_other, state::failed, run_error::body},
    // cancel() came during the run: canceled however the body ends; error() is what it threw,
    // or errc::canceled if it returned or threw the cancellation itself
    {cancel_reason::canceled, body_end::returned, state::canceled, run_error::canceled},
    {cancel_reason::canceled, body_end::threw_cancellation, state::canceled, run_error::canceled},
    {cancel_reason::canceled, body_end::threw_other, state::canceled, run_error::body},
    // the executor's timeout, cooperative like a Go deadline: returns -> succeeded; throws the
    // cancellation -> failed with errc::timeout; throws anything else -> failed with that
    {cancel_reason::timeout, body_end::returned, state::succeeded, run_error::none},
    {cancel_reason::timeout, body_end::threw_cancellation, state::failed, run_error::timeout},
    {cancel_reason::timeout, body_end::threw_other, state::failed, run_error::body},
    // a run that never finished its body (its frame destroyed with the execution context, or
    // cancelled before the body began): canceled with errc::canceled, whatever was requested
    {cancel_reason::none, body_end::abandoned, state::canceled, run_error::canceled},
    {cancel_reason::canceled, body_end::abandoned, state::canceled, run_error::canceled},
    {cancel_reason::timeout, body_end::abandoned, state::canceled, run_error::canceled},
};

struct outcome {
  state final;
  run_error error;
};

constexpr outcome end(cancel_reason r, body_end b) {
  for (const auto& row : end_table)
    if (row.reason == r && row.how == b) return {row.final, row.error};
  return {state::created, run_error::none};  // not in the table: never matches
}

}  // namespace ref

// The model's verdicts at compile time too (the functions are constexpr).
static_assert(jobs::detail::on_start(state::canceled) == ref::start(state::canceled));
static_assert(!jobs::detail::on_cancel(state::canceling).has_value());
static_assert(jobs::detail::on_end(cancel_reason::timeout, body_end::returned).final == state::succeeded);
static_assert(jobs::detail::on_end(cancel_reason::canceled, body_end::threw_other).error == run_error::body);

// ---- the composed machine (for random sequences over the pure functions) ----------------------

struct machine {
  state st = state::created;
  cancel_reason reason = cancel_reason::none;
  run_error error = run_error::none;
};

enum class pure_event : std::uint8_t {
  start,
  cancel,
  timeout,
  end_returned,
  end_threw_cancellation,
  end_threw_other,
  end_abandoned
};

// With lifecycle.hpp, the way job.cpp composes it.
void step_lifecycle(machine& m, pure_event e) {
  using namespace jobs::detail;
  switch (e) {
    case pure_event::start:
      if (auto s = on_start(m.st)) {
        m.st = *s;
        m.reason = cancel_reason::none;
        m.error = run_error::none;
      }
      break;
    case pure_event::cancel:
    case pure_event::timeout:
      if (auto s = on_cancel(m.st)) {
        m.st = *s;
        m.reason = e == pure_event::cancel ? cancel_reason::canceled : cancel_reason::timeout;
      }
      break;
    default: {
      if (!is_pending(m.st)) break;
      const body_end b = e == pure_event::end_returned             ? body_end::returned
                         : e == pure_event::end_threw_cancellation ? body_end::threw_cancellation
                         : e == pure_event::end_threw_other        ? body_end::threw_other
                                                                   : body_end::abandoned;
      const run_outcome o = on_end(m.reason, b);
      m.st = o.final;
      m.error = o.error;
    }
  }
}

// With the reference model only.
void step_reference(machine& m, pure_event e) {
  switch (e) {
    case pure_event::start:
      if (!ref::pending(m.st)) {
        m = machine{state::running, cancel_reason::none, run_error::none};
      }
      break;
    case pure_event::cancel:
      if (m.st == state::running) m = machine{state::canceling, cancel_reason::canceled, m.error};
      break;
    case pure_event::timeout:
      if (m.st == state::running) m = machine{state::canceling, cancel_reason::timeout, m.error};
      break;
    case pure_event::end_returned:
    case pure_event::end_threw_cancellation:
    case pure_event::end_threw_other:
    case pure_event::end_abandoned: {
      if (m.st != state::running && m.st != state::canceling) break;
      const body_end b = e == pure_event::end_returned             ? body_end::returned
                         : e == pure_event::end_threw_cancellation ? body_end::threw_cancellation
                         : e == pure_event::end_threw_other        ? body_end::threw_other
                                                                   : body_end::abandoned;
      const ref::outcome o = ref::end(m.reason, b);
      m.st = o.final;
      m.error = o.error;
      break;
    }
  }
}

// ---- the controllable body ---------------------------------------------------------------------

struct command {
  enum kind : std::uint8_t { progress, result, ret, rethrow } k = ret;
  double value = 0;
  int ivalue = 0;
  std::exception_ptr error;  // for rethrow: the exact object the job must hand back
};

struct controller {
  std::optional<command> cmd;
  asio::steady_timer* timer = nullptr;  // what the body awaits now
  bool alive = false;
  int entries = 0, exits = 0, cancel_wakeups = 0;
  std::optional<jobs::context> ctx;    // the latest run's context
  std::optional<jobs::context> stale;  // the run before's
  std::any params_seen;

  // Hands the body a command: cancels the timer it awaits (the test and the body share the
  // io_context's thread).
  void send(command c) {
    cmd = std::move(c);
    if (timer) timer->cancel();
  }
};

jobs::body make_body(controller& c) {
  return [&c](jobs::context& ctx) -> asio::awaitable<void> {
    ++c.entries;
    c.alive = true;
    if (c.ctx) c.stale.emplace(*c.ctx);
    c.ctx.emplace(ctx);
    c.params_seen = ctx.params();
    struct leave {
      controller& c;
      ~leave() {
        c.alive = false;
        c.timer = nullptr;
        ++c.exits;
      }
    } guard{c};
    for (;;) {
      if (!c.cmd) {
        asio::steady_timer t(ctx.get_executor(), asio::steady_timer::time_point::max());
        c.timer = &t;
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        (void)ec;
        c.timer = nullptr;
        if (!c.cmd) {
          // Woken by the job's cancellation (cancel() or the timeout). Keep obeying the test:
          // without the reset every later co_await would throw operation_aborted.
          ++c.cancel_wakeups;
          co_await asio::this_coro::reset_cancellation_state();
          continue;
        }
      }
      command k = std::move(*c.cmd);
      c.cmd.reset();
      switch (k.k) {
        case command::progress: ctx.set_progress(k.value); break;
        case command::result: ctx.set_result(k.ivalue); break;
        case command::ret: co_return;
        case command::rethrow: std::rethrow_exception(k.error);
      }
    }
  };
}

// ---- the model of one real job -----------------------------------------------------------------

struct run_record {
  int count = 0;
  std::exception_ptr error;
};
struct wait_record {
  int count = 0;
  boost::system::error_code ec;
};

struct job_model {
  state st = state::created;
  cancel_reason reason = cancel_reason::none;
  double progress = -1;
  std::optional<int> result;
  run_error error = run_error::none;
  std::exception_ptr body_error;  // what error() must be when error == body
  int runs = 0;                   // admitted
  int entered = 0;                // bodies entered
  bool alive = false;             // the body is suspended, obeying the test
  int wakeups = 0;                // cancellations the body saw
  int run_param = 0;
  std::shared_ptr<run_record> async;  // the pending run's async_run / ticket handler
  std::vector<std::shared_ptr<run_record>> refused;
  std::vector<std::shared_ptr<wait_record>> waits, immediate_waits;
  jobs::detail::run_ticket ticket;
  int ticket_run = 0;  // which run `ticket` belongs to (0: none)
};

enum class ev : std::uint8_t {
  run,
  async_run,
  run_ticket,
  run_then_cancel,
  cancel,
  timeout,
  progress,
  result,
  stale_report,
  end_return,
  end_throw_body,
  end_throw_aborted,
  end_throw_errc_canceled,
  end_throw_unknown,
  async_wait,
  wait_idle,
  slot_cancel,
  count_,
};
constexpr const char* ev_names[] = {"run",
                                    "async_run",
                                    "run_ticket",
                                    "run_then_cancel",
                                    "cancel",
                                    "timeout",
                                    "progress",
                                    "result",
                                    "stale_report",
                                    "end_return",
                                    "end_throw_body",
                                    "end_throw_aborted",
                                    "end_throw_errc_canceled",
                                    "end_throw_unknown",
                                    "async_wait",
                                    "wait_idle",
                                    "slot_cancel"};
static_assert(std::size(ev_names) == static_cast<std::size_t>(ev::count_));

class driver {
 public:
  driver(asio::io_context& io, std::mt19937_64& rng, int seq)
      : io_(io),
        rng_(rng),
        job_(io, "model-" + std::to_string(seq), make_body(c_),
             jobs::with_label("seq", std::to_string(seq))) {}

  std::vector<std::string> mismatches;
  std::vector<std::string> trace;
  std::array<std::uint64_t, static_cast<std::size_t>(ev::count_)> counts{};
  std::uint64_t timeouts_accepted = 0, slot_cancels_accepted = 0;

  void expect(bool ok, const std::string& what) {
    if (!ok) mismatches.push_back(what);
  }

  // One random event, then the io_context runs until nothing is ready, then everything is
  // compared with the model.
  void step() {
    ev e = static_cast<ev>(rng_() % static_cast<unsigned>(ev::count_));
    const bool body_ends = e >= ev::end_return && e <= ev::end_throw_unknown;
    if (body_ends && !c_.alive) e = rng_() % 2 ? ev::run : ev::async_run;
    if (e == ev::wait_idle && ref::pending(m_.st)) e = ev::async_wait;
    ++counts[static_cast<std::size_t>(e)];
    std::ostringstream t;
    t << ev_names[static_cast<int>(e)] << " (from " << jobs::to_string(m_.st) << ", reason "
      << name(m_.reason) << ")";
    apply(e, t);
    trace.push_back(t.str());
    settle();
    after_settle();
    compare();
  }

  // Ends the pending run, if any, so the job is idle.
  void finish() {
    if (c_.alive) {
      trace.push_back("finish: end_return");
      std::ostringstream ignored;
      apply(ev::end_return, ignored);
      settle();
      after_settle();
      compare();
    }
    expect(!ref::pending(m_.st), "the job is still pending after its body ended");
  }

  bool alive() const { return c_.alive; }

 private:
  void settle() {
    for (;;) {
      if (io_.stopped()) io_.restart();
      if (io_.poll() == 0) break;
    }
  }

  void start_run(int param) {
    m_.st = state::running;
    m_.reason = cancel_reason::none;
    m_.progress = -1;
    m_.result.reset();
    m_.error = run_error::none;
    m_.body_error = nullptr;
    ++m_.runs;
    m_.run_param = param;
    m_.async.reset();
    expect_entry_ = true;
    entries_before_ = c_.entries;
  }

  void request_cancel(cancel_reason why) {
    m_.st = state::canceling;
    m_.reason = why;
    // is_canceled() is true as soon as cancel() returns, also for a body that has not yielded.
    if (c_.ctx && c_.alive) {
      expect(c_.ctx->is_canceled(), "context::is_canceled() false right after the request");
      expect(c_.ctx->cancel_reason() ==
                 (why == cancel_reason::timeout ? jobs::errc::timeout : jobs::errc::canceled),
             "context::cancel_reason() right after the request: " + c_.ctx->cancel_reason().message());
    }
    expect_wakeup_ = true;
  }

  void end_run(body_end how, std::exception_ptr thrown) {
    const ref::outcome o = ref::end(m_.reason, how);
    // (a) again, on the way: the library's own function agrees with the reference here too.
    const auto lo = jobs::detail::on_end(m_.reason, how);
    expect(lo.final == o.final && lo.error == o.error, "lifecycle on_end disagrees with the reference model");
    m_.st = o.final;
    m_.error = o.error;
    m_.body_error = o.error == run_error::body ? thrown : nullptr;
    m_.alive = false;
    ended_ = true;
  }

  int next_param() { return ++param_; }

  void apply(ev e, std::ostringstream& t) {
    const bool idle = !ref::pending(m_.st);
    switch (e) {
      case ev::run: {
        const int p = next_param();
        const bool got = job_.run(p);
        expect(got == idle, std::string("run() returned ") + (got ? "true" : "false"));
        if (got) {
          expect(job_.state() == state::running, "state() is not running when run() returns true");
          start_run(p);
        }
        break;
      }
      case ev::async_run:
      case ev::run_ticket: {
        const int p = next_param();
        auto rec = std::make_shared<run_record>();
        auto handler = [rec](std::exception_ptr x) {
          ++rec->count;
          rec->error = x;
        };
        jobs::detail::run_ticket ticket;
        if (e == ev::async_run && idle && rng_() % 2) {
          // Bound to a cancellation slot of its own: terminal and partial cancellation of the
          // operation cancel the job, total is ignored (see ev::slot_cancel).
          sig_ = std::make_unique<asio::cancellation_signal>();
          sig_run_ = m_.runs + 1;
          job_.async_run(p, asio::bind_cancellation_slot(sig_->slot(), handler));
        } else if (e == ev::async_run) {
          job_.async_run(p, handler);
        } else
          jobs::detail::initiate_run(jobs::detail::job_access::impl(job_), std::any(p),
                                     jobs::detail::run_handler(handler), &ticket);
        expect(rec->count == 0, "the run's handler was invoked inside the initiating call");
        if (idle) {
          expect(job_.state() == state::running, "state() is not running right after an admitted async_run");
          start_run(p);
          m_.async = rec;
          if (e == ev::run_ticket) {
            expect(ticket.lock() != nullptr, "an admitted run handed back no ticket");
            m_.ticket = ticket;
            m_.ticket_run = m_.runs;
          }
        } else {
          m_.refused.push_back(rec);
          if (e == ev::run_ticket) expect(ticket.expired(), "a refused run handed back a ticket");
        }
        break;
      }
      case ev::run_then_cancel: {
        // No body has started yet when cancel() comes (the launch is queued on the strand).
        const int p = next_param();
        const bool got = job_.run(p);
        expect(got == idle, std::string("run() returned ") + (got ? "true" : "false"));
        if (got) start_run(p);
        const bool canceled = job_.cancel();
        expect(canceled == (m_.st == state::running),
               std::string("cancel() returned ") + (canceled ? "true" : "false"));
        if (canceled) {
          m_.st = state::canceling;
          m_.reason = cancel_reason::canceled;
          if (got)
            expect_wakeup_ = true;  // if the body begins, it sees the cancellation
          else
            request_cancel(cancel_reason::canceled);
        }
        break;
      }
      case ev::cancel: {
        const bool expected = ref::cancel(m_.st).has_value();
        const bool got = job_.cancel();
        expect(got == expected, std::string("cancel() returned ") + (got ? "true" : "false"));
        if (got) request_cancel(cancel_reason::canceled);
        break;
      }
      case ev::timeout: {
        // The executor's internal interface: cancel the run of a ticket with reason timeout. A
        // ticket of an earlier run must change nothing.
        const bool current = m_.ticket_run != 0 && m_.ticket_run == m_.runs && ref::pending(m_.st);
        t << " ticket of run " << m_.ticket_run << " (now run " << m_.runs << ")";
        const bool expected = current && ref::cancel(m_.st).has_value();
        const bool got = jobs::detail::cancel_run(m_.ticket, cancel_reason::timeout);
        expect(got == expected, std::string("cancel_run(timeout) returned ") + (got ? "true" : "false"));
        if (got) {
          request_cancel(cancel_reason::timeout);
          ++timeouts_accepted;
        }
        break;
      }
      case ev::progress:
      case ev::result: {
        static constexpr double values[] = {-1.5,
                                            -0.0,
                                            0.0,
                                            0.125,
                                            0.5,
                                            1.0,
                                            1.75,
                                            std::numeric_limits<double>::quiet_NaN(),
                                            std::numeric_limits<double>::infinity(),
                                            -std::numeric_limits<double>::infinity()};
        const double v = rng_() % 3 == 0 ? std::uniform_real_distribution<double>(0, 1)(rng_)
                                         : values[rng_() % std::size(values)];
        const int r = static_cast<int>(rng_() % 1000);
        t << " " << (e == ev::progress ? v : r)
          << (c_.alive ? " by the body" : " through the ended run's context");
        if (c_.alive) {
          if (e == ev::progress) {
            c_.send({command::progress, v, 0, nullptr});
            if (!std::isnan(v)) m_.progress = std::clamp(v, 0.0, 1.0);
          } else {
            c_.send({command::result, 0, r, nullptr});
            m_.result = r;
          }
        } else if (c_.ctx) {
          // Once its run has ended, calls on a context are ignored.
          if (e == ev::progress)
            c_.ctx->set_progress(v);
          else
            c_.ctx->set_result(r);
        }
        break;
      }
      case ev::stale_report:
        // A context of the run before the latest one: ignored even while a newer run goes on.
        if (c_.stale) {
          c_.stale->set_progress(0.375);
          c_.stale->set_result(-7);
          expect(c_.stale->params().has_value(), "a kept context lost its params");
        }
        break;
      case ev::end_return:
        c_.send({command::ret, 0, 0, nullptr});
        end_run(body_end::returned, nullptr);
        break;
      case ev::end_throw_body: {
        auto x =
            std::make_exception_ptr(std::runtime_error("model body error #" + std::to_string(next_param())));
        c_.send({command::rethrow, 0, 0, x});
        end_run(body_end::threw_other, x);
        break;
      }
      case ev::end_throw_aborted: {
        // The cancellation itself (what a cancelled co_await throws).
        auto x = std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted));
        c_.send({command::rethrow, 0, 0, x});
        end_run(body_end::threw_cancellation, x);
        break;
      }
      case ev::end_throw_errc_canceled: {
        // A nested job's errc::canceled: equivalent to operation_canceled, but not "the
        // cancellation itself", which API.md names as asio::error::operation_aborted. It is the
        // body's own exception.
        auto x = std::make_exception_ptr(jobs::error(jobs::errc::canceled, "nested job canceled"));
        c_.send({command::rethrow, 0, 0, x});
        end_run(body_end::threw_other, x);
        break;
      }
      case ev::end_throw_unknown: {
        auto x = std::make_exception_ptr(42);  // no what(): stats().error is "unknown exception"
        c_.send({command::rethrow, 0, 0, x});
        end_run(body_end::threw_other, x);
        break;
      }
      case ev::async_wait: {
        auto rec = std::make_shared<wait_record>();
        job_.async_wait([rec](boost::system::error_code ec) {
          ++rec->count;
          rec->ec = ec;
        });
        expect(rec->count == 0, "async_wait's handler was invoked inside the initiating call");
        (idle ? m_.immediate_waits : m_.waits).push_back(rec);
        break;
      }
      case ev::wait_idle:
        // Only when the model says no run is pending (else it would block this thread forever).
        if (job_.is_executing())
          expect(false, "the job is executing although the model says it is idle");
        else
          job_.wait();
        break;
      case ev::slot_cancel: {
        // The async_run caller's cancellation, on the slot of the latest async_run bound to one
        // (its run may have ended: then the slot must be clear and nothing happens).
        if (!sig_) break;
        static constexpr asio::cancellation_type types[] = {asio::cancellation_type::terminal,
                                                            asio::cancellation_type::partial,
                                                            asio::cancellation_type::total};
        const auto type = types[rng_() % std::size(types)];
        t << " "
          << (type == asio::cancellation_type::terminal  ? "terminal"
              : type == asio::cancellation_type::partial ? "partial"
                                                         : "total")
          << " on the slot of run " << sig_run_ << " (now run " << m_.runs << ")";
        const bool expected =
            sig_run_ == m_.runs && m_.st == state::running && type != asio::cancellation_type::total;
        sig_->emit(type);
        if (expected) {
          request_cancel(cancel_reason::canceled);
          ++slot_cancels_accepted;
        }
        break;
      }
      case ev::count_: break;
    }
  }

  // What the io_context's turn made happen: a body began, a run ended, handlers ran.
  void after_settle() {
    if (expect_entry_) {
      expect_entry_ = false;
      if (c_.entries == entries_before_ + 1) {
        ++m_.entered;
        m_.alive = true;
        expect(std::any_cast<int>(&c_.params_seen) && std::any_cast<int>(c_.params_seen) == m_.run_param,
               "the body saw other params than the run's");
      } else if (c_.entries == entries_before_ && m_.reason != cancel_reason::none) {
        // API: a run cancelled before its body began may end without invoking the body.
        end_run(body_end::abandoned, nullptr);
        expect_wakeup_ = false;
      } else {
        expect(false, "the body of an admitted run did not begin (entries " + std::to_string(c_.entries) +
                          ", before " + std::to_string(entries_before_) + ")");
      }
    }
    if (expect_wakeup_) {
      expect_wakeup_ = false;
      if (m_.alive) ++m_.wakeups;
    }
    for (auto& r : m_.refused) {
      expect(r->count == 1, "a refused run's handler completed " + std::to_string(r->count) + " times");
      expect(jobs_test::code_of(r->error) == jobs::errc::still_pending,
             "a refused run's handler got " + jobs_test::what_of(r->error));
    }
    m_.refused.clear();
    for (auto& w : m_.immediate_waits)
      expect(w->count == 1 && !w->ec, "async_wait on an idle job did not complete at once with success");
    m_.immediate_waits.clear();
    if (ended_) {
      ended_ = false;
      if (m_.async) {
        expect(m_.async->count == 1,
               "the run's handler completed " + std::to_string(m_.async->count) + " times");
        expect(m_.async->error == job_.error() ||
                   (jobs_test::code_of(m_.async->error) == jobs_test::code_of(job_.error()) &&
                    jobs_test::code_of(job_.error())),
               "the run's handler got " + jobs_test::what_of(m_.async->error) + ", error() is " +
                   jobs_test::what_of(job_.error()));
        m_.async.reset();
      }
      for (auto& w : m_.waits)
        expect(w->count == 1 && !w->ec, "an async_wait did not complete with success at the run's end");
      m_.waits.clear();
    } else {
      if (m_.async) expect(m_.async->count == 0, "the run's handler completed while the run is pending");
      for (auto& w : m_.waits) expect(w->count == 0, "an async_wait completed while the run is pending");
    }
  }

  void compare() {
    const auto epoch = std::chrono::system_clock::time_point{};
    const state st = job_.state();
    expect(st == m_.st,
           "state() " + std::string(jobs::to_string(st)) + ", model " + std::string(jobs::to_string(m_.st)));
    expect(job_.is_state(m_.st), "is_state()");
    expect(job_.is_done() == jobs::is_done(m_.st), "is_done()");
    expect(job_.is_executing() == ref::pending(m_.st), "is_executing()");
    const double p = job_.progress();
    expect(p == m_.progress, "progress() " + std::to_string(p) + ", model " + std::to_string(m_.progress));
    const std::any r = job_.result();
    if (m_.result)
      expect(std::any_cast<int>(&r) && std::any_cast<int>(r) == *m_.result,
             "result() is not " + std::to_string(*m_.result));
    else
      expect(!r.has_value(), "result() is not empty");

    const std::exception_ptr x = job_.error();
    std::string expected_text;
    switch (m_.error) {
      case run_error::none: expect(!x, "error() is " + jobs_test::what_of(x) + ", model: null"); break;
      case run_error::body:
        expect(x == m_.body_error, "error() is " + jobs_test::what_of(x) + ", model: the body's own " +
                                       jobs_test::what_of(m_.body_error));
        expected_text = jobs_test::what_of(m_.body_error) == "<not a std::exception>"
                            ? "unknown exception"
                            : jobs_test::what_of(m_.body_error);
        break;
      case run_error::canceled:
        expect(jobs_test::code_of(x) == jobs::errc::canceled,
               "error() is " + jobs_test::what_of(x) + ", model: errc::canceled");
        expected_text = jobs_test::what_of(x);
        expect(expected_text.find("canceled") != std::string::npos,
               "errc::canceled's what(): " + expected_text);
        break;
      case run_error::timeout:
        expect(jobs_test::code_of(x) == jobs::errc::timeout,
               "error() is " + jobs_test::what_of(x) + ", model: errc::timeout");
        expected_text = jobs_test::what_of(x);
        expect(expected_text.find("timed out") != std::string::npos,
               "errc::timeout's what(): " + expected_text);
        break;
      case run_error::lease_lost:  // the model never loses a lease (no coordinator)
        expect(false, "error() is " + jobs_test::what_of(x) + ", model: errc::lease_lost");
        break;
    }
    const jobs::stats s = job_.stats();
    expect(s.state == m_.st, "stats().state " + std::string(jobs::to_string(s.state)));
    expect(s.progress == m_.progress, "stats().progress " + std::to_string(s.progress));
    expect(s.error == expected_text, "stats().error \"" + s.error + "\", model \"" + expected_text + "\"");
    expect(s.id == job_.id() && s.labels == job_.labels(), "stats() id or labels");

    expect((job_.started_at() == epoch) == (m_.runs == 0), "started_at() zero iff no run has started");
    expect((job_.ended_at() == epoch) == (m_.runs == 0 || ref::pending(m_.st)),
           "ended_at() zero iff no run has ended or one is pending");
    if (m_.runs == 0)
      expect(job_.execution_time() == std::chrono::nanoseconds(0), "execution_time() before any run");

    expect(c_.entries == m_.entered,
           "bodies entered " + std::to_string(c_.entries) + ", model " + std::to_string(m_.entered));
    expect(c_.exits == m_.entered - (m_.alive ? 1 : 0), "bodies exited " + std::to_string(c_.exits));
    expect(c_.alive == m_.alive, std::string("body alive ") + (c_.alive ? "true" : "false"));
    expect(c_.cancel_wakeups == m_.wakeups, "the body saw " + std::to_string(c_.cancel_wakeups) +
                                                " cancellations, model " + std::to_string(m_.wakeups));
    if (c_.alive && c_.ctx) {
      const bool requested = m_.reason != cancel_reason::none;
      expect(c_.ctx->is_canceled() == requested, "context::is_canceled()");
      const boost::system::error_code want =
          m_.reason == cancel_reason::timeout    ? make_error_code(jobs::errc::timeout)
          : m_.reason == cancel_reason::canceled ? make_error_code(jobs::errc::canceled)
                                                 : boost::system::error_code{};
      expect(c_.ctx->cancel_reason() == want,
             "context::cancel_reason() " + c_.ctx->cancel_reason().message());
    }
  }

  asio::io_context& io_;
  std::mt19937_64& rng_;
  controller c_;
  job_model m_;
  jobs::job job_;                                   // after c_: its body refers to c_
  std::unique_ptr<asio::cancellation_signal> sig_;  // of the latest async_run bound to a slot
  int sig_run_ = 0;                                 // the run it was bound to
  bool expect_entry_ = false, expect_wakeup_ = false, ended_ = false;
  int entries_before_ = 0;
  int param_ = 0;
};

}  // namespace stress_model

BOOST_AUTO_TEST_SUITE(model)

BOOST_AUTO_TEST_CASE(lifecycle_functions_match_the_reference_model) {
  using namespace stress_model;
  using namespace jobs::detail;
  // Exhaustive: every state for run and cancel.
  for (state s : all_states) {
    BOOST_TEST_CONTEXT("state " << s) {
      BOOST_TEST((on_start(s) == ref::start(s)));
      BOOST_TEST((on_cancel(s) == ref::cancel(s)));
    }
  }
  // Exhaustive: every reason × every way a body ends, each in the table exactly once.
  for (cancel_reason r : all_reasons) {
    for (body_end b : all_ends) {
      BOOST_TEST_CONTEXT("reason " << name(r) << ", body " << name(b)) {
        int rows = 0;
        for (const auto& row : ref::end_table) rows += row.reason == r && row.how == b;
        BOOST_TEST(rows == 1);
        const run_outcome got = on_end(r, b);
        const ref::outcome want = ref::end(r, b);
        BOOST_TEST(got.final == want.final);
        BOOST_TEST(name(got.error) == name(want.error));
      }
    }
  }
  // Random sequences of the composed machine.
  const std::uint64_t seed = model_seed();
  BOOST_TEST_MESSAGE("lifecycle sequences: seed " << seed << " (JOBS_MODEL_SEED)");
  std::mt19937_64 rng(seed);
  int steps = 0;
  for (int seq = 0; seq < 500; ++seq) {
    machine a, b;
    std::string trace;
    for (int i = 0; i < 40; ++i, ++steps) {
      const auto e = static_cast<pure_event>(rng() % 7);
      trace += std::to_string(static_cast<int>(e)) + ' ';
      step_lifecycle(a, e);
      step_reference(b, e);
      if (a.st != b.st || a.reason != b.reason || a.error != b.error) {
        BOOST_ERROR("seed " << seed << " (JOBS_MODEL_SEED), sequence " << seq << ": events " << trace
                            << "-> lifecycle " << a.st << "/" << name(a.reason) << "/" << name(a.error)
                            << ", reference " << b.st << "/" << name(b.reason) << "/" << name(b.error));
        return;
      }
    }
  }
  BOOST_TEST(steps == 500 * 40);
}

BOOST_AUTO_TEST_CASE(a_real_job_follows_the_reference_model) {
  using namespace stress_model;
  const std::uint64_t seed = model_seed();
  BOOST_TEST_MESSAGE("real job model: seed " << seed << " (JOBS_MODEL_SEED)");
  std::mt19937_64 rng(seed);
  asio::io_context io;
  constexpr int sequences = 300, events = 40;
  std::array<std::uint64_t, static_cast<std::size_t>(ev::count_)> counts{};
  int checked = 0;
  std::uint64_t timeouts = 0, slot_cancels = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int seq = 0; seq < sequences; ++seq) {
    driver d(io, rng, seq);
    for (int i = 0; i <= events; ++i) {
      if (i < events)
        d.step();
      else
        d.finish();
      ++checked;
      if (!d.mismatches.empty()) {
        std::ostringstream os;
        os << "seed " << seed << " (rerun with JOBS_MODEL_SEED=" << seed << "), sequence " << seq
           << ", event " << i << "\n  events so far:";
        for (std::size_t k = 0; k < d.trace.size(); ++k) os << "\n    " << k << ": " << d.trace[k];
        os << "\n  mismatches:";
        for (auto& m : d.mismatches) os << "\n    " << m;
        BOOST_ERROR(os.str());
        return;
      }
    }
    for (std::size_t k = 0; k < counts.size(); ++k) counts[k] += d.counts[k];
    timeouts += d.timeouts_accepted;
    slot_cancels += d.slot_cancels_accepted;
  }
  BOOST_TEST(checked == sequences * (events + 1));
  std::ostringstream os;
  for (std::size_t k = 0; k < counts.size(); ++k) os << ' ' << ev_names[k] << '=' << counts[k];
  BOOST_TEST_MESSAGE("real job model: "
                     << checked << " events checked in "
                     << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                     << " s; timeouts accepted " << timeouts << ", slot cancellations accepted "
                     << slot_cancels << ";" << os.str());
  // Every kind of event happened (else the sequences are too short to mean much).
  for (std::size_t k = 0; k < counts.size(); ++k) BOOST_TEST_CONTEXT(ev_names[k]) {
      BOOST_TEST(counts[k] > 0u);
    }
  BOOST_TEST(timeouts > 0u);
  BOOST_TEST(slot_cancels > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
