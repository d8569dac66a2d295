// The framework's own errors as shared exception objects, and how the end of a run reads an
// exception (libjob; declared in job_access.hpp and run_errors.hpp).
#include "run_errors.hpp"

#include <jobs/detail/job_access.hpp>

#include <boost/asio/error.hpp>
#include <boost/throw_exception.hpp>

#include <cstdio>
#include <cstring>
#include <typeinfo>

namespace jobs::detail {

// (job_access.hpp) Shared with libexecutor, which completes starts with the same errors.
const std::exception_ptr& error_ptr(errc e) {
  static const std::exception_ptr canceled = std::make_exception_ptr(error(errc::canceled, "job canceled"));
  static const std::exception_ptr timeout = std::make_exception_ptr(error(errc::timeout, "job timed out"));
  static const std::exception_ptr pending =
      std::make_exception_ptr(error(errc::still_pending, "job is still pending"));
  static const std::exception_ptr shutting_down =
      std::make_exception_ptr(error(errc::shutting_down, "job is shutting down: its registry is draining"));
  static const std::exception_ptr lease_lost = std::make_exception_ptr(
      error(errc::lease_lost, "job lease lost: the run was canceled because its lease could not be renewed"));
  switch (e) {
    case errc::canceled: return canceled;
    case errc::lease_lost: return lease_lost;
    case errc::timeout: return timeout;
    case errc::shutting_down: return shutting_down;
    default: return pending;
  }
}

std::string describe(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

// "The cancellation itself" is what an Asio operation completes with when the body's slot is
// emitted: asio::error::operation_aborted, compared exactly (value and category). Not merely
// anything equivalent to errc::operation_canceled: a nested job's errc::canceled, or a library's
// own cancellation error, is an exception of the body like any other (API.md, "Outcome").
namespace {
bool is_cancellation_code(const boost::system::error_code& ec) noexcept {
  return ec == boost::system::error_code(asio::error::operation_aborted);
}
}  // namespace

// Is `e` an Asio system_error of exactly the library's own types (boost::system::system_error,
// as Asio throws it wrapped by boost::throw_exception)? Then its what() is Boost's, not user
// code, and may be called under the job's mutex. Sets `code` to its error code.
bool is_boost_system_error(const std::exception_ptr& e, boost::system::error_code& code) noexcept {
#if defined(__GLIBCXX__)
  static_assert(sizeof(std::exception_ptr) == sizeof(void*));
  if (const std::type_info* t = e.__cxa_exception_type()) {
    void* object = nullptr;
    std::memcpy(&object, &e, sizeof object);
    using wrapped = boost::wrapexcept<boost::system::system_error>;
    if (*t == typeid(wrapped)) {
      code = static_cast<const wrapped*>(object)->code();
      return true;
    }
    if (*t == typeid(boost::system::system_error)) {
      code = static_cast<const boost::system::system_error*>(object)->code();
      return true;
    }
  }
#else
  (void)e;
  (void)code;
#endif
  return false;
}

// Did the body throw the cancellation itself?
bool threw_cancellation(const std::exception_ptr& e) noexcept {
  // Fast path, no rethrow (a rethrow costs microseconds and cancellation is the common case of
  // a canceled run): libstdc++'s exception_ptr is one pointer to the thrown object, and
  // __cxa_exception_type() names its dynamic type.
  boost::system::error_code code;
  if (is_boost_system_error(e, code)) return is_cancellation_code(code);
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& se) {
    return is_cancellation_code(se.code());
  } catch (...) {
    return false;
  }
}

// The what() of the library's own run errors, described once (a rethrow per canceled run
// otherwise). Made by the first job's constructor, where a failure can throw.
const std::string& library_error_text(run_error kind) {
  static const std::string none;
  static const std::string canceled = describe(error_ptr(errc::canceled));
  static const std::string timeout = describe(error_ptr(errc::timeout));
  static const std::string lease_lost = describe(error_ptr(errc::lease_lost));
  switch (kind) {
    case run_error::lease_lost: return lease_lost;
    case run_error::canceled: return canceled;
    case run_error::timeout: return timeout;
    default: return none;
  }
}

// A duration for people: "850ns", "12.3us", "4.56ms", "1.234s", "2m5.0s".
std::string human(std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  char buf[48];
  if (ns < 1e3)
    std::snprintf(buf, sizeof buf, "%.0fns", ns);
  else if (ns < 1e6)
    std::snprintf(buf, sizeof buf, "%.1fus", ns / 1e3);
  else if (ns < 1e9)
    std::snprintf(buf, sizeof buf, "%.2fms", ns / 1e6);
  else if (ns < 60e9)
    std::snprintf(buf, sizeof buf, "%.3fs", ns / 1e9);
  else
    std::snprintf(buf, sizeof buf, "%lldm%.1fs", static_cast<long long>(ns / 60e9),
                  (ns - 60e9 * static_cast<double>(static_cast<long long>(ns / 60e9))) / 1e9);
  return buf;
}

}  // namespace jobs::detail
