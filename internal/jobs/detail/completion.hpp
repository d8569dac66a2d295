// jobs/detail/completion.hpp — how libjob and libexecutor complete a handler (not installed).
//
// A handler's completion runs on its associated executor, never inside its initiating call, and
// the executor's work count is held while the operation is pending (API.md, "Handlers",
// "Completion placement"). One implementation, shared by both libraries.
#pragma once

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <new>
#include <tuple>
#include <utility>

namespace jobs::detail {

namespace asio = boost::asio;

// Whether a cancellation of type `t` stops one of the library's operations (a run, a start, a
// drain, a lease's acquisition): terminal and partial do; total alone is not supported, since
// stopping changes the job.
constexpr bool stops_operation(asio::cancellation_type_t t) noexcept {
  return (t & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) !=
         asio::cancellation_type::none;
}

// `ex` as the default executor of a completion handler. Erased from the concrete executor when
// `ex` holds an io_context's or a thread_pool's: converting the any_io_executor itself nests one
// type erasure in another, a heap block (and another for every prefer made on it).
inline asio::any_completion_executor completion_executor(const asio::any_io_executor& ex) {
  if (auto* io = ex.target<asio::io_context::executor_type>()) return asio::any_completion_executor(*io);
  if (auto* pool = ex.target<asio::thread_pool::executor_type>()) return asio::any_completion_executor(*pool);
  return asio::any_completion_executor(ex);
}

inline asio::any_completion_executor tracked(asio::any_completion_executor ex) {
  // Asio 1.81 converts a handler's default executor (any_io_executor) to any_completion_executor
  // with a nothrow allocation: out of memory, the result is an empty executor whose prefer()
  // dereferences null. Report the allocation failure instead.
  if (!ex) throw std::bad_alloc();
  return asio::prefer(std::move(ex), asio::execution::outstanding_work.tracked);
}

// A handler's completion, posted: clears the caller's slot on the handler's own executor (so
// no handler of ours stays installed in it after completion), then calls the handler.
template <class Handler, class... Args>
struct completion_call {
  using executor_type = asio::any_completion_executor;

  Handler handler;
  asio::any_completion_executor work;  // the handler's executor, work counted
  std::tuple<Args...> args;

  executor_type get_executor() const noexcept { return work; }

  void operator()() {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    auto w = std::move(work);  // released after the call
    std::apply(std::move(handler), std::move(args));
  }
};

// Completes `h` on its own executor, never inside the caller: posted through the job's
// executor, then dispatched to the handler's associated executor (`work`, which holds its work
// count until then).
template <class Handler, class... Args>
void post_completion(const asio::any_io_executor& via, Handler h, asio::any_completion_executor work,
                     Args... args) {
  if (asio::prefer(work, asio::execution::outstanding_work.untracked) == completion_executor(via)) {
    // The handler's executor is the job's (the common case): posting through `via` is the whole
    // trip, without a work_dispatcher and a second work guard around the call.
    asio::post(via, [c = completion_call<Handler, Args...>{
                         std::move(h), {}, std::tuple<Args...>(std::move(args)...)}]() mutable { c(); });
    return;
  }
  asio::post(via, completion_call<Handler, Args...>{std::move(h), std::move(work),
                                                    std::tuple<Args...>(std::move(args)...)});
}

// A handler's completion, dispatched to its own executor: called inline when this thread may run
// it there (the caller is then already outside the handler's initiating call), else queued.
// The same call as completion_call, without an associated executor of its own, so that
// asio::dispatch runs it directly instead of through a work_dispatcher.
template <class Handler, class... Args>
struct dispatched_call {
  Handler handler;
  asio::any_completion_executor work;  // the handler's executor, work counted until the call
  std::tuple<Args...> args;

  void operator()() {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    auto w = std::move(work);
    std::apply(std::move(handler), std::move(args));
  }
};

// Completes `h` on its own executor, inline if this thread runs it. Only where the caller is
// known to be outside the handler's initiating call (API.md, "Completion placement"): the end of
// a run, on the job's strand. A handler that throws propagates out of this call.
template <class Handler, class... Args>
void dispatch_completion(Handler h, asio::any_completion_executor work, Args... args) {
  auto ex = work;
  asio::dispatch(ex, dispatched_call<Handler, Args...>{std::move(h), std::move(work),
                                                       std::tuple<Args...>(std::move(args)...)});
}

// post_completion for the paths that must not throw (the end of a run, cancel() once it has
// changed the job): out of memory, the handler is destroyed unrun (with its work count), as Asio
// drops a handler it cannot queue.
template <class Handler, class... Args>
void post_completion_nothrow(const asio::any_io_executor& via, Handler h, asio::any_completion_executor work,
                             Args... args) noexcept {
  try {
    post_completion(via, std::move(h), std::move(work), std::move(args)...);
  } catch (...) {
  }
}

}  // namespace jobs::detail
