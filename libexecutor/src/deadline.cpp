// The per-attempt timeout, armed lazily (see deadline.hpp).
#include "deadline.hpp"

#include "executor_state.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <new>
#include <stdexcept>

namespace jobs::detail {

// ---- context_work ------------------------------------------------------------------------------

context_work::context_work(const boost::asio::any_io_executor& ex) noexcept {
  if (auto* io = ex.target<boost::asio::io_context::executor_type>()) io_.emplace(*io);
}

// ---- deadline_timer ----------------------------------------------------------------------------

namespace {

/// The executor the timer is made on: its execution context's own executor where the job's
/// executor is a strand of an io_context or of a thread_pool. That executor is two words that own nothing,
/// where the job's executor may be a strand that owns its implementation: a timer on it, outliving a
/// destroyed context (see ~deadline_timer), would keep that implementation forever. It also makes the timer
/// lazy (see "Work counting") for a job on a strand of an io_context. Any other context: the job's executor
/// itself.
boost::asio::any_io_executor timer_executor(const boost::asio::any_io_executor& ex) {
  namespace asio = boost::asio;
  using io_ex = asio::io_context::executor_type;
  using pool_ex = asio::thread_pool::executor_type;
  if (auto* s = ex.target<asio::strand<io_ex>>()) return s->get_inner_executor();
  if (auto* s = ex.target<asio::strand<pool_ex>>()) return s->get_inner_executor();
  if (auto* s = ex.target<asio::strand<asio::any_io_executor>>())
    return timer_executor(s->get_inner_executor());
  return ex;  // (the context's own executor already, or another kind)
}

}  // namespace

std::uint64_t deadline_timer::arm(const std::shared_ptr<executor_state>& owner, const job_impl& job,
                                  time_point at, std::weak_ptr<start_op> op) {
  std::lock_guard lk(mu_);
  if (!has_timer_) {
    if (!is_attached(job))
      throw std::logic_error("jobs::executor: the job's execution context has shut down");
    const auto ex = timer_executor(owner->job.get_executor());
    new (timer_buf_) boost::asio::steady_timer(ex);
    has_timer_ = true;
    job_ = &job;
    work_ = context_work(ex);
  }
  if (at == time_point::max()) {
    // A deadline that never comes (a saturated timeout): nothing to wait for.
    due_ = at;
    target_.reset();
    return ++generation_;
  }
  if (!work_) {
    set_locked(owner, at);  // not lazy: one wait per attempt
  } else {
    const bool was_live = due_ != time_point::max();
    if (!was_live) work_.started();  // the live deadline counts (see "Work counting")
    if (at < kernel_at_) {
      try {
        set_locked(owner, at);
      } catch (...) {
        if (!was_live) work_.finished();
        throw;
      }
    }
  }
  due_ = at;
  target_ = std::move(op);
  return ++generation_;
}

void deadline_timer::set_locked(const std::shared_ptr<executor_state>& owner, time_point at) {
  // Setting the expiry cancels a pending wait: its completion (operation_aborted, or a success
  // already queued) carries an older wait number and is ignored.
  timer().expires_at(at);
  timer().async_wait(expiry{owner, wait_ + 1, work_});
  if (work_) work_.finished();  // the wait itself does not count (see "Work counting")
  ++wait_;
  kernel_at_ = at;
}

void deadline_timer::disarm(std::uint64_t generation) noexcept {
  std::lock_guard lk(mu_);
  if (generation != generation_ || due_ == time_point::max()) return;
  due_ = time_point::max();
  target_.reset();
  if (work_) {
    work_.finished();  // the wait stays pending, uncounted, for a later attempt's deadline
  } else {
    timer().cancel();
    kernel_at_ = time_point::max();
  }
}

void deadline_timer::expiry::operator()(boost::system::error_code ec) const {
  if (work) work.started();  // before Asio's accounting for this completion gives it back
  if (ec) return;            // cancelled: re-set by arm() or disarm(), or the executor is gone
  if (auto s = owner.lock()) s->deadline.expired(wait, s);
}

void deadline_timer::expired(std::uint64_t wait, const std::shared_ptr<executor_state>& owner) noexcept {
  std::shared_ptr<start_op> op;
  std::uint64_t generation = 0;
  {
    std::lock_guard lk(mu_);
    if (wait != wait_) return;  // superseded by a later set_locked()
    kernel_at_ = time_point::max();
    if (due_ == time_point::max()) return;  // no attempt in progress: nothing more is armed
    if (std::chrono::steady_clock::now() < due_) {
      // A later attempt's deadline: wait for it.
      try {
        set_locked(owner, due_);
        return;
      } catch (...) {
        // (std::bad_alloc) Cannot wait again: the attempt times out now rather than never.
      }
    }
    op = target_.lock();
    generation = generation_;
    due_ = time_point::max();
    target_.reset();
    if (work_) work_.finished();  // no live deadline any more
  }
  if (!op) return;
  // The deadline acts on the job's strand (API.md: a body that never yields delays it). Out of
  // memory, or once the context has shut down, it acts here rather than never.
  try {
    boost::asio::post(strand_of(*owner->impl),
                      [op, generation] { attempt_deadline_reached(op, generation); });
  } catch (...) {
    attempt_deadline_reached(op, generation);
  }
}

deadline_timer::~deadline_timer() {
  if (has_timer_ && is_attached(*job_)) timer().~basic_waitable_timer();
}

}  // namespace jobs::detail
