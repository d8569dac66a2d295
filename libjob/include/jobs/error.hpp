// jobs/error.hpp — the framework's own error codes (category "jobs").
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>

namespace jobs {

/// Failures of the framework itself. A job body's own exception is never turned into one of
/// these: it reaches the caller as the same exception object.
enum class errc : int {
  still_pending = 1,  ///< async_run / start while a run or start is still pending
  once,               ///< start after a successful start under once()
  cooldown,           ///< start inside the cooldown window
  timeout,            ///< a run ended by the executor's per-attempt timeout
  canceled,           ///< a run ended by cancel(), stop() or the caller's cancellation
  shutting_down,      ///< run / start refused: the job's registry is draining (jobs::registry)
  duplicate_id,       ///< a registry already holds a job with that id (jobs::registry)
  lease_lost,         ///< a coordinated run lost its lease (with_coordinator): renewal failed
};

/// The category of `errc`, named "jobs". `errc::canceled` is equivalent to the portable
/// condition `boost::system::errc::operation_canceled`, `errc::timeout` to `timed_out`.
const boost::system::error_category& jobs_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), jobs_category()};
}

/// The exception the framework throws (or completes with) for its own failures: a
/// `boost::system::system_error` whose `code()` is a `jobs::errc` and whose `what()` is a
/// complete sentence such as "job is still in cooldown, 4m59s left".
class error : public boost::system::system_error {
 public:
  error(errc e, std::string message);
  const char* what() const noexcept override;

 private:
  std::string message_;
};

}  // namespace jobs

template <>
struct boost::system::is_error_code_enum<jobs::errc> : std::true_type {};
