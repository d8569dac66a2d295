// How the end of a run reads the body's exception, and durations for people. Private to libjob.
#pragma once

#include <jobs/detail/lifecycle.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <exception>
#include <string>

namespace jobs::detail {

/// Is `e` an Asio system_error of exactly the library's own types (boost::system::system_error,
/// as Asio throws it wrapped by boost::throw_exception)? Then its what() is Boost's, not user
/// code, and may be called under the job's mutex. Sets `code` to its error code.
bool is_boost_system_error(const std::exception_ptr& e, boost::system::error_code& code) noexcept;

/// Did the body throw the cancellation itself (asio::error::operation_aborted, exactly)?
bool threw_cancellation(const std::exception_ptr& e) noexcept;

/// The what() of the library's own run errors (canceled, timeout; "" for none), made once.
const std::string& library_error_text(run_error kind);

/// A duration for people: "850ns", "12.3us", "4.56ms", "1.234s", "2m5.0s".
std::string human(std::chrono::nanoseconds d);

}  // namespace jobs::detail
