// jobs/detail/log.hpp — the library's own log records (libjob and libexecutor; not installed).
//
// Silent by default (API.md, "Library logging is silent by default"). A record is opened only
//  - through the job's own logger, for a job given with_logger(l) (its sinks and filters are
//    the application's), or
//  - through a per-thread library logger (channel "jobs"), once the application has called
//    jobs::set_log_level(level) and the record's severity is at least `level`.
// Disabled, a record site costs one atomic load and formats nothing. Neither path takes a lock
// shared by all jobs: a job's logger is its own copy, and the library's is thread_local (a
// severity_channel_logger without _mt has no mutex).
#pragma once

#include <jobs/context.hpp>

#include <boost/log/sources/record_ostream.hpp>
#include <boost/log/sources/severity_channel_logger.hpp>
#include <boost/log/utility/manipulators/add_value.hpp>

#include <atomic>
#include <string>

namespace jobs::detail {

/// The library-wide threshold set by jobs::set_log_level: a severity, or -1 for off.
extern std::atomic<int> library_log_threshold;

inline bool library_log_on(boost::log::trivial::severity_level s) noexcept {
  const int t = library_log_threshold.load(std::memory_order_relaxed);
  return t >= 0 && static_cast<int>(s) >= t;
}

using thread_logger_t =
    boost::log::sources::severity_channel_logger<boost::log::trivial::severity_level, std::string>;

/// This thread's library logger (channel "jobs"), made on first use.
thread_logger_t& thread_logger();

}  // namespace jobs::detail

/// A record about job `job_id` at severity `sev` (a boost::log::trivial level name), through the
/// job's logger `user` (a jobs::logger*, may be null) or else the library's when enabled. The
/// message (a stream expression) is formatted only if the record is opened and passes the
/// application's filters. Can throw (std::bad_alloc): callers on paths that must not throw
/// wrap it.
#define JOBS_LOG(user, sev, job_id, message)                                 \
  do {                                                                       \
    constexpr auto jobs_sev_ = ::boost::log::trivial::sev;                   \
    if (::jobs::logger* jobs_user_ = (user)) {                               \
      BOOST_LOG_SEV(*jobs_user_, jobs_sev_)                                  \
          << ::boost::log::add_value("Job", std::string(job_id)) << message; \
    } else if (::jobs::detail::library_log_on(jobs_sev_)) {                  \
      BOOST_LOG_SEV(::jobs::detail::thread_logger(), jobs_sev_)              \
          << ::boost::log::add_value("Job", std::string(job_id)) << message; \
    }                                                                        \
  } while (false)
