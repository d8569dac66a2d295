// A start under with_coordinator: the local checks, then the fleet-wide lease, then the local
// start (admit_start) with the lease renewed every lease/3 while it runs, then the release that
// records the start's outcome.
//
//   initiate_coordinated_start  the local checks (refused locally: admit_start refuses as ever);
//                               then the store's acquire. The caller's cancellation (terminal or
//                               partial, as async_start honours) reaches it as terminal, the
//                               type a store honours; a grant that races with it is given back.
//   acquired()                  a refusal (still_pending, once, cooldown with the time left) or
//                               an unreachable store completes the start; a grant sets the job's
//                               fencing token and hands the start to admit_start, with the
//                               caller's handler wrapped (lease_done) and the renewal armed.
//   tick()/renewed()            every lease/3 a renewal; the lease counts as held until `lease`
//                               after the last successful renewal was *sent* (less a tenth, for
//                               the store's clock running ahead of ours). Past that, or when the
//                               store says the lease is another's: lose() cancels the run with
//                               cancel_reason::lease_lost and stops the start (no retry runs).
//   finish()/released()         the release, with the outcome (once latch, cooldown window), in
//                               one statement; then the caller's handler. A start whose lease
//                               was lost completes with errc::lease_lost.
//
// Threads: the steps run one after another except tick/renewed against finish, which meet
// under lease_run::mu. Nothing of the user's runs under it.
#include "executor_state.hpp"

#include <jobs/detail/completion.hpp>
#include <jobs/detail/quote.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <tuple>

namespace jobs::detail {

coordinator_option make_coordinator_option(std::shared_ptr<coordinator> c, std::string name,
                                           coordination_options o) {
  using namespace std::chrono_literals;
  if (!c) throw std::invalid_argument("jobs::with_coordinator: the coordinator is null");
  if (o.lease < 30ms)
    throw std::invalid_argument("jobs::with_coordinator: the lease must be at least 30ms, not " +
                                go_duration_text(o.lease));
  return {std::make_shared<const coordination_config>(coordination_config{std::move(c), std::move(name), o})};
}

namespace {

using call = completion_call<start_handler, std::exception_ptr>;

// Completes the caller's handler from a completion of ours (never inside async_start).
void complete(start_handler h, asio::any_completion_executor work, std::exception_ptr e) {
  asio::dispatch(call{std::move(h), std::move(work), std::tuple<std::exception_ptr>(std::move(e))});
}

class lease_run : public std::enable_shared_from_this<lease_run> {
 public:
  lease_run(std::shared_ptr<executor_state> s, std::uint64_t epoch, start_handler h,
            asio::any_completion_executor work)
      : s_(std::move(s)),
        c_(s_->cfg.coordination),
        epoch_(epoch),
        handler_(std::move(h)),
        work_(std::move(work)),
        timer_(s_->job.get_executor()) {}

  // The grant: the runs of this start carry the epoch; the local start goes on under the lease.
  void begin(std::any params, asio::cancellation_slot slot, asio::any_io_executor own,
             steady_clock::time_point sent) {
    {
      std::lock_guard lk(s_->mu);
      starts_before_ = s_->starts;
    }
    set_fencing_token(*s_->impl, epoch_);
    {
      std::lock_guard lk(mu_);
      deadline_ = sent + held_for();
      arm_locked();
    }
    // The caller's handler, wrapped: same executor, same cancellation slot (admit_start reads both).
    auto ex = asio::get_associated_executor(handler_, completion_executor(s_->job.get_executor()));
    start_handler wrapped(asio::bind_cancellation_slot(
        slot, asio::bind_executor(
                  ex, [self = shared_from_this()](std::exception_ptr e) { self->finish(std::move(e)); })));
    admit_start(s_, std::move(params), std::move(wrapped), std::move(own));
  }

 private:
  std::chrono::nanoseconds lease() const noexcept { return c_->options.lease; }
  // How long after a renewal was sent the lease counts as ours here: its length, less a tenth
  // for the store's clock (it starts the lease when it runs the statement, after we sent it).
  std::chrono::nanoseconds held_for() const noexcept { return lease() - lease() / 10; }

  void arm_locked() {
    const auto next = std::min(steady_clock::now() + lease() / 3, deadline_);
    timer_.expires_at(next);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) { self->tick(ec); });
  }

  void tick(boost::system::error_code ec) {
    bool send = false, expired = false;
    steady_clock::time_point sent;
    {
      std::lock_guard lk(mu_);
      if (done_ || lost_ || ec == asio::error::operation_aborted) return;
      sent = steady_clock::now();
      // Past the deadline: not renewed in time (the store unreachable, or this process frozen
      // past it).
      expired = sent >= deadline_;
      if (!expired) {
        if (!renewing_) send = renewing_ = true;
        arm_locked();
      }
    }
    if (expired) return lose();
    if (!send) return;
    try {
      c_->store->async_renew(
          c_->name, epoch_, lease(),
          [self = shared_from_this(), sent](boost::system::error_code e) { self->renewed(e, sent); });
    } catch (...) {
      std::lock_guard lk(mu_);
      renewing_ = false;  // the next tick tries again; the deadline still holds
    }
  }

  void renewed(boost::system::error_code ec, steady_clock::time_point sent) {
    {
      std::lock_guard lk(mu_);
      renewing_ = false;
      if (done_ || lost_) return;
      if (!ec) {
        deadline_ = std::max(deadline_, sent + held_for());
        return;
      }
      if (ec != errc::lease_lost) return;  // unreachable: try again at the next tick, until the deadline
    }
    lose();
  }

  // The lease is gone: the run must not go on. Its reason is lease_lost (the body sees it in
  // ctx.cancel_reason()); then the start is stopped, so that no further attempt runs.
  void lose() {
    {
      std::lock_guard lk(mu_);
      if (done_ || lost_) return;
      lost_ = true;
      timer_.cancel();
    }
    try {
      cancel_current(*s_->impl, cancel_reason::lease_lost);
      stop_starts(*s_, false);
    } catch (...) {  // (std::bad_alloc) the release still reports lease_lost
    }
  }

  void finish(std::exception_ptr e) {
    {
      std::lock_guard lk(mu_);
      done_ = true;
      was_lost_ = lost_;  // final from here on: lose() does nothing once done_ is set
      timer_.cancel();
    }
    set_fencing_token(*s_->impl, std::nullopt);
    lease_outcome out;
    {
      std::lock_guard lk(s_->mu);
      admitted_ = s_->starts > starts_before_;  // else admit_start refused (a refused start records nothing)
    }
    if (admitted_ && !was_lost_) {
      if (!e && s_->cfg.once) out.once_done = true;
      if (s_->cfg.cooldown > nanoseconds::zero()) out.cooldown = s_->cfg.cooldown;
    }
    result_ = std::move(e);
    outcome_ = out;
    release();
  }

  void release() {
    c_->store->async_release(
        c_->name, epoch_, outcome_,
        [self = shared_from_this()](boost::system::error_code ec) { self->released(ec); });
  }

  void released(boost::system::error_code ec) {
    steady_clock::time_point deadline;
    {
      std::lock_guard lk(mu_);
      deadline = deadline_;
    }
    if (ec && ec != errc::lease_lost && steady_clock::now() < deadline) {
      // The store could not be reached: try again while the lease is still ours (it lapses on
      // its own after that, without the outcome).
      timer_.expires_after(std::min<nanoseconds>(std::chrono::milliseconds(200), lease() / 10));
      timer_.async_wait([self = shared_from_this()](boost::system::error_code) { self->release(); });
      return;
    }
    std::exception_ptr e = std::move(result_);
    if (admitted_ && (was_lost_ || ec)) e = error_ptr(errc::lease_lost);
    complete(std::move(handler_), std::move(work_), std::move(e));
  }

  const std::shared_ptr<executor_state> s_;
  const std::shared_ptr<const coordination_config> c_;
  const std::uint64_t epoch_;
  start_handler handler_;
  asio::any_completion_executor work_;
  std::uint64_t starts_before_ = 0;
  bool admitted_ = false;
  bool was_lost_ = false;  // lost_ as finish() found it
  std::exception_ptr result_;
  lease_outcome outcome_;

  std::mutex mu_;  // tick/renewed against finish
  asio::steady_timer timer_;
  steady_clock::time_point deadline_{};
  bool renewing_ = false;
  bool done_ = false;
  bool lost_ = false;
};

refusal_reason refused_locally(executor_state& s, nanoseconds& cooldown_left) {
  std::lock_guard lk(s.mu);
  return s.refusal_locked(cooldown_left);
}

std::exception_ptr refusal(const coordination_config& c, boost::system::error_code ec, nanoseconds left) {
  const std::string lease = "lease " + quote(c.name);
  if (ec == errc::still_pending)
    return std::make_exception_ptr(
        error(errc::still_pending, "job is still pending: its " + lease + " is held by another replica"));
  if (ec == errc::once)
    return std::make_exception_ptr(
        error(errc::once, "job can only start once: it already succeeded fleet-wide (" + lease + ")"));
  if (ec == errc::cooldown)
    return std::make_exception_ptr(
        error(errc::cooldown, "job is still in cooldown, " + go_duration_text(left) + " left"));
  if (ec == asio::error::operation_aborted) return error_ptr(errc::canceled);
  std::string why = c.store->last_error();
  return std::make_exception_ptr(boost::system::system_error(
      ec, "jobs::with_coordinator: cannot acquire the " + lease + (why.empty() ? "" : ": " + why)));
}

// The caller's cancellation while the lease is being acquired. A store honours terminal
// cancellation only (coordination.hpp); async_start honours terminal and partial, so either
// becomes a terminal one of the acquire. `requested` keeps it for a grant that came back anyway
// (the statement had already run, or the store had not yet taken its slot).
struct acquire_cancellation {
  asio::cancellation_signal signal;
  std::atomic<bool> requested{false};
};
struct forward_cancellation {
  std::shared_ptr<acquire_cancellation> a;
  void operator()(asio::cancellation_type_t type) const {
    if (!stops_operation(type)) return;
    a->requested = true;  // before the emit: a grant completing meanwhile sees it
    a->signal.emit(asio::cancellation_type::terminal);
  }
};

// A grant the caller no longer wants: released (recording nothing), then the start completes
// with errc::canceled. The handler is shared with the release's completion, so that a release
// that cannot even be sent (std::bad_alloc) still completes the start here; whichever comes first
// completes it, the other finds it gone.
void give_back_cancelled(const coordination_config& c, std::uint64_t epoch, start_handler h,
                         asio::any_completion_executor work) {
  using pending = std::pair<start_handler, asio::any_completion_executor>;
  std::shared_ptr<pending> done;
  try {
    done = std::make_shared<pending>(std::move(h), std::move(work));
    c.store->async_release(c.name, epoch, lease_outcome{}, [done](boost::system::error_code) {
      if (done->first) complete(std::move(done->first), std::move(done->second), error_ptr(errc::canceled));
    });
  } catch (...) {
    if (!done)
      complete(std::move(h), std::move(work), error_ptr(errc::canceled));
    else if (done->first)
      complete(std::move(done->first), std::move(done->second), error_ptr(errc::canceled));
  }
}

}  // namespace

void initiate_coordinated_start(const std::shared_ptr<executor_state>& s, std::any params, start_handler h,
                                asio::any_io_executor own) {
  if (!own) own = s->job.get_executor();
  auto work = tracked(asio::get_associated_executor(h, completion_executor(s->job.get_executor())));
  // Refused locally (still pending, once, cooldown, draining): as without a coordinator, and
  // without asking the store. Refused here, not by admit_start: a refusal that has cleared by
  // then (a cooldown that ended) would admit a start that holds no lease.
  nanoseconds cooldown_left{0};
  if (const auto why = refused_locally(*s, cooldown_left); why != refusal_reason::none)
    return refuse_start(*s, refusal_error(why, cooldown_left), std::move(h), std::move(work), own);
  asio::cancellation_slot slot = asio::get_associated_cancellation_slot(h);
  const auto& c = *s->cfg.coordination;
  std::shared_ptr<acquire_cancellation> cancel;
  asio::cancellation_slot acquire_slot;
  if (slot.is_connected()) {
    cancel = std::make_shared<acquire_cancellation>();
    acquire_slot = cancel->signal.slot();
    slot.template emplace<forward_cancellation>(forward_cancellation{cancel});
  }
  const auto sent = steady_clock::now();
  c.store->async_acquire(
      c.name, c.options.lease,
      asio::bind_cancellation_slot(
          acquire_slot,
          [s, params = std::move(params), h = std::move(h), work = std::move(work), own, slot, sent, cancel](
              boost::system::error_code ec, std::uint64_t epoch, nanoseconds left) mutable {
            // Our handler leaves the caller's slot: the start ends here, or admit_start installs
            // its own (synchronously, in begin()).
            slot.clear();
            const auto& c = *s->cfg.coordination;
            if (ec) return complete(std::move(h), std::move(work), refusal(c, ec, left));
            if (cancel && cancel->requested) {
              // Granted, but the caller has cancelled: the body must not run. The lease is given
              // back (recording nothing, as for a refused start) before the start completes, so
              // that a start the caller makes next finds it free; a release that cannot reach
              // the store leaves it to lapse after `lease`. Nothing else can hold this epoch.
              return give_back_cancelled(c, epoch, std::move(h), std::move(work));
            }
            auto run = std::make_shared<lease_run>(s, epoch, std::move(h), std::move(work));
            run->begin(std::move(params), slot, std::move(own), sent);
          }));
}

}  // namespace jobs::detail
