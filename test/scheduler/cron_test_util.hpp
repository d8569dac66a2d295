// Helpers for the jobs::cron tests: robfig's test times, written as in its Go tests, turned into
// time_points, and time_points printed for failure messages.
#pragma once

#include <jobs/cron.hpp>

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cron_test {

using time_point = jobs::cron::schedule::time_point;

/// The zone of a robfig test time, and the instant: robfig's getTime/getTimeTZ.
struct go_time {
  std::string zone;  ///< "TZ=<zone> " prefix of the test time, else "" (time.Local or a fixed offset)
  time_point at{};   ///< time_point{} for "" (Go's zero time)
};

inline int month_number(std::string_view m) {
  static constexpr std::string_view names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (names[i] == m) return i + 1;
  }
  throw std::invalid_argument("bad month " + std::string(m));
}

/// Parses the layouts robfig's tests use: "Mon Jan 2 15:04 2006", "Mon Jan 2 15:04:05 2006" (with
/// an optional fraction of a second, which Go accepts after the seconds), both in the local zone
/// (the zone jobs::cron uses for time.Local), and "2006-01-02T15:04:05-0700", optionally after
/// "TZ=<zone> ".
inline go_time parse_go_time(std::string_view value) {
  go_time g;
  if (value.empty()) return g;
  if (value.starts_with("TZ=")) {
    const auto sp = value.find(' ');
    g.zone = std::string(value.substr(3, sp - 3));
    value.remove_prefix(sp + 1);
  }
  char wd[4] = {}, mon[4] = {};
  int day = 0, h = 0, mi = 0, y = 0, n = 0;
  double sec = 0;
  const std::string v(value);
  using namespace std::chrono;
  const auto whole = [&](int fields, int wanted) {
    return fields == wanted && static_cast<std::size_t>(n) == v.size();
  };
  if (whole(std::sscanf(v.c_str(), "%3s %3s %d %d:%d %d%n", wd, mon, &day, &h, &mi, &y, &n), 6) ||
      whole(std::sscanf(v.c_str(), "%3s %3s %d %d:%d:%lf %d%n", wd, mon, &day, &h, &mi, &sec, &y, &n), 7)) {
    const auto ld = date::local_days{date::year{y} / month_number(mon) / day};
    const auto lt = ld + hours{h} + minutes{mi} + round<nanoseconds>(duration<double>{sec});
    const date::time_zone* z = date::locate_zone(std::string(jobs::cron::local_time_zone()));
    g.at = time_point(z->to_sys(lt, date::choose::earliest));
    return g;
  }
  int mo = 0, s = 0, off = 0;
  if (std::sscanf(v.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%5d%n", &y, &mo, &day, &h, &mi, &s, &off, &n) == 7 &&
      static_cast<std::size_t>(n) == v.size()) {
    const int off_minutes = (off / 100) * 60 + (off % 100);
    const auto sd = date::sys_days{date::year{y} / mo / day};
    g.at = time_point(sd + hours{h} + minutes{mi} + seconds{s} - minutes{off_minutes});
    return g;
  }
  throw std::invalid_argument("could not parse time value " + v);
}

/// "2012-07-09T15:00:00Z", "2012-07-09T15:00:00.005000000Z", or "zero" for time_point{}.
inline std::string show(time_point t) {
  if (t == time_point{}) return "zero";
  if (t == time_point::max()) return "max";
  const auto s = std::chrono::floor<std::chrono::seconds>(t);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - s).count();
  std::string out = date::format("%FT%T", s);
  if (ns != 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(ns));
    out += frac;
  }
  return out + "Z";
}

}  // namespace cron_test

namespace jobs::cron {
// Lets BOOST_TEST print what it compares.
inline std::ostream& boost_test_print_type(std::ostream& os, const schedule& s) {
  return os << '"' << s.spec() << "\" (zone \"" << s.time_zone() << "\")";
}
inline std::ostream& boost_test_print_type(std::ostream& os, const bit_fields& b) {
  return os << std::hex << "{" << b.second << ", " << b.minute << ", " << b.hour << ", " << b.dom << ", "
            << b.month << ", " << b.dow << "}" << std::dec;
}
}  // namespace jobs::cron
