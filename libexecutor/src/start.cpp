// One start's admission (initiate_start), and where its deadline and the caller's cancellation
// reach it. The start itself: start_op.hpp.
#include "start_op.hpp"

#include <jobs/detail/completion.hpp>
#include <jobs/detail/log.hpp>

namespace jobs::detail {

void attempt_deadline_reached(const std::shared_ptr<start_op>& op, std::uint64_t generation) {
  op->deadline_reached(generation);
}

void start_cancellation::operator()(asio::cancellation_type_t type) const {
  if (!stops_operation(type)) return;
  // Run inside whoever emitted the signal: never throw into it (out of memory, the op is still
  // marked stopped and ends at its next step; only its run's cancellation is lost).
  try {
    if (auto o = op.lock()) o->request_stop(true);
  } catch (...) {
  }
}

void initiate_start(const std::shared_ptr<executor_state>& s, std::any params, start_handler h,
                    asio::any_io_executor own) {
  // with_coordinator: the lease first (coordinated_start.cpp), then admit_start.
  if (s->cfg.coordination)
    return initiate_coordinated_start(s, std::move(params), std::move(h), std::move(own));
  admit_start(s, std::move(params), std::move(h), std::move(own));
}

void admit_start(const std::shared_ptr<executor_state>& s, std::any params, start_handler h,
                 asio::any_io_executor own) {
  auto work = tracked(asio::get_associated_executor(h, completion_executor(s->job.get_executor())));
  // Where a completion that must not run inside this call is posted: the handler's own executor
  // when it has one Asio can post to, else the job's (the handler's default executor).
  if (!own) own = s->job.get_executor();
  const asio::cancellation_slot slot = asio::get_associated_cancellation_slot(h);

  std::exception_ptr refusal;
  nanoseconds cooldown_left{0};
  std::shared_ptr<start_op> op;
  {
    std::lock_guard lk(s->mu);
    if (s->closed) {
      refusal = error_ptr(errc::shutting_down);
    } else if (s->in_progress || s->job.is_executing()) {
      refusal = error_ptr(errc::still_pending);
    } else if (s->cfg.once && s->succeeded_once) {
      refusal = once_error();
    } else if ((cooldown_left = s->cooldown_left_locked()) > nanoseconds::zero()) {
      // refused below with errc::cooldown and the time left
    } else {
      op = std::make_shared<start_op>(s, std::move(params), std::move(h), std::move(work), std::move(own));
      s->in_progress = true;
      s->active = op.get();
      s->active_id = ++s->admissions;
      s->current = op;
      op->saved_retries = std::exchange(s->retries, 0);
      op->saved_attempts = std::exchange(s->attempts, std::move(s->spare_attempts));
      ++s->starts;
    }
  }
  if (!op) {
    if (!refusal) {
      refusal = std::make_exception_ptr(
          error(errc::cooldown, "job is still in cooldown, " + go_duration_text(cooldown_left) + " left"));
    }
    try {
      JOBS_LOG(user_logger_of(*s->impl), debug, s->job.id(),
               "job " << s->job.id() << " start refused: " << describe(refusal));
    } catch (...) {
    }
    // Refused: nothing changed; the refusal goes through the handler like any other outcome,
    // never inside this call, on the handler's own executor (the job's context may have shut
    // down).
    post_completion(own, std::move(h), std::move(work), std::move(refusal));
    return;
  }
  op->begin(slot);
}

}  // namespace jobs::detail
