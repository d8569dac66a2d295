// jobs/cron.hpp — cron schedules, exactly as robfig/cron v3 parses them and computes their next
// activation time.
//
// The parser is robfig's `cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom |
// cron.Month | cron.Dow | cron.Descriptor)`:
//
//   [CRON_TZ=<zone> | TZ=<zone>] [second] minute hour day-of-month month day-of-week
//   [CRON_TZ=<zone> | TZ=<zone>] @yearly | @annually | @monthly | @weekly | @daily | @midnight | @hourly
//   [CRON_TZ=<zone> | TZ=<zone>] @every <Go duration>          e.g. @every 1h30m, @every 90s
//
// Fields hold comma-separated lists of `*`, `?`, `N`, `N-M`, `*/S`, `N/S` (N to the maximum),
// `N-M/S`; months JAN–DEC and days SUN–SAT by name (any case). When both day-of-month and
// day-of-week are restricted (neither starts with `*` or `?`), a day matches if either does.
// A schedule without a zone runs in the process's local zone (see local_time_zone()).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobs::cron {

/// Set in a field written as `*` or `?` (not `*/S` with S > 1): robfig's starBit. It selects the
/// day-of-month AND day-of-week rule instead of OR.
inline constexpr std::uint64_t star_bit = std::uint64_t{1} << 63;

/// The six fields of a cron schedule as robfig keeps them: bit n set means that value n matches
/// (seconds and minutes 0–59, hours 0–23, day of month 1–31, month 1–12, day of week 0–6 with
/// Sunday 0), plus `star_bit`.
struct bit_fields {
  std::uint64_t second = 0;
  std::uint64_t minute = 0;
  std::uint64_t hour = 0;
  std::uint64_t dom = 0;
  std::uint64_t month = 0;
  std::uint64_t dow = 0;
  friend bool operator==(const bit_fields&, const bit_fields&) = default;
};

/// A parsed cron schedule: a value type, cheap to copy, immutable, safe to share between threads.
///
/// \par Time zones
/// Zones come from the system's IANA database (/usr/share/zoneinfo, package tzdata) through
/// Howard Hinnant's date/tz library. `CRON_TZ=` with an empty name means UTC and `CRON_TZ=Local`
/// means the local zone, as in Go's time.LoadLocation.
///
/// \par Where it differs from robfig/cron v3.0.1
/// - A `TZ=`/`CRON_TZ=` prefix with no space after it makes robfig panic; parse() throws.
/// - robfig's day walk loops forever across a calendar day that a zone skipped altogether
///   (Pacific/Apia and Pacific/Fakaofo 2011-12-30, Pacific/Kwajalein 1993-08-21, ...); next()
///   steps over the missing day.
/// - Zone names are those date/tz lists under /usr/share/zoneinfo: not posix/..., right/...,
///   posixrules or Factory, which Go also opens; Go's $ZONEINFO is not consulted. Past the last
///   transition a zone file lists (2037 in Debian's tzdata) date/tz keeps that offset, where Go
///   applies the file's POSIX TZ rule: activations after 2037 can differ by the DST offset.
/// - time_point holds 1677-2262: later results saturate (see next()).
class schedule {
 public:
  using clock = std::chrono::system_clock;
  using time_point = clock::time_point;

  /// Parses a spec (see the top of this header).
  /// \throws std::invalid_argument naming the problem and, for a bad field, its number as
  /// written (1-based), its name and the byte offset of the bad part, e.g.
  /// `cron: field 3 (hour) at byte 4, "25": value 25 above maximum (23)`.
  static schedule parse(std::string_view spec);

  /// robfig's `cron.Every(d)`: activates every `delay`, rounded down to whole seconds; a delay
  /// under one second becomes one second. Its spec() is `@every <delay as Go prints it>`.
  static schedule every(std::chrono::nanoseconds delay);

  /// The first activation strictly after `after`, robfig's `Schedule.Next`: always a whole second.
  /// For a field spec, computed in the schedule's zone with robfig's walk (month, day, hour,
  /// minute, second), including how it steps over daylight-saving gaps and overlaps; returns
  /// `time_point{}` when nothing matches within five years, as robfig returns the zero time (a
  /// real activation is never time_point{} unless `after` is before 1970).
  /// For `@every`, `after` rounded down to the second plus the delay (zones play no part).
  /// A result past what `time_point` can hold (year 2262) is returned as `time_point::max()`.
  time_point next(time_point after) const;

  /// The spec as given to parse().
  const std::string& spec() const noexcept { return spec_; }

  /// The zone named by `CRON_TZ=`/`TZ=` ("UTC" for an empty name), or "" when the schedule runs
  /// in the local zone (no prefix, or `Local`) and for `@every`, whose next() ignores zones.
  std::string_view time_zone() const noexcept { return zone_name_; }

  /// The delay of an `@every` schedule (whole seconds, at least one); empty for a field spec.
  std::optional<std::chrono::seconds> delay() const noexcept {
    if (delay_.count() == 0) return std::nullopt;
    return delay_;
  }

  /// The bit sets of a field spec (descriptors included); all zero for `@every`.
  const bit_fields& fields() const noexcept { return bits_; }

  /// Same activation rule: fields, delay and zone (not the spec text: "5 * * * *" equals
  /// "0 5 * * * *").
  friend bool operator==(const schedule& a, const schedule& b) noexcept {
    return a.bits_ == b.bits_ && a.delay_ == b.delay_ && a.zone_ == b.zone_ && a.utc_ == b.utc_;
  }

 private:
  schedule() = default;

  std::string spec_;
  bit_fields bits_;
  std::chrono::seconds delay_{0};  // > 0 for @every
  std::string zone_name_;
  const void* zone_ = nullptr;  // const date::time_zone* owned by date's tzdb; nullptr: UTC or local
  bool utc_ = false;            // UTC without consulting the database (Go's time.UTC)
};

/// The name of the zone a schedule without `CRON_TZ=` runs in. Resolved once per process, the way
/// Go resolves time.Local: $TZ if set (a leading ':' dropped; empty or unknown means UTC), else
/// /etc/localtime (date's current_zone()), else UTC.
std::string_view local_time_zone();

}  // namespace jobs::cron
