// The strand a job's body runs on.
//
// A strand of the concrete executor when the job is given an io_context's or a thread_pool's,
// then type-erased once: that fits in any_io_executor's small buffer. A strand<any_io_executor>
// does not, and every copy, prefer and require of it that Asio makes on the run path (work
// guards, the awaitable thread, timers) would be a heap allocation.
#include "job_impl.hpp"

namespace jobs::detail {

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

}  // namespace jobs::detail
