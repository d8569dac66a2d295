// jobs/coordination.hpp — what an executor needs of a fleet-wide coordinator (with_coordinator):
// a lease per job name with a fencing epoch, renewed while a start runs, released with the
// start's outcome. libcoord implements it on PostgreSQL (jobs::pg::lease_coordinator); the
// executor itself never talks to a database.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace jobs {

namespace asio = boost::asio;

/// What the release of a lease records, in the same statement that releases it.
struct lease_outcome {
  bool once_done = false;                ///< latch the job's fleet-wide once() (a successful start)
  std::chrono::nanoseconds cooldown{0};  ///< open a fleet-wide cooldown of this length (0: none)
};

/// A lease store shared by the replicas of a service. Implementations complete every handler
/// on its associated executor (never inside the initiating call) and honour per-operation
/// cancellation (terminal) with asio::error::operation_aborted.
class coordinator {
 public:
  virtual ~coordinator() = default;

  /// void(error_code, epoch, time_left): success → the lease is ours until `lease` from the
  /// store's clock, under `epoch` (greater than every earlier epoch of `name`: a fencing token).
  /// Refusals: jobs::errc::still_pending (held by a replica), jobs::errc::once (once done),
  /// jobs::errc::cooldown (with the time left). Anything else: the store could not be reached.
  using acquire_handler =
      asio::any_completion_handler<void(boost::system::error_code, std::uint64_t, std::chrono::nanoseconds)>;
  /// void(error_code): success, jobs::errc::lease_lost (the lease is no longer ours), or a
  /// failure to reach the store (the lease may still be ours).
  using done_handler = asio::any_completion_handler<void(boost::system::error_code)>;

  virtual void async_acquire(const std::string& name, std::chrono::nanoseconds lease, acquire_handler h) = 0;
  virtual void async_renew(const std::string& name, std::uint64_t epoch, std::chrono::nanoseconds lease,
                           done_handler h) = 0;
  virtual void async_release(const std::string& name, std::uint64_t epoch, lease_outcome outcome,
                             done_handler h) = 0;
  /// What went wrong with the store's connection last ("" if nothing): for error messages.
  virtual std::string last_error() const = 0;
};

/// with_coordinator's settings.
struct coordination_options {
  /// How long a lease lasts without renewal. The lease is renewed every lease/3 while the start
  /// runs; if it cannot be renewed before it would lapse, the run is cancelled with
  /// errc::lease_lost. At least 30 ms.
  std::chrono::nanoseconds lease{std::chrono::seconds(30)};
};

namespace detail {
struct coordination_config {
  std::shared_ptr<coordinator> store;
  std::string name;
  coordination_options options;
};
struct coordinator_option {
  std::shared_ptr<const coordination_config> c;
};
coordinator_option make_coordinator_option(std::shared_ptr<coordinator> c, std::string name,
                                           coordination_options o);
}  // namespace detail

/// Makes the executor's starts fleet-wide: after the local checks, admission acquires the lease
/// `name` from `c` (refused with errc::still_pending, errc::once, or errc::cooldown with the
/// time left, as decided by the store's clock); the lease is renewed every lease/3 while the
/// start runs, and a run whose lease cannot be renewed is cancelled with errc::lease_lost. The
/// start's end releases the lease and records its outcome (once(): the fleet-wide latch;
/// with_cooldown: the fleet-wide window) in the same statement. Each run of a coordinated start
/// sees the lease's epoch as `ctx.fencing_token()`. Throws std::invalid_argument for a null
/// coordinator or a lease shorter than 30 ms. Names may hold any bytes (NUL included).
inline detail::coordinator_option with_coordinator(std::shared_ptr<coordinator> c, std::string name,
                                                   coordination_options o = {}) {
  return detail::make_coordinator_option(std::move(c), std::move(name), o);
}

}  // namespace jobs
