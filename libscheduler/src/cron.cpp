// jobs::cron — a line-by-line port of robfig/cron v3.0.1 (parser.go, spec.go, constantdelay.go)
// and of the parts of Go's standard library it relies on (strings.Fields, strings.TrimSpace,
// strconv.Atoi, time.ParseDuration, time.LoadLocation, time.Date, Time.AddDate, Time.Truncate),
// so that a spec is accepted, rejected and stepped through exactly as robfig does. Zones come from
// Howard Hinnant's date/tz reading the system's tzdata; nothing of it reaches the public header.
#include <jobs/cron.hpp>
#include <jobs/detail/cron_parse.hpp>
#include <jobs/detail/quote.hpp>

#include "cron_time.hpp"
#include "go_strings.hpp"

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
using namespace go_strings;
using namespace time_detail;
using std::int64_t;
using std::uint64_t;

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
