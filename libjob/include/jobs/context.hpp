// jobs/context.hpp — what a running job body sees.
#pragma once

#include <jobs/stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/log/sources/severity_channel_logger.hpp>
#include <boost/log/trivial.hpp>
#include <boost/system/error_code.hpp>

#include <any>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace jobs {

/// The logger a body's context hands out: severity (Boost.Log's trivial levels) and channel.
/// It carries an attribute "Job" whose value is the job id (std::string).
using logger =
    boost::log::sources::severity_channel_logger_mt<boost::log::trivial::severity_level, std::string>;

/// The library's own records (a run's start and end at debug, a cancellation at info, a failure
/// or a timeout at warning) are off by default: an application that never configures Boost.Log
/// sees nothing. `set_log_level(level)` turns them on for every job, from `level` up, through a
/// library logger on channel "jobs"; `set_log_level(std::nullopt)` turns them off again. A job
/// given with_logger(l) always sends its records through `l` instead. Thread-safe.
void set_log_level(std::optional<boost::log::trivial::severity_level> level) noexcept;
/// The threshold set by set_log_level (nullopt: off).
std::optional<boost::log::trivial::severity_level> log_level() noexcept;

namespace detail {
struct run_state;
}

/// The view a job body has of its own run. A body receives it as `context&`; the object is a
/// cheap handle to the run, so it may also be copied into work the body offloads to other threads.
///
/// \par Thread safety
/// Every member may be called from any thread for as long as a handle exists. Once the run it
/// belongs to has ended, `set_progress` and `set_result` are ignored: a late report from
/// offloaded work can never leak into a later run.
class context {
 public:
  explicit context(std::shared_ptr<detail::run_state> run) noexcept;

  const std::string& id() const noexcept;
  /// The strand the body runs on.
  boost::asio::any_io_executor get_executor() const noexcept;
  /// True as soon as cancel() has returned (or the executor's timeout fired) for this run.
  bool is_canceled() const noexcept;
  /// errc::canceled or errc::timeout once cancellation was requested; empty before.
  boost::system::error_code cancel_reason() const noexcept;
  /// The job's logger (the one given with_logger, or a default one), with the "Job" attribute.
  jobs::logger& logger() noexcept;
  const jobs::labels& labels() const noexcept;
  /// Clamped to [0, 1]; NaN is ignored.
  void set_progress(double p);
  void set_result(std::any r);
  const std::any& params() const noexcept;
  /// The fencing token of a coordinated start (with_coordinator): the epoch of the lease this
  /// run holds, which grows with every acquisition fleet-wide. A body guards its own writes with
  /// it (e.g. `UPDATE ... WHERE fence < $token`), so that a holder that lost its lease cannot
  /// overwrite its successor's work. Empty when the run is not under a coordinator's lease.
  std::optional<std::uint64_t> fencing_token() const noexcept;
  /// std::any_cast of the params; throws std::bad_any_cast for another type.
  template <class T>
  const T& params() const {
    return std::any_cast<const T&>(params());
  }

 private:
  std::shared_ptr<detail::run_state> run_;
};

}  // namespace jobs
