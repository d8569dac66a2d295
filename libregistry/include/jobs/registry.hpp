// jobs/registry.hpp — the jobs of a server by id and label selector: find, select, cancel, stats,
// a kubectl-like table, and a graceful drain with a deadline.
#pragma once

#include <jobs/executor.hpp>
#include <jobs/job.hpp>
#include <jobs/selector.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/json/array.hpp>
#include <boost/json/fwd.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobs {

namespace asio = boost::asio;

/// What a drain did. `boost::json::value_from(r)` gives {"ended": n, "canceled": n,
/// "still_running": ["id", ...], "duration": ns}.
struct drain_report {
  /// Entries that were running during the drain and ended without being cancelled by it.
  std::size_t ended = 0;
  /// Entries the drain cancelled (job.cancel(), executor.stop()): those still running when the
  /// first grace period ran out or the drain itself was cancelled, and those found running after.
  std::size_t canceled = 0;
  /// Ids of the entries still running when the drain completed (each of them was cancelled and
  /// ignored it so far), sorted.
  std::vector<std::string> still_running;
  /// From the drain's start to its completion.
  std::chrono::nanoseconds duration{0};

  friend bool operator==(const drain_report&, const drain_report&) = default;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const drain_report& r);

namespace detail {

class registry_state;
struct registry_access;

using drain_handler = asio::any_completion_handler<void(boost::system::error_code, drain_report)>;

std::shared_ptr<registry_state> make_registry(asio::any_io_executor ex);
/// Throws std::invalid_argument for a negative grace period.
std::chrono::nanoseconds drain_grace(std::chrono::nanoseconds grace);
void initiate_drain(const std::shared_ptr<registry_state>& s, std::chrono::nanoseconds grace,
                    drain_handler h);

/// A duration as kubectl prints an AGE (k8s.io/apimachinery's duration.HumanDuration): "45s",
/// "5m30s", "2h", "3d4h", "1y30d".
std::string human_duration(std::chrono::nanoseconds d);

}  // namespace detail

/// The jobs of a server, keyed by id: find one, select, cancel and describe many by Kubernetes
/// label selector (jobs::selector), and drain them all on shutdown.
///
/// A cheap, copyable handle: copies refer to the same registry. The registry holds handles to
/// its jobs and executors (it keeps them alive); their labels are read once, when they are added
/// (a job's labels never change).
///
/// \par Admission
/// A drain closes the registry: from then on every registered job refuses new runs and every
/// registered executor new starts with errc::shutting_down (`job.run()` throws jobs::error;
/// `async_run`, `async_start` complete with it), also those added later, until reopen(). A job
/// or executor that is removed is open again. (A job should belong to one registry: another
/// registry's drain or removal closes or opens it alike.)
///
/// \par Thread safety
/// Every member may be called from any thread at any time.
class registry {
 public:
  /// One registered job, and the executor it was added with, if any.
  struct entry {
    jobs::job job;
    std::optional<jobs::executor> executor;
    const std::string& id() const noexcept { return job.id(); }
  };

  /// `ex`: the executor of the drain's timers and the default executor of its completion
  /// handler, as for an Asio I/O object (the jobs may run anywhere). Throws
  /// std::invalid_argument for a null executor.
  explicit registry(asio::any_io_executor ex);

  template <class ExecutionContext>
  requires detail::execution_context_ref<ExecutionContext>
  explicit registry(ExecutionContext& ctx) : registry(asio::any_io_executor(ctx.get_executor())) {}

  /// Registers `j` under its id. Throws jobs::error (a boost::system::system_error) with
  /// errc::duplicate_id if the registry has an entry with that id, std::invalid_argument for a
  /// moved-from handle. In a closed registry the job is closed at once.
  void add(jobs::job j);
  /// Registers `e` and its job under the job's id (the entry's `executor` is `e`).
  void add(jobs::executor e);

  /// The entry with that id, or nothing.
  std::optional<entry> find(std::string_view id) const;
  /// Removes the entry with that id; false if there is none. A running job keeps running; its
  /// entry is gone (a drain in progress no longer waits for it) and it is open again.
  bool remove(std::string_view id);
  /// How many entries there are.
  std::size_t size() const;

  /// The entries whose job's labels match `s`, ordered by start time (`job.started_at()`; jobs
  /// never run, whose start time is the epoch, first), then by id.
  std::vector<entry> select(const selector& s = {}) const;
  /// select(selector::parse(s)): throws std::invalid_argument for a bad selector.
  std::vector<entry> select(std::string_view s) const;

  /// Cancels every matching running job (`job.cancel()`) and stops every matching executor
  /// (`executor.stop()`: also a start waiting for a retry). Returns how many it reached: the
  /// entries whose run went from running to canceling or whose executor had a start in progress.
  /// `cancel(selector{})` cancels everything.
  std::size_t cancel(const selector& s);
  std::size_t cancel(std::string_view s);

  /// The matching entries, ordered as select(), as JSON: an array of each job's stats
  /// (jobs::stats' JSON object) with, for an entry added with an executor, that executor's stats
  /// under "executor".
  boost::json::array stats(const selector& s = {}) const;
  boost::json::array stats(std::string_view s) const;

  /// Prints the matching entries, ordered as select(), as a table for people, like
  /// `kubectl get`: ID, LABELS, STATE, PROGRESS, RUNS, RETRIES, AGE (since the job was
  /// created), ERROR. Control characters in ids, labels and errors are escaped, so that every
  /// job is one line. RUNS counts the runs the job has started, whoever started them.
  void print(std::ostream& os, const selector& s = {}) const;
  void print(std::ostream& os, std::string_view s) const;

  /// Shuts the registry's jobs down gracefully.
  ///
  /// 1. Closes the registry (see Admission): nothing is admitted from then on.
  /// 2. Waits up to `grace` for the running jobs, and executor starts in progress, to end on
  ///    their own.
  /// 3. Cancels what is still running (`job.cancel()`, `executor.stop()`) and waits up to
  ///    `grace` again. Cancellation is cooperative: a body that ignores it is not waited for
  ///    beyond that; its id is reported.
  /// 4. Completes with a drain_report, as soon as nothing is running.
  /// Entries added during the drain are waited for (and after step 3, cancelled) too; removed
  /// ones are not. A drain started while one is in progress waits for that one (its `grace` is
  /// not used) and completes with the same outcome. Once complete, the registry stays closed
  /// (until reopen()); a later drain waits for what is running then.
  ///
  /// \par Handler signature  void(boost::system::error_code, jobs::drain_report)
  ///      The error is null, or asio::error::operation_aborted if the drain was cancelled.
  /// \par Executor  the handler's associated executor, defaulting to get_executor(); never
  ///      invoked inside this call; work is counted on it while the drain is in progress. The
  ///      drain's timers run on a strand of get_executor().
  /// \par Per-operation cancellation  terminal and partial: the drain cancels everything still
  ///      running at once and completes without waiting (the report lists what had not ended
  ///      yet), with operation_aborted — for every caller waiting for it. total is not supported
  ///      (cancelling changes the jobs) and is ignored.
  ///
  /// Throws std::invalid_argument for a negative or NaN `grace`; huge ones saturate.
  template <class Rep, class Period, class Token = asio::deferred_t>
  auto async_drain(std::chrono::duration<Rep, Period> grace, Token&& token = {}) {
    const auto g = detail::drain_grace(detail::to_ns(grace, "jobs::registry::async_drain: the grace period"));
    return asio::async_initiate<Token, void(boost::system::error_code, drain_report)>(
        drain_initiation{state_}, token, g);
  }

  /// Whether a drain has closed the registry (and reopen() has not opened it since).
  bool is_closed() const;
  /// Opens the registry again: every registered job and executor admits runs and starts again.
  /// Throws std::logic_error while a drain is in progress.
  void reopen();

  /// The executor given at construction.
  asio::any_io_executor get_executor() const noexcept;

  friend bool operator==(const registry& a, const registry& b) noexcept { return a.state_ == b.state_; }

 private:
  friend struct detail::registry_access;

  struct drain_initiation {
    std::shared_ptr<detail::registry_state> state;
    template <class Handler>
    void operator()(Handler&& h, std::chrono::nanoseconds grace) const {
      detail::initiate_drain(state, grace, detail::drain_handler(std::forward<Handler>(h)));
    }
  };

  std::shared_ptr<detail::registry_state> state_;
};

}  // namespace jobs
