// jobs::cron — a line-by-line port of robfig/cron v3.0.1 (parser.go, spec.go, constantdelay.go)
// and of the parts of Go's standard library it relies on (strings.Fields, strings.TrimSpace,
// strconv.Atoi, time.ParseDuration, time.LoadLocation, time.Date, Time.AddDate, Time.Truncate),
// so that a spec is accepted, rejected and stepped through exactly as robfig does. Zones come from
// Howard Hinnant's date/tz reading the system's tzdata; nothing of it reaches the public header.
#include <jobs/cron.hpp>
#include <jobs/detail/cron_parse.hpp>
#include <jobs/detail/quote.hpp>

#include <date/tz.h>

#include <array>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace jobs::cron {

namespace {

using jobs::detail::quote;
using std::int64_t;
using std::uint64_t;

// ---- text ---------------------------------------------------------------------------------------

/// The length of the white space (Go's unicode.IsSpace, UTF-8 encoded) that starts at s[i], or 0.
/// Go walks strings rune by rune and decodes an invalid byte as one U+FFFD; every white-space
/// rune starts with an ASCII byte or a UTF-8 lead byte, which is never inside another rune, so
/// testing each byte position gives the same answer as Go's walk.
std::size_t space_at(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  switch (at(0)) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ': return 1;
    case 0xc2: return at(1) == 0x85 || at(1) == 0xa0 ? 2 : 0;  // U+0085 NEL, U+00A0 NBSP
    case 0xe1: return at(1) == 0x9a && at(2) == 0x80 ? 3 : 0;  // U+1680
    case 0xe2:
      if (at(1) == 0x80) {
        const unsigned c = at(2);  // U+2000..U+200A, U+2028, U+2029, U+202F
        return (c >= 0x80 && c <= 0x8a) || c == 0xa8 || c == 0xa9 || c == 0xaf ? 3 : 0;
      }
      return at(1) == 0x81 && at(2) == 0x9f ? 3 : 0;           // U+205F
    case 0xe3: return at(1) == 0x80 && at(2) == 0x80 ? 3 : 0;  // U+3000
    default: return 0;
  }
}

/// The length of the white space that ends s, or 0 (Go decodes the last rune backwards; the
/// encodings of white space do not overlap, so at most one of these matches).
std::size_t space_before_end(std::string_view s) {
  for (std::size_t len : {std::size_t{3}, std::size_t{2}, std::size_t{1}}) {
    if (s.size() >= len && space_at(s, s.size() - len) == len) return len;
  }
  return 0;
}

/// strings.TrimSpace.
std::string_view trim_space(std::string_view s) {
  while (!s.empty()) {
    const std::size_t n = space_at(s, 0);
    if (n == 0) break;
    s.remove_prefix(n);
  }
  while (!s.empty()) {
    const std::size_t n = space_before_end(s);
    if (n == 0) break;
    s.remove_suffix(n);
  }
  return s;
}

/// strings.Fields: calls `f(field)` (a view into `s`) for the first `limit` fields and returns
/// how many fields there are.
template <class F>
std::size_t for_each_field(std::string_view s, std::size_t limit, F f) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (const std::size_t n = space_at(s, i)) {
      i += n;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && space_at(s, i) == 0) ++i;
    if (count < limit) f(s.substr(start, i - start));
    ++count;
  }
  return count;
}

/// strings.Split(s, sep) reduced to what robfig looks at: the first two parts and how many
/// there are (at least one: Split("", sep) is [""]).
struct split_result {
  std::string_view first;
  std::string_view second;
  std::size_t count = 1;
};
split_result split(std::string_view s, char sep) {
  split_result r;
  const std::size_t a = s.find(sep);
  if (a == std::string_view::npos) {
    r.first = s;
    return r;
  }
  r.first = s.substr(0, a);
  const std::string_view rest = s.substr(a + 1);
  const std::size_t b = rest.find(sep);
  r.second = rest.substr(0, b);
  r.count = 2;
  for (std::size_t k = b; k != std::string_view::npos; k = rest.find(sep, k + 1)) ++r.count;
  return r;
}

bool iequals_ascii(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// ---- numbers ------------------------------------------------------------------------------------

[[noreturn]] void fail(const std::string& problem) { throw detail::field_error(problem, 0, 0); }

/// robfig's mustParseInt: strconv.Atoi (base 10, optional sign, int64 range), then not negative.
uint64_t must_parse_int(std::string_view expr) {
  std::string_view s = expr;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  // strconv.ParseUint: the first bad byte or the first overflow of 64 bits decides the error.
  const char* why = s.empty() ? "invalid syntax" : nullptr;
  constexpr uint64_t cutoff = std::numeric_limits<uint64_t>::max() / 10 + 1;
  uint64_t n = 0;
  for (std::size_t i = 0; why == nullptr && i < s.size(); ++i) {
    const unsigned d = static_cast<unsigned char>(s[i]) - static_cast<unsigned>('0');
    if (d > 9) {
      why = "invalid syntax";
    } else if (n >= cutoff || n * 10 + d < n * 10) {
      why = "value out of range";
    } else {
      n = n * 10 + d;
    }
  }
  // strconv.ParseInt: within int64.
  constexpr uint64_t int_cutoff = uint64_t{1} << 63;
  if (why == nullptr && ((!neg && n >= int_cutoff) || (neg && n > int_cutoff))) why = "value out of range";
  if (why != nullptr) fail("failed to parse int from " + quote(expr) + ": " + why);
  if (neg && n != 0) fail("negative number (-" + std::to_string(n) + ") not allowed");
  return n;
}

uint64_t parse_int_or_name(std::string_view expr, const detail::bounds& r) {
  for (std::size_t i = 0; i < r.name_count; ++i) {
    if (iequals_ascii(expr, r.names[i])) return r.min + i;
  }
  return must_parse_int(expr);
}

// ---- fields -------------------------------------------------------------------------------------

constexpr std::string_view month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::string_view dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct field_def {
  const char* name;
  detail::bounds bounds;
};
constexpr std::array<field_def, 6> field_defs{{
    {"second", {0, 59, nullptr, 0}},
    {"minute", {0, 59, nullptr, 0}},
    {"hour", {0, 23, nullptr, 0}},
    {"day of month", {1, 31, nullptr, 0}},
    {"month", {1, 12, month_names, 12}},
    {"day of week", {0, 6, dow_names, 7}},
}};

uint64_t all(const detail::bounds& r) { return detail::get_bits(r.min, r.max, 1) | star_bit; }

/// robfig's parseDescriptor, for the named schedules: the first value of each field, or all.
std::optional<bit_fields> descriptor(std::string_view d) {
  const uint64_t any_hour = all(field_defs[2].bounds), any_dom = all(field_defs[3].bounds),
                 any_month = all(field_defs[4].bounds), any_dow = all(field_defs[5].bounds);
  constexpr uint64_t first = 1 << 0, first_dom = 1 << 1, first_month = 1 << 1, first_dow = 1 << 0;
  if (d == "@yearly" || d == "@annually")
    return bit_fields{first, first, first, first_dom, first_month, any_dow};
  if (d == "@monthly") return bit_fields{first, first, first, first_dom, any_month, any_dow};
  if (d == "@weekly") return bit_fields{first, first, first, any_dom, any_month, first_dow};
  if (d == "@daily" || d == "@midnight") return bit_fields{first, first, first, any_dom, any_month, any_dow};
  if (d == "@hourly") return bit_fields{first, first, any_hour, any_dom, any_month, any_dow};
  return std::nullopt;
}

// ---- zones --------------------------------------------------------------------------------------

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

struct local_zone {
  const date::time_zone* tz = nullptr;  // nullptr: UTC
  std::string name = "UTC";
};

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

}  // namespace

// ---- the pieces robfig's tests check --------------------------------------------------------

namespace detail {

uint64_t get_bits(uint64_t min, uint64_t max, uint64_t step) noexcept {
  const auto ones_from = [](uint64_t n) { return n >= 64 ? uint64_t{0} : ~uint64_t{0} << n; };
  if (step == 1) return ~ones_from(max + 1) & ones_from(min);
  uint64_t bits = 0;
  for (uint64_t i = min; i <= max && i < 64; i += step) {
    bits |= uint64_t{1} << i;
    if (step > 64) break;  // (no further bit below 64; and i + step cannot wrap)
  }
  return bits;
}

uint64_t get_range(std::string_view expr, const bounds& r) {
  const split_result range_and_step = split(expr, '/');
  const split_result low_and_high = split(range_and_step.first, '-');
  const bool single_digit = low_and_high.count == 1;

  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t step = 1;
  uint64_t extra = 0;
  if (low_and_high.first == "*" || low_and_high.first == "?") {
    start = r.min;
    end = r.max;
    extra = star_bit;
  } else {
    start = parse_int_or_name(low_and_high.first, r);
    switch (low_and_high.count) {
      case 1: end = start; break;
      case 2: end = parse_int_or_name(low_and_high.second, r); break;
      default: fail("too many hyphens in " + quote(expr));
    }
  }

  switch (range_and_step.count) {
    case 1: step = 1; break;
    case 2:
      step = must_parse_int(range_and_step.second);
      // Special handling: "N/step" means "N-max/step".
      if (single_digit) end = r.max;
      if (step > 1) extra = 0;
      break;
    default: fail("too many slashes in " + quote(expr));
  }

  const bool single = single_digit && range_and_step.count == 1;
  if (start < r.min) {
    fail((single ? "value " + std::to_string(start) + " below minimum ("
                 : "beginning of range (" + std::to_string(start) + ") below minimum (") +
         std::to_string(r.min) + ")");
  }
  if (end > r.max) {
    fail((single ? "value " + std::to_string(end) + " above maximum ("
                 : "end of range (" + std::to_string(end) + ") above maximum (") +
         std::to_string(r.max) + ")");
  }
  if (start > end) {
    fail("beginning of range (" + std::to_string(start) + ") beyond end of range (" + std::to_string(end) +
         ")");
  }
  if (step == 0) fail("step of range should be a positive number");
  return get_bits(start, end, step) | extra;
}

uint64_t get_field(std::string_view field, const bounds& r) {
  uint64_t bits = 0;
  std::size_t i = 0;
  while (i <= field.size()) {
    std::size_t j = field.find(',', i);
    if (j == std::string_view::npos) j = field.size();
    if (j > i) {  // strings.FieldsFunc drops empty elements
      const std::string_view expr = field.substr(i, j - i);
      try {
        bits |= get_range(expr, r);
      } catch (const field_error& e) {
        throw field_error(e.what(), i, expr.size());
      }
    }
    i = j + 1;
  }
  return bits;
}

int64_t parse_go_duration(std::string_view text) {
  // [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+
  const std::string_view orig = text;
  std::string_view s = text;
  const auto invalid = [&] { return std::invalid_argument("time: invalid duration " + quote(orig)); };
  constexpr uint64_t limit = uint64_t{1} << 63;
  uint64_t d = 0;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;  // Special case: if all that is left is "0", this is zero.
  if (s.empty()) throw invalid();
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  while (!s.empty()) {
    uint64_t v = 0;
    uint64_t f = 0;
    double scale = 1;
    // The next character must be [0-9.]
    if (!(s[0] == '.' || is_digit(s[0]))) throw invalid();
    // Consume [0-9]* (leadingInt)
    std::size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (v > limit / 10) throw invalid();  // overflow
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > limit) throw invalid();  // overflow
    }
    const bool pre = i != 0;
    s.remove_prefix(i);
    // Consume (\.[0-9]*)? (leadingFraction: stops gaining precision on overflow, no error)
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool overflow = false;
      std::size_t k = 0;
      for (; k < s.size() && is_digit(s[k]); ++k) {
        if (overflow) continue;
        if (f > (limit - 1) / 10) {
          overflow = true;
          continue;
        }
        const uint64_t y = f * 10 + static_cast<uint64_t>(s[k] - '0');
        if (y > limit) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = k != 0;
      s.remove_prefix(k);
    }
    if (!pre && !post) throw invalid();  // no digits (e.g. ".s" or "-.s")
    // Consume unit.
    std::size_t u = 0;
    while (u < s.size() && !(s[u] == '.' || is_digit(s[u]))) ++u;
    if (u == 0) throw std::invalid_argument("time: missing unit in duration " + quote(orig));
    const std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit = 0;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xc2\xb5s" || unit_name == "\xce\xbcs") {
      unit = 1'000;  // "µs" is U+00B5 (micro sign) or U+03BC (Greek mu)
    } else if (unit_name == "ms") {
      unit = 1'000'000;
    } else if (unit_name == "s") {
      unit = 1'000'000'000;
    } else if (unit_name == "m") {
      unit = 60'000'000'000;
    } else if (unit_name == "h") {
      unit = 3'600'000'000'000;
    } else {
      throw std::invalid_argument("time: unknown unit " + quote(unit_name) + " in duration " + quote(orig));
    }
    if (v > limit / unit) throw invalid();  // overflow
    v *= unit;
    if (f > 0) {
      // float64 is needed to be nanosecond accurate for fractions of hours.
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > limit) throw invalid();  // overflow
    }
    d += v;
    if (d > limit) throw invalid();
  }
  if (neg) return d == limit ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(d);
  if (d > limit - 1) throw invalid();
  return static_cast<int64_t>(d);
}

std::string format_go_duration(int64_t seconds) {
  int64_t u = seconds;
  const std::string s = std::to_string(u % 60) + "s";
  u /= 60;
  if (u == 0) return s;
  const std::string m = std::to_string(u % 60) + "m" + s;
  u /= 60;
  if (u == 0) return m;
  return std::to_string(u) + "h" + m;
}

}  // namespace detail

// ---- schedule -----------------------------------------------------------------------------------

schedule schedule::every(std::chrono::nanoseconds delay) {
  using namespace std::chrono;
  // Every: delays of less than a second become a second; fractions of a second are dropped.
  const seconds whole = delay < 1s ? 1s : duration_cast<seconds>(delay);
  schedule s;
  s.delay_ = whole;
  s.spec_ = "@every " + detail::format_go_duration(whole.count());
  return s;
}

schedule schedule::parse(std::string_view spec) {
  if (spec.empty()) throw std::invalid_argument("cron: empty spec string");
  const auto offset_of = [&](std::string_view part) {
    return static_cast<std::size_t>(part.data() - spec.data());
  };

  // Extract the time zone if present.
  schedule s;
  std::string_view rest = spec;
  if (spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=")) {
    const std::size_t eq = spec.find('=');
    const std::size_t sp = spec.find(' ');
    if (sp == std::string_view::npos) {  // robfig panics here (slice bounds out of range)
      throw std::invalid_argument("cron: time zone " + quote(spec.substr(eq + 1)) +
                                  " must be followed by a space and the schedule");
    }
    const std::string_view name = spec.substr(eq + 1, sp - eq - 1);
    if (name.empty() || name == "UTC") {  // time.LoadLocation: "" and "UTC" are time.UTC
      s.utc_ = true;
      s.zone_name_ = "UTC";
    } else if (name != "Local") {
      const bool bad_name = name.find("..") != std::string_view::npos || name[0] == '/' || name[0] == '\\';
      const date::time_zone* z = bad_name ? nullptr : find_zone(name);
      if (z == nullptr) {
        throw std::invalid_argument("cron: provided bad location " + quote(name) + " at byte " +
                                    std::to_string(eq + 1) + ": " +
                                    (bad_name ? "invalid location name" : "unknown time zone"));
      }
      s.zone_ = z;
      s.zone_name_ = std::string(name);
    }
    rest = trim_space(spec.substr(sp));
  }
  s.spec_ = std::string(spec);

  // Handle named schedules (descriptors).
  if (rest.starts_with('@')) {
    if (const std::optional<bit_fields> bits = descriptor(rest)) {
      s.bits_ = *bits;
      return s;
    }
    constexpr std::string_view every_prefix = "@every ";
    if (rest.starts_with(every_prefix)) {
      std::int64_t ns = 0;
      try {
        ns = detail::parse_go_duration(rest.substr(every_prefix.size()));
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("cron: failed to parse duration " + quote(rest) + " at byte " +
                                    std::to_string(offset_of(rest) + every_prefix.size()) + ": " + e.what());
      }
      schedule e = every(std::chrono::nanoseconds{ns});
      e.spec_ = std::move(s.spec_);
      return e;  // robfig's ConstantDelaySchedule has no zone
    }
    throw std::invalid_argument("cron: unrecognized descriptor " + quote(rest) + " at byte " +
                                std::to_string(offset_of(rest)));
  }

  // Split on white space; five fields get the seconds field "0" in front.
  std::array<std::string_view, 6> fields{};
  const std::size_t count =
      for_each_field(rest, 6, [&, n = std::size_t{0}](std::string_view f) mutable { fields[n++] = f; });
  if (count < 5 || count > 6) {
    throw std::invalid_argument("cron: expected 5 to 6 fields, found " + std::to_string(count) + ": " +
                                quote(rest));
  }
  const std::size_t first = 6 - count;  // index of the first field written
  if (count == 5) {
    for (std::size_t i = 5; i > 0; --i) fields[i] = fields[i - 1];
  }

  std::array<uint64_t, 6> bits{};
  bits[0] = 1;  // the default seconds field "0"
  for (std::size_t i = first; i < 6; ++i) {
    try {
      bits[i] = detail::get_field(fields[i], field_defs[i].bounds);
    } catch (const detail::field_error& e) {
      const std::string_view bad = fields[i].substr(e.offset, e.length);
      throw std::invalid_argument("cron: field " + std::to_string(i - first + 1) + " (" + field_defs[i].name +
                                  ") at byte " + std::to_string(offset_of(bad)) + ", " + quote(bad) + ": " +
                                  e.what());
    }
  }
  s.bits_ = {bits[0], bits[1], bits[2], bits[3], bits[4], bits[5]};
  return s;
}

schedule::time_point schedule::next(time_point after) const {
  using namespace std::chrono;
  const int64_t secs = floor<seconds>(after).time_since_epoch().count();
  if (delay_.count() != 0) {
    // ConstantDelaySchedule.Next: t.Add(Delay - t.Nanosecond()), whatever the zone.
    if (secs > std::numeric_limits<int64_t>::max() - delay_.count()) return time_point::max();
    return from_seconds(secs + delay_.count());
  }
  zone_ref loc;
  if (utc_) {
    loc.tz = nullptr;
  } else if (zone_ != nullptr) {
    loc.tz = static_cast<const date::time_zone*>(zone_);
  } else {
    loc.tz = local().tz;  // time.Local: "treated as local to the time provided"
  }
  bool found = false;
  const int64_t t = spec_next(bits_, loc, secs + 1, found);
  return found ? from_seconds(t) : time_point{};
}

std::string_view local_time_zone() { return local().name; }

}  // namespace jobs::cron
