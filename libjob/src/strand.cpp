// The executor a job is made with, and the strand its body runs on.
//
// A strand of the concrete executor when the job is given an io_context's or a thread_pool's,
// then type-erased once: that fits in any_io_executor's small buffer. A strand<any_io_executor>
// does not, and every copy, prefer and require of it that Asio makes on the run path (work
// guards, the awaitable thread, timers) would be a heap allocation.
#include "job_impl.hpp"

#include <new>

namespace jobs::detail {

job_executor::job_executor(const asio::any_io_executor& ex) {
  if (auto* io = ex.target<asio::io_context::executor_type>()) {
    new (&io_) asio::io_context::executor_type(*io);
    kind_ = kind::io;
  } else if (auto* pool = ex.target<asio::thread_pool::executor_type>()) {
    new (&pool_) asio::thread_pool::executor_type(*pool);
    kind_ = kind::pool;
  } else {
    other_ = new asio::any_io_executor(ex);
    kind_ = kind::other;
  }
}

job_executor::~job_executor() {
  switch (kind_) {
    case kind::io: io_.~basic_executor_type(); break;
    case kind::pool: pool_.~basic_executor_type(); break;
    case kind::other: delete other_; break;
  }
}

asio::any_io_executor job_executor::get() const noexcept {
  switch (kind_) {
    case kind::io: return asio::any_io_executor(io_);
    case kind::pool: return asio::any_io_executor(pool_);
    case kind::other: break;
  }
  return *other_;
}

asio::any_completion_executor job_executor::completion() const {
  switch (kind_) {
    case kind::io: return asio::any_completion_executor(io_);
    case kind::pool: return asio::any_completion_executor(pool_);
    case kind::other: break;
  }
  return completion_executor(*other_);
}

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
