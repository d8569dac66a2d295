// The library's own log records. Boost.Log stays behind this header: the library only emits
// records (lifecycle at debug, failures at warning); sinks, filters and formats belong to the
// application.
#pragma once

#include <jobs/context.hpp>

#include <boost/log/sources/record_ostream.hpp>
#include <boost/log/utility/manipulators/add_value.hpp>

namespace jobs::detail {

/// The library's logger, channel "jobs", used when a job was given no logger of its own.
jobs::logger& library_logger();

}  // namespace jobs::detail

/// A record on `lg` at `sev` carrying the job id as the attribute "Job"; the message is only
/// formatted if the record passes the application's filters.
#define JOBS_LOG(lg, sev, job_id) \
  BOOST_LOG_SEV(lg, ::boost::log::trivial::sev) << ::boost::log::add_value("Job", std::string(job_id))
