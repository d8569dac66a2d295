// The library's own logging: off unless the application turns it on (API.md, "Library logging
// is silent by default"); see jobs/detail/log.hpp.
#include "job_impl.hpp"

#include <jobs/detail/log.hpp>

namespace jobs {
namespace detail {

std::atomic<int> library_log_threshold{-1};

thread_logger_t& thread_logger() {
  thread_local thread_logger_t lg(boost::log::keywords::channel = "jobs");
  return lg;
}

// The context's logger when making the job's own one failed (std::bad_alloc): made by the first
// job's constructor, where a failure can throw.
jobs::logger& fallback_logger() {
  static jobs::logger lg(boost::log::keywords::channel = "jobs");
  return lg;
}

}  // namespace detail

void set_log_level(std::optional<boost::log::trivial::severity_level> level) noexcept {
  detail::library_log_threshold.store(level ? static_cast<int>(*level) : -1, std::memory_order_relaxed);
}

std::optional<boost::log::trivial::severity_level> log_level() noexcept {
  const int t = detail::library_log_threshold.load(std::memory_order_relaxed);
  if (t < 0) return std::nullopt;
  return static_cast<boost::log::trivial::severity_level>(t);
}

}  // namespace jobs
