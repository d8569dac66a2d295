// jobs/stats.hpp — a snapshot of a job, convertible to JSON.
#pragma once

#include <jobs/state.hpp>

#include <boost/json/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace jobs {

using labels = std::map<std::string, std::string, std::less<>>;

/// A snapshot of a job. `boost::json::value_from(s)` gives the Go package's JSON shape:
/// {"id", "state": "succeeded", "progress", "started_at": RFC 3339 text or null,
///  "execution_time": integer nanoseconds, "labels": {...}, "error": "" or what()}.
struct stats {
  std::string id;
  jobs::state state = jobs::state::created;
  double progress = -1;
  std::chrono::system_clock::time_point started_at{};
  std::chrono::nanoseconds execution_time{0};
  jobs::labels labels;
  std::string error;
  /// Increases by at least one with every change of state or progress (for watchers).
  std::uint64_t version = 0;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const stats& s);

/// RFC 3339 text (UTC, nanosecond precision, e.g. "2026-11-29T18:00:00.123456789Z").
std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace jobs
