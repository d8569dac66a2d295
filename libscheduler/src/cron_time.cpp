// The time side of jobs::cron: zones from date/tz, Go's calendar arithmetic (time.Date,
// Time.AddDate) and robfig's SpecSchedule.Next, ported line by line (see cron.cpp).
#include "cron_time.hpp"

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <system_error>

namespace jobs::cron::time_detail {

// ---- zones --------------------------------------------------------------------------------------

/// Loads a zone found by name and reads it once, so that a zone date lists but cannot read is
/// refused now rather than failing in next(). nullptr if unknown.
const date::time_zone* find_zone(std::string_view name) {
  try {
    const date::time_zone* z = date::locate_zone(name);
    (void)z->get_info(date::sys_seconds{});
    return z;
  } catch (const std::exception&) {
    return nullptr;
  }
}

const date::time_zone* current_zone_or_null() {
  try {
    const date::time_zone* z = date::current_zone();
    (void)z->get_info(date::sys_seconds{});
    return z;
  } catch (const std::exception&) {
    return nullptr;
  }
}

/// Go's time.initLocal, with date/tz for the files.
local_zone resolve_local_zone() {
  local_zone l;
  const char* env = std::getenv("TZ");
  const date::time_zone* z = nullptr;
  if (env == nullptr) {
    z = current_zone_or_null();  // /etc/localtime
  } else {
    std::string_view tz = env;
    if (!tz.empty() && tz.front() == ':') tz.remove_prefix(1);
    if (!tz.empty() && tz.front() == '/') {
      // A file: /etc/localtime, or a file of the zoneinfo tree (by any path that leads there).
      std::error_code ec;
      const std::filesystem::path p = std::filesystem::weakly_canonical(std::string(tz), ec);
      const std::string path = ec ? std::string(tz) : p.string();
      constexpr std::string_view dir = "/usr/share/zoneinfo/";
      if (tz == "/etc/localtime") {
        z = current_zone_or_null();
      } else if (path.starts_with(dir)) {
        z = find_zone(std::string_view(path).substr(dir.size()));
      }
    } else if (!tz.empty() && tz != "UTC") {
      z = find_zone(tz);
    }
  }
  if (z != nullptr) {
    l.tz = z;
    l.name = z->name();
  }
  return l;
}

const local_zone& local() {
  static const local_zone l = resolve_local_zone();
  return l;
}

// ---- Go's calendar arithmetic -------------------------------------------------------------------

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, 1970-01-01 is day 0).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = floor_div(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/// The fields a Go Time shows in its location.
struct civil {
  int64_t year;
  int month, day, hour, minute, second, weekday;
};

civil fields_of(int64_t unix, const zone_ref& z) {
  const int64_t local = unix + z.lookup(unix).offset;
  const int64_t days = floor_div(local, 86400);
  const int64_t secs = local - days * 86400;
  civil c{};
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs / 60 % 60);
  c.second = static_cast<int>(secs % 60);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  const int64_t zd = days + 719468;
  const int64_t era = floor_div(zd, 146097);
  const int64_t doe = zd - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = yoe + era * 400 + (c.month <= 2);
  return c;
}

/// time.Date(year, month, day, hour, min, sec, 0, loc), normalising out-of-range values and
/// choosing among repeated or missing wall times exactly as Go does.
int64_t go_date(int64_t year, int64_t month, int64_t day, int64_t hour, int64_t min, int64_t sec,
                const zone_ref& z) {
  int64_t m = month - 1;
  year += floor_div(m, 12);
  m -= floor_div(m, 12) * 12;
  int64_t unix = (days_from_civil(year, m + 1, 1) + day - 1) * 86400 + hour * 3600 + min * 60 + sec;
  const zone_ref::period p = z.lookup(unix);
  if (p.offset != 0) {
    const int64_t utc = unix - p.offset;
    int64_t offset = p.offset;
    if (utc < p.start || utc >= p.end) offset = z.lookup(utc).offset;
    unix -= offset;
  }
  return unix;
}

/// Time.AddDate(0, months, days).
int64_t add_date(int64_t unix, int months, int days, const zone_ref& z) {
  const civil c = fields_of(unix, z);
  return go_date(c.year, c.month + months, c.day + days, c.hour, c.minute, c.second, z);
}

bool has(uint64_t bits, int value) { return ((uint64_t{1} << value) & bits) != 0; }

/// robfig's dayMatches.
bool day_matches(const bit_fields& s, const civil& t) {
  const bool dom_match = has(s.dom, t.day);
  const bool dow_match = has(s.dow, t.weekday);
  if ((s.dom & star_bit) != 0 || (s.dow & star_bit) != 0) return dom_match && dow_match;
  return dom_match || dow_match;
}

/// robfig's SpecSchedule.Next, in whole seconds since the epoch; `found` false for the zero time.
int64_t spec_next(const bit_fields& s, const zone_ref& loc, int64_t t, bool& found) {
  found = false;
  // A field that matches nothing (written as "," alone) never lets robfig's walk finish: it runs
  // until the five years are up (157 million steps for seconds) and returns the zero time.
  constexpr uint64_t values = ~star_bit;
  if ((s.second & values) == 0 || (s.minute & values) == 0 || (s.hour & values) == 0 ||
      (s.month & values) == 0) {
    return 0;
  }

  // Start at the earliest possible time (the upcoming second): the caller has dropped the
  // fraction and added the second.
  bool added = false;
  const int64_t year_limit = fields_of(t, loc).year + 5;

wrap:
  if (fields_of(t, loc).year > year_limit) return 0;

  while (!has(s.month, fields_of(t, loc).month)) {
    if (!added) {
      added = true;
      const civil c = fields_of(t, loc);
      t = go_date(c.year, c.month, 1, 0, 0, 0, loc);
    }
    t = add_date(t, 1, 0, loc);
    if (fields_of(t, loc).month == 1) goto wrap;
  }

  while (!day_matches(s, fields_of(t, loc))) {
    if (!added) {
      added = true;
      const civil c = fields_of(t, loc);
      t = go_date(c.year, c.month, c.day, 0, 0, 0, loc);
    }
    const int64_t before = t;
    t = add_date(t, 0, 1, loc);
    // Notice if the hour is no longer midnight due to DST: add an hour if it's 23, subtract an
    // hour if it's 1.
    if (const int h = fields_of(t, loc).hour; h != 0) t += (h > 12 ? 24 - h : -h) * int64_t{3600};
    // Where a whole calendar day is missing (Pacific/Apia skipped 2011-12-30), AddDate lands on the
    // same instant again and robfig loops forever; step over the missing day instead.
    if (t <= before) t = before + 86400;
    if (fields_of(t, loc).day == 1) goto wrap;
  }

  while (!has(s.hour, fields_of(t, loc).hour)) {
    if (!added) {
      added = true;
      const civil c = fields_of(t, loc);
      t = go_date(c.year, c.month, c.day, c.hour, 0, 0, loc);
    }
    t += 3600;
    if (fields_of(t, loc).hour == 0) goto wrap;
  }

  while (!has(s.minute, fields_of(t, loc).minute)) {
    if (!added) {
      added = true;
      t = floor_div(t, 60) * 60;  // Time.Truncate(time.Minute): on absolute time, not wall time
    }
    t += 60;
    if (fields_of(t, loc).minute == 0) goto wrap;
  }

  while (!has(s.second, fields_of(t, loc).second)) {
    added = true;  // (Time.Truncate(time.Second) changes nothing: t is on a whole second)
    t += 1;
    if (fields_of(t, loc).second == 0) goto wrap;
  }

  found = true;
  return t;
}

schedule::time_point from_seconds(int64_t secs) {
  using namespace std::chrono;
  constexpr int64_t max_secs = duration_cast<seconds>(schedule::time_point::duration::max()).count();
  constexpr int64_t min_secs = duration_cast<seconds>(schedule::time_point::duration::min()).count();
  if (secs > max_secs) return schedule::time_point::max();
  if (secs < min_secs) return schedule::time_point::min();
  return schedule::time_point(duration_cast<schedule::time_point::duration>(seconds{secs}));
}

}  // namespace jobs::cron::time_detail
