// The end of a run, after finish(): every handler it released, completed on its own executor.
#include "job_impl.hpp"

#include <jobs/detail/completion.hpp>

#include <boost/asio/post.hpp>

namespace jobs::detail {

void job_impl::complete(run_end& end) {
  // Each completion is dispatched: inline when this thread may run the handler's executor (the
  // common case: the io_context's own thread, or the job's strand), else queued there. Once a
  // handler has thrown, the others are posted instead, so that none is lost and each one's
  // exception leaves run() on its own; the first exception propagates from here.
  std::exception_ptr thrown;
  auto one = [&](auto&& h, auto&& work, auto... args) {
    if (!thrown) {
      try {
        dispatch_completion(std::move(h), std::move(work), std::move(args)...);
        return;
      } catch (...) {
        thrown = std::current_exception();
        return;  // (the handler was consumed by its call)
      }
    }
    post_completion_nothrow(ex.get(), std::move(h), std::move(work), std::move(args)...);
  };
  for (auto& w : end.woken) one(w.handler, w.work, boost::system::error_code{});
  for (auto& r : end.batch)
    one(r.watch.handler, r.watch.work, boost::system::error_code{}, std::move(r.snapshot));
  for (auto& w : end.starved)
    one(w.handler, w.work, make_error_code(boost::system::errc::not_enough_memory), jobs::stats{});
  // The async_run caller last: the executor's start continues from it, inline.
  if (end.handler) one(end.handler, end.handler_work, end.error);
  if (end.then) {
    // The executor's own continuation: inline, unless a handler threw above (then it is posted,
    // so that the start still ends).
    if (!thrown) {
      auto then = std::move(end.then);
      then.fn(then.owner, end.error);
    } else {
      try {
        post_then(std::move(end.then), end.error);
      } catch (...) {
      }
    }
  }
  if (thrown) std::rethrow_exception(thrown);
}

}  // namespace jobs::detail
