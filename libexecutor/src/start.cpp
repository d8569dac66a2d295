// One start's initiation (initiate_start), and where its deadline and the caller's cancellation
// reach it. The start itself, its admission included: start_op.hpp.
#include "start_op.hpp"

#include <jobs/detail/completion.hpp>
#include <jobs/detail/log.hpp>

namespace jobs::detail {

void attempt_deadline_reached(const std::shared_ptr<start_op>& op, std::uint64_t generation) {
  op->deadline_reached(generation);
}

void start_cancellation::operator()(asio::cancellation_type_t type) const {
  if (!stops_operation(type)) return;
  // Run inside whoever emitted the signal: never throw into it (stop_locked itself swallows a
  // failed cancel of the run; what is left to throw here is a timer's cancel).
  try {
    if (auto o = op.lock()) o->request_stop();
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

std::exception_ptr refusal_error(refusal_reason why, nanoseconds cooldown_left) {
  switch (why) {
    case refusal_reason::shutting_down: return error_ptr(errc::shutting_down);
    case refusal_reason::still_pending: return error_ptr(errc::still_pending);
    case refusal_reason::once: return once_error();
    case refusal_reason::cooldown:
    case refusal_reason::none: break;
  }
  return std::make_exception_ptr(
      error(errc::cooldown, "job is still in cooldown, " + go_duration_text(cooldown_left) + " left"));
}

void refuse_start(const executor_state& s, std::exception_ptr e, start_handler h,
                  asio::any_completion_executor work, const asio::any_io_executor& own) {
  try {
    JOBS_LOG(user_logger_of(*s.impl), debug, s.job.id(),
             "job " << s.job.id() << " start refused: " << describe(e));
  } catch (...) {
  }
  // The refusal goes through the handler like any other outcome, never inside async_start, on
  // the handler's own executor (the job's context may have shut down).
  post_completion(own, std::move(h), std::move(work), std::move(e));
}

void admit_start(const std::shared_ptr<executor_state>& s, std::any params, start_handler h,
                 asio::any_io_executor own) {
  asio::any_io_executor job_ex = s->job.get_executor();
  auto work = tracked(asio::get_associated_executor(h, completion_executor(job_ex)));
  // Where a completion that must not run inside this call is posted: the handler's own executor
  // when it has one Asio can post to, else the job's (the handler's default executor).
  if (!own) own = std::move(job_ex);
  const asio::cancellation_slot slot = asio::get_associated_cancellation_slot(h);
  // Made before the admission, outside the executor's mutex; a refused start frees it again.
  auto op = std::make_shared<start_op>(s, std::move(params), std::move(h), std::move(work), std::move(own));
  op->begin(slot);
}

}  // namespace jobs::detail
