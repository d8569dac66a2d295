// A run's cancellation (job::cancel, a caller's slot, the executor's timeout and stop, a lost
// lease): under the job's mutex, lifecycle::on_cancel and the reason; then the emit into the
// body's slot, on the strand (signals are not thread-safe): inline if already there, else posted.
// See run.cpp for how a run travels.
#include "job_impl.hpp"

#include <jobs/detail/log.hpp>

#include <boost/asio/cancellation_type.hpp>

namespace jobs::detail {

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
  // (cancel_run: the executor's timeout and stop hold the executor's mutex), the emit is posted to
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

}  // namespace jobs::detail
