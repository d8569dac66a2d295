// jobs::context: what a running body sees of its run.
#include "job_impl.hpp"

#include <boost/log/attributes/constant.hpp>

#include <algorithm>
#include <cmath>

namespace jobs {
namespace detail {

jobs::logger& job_impl::context_logger() noexcept {
  // Made on first use (most bodies never log), then read without a lock. Not std::call_once:
  // libstdc++'s call_once on pthread_once never returns again after its callable has thrown
  // once (GCC PR 66146). context::logger() is noexcept, so a failure to make the logger
  // (std::bad_alloc) must not escape either: the body then logs through the lifecycle logger,
  // which exists already (see the constructor) but lacks the "Job" attribute; a later call
  // tries again.
  if (jobs::logger* lg = context_logger_.load(std::memory_order_acquire)) return *lg;
  std::lock_guard lk(mu);  // never held by a caller of this: bodies call it, the library does not
  // Under mu no other thread stores it: relaxed suffices here. The release store below pairs
  // with the acquire load above, so a lock-free reader sees the logger fully made.
  if (jobs::logger* lg = context_logger_.load(std::memory_order_relaxed)) return *lg;
  try {
    auto lg = user_logger ? std::make_unique<jobs::logger>(*user_logger)
                          : std::make_unique<jobs::logger>(boost::log::keywords::channel = "jobs");
    lg->add_attribute("Job", boost::log::attributes::constant<std::string>(id));
    context_logger_.store(lg.get(), std::memory_order_release);
    return *lg.release();  // owned by the job from here (see ~job_impl)
  } catch (...) {
    return user_logger ? *user_logger : fallback_logger();
  }
}

}  // namespace detail

// ---- context ---------------------------------------------------------------------------------

context::context(std::shared_ptr<detail::run_state> run) noexcept : run_(std::move(run)) {}

const std::string& context::id() const noexcept { return run_->job->id; }
asio::any_io_executor context::get_executor() const noexcept {
  // The job's strand (a run keeps no copy of its own). Once the execution context has begun to
  // shut down, the strand is released (job_service) while the body's frame may still be
  // destroyed later in that shutdown: a destructor in the body that asks for the executor then
  // gets the job's own, never an empty one (posting to an empty executor throws). Nothing runs
  // on either any more: what it posts is destroyed with the context, as Asio does.
  auto& j = *run_->job;
  {
    std::lock_guard lk(j.mu);
    if (j.strand_ex) return j.strand_ex;
  }
  return j.ex.get();
}
bool context::is_canceled() const noexcept {
  return run_->reason.load(std::memory_order_relaxed) != detail::cancel_reason::none;
}
boost::system::error_code context::cancel_reason() const noexcept {
  switch (run_->reason.load(std::memory_order_relaxed)) {
    case detail::cancel_reason::none: return {};
    case detail::cancel_reason::canceled: return make_error_code(errc::canceled);
    case detail::cancel_reason::timeout: return make_error_code(errc::timeout);
    case detail::cancel_reason::lease_lost: return make_error_code(errc::lease_lost);
  }
  return {};
}
jobs::logger& context::logger() noexcept { return run_->job->context_logger(); }
const jobs::labels& context::labels() const noexcept { return run_->job->label_set(); }

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
  auto box = std::make_shared<std::any>(std::move(r));  // outside the lock: user code
  {
    std::lock_guard lk(j.mu);
    if (run_->ended) return;
    std::swap(j.result, box);
  }
  // The old result is destroyed here, after the lock is released (its destructor is user code).
}

const std::any& context::params() const noexcept { return run_->params; }

}  // namespace jobs
