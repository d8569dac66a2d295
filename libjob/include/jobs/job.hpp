// jobs/job.hpp — a job: an asio::awaitable<void> body run on a strand, with a visible lifecycle.
#pragma once

#include <jobs/context.hpp>
#include <jobs/error.hpp>
#include <jobs/state.hpp>
#include <jobs/stats.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/execution_context.hpp>

#include <any>
#include <chrono>
#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace jobs {

namespace asio = boost::asio;

/// A job body: a coroutine that receives the context of its run.
using body = std::function<asio::awaitable<void>(context&)>;

/// A body that ignores its context. Throws std::invalid_argument if `fn` is empty.
body wrap(std::function<asio::awaitable<void>()> fn);

namespace detail {

class job_impl;
struct job_access;

struct job_config {
  jobs::labels labels;
  std::optional<jobs::logger> logger;
};

struct label_option {
  std::string key;
  std::string value;
};
struct labels_option {
  jobs::labels all;
};
struct logger_option {
  jobs::logger logger;
};

void apply(job_config& c, label_option o);
void apply(job_config& c, labels_option o);
void apply(job_config& c, logger_option o);

using run_handler = asio::any_completion_handler<void(std::exception_ptr)>;
using wait_handler = asio::any_completion_handler<void(boost::system::error_code)>;
using watch_handler = asio::any_completion_handler<void(boost::system::error_code, jobs::stats)>;

std::shared_ptr<job_impl> make_job(asio::any_io_executor ex, std::string id, body fn, job_config config);
void initiate_run(const std::shared_ptr<job_impl>& j, std::any params, run_handler h);
void initiate_wait(const std::shared_ptr<job_impl>& j, wait_handler h);
void initiate_watch(const std::shared_ptr<job_impl>& j, std::uint64_t last_version, watch_handler h);

template <class T>
concept run_token =
    asio::completion_token_for<T, void(std::exception_ptr)> && !std::is_same_v<std::decay_t<T>, std::any>;

template <class T>
concept execution_context_ref = std::is_convertible_v<T&, asio::execution_context&>;

}  // namespace detail

/// Adds one label.
inline detail::label_option with_label(std::string key, std::string value) {
  return {std::move(key), std::move(value)};
}
/// Replaces all labels (including those added by an earlier with_label).
inline detail::labels_option with_labels(labels all) { return {std::move(all)}; }
/// The logger that the body's context hands out; the job adds its "Job" attribute to a copy.
inline detail::logger_option with_logger(logger l) { return {std::move(l)}; }

/// A cheap, copyable handle to a job: copies refer to the same job.
///
/// \par Thread safety
/// Every member function may be called from any thread at any time.
///
/// \par Object lifetimes
/// As for Asio's I/O objects, the execution context must outlive every handle. A run keeps its
/// job alive after every handle is gone.
class job {
 public:
  /// `ex`: any executor (io_context's, thread_pool's, a strand); the body runs on a strand of it.
  /// `id`: "" gets a random UUID. Throws std::invalid_argument for a null executor or an empty body.
  template <class... Options>
  job(asio::any_io_executor ex, std::string id, body fn, Options&&... options)
      : impl_(detail::make_job(std::move(ex), std::move(id), std::move(fn),
                               make_config(std::forward<Options>(options)...))) {}

  template <class ExecutionContext, class... Options>
  requires detail::execution_context_ref<ExecutionContext> job(ExecutionContext& ctx, std::string id, body fn,
                                                               Options&&... options)
      : job(asio::any_io_executor(ctx.get_executor()), std::move(id), std::move(fn),
            std::forward<Options>(options)...) {}

  // ---- lifecycle ----

  /// Starts a run unless one is pending (then returns false). The state is `running` when it
  /// returns true; the body starts on the job's strand, never inside this call.
  bool run(std::any params = {});

  /// Starts a run and completes when it ends, with the run's error (null on success), or with
  /// errc::still_pending if a run is pending.
  ///
  /// \par Handler signature  void(std::exception_ptr)
  /// \par Executor  the handler's associated executor, defaulting to get_executor(); never
  ///      invoked inside this call; work is counted on it while the run is pending.
  /// \par Per-operation cancellation  terminal and partial: cancels the job (like cancel()).
  ///      total is not supported (cancelling changes the job) and is ignored.
  template <class Token = asio::deferred_t>
  auto async_run(std::any params = {}, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::exception_ptr)>(run_initiation{impl_}, token,
                                                                 std::move(params));
  }
  /// `async_run(token)`: a completion token is never taken for the params.
  template <detail::run_token Token>
  auto async_run(Token&& token) {
    return async_run(std::any{}, std::forward<Token>(token));
  }

  /// Blocks until no run is pending (the run pending at the call has ended). Throws
  /// std::logic_error when called on the job's own strand (it would deadlock). Never call it
  /// on a thread that the job's executor needs: use async_wait there.
  void wait();

  /// Completes when no run is pending (at once, through the handler's executor, if none is).
  /// \par Handler signature  void(boost::system::error_code)
  /// \par Per-operation cancellation  terminal, partial and total: cancels only the wait, which
  ///      completes with asio::error::operation_aborted.
  template <class Token = asio::deferred_t>
  auto async_wait(Token&& token = {}) {
    return asio::async_initiate<Token, void(boost::system::error_code)>(wait_initiation{impl_}, token);
  }

  /// Completes with a snapshot as soon as the job has changed (state or progress) since the
  /// snapshot whose `version` is `last_version` — at once if it already has. 0 (or any version
  /// older than the job's) gets the current snapshot at once. Loop on it to follow a job:
  ///
  ///     for (std::uint64_t v = 0;;) { auto s = co_await j.async_watch(v); v = s.version; ... }
  ///
  /// Fast changes are coalesced (a watcher gets the latest state, never a queue of stale ones),
  /// except that the end of every run is delivered: a watcher that re-arms with the version it
  /// last saw gets the terminal snapshot of each run that ended since then, oldest first (the
  /// job keeps the last 64 of them once it has been watched).
  /// \par Handler signature  void(boost::system::error_code, jobs::stats)
  /// \par Per-operation cancellation  terminal, partial and total: cancels only the watch, which
  ///      completes with asio::error::operation_aborted (and an empty snapshot).
  /// A watch still waiting when the job's last handle is destroyed (and no run is pending)
  /// completes the same way.
  template <class Token = asio::deferred_t>
  auto async_watch(std::uint64_t last_version = 0, Token&& token = {}) {
    return asio::async_initiate<Token, void(boost::system::error_code, jobs::stats)>(watch_initiation{impl_},
                                                                                     token, last_version);
  }

  /// running -> canceling, and the body's cancellation slot fires (terminal) on its strand.
  /// Returns false if the job is not `running`.
  bool cancel();

  /// The executor given at construction.
  asio::any_io_executor get_executor() const noexcept;

  // ---- state ----
  jobs::state state() const;
  bool is_state(jobs::state s) const;
  bool is_done() const;
  bool is_executing() const;

  // ---- data ----
  const std::string& id() const noexcept;
  jobs::labels labels() const;
  /// What the body last set with set_result in this run (empty before).
  std::any result() const;
  template <class T>
  T result() const {
    return std::any_cast<T>(result());
  }
  /// Null unless the last run failed or was canceled.
  std::exception_ptr error() const;
  /// The last value set in this run, in [0, 1]; -1 before any.
  double progress() const;

  // ---- timing ----
  std::chrono::system_clock::time_point created_at() const;
  std::chrono::system_clock::time_point started_at() const;
  std::chrono::system_clock::time_point ended_at() const;
  /// So far while running, else the last run's (0 before the first run).
  std::chrono::nanoseconds execution_time() const;

  jobs::stats stats() const;

  friend bool operator==(const job& a, const job& b) noexcept { return a.impl_ == b.impl_; }

 private:
  friend struct detail::job_access;

  template <class... Options>
  static detail::job_config make_config(Options&&... options) {
    detail::job_config c;
    (detail::apply(c, std::forward<Options>(options)), ...);
    return c;
  }

  struct run_initiation {
    std::shared_ptr<detail::job_impl> impl;
    template <class Handler>
    void operator()(Handler&& h, std::any params) const {
      detail::initiate_run(impl, std::move(params), detail::run_handler(std::forward<Handler>(h)));
    }
  };
  struct wait_initiation {
    std::shared_ptr<detail::job_impl> impl;
    template <class Handler>
    void operator()(Handler&& h) const {
      detail::initiate_wait(impl, detail::wait_handler(std::forward<Handler>(h)));
    }
  };

  struct watch_initiation {
    std::shared_ptr<detail::job_impl> impl;
    template <class Handler>
    void operator()(Handler&& h, std::uint64_t last_version) const {
      detail::initiate_watch(impl, last_version, detail::watch_handler(std::forward<Handler>(h)));
    }
  };

  std::shared_ptr<detail::job_impl> impl_;
};

}  // namespace jobs
