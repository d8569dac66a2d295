// The time side of jobs::cron (private to libscheduler): zones as Go's time package sees them,
// Go's calendar arithmetic, and robfig's SpecSchedule.Next (spec.go) on top of them.
#pragma once

#include <jobs/cron.hpp>

#include <date/tz.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace jobs::cron::time_detail {

using std::int64_t;
using std::uint64_t;

/// A zone as Go's time package sees it: UTC (no database entry needed) or a date::time_zone.
struct zone_ref {
  const date::time_zone* tz = nullptr;  // nullptr: UTC

  /// Go's Location.lookup: the offset in effect at `unix` and the period it holds for.
  struct period {
    int64_t offset;
    int64_t start;
    int64_t end;
  };
  period lookup(int64_t unix) const {
    if (tz == nullptr) return {0, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
    const date::sys_info info = tz->get_info(date::sys_seconds{std::chrono::seconds{unix}});
    return {info.offset.count(), info.begin.time_since_epoch().count(), info.end.time_since_epoch().count()};
  }
};

struct local_zone {
  const date::time_zone* tz = nullptr;  // nullptr: UTC
  std::string name = "UTC";
};

/// Loads a zone found by name and reads it once; nullptr if unknown or unreadable.
const date::time_zone* find_zone(std::string_view name);
/// The process's local zone (TZ, else /etc/localtime), resolved once.
const local_zone& local();
/// robfig's SpecSchedule.Next in `loc`, from the Unix time `t`; `found` false if none.
int64_t spec_next(const bit_fields& s, const zone_ref& loc, int64_t t, bool& found);
/// Seconds since the epoch as a schedule::time_point, saturated.
schedule::time_point from_seconds(int64_t secs);

}  // namespace jobs::cron::time_detail
