// jobs::cron beyond robfig's own tables: Go's time.ParseDuration tables (which `@every` relies
// on), error messages, hostile input, zones and daylight saving, the local zone, value semantics,
// and the places where jobs::cron deliberately differs from robfig (it throws where robfig panics,
// steps over a missing calendar day where robfig loops forever, saturates past year 2262).
#include <jobs/cron.hpp>
#include <jobs/detail/cron_parse.hpp>

#include "cron_test_util.hpp"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;
using cron_test::show;
using jobs::cron::schedule;
using jobs::cron::star_bit;
using time_point = schedule::time_point;

namespace {

time_point utc(std::string_view rfc3339) { return cron_test::parse_go_time(rfc3339).at; }

std::string error_of(std::string_view spec) {
  try {
    (void)schedule::parse(spec);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

// ---- Go's time_test.go: parseDurationTests, parseDurationErrorTests --------------------------

constexpr std::int64_t ns = 1, us = 1000 * ns, ms = 1000 * us, sec = 1000 * ms, minute = 60 * sec,
                       hour = 60 * minute;

struct duration_row {
  const char* in;
  std::int64_t want;
};
std::ostream& operator<<(std::ostream& os, const duration_row& r) { return os << '"' << r.in << '"'; }
const std::vector<duration_row> parse_duration_rows = {
    // simple
    {"0", 0},
    {"5s", 5 * sec},
    {"30s", 30 * sec},
    {"1478s", 1478 * sec},
    // sign
    {"-5s", -5 * sec},
    {"+5s", 5 * sec},
    {"-0", 0},
    {"+0", 0},
    // decimal
    {"5.0s", 5 * sec},
    {"5.6s", 5 * sec + 600 * ms},
    {"5.s", 5 * sec},
    {".5s", 500 * ms},
    {"1.0s", 1 * sec},
    {"1.00s", 1 * sec},
    {"1.004s", 1 * sec + 4 * ms},
    {"1.0040s", 1 * sec + 4 * ms},
    {"100.00100s", 100 * sec + 1 * ms},
    // different units
    {"10ns", 10 * ns},
    {"11us", 11 * us},
    {"12\u00b5s", 12 * us},  // U+00B5
    {"12\u03bcs", 12 * us},  // U+03BC
    {"13ms", 13 * ms},
    {"14s", 14 * sec},
    {"15m", 15 * minute},
    {"16h", 16 * hour},
    // composite durations
    {"3h30m", 3 * hour + 30 * minute},
    {"10.5s4m", 4 * minute + 10 * sec + 500 * ms},
    {"-2m3.4s", -(2 * minute + 3 * sec + 400 * ms)},
    {"1h2m3s4ms5us6ns", 1 * hour + 2 * minute + 3 * sec + 4 * ms + 5 * us + 6 * ns},
    {"39h9m14.425s", 39 * hour + 9 * minute + 14 * sec + 425 * ms},
    // large value
    {"52763797000ns", 52763797000 * ns},
    // more than 9 digits after decimal point, see https://golang.org/issue/6617
    {"0.3333333333333333333h", 20 * minute},
    // 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64
    {"9007199254740993ns", ((std::int64_t{1} << 53) + 1) * ns},
    // largest duration that can be represented by int64 in nanoseconds
    {"9223372036854775807ns", std::numeric_limits<std::int64_t>::max()},
    {"9223372036854775.807us", std::numeric_limits<std::int64_t>::max()},
    {"9223372036s854ms775us807ns", std::numeric_limits<std::int64_t>::max()},
    {"-9223372036854775808ns", std::numeric_limits<std::int64_t>::min()},
    {"-9223372036854775.808us", std::numeric_limits<std::int64_t>::min()},
    {"-9223372036s854ms775us808ns", std::numeric_limits<std::int64_t>::min()},
    // largest negative value
    {"-9223372036854775808ns", std::numeric_limits<std::int64_t>::min()},
    // largest negative round trip value, see https://golang.org/issue/48629
    {"-2562047h47m16.854775808s", std::numeric_limits<std::int64_t>::min()},
    // huge string; issue 15011.
    {"0.100000000000000000000h", 6 * minute},
    // This value tests the first overflow check in leadingFraction.
    {"0.830103483285477580700h", 49 * minute + 48 * sec + 372539827 * ns},
};

struct duration_error_row {
  const char* in;
  const char* expect;
};
std::ostream& operator<<(std::ostream& os, const duration_error_row& r) { return os << r.expect; }
const std::vector<duration_error_row> parse_duration_error_rows = {
    // invalid
    {"", R"("")"},
    {"3", R"("3")"},
    {"-", R"("-")"},
    {"s", R"("s")"},
    {".", R"(".")"},
    {"-.", R"("-.")"},
    {".s", R"(".s")"},
    {"+.s", R"("+.s")"},
    {"1d", R"("1d")"},
    {"\x85\x85", R"("\x85\x85")"},
    {"\xff"
     "ff",
     R"("\xffff")"},  // (Go's "\xffff" is the byte 0xff, then "ff")
    {"hello \xff"
     "ff world",
     R"("hello \xffff world")"},
    {"\uFFFD", R"("\xef\xbf\xbd")"},                                              // utf8.RuneError
    {"\uFFFD hello \uFFFD world", R"("\xef\xbf\xbd hello \xef\xbf\xbd world")"},  // utf8.RuneError
    // overflow
    {"9223372036854775810ns", R"("9223372036854775810ns")"},
    {"9223372036854775808ns", R"("9223372036854775808ns")"},
    {"-9223372036854775809ns", R"("-9223372036854775809ns")"},
    {"9223372036854776us", R"("9223372036854776us")"},
    {"3000000h", R"("3000000h")"},
    {"9223372036854775.808us", R"("9223372036854775.808us")"},
    {"9223372036854ms775us808ns", R"("9223372036854ms775us808ns")"},
};

// ---- error messages -------------------------------------------------------------------------

struct message_row {
  const char* spec;
  const char* message;
};
std::ostream& operator<<(std::ostream& os, const message_row& r) { return os << '"' << r.spec << '"'; }
const std::vector<message_row> message_rows = {
    {"0 25 * * *", R"(cron: field 2 (hour) at byte 2, "25": value 25 above maximum (23))"},
    {"0 0 1,25 * * *", R"(cron: field 3 (hour) at byte 6, "25": value 25 above maximum (23))"},
    {"0 0 0 0 * *", R"(cron: field 4 (day of month) at byte 6, "0": value 0 below minimum (1))"},
    {"* * * 1-13 *", R"(cron: field 4 (month) at byte 6, "1-13": end of range (13) above maximum (12))"},
    {"* * * * * 5-2",
     R"(cron: field 6 (day of week) at byte 10, "5-2": beginning of range (5) beyond end of range (2))"},
    {"*/0 * * * *", R"(cron: field 1 (minute) at byte 0, "*/0": step of range should be a positive number)"},
    {"* * * foo *",
     R"(cron: field 4 (month) at byte 6, "foo": failed to parse int from "foo": invalid syntax)"},
    {"* * * * * MON--FRI",
     R"(cron: field 6 (day of week) at byte 10, "MON--FRI": too many hyphens in "MON--FRI")"},
    {"1/2/3 * * * *", R"(cron: field 1 (minute) at byte 0, "1/2/3": too many slashes in "1/2/3")"},
    {"*/-5 * * * *", R"(cron: field 1 (minute) at byte 0, "*/-5": negative number (-5) not allowed)"},
    {"99999999999999999999 * * * *",
     R"(cron: field 1 (minute) at byte 0, "99999999999999999999": failed to parse int from )"
     R"("99999999999999999999": value out of range)"},
    {"* * *", R"(cron: expected 5 to 6 fields, found 3: "* * *")"},
    {"1 2 3 4 5 6 7", R"(cron: expected 5 to 6 fields, found 7: "1 2 3 4 5 6 7")"},
    {"", "cron: empty spec string"},
    {"@reboot", R"(cron: unrecognized descriptor "@reboot" at byte 0)"},
    {"TZ=UTC @Daily", R"(cron: unrecognized descriptor "@Daily" at byte 7)"},
    {"@every 5x",
     R"(cron: failed to parse duration "@every 5x" at byte 7: time: unknown unit "x" in duration "5x")"},
    {"CRON_TZ=Mars/Olympus * * * * *",
     R"(cron: provided bad location "Mars/Olympus" at byte 8: unknown time zone)"},
    {"TZ=../etc/passwd * * * * *",
     R"(cron: provided bad location "../etc/passwd" at byte 3: invalid location name)"},
    // robfig panics on a zone without a space after it (slice bounds out of range).
    {"TZ=UTC", R"(cron: time zone "UTC" must be followed by a space and the schedule)"},
    {"CRON_TZ=UTC\t@daily",
     R"(cron: time zone "UTC\x09@daily" must be followed by a space and the schedule)"},
    {"CRON_TZ=UTC\t* * * * *", R"(cron: provided bad location "UTC\x09*" at byte 8: unknown time zone)"},
    // bytes are escaped as Go's time package quotes them
    {"\x01\xff\"\\ * * * *", R"(cron: field 1 (minute) at byte 0, "\x01\xff\"\\": failed to parse int from )"
                             R"("\x01\xff\"\\": invalid syntax)"},
};

// ---- hostile input --------------------------------------------------------------------------

struct rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cron)

BOOST_DATA_TEST_CASE(go_parse_duration, bdata::make(parse_duration_rows), tc) {
  BOOST_TEST(jobs::cron::detail::parse_go_duration(tc.in) == tc.want);
}

BOOST_DATA_TEST_CASE(go_parse_duration_errors, bdata::make(parse_duration_error_rows), tc) {
  try {
    (void)jobs::cron::detail::parse_go_duration(tc.in);
    BOOST_ERROR("no error");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST_INFO(e.what());
    BOOST_TEST(std::string_view(e.what()).find(tc.expect) != std::string_view::npos);
  }
}

BOOST_AUTO_TEST_CASE(go_duration_string) {
  // time_test.go's durationTests rows that are whole seconds, and a few more.
  BOOST_TEST(jobs::cron::detail::format_go_duration(0) == "0s");
  BOOST_TEST(jobs::cron::detail::format_go_duration(4 * 60 + 5) == "4m5s");
  BOOST_TEST(jobs::cron::detail::format_go_duration(1) == "1s");
  BOOST_TEST(jobs::cron::detail::format_go_duration(90) == "1m30s");
  BOOST_TEST(jobs::cron::detail::format_go_duration(3600) == "1h0m0s");
  BOOST_TEST(jobs::cron::detail::format_go_duration(26 * 3600 + 61) == "26h1m1s");
}

BOOST_DATA_TEST_CASE(error_messages, bdata::make(message_rows), row) {
  BOOST_TEST(error_of(row.spec) == row.message);
}

BOOST_AUTO_TEST_CASE(every) {
  BOOST_TEST(schedule::every(90min).spec() == "@every 1h30m0s");
  BOOST_TEST(schedule::every(90min).delay().value_or(0s) == 5400s);
  BOOST_TEST(schedule::every(0s).spec() == "@every 1s");   // less than a second: a second
  BOOST_TEST(schedule::every(-5s).spec() == "@every 1s");  // (negative too)
  BOOST_TEST(schedule::every(1999ms).spec() == "@every 1s");
  BOOST_TEST(schedule::every(2h + 999ms).spec() == "@every 2h0m0s");
  BOOST_TEST(schedule::parse("@every 2h0m0.999s") == schedule::every(2h));
  BOOST_TEST(schedule::parse(schedule::every(1234567s).spec()) == schedule::every(1234567s));
  // Zones play no part in @every, and a zone before it is checked but dropped, as robfig does.
  const schedule e = schedule::parse("TZ=Asia/Tokyo @every 1m");
  BOOST_TEST(e.time_zone() == "");
  BOOST_TEST(e == schedule::every(1min));
  BOOST_TEST(e.spec() == "TZ=Asia/Tokyo @every 1m");
  BOOST_TEST(e.fields() == jobs::cron::bit_fields{});
  BOOST_TEST(show(e.next(utc("2012-07-09T14:45:59-0000") + 700ms)) == "2012-07-09T14:46:59Z");
}

BOOST_AUTO_TEST_CASE(zones) {
  BOOST_TEST(schedule::parse("CRON_TZ=Asia/Tokyo 0 0 9 * * *").time_zone() == "Asia/Tokyo");
  BOOST_TEST(schedule::parse("TZ=UTC 0 0 9 * * *").time_zone() == "UTC");
  BOOST_TEST(schedule::parse("TZ= 0 0 9 * * *").time_zone() == "UTC");  // Go: LoadLocation("") is UTC
  BOOST_TEST(schedule::parse("TZ= 0 0 9 * * *") == schedule::parse("TZ=UTC 0 0 9 * * *"));
  BOOST_TEST(schedule::parse("0 0 9 * * *").time_zone() == "");
  BOOST_TEST(schedule::parse("TZ=Local 0 0 9 * * *").time_zone() == "");
  BOOST_TEST(schedule::parse("TZ=Local 0 0 9 * * *") == schedule::parse("0 0 9 * * *"));
  BOOST_TEST(schedule::parse("TZ=UTC 0 0 9 * * *") != schedule::parse("TZ=Asia/Tokyo 0 0 9 * * *"));
  BOOST_TEST(show(schedule::parse("CRON_TZ=Asia/Tokyo 0 0 9 * * *").next(utc("2024-01-01T00:00:00-0000"))) ==
             "2024-01-02T00:00:00Z");
  BOOST_TEST(
      show(schedule::parse("CRON_TZ=Asia/Kathmandu 0 0 0 * * *").next(utc("2024-01-01T00:00:00-0000"))) ==
      "2024-01-01T18:15:00Z");
}

BOOST_AUTO_TEST_CASE(local_zone) {
  // A schedule without a zone runs in the local zone, resolved once, as Go's time.Local.
  const std::string local(jobs::cron::local_time_zone());
  BOOST_TEST(!local.empty());
  const auto t = utc("2024-03-09T12:34:56-0000");
  for (const char* spec : {"0 0 12 * * *", "0 30 2 * * *", "@daily", "0 0 0 1 */2 Sun", "*/7 * * * * *"}) {
    BOOST_TEST_CONTEXT(spec) {
      const schedule local_schedule = schedule::parse(spec);
      const schedule zoned = schedule::parse("CRON_TZ=" + local + " " + spec);
      time_point a = t, b = t;
      for (int i = 0; i < 50; ++i) {
        a = local_schedule.next(a);
        b = zoned.next(b);
        BOOST_TEST(show(a) == show(b));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(daylight_saving) {
  // What robfig/cron v3.0.1 itself answers (checked with it): a wall time that does not exist on
  // the day the clocks go forward is skipped that day; one that happens twice runs twice.
  const auto chain = [](std::string_view spec, std::string_view from, int n) {
    const schedule s = schedule::parse(spec);
    std::string out;
    time_point t = utc(from);
    for (int i = 0; i < n; ++i) out += (i ? " " : "") + show(t = s.next(t));
    return out;
  };
  // Lord Howe: 02:00 -> 02:30 on 2023-10-01, 02:00 -> 01:30 on 2024-04-07 (half an hour).
  BOOST_TEST(chain("CRON_TZ=Australia/Lord_Howe 0 15 2 * * *", "2023-09-30T12:00:00-0000", 2) ==
             "2023-10-01T15:15:00Z 2023-10-02T15:15:00Z");
  BOOST_TEST(chain("CRON_TZ=Australia/Lord_Howe 0 45 1 * * *", "2024-04-06T12:00:00-0000", 3) ==
             "2024-04-06T14:45:00Z 2024-04-06T15:15:00Z 2024-04-07T15:15:00Z");
  // London: 01:00 -> 02:00 on 2024-03-31, 02:00 -> 01:00 on 2024-10-27.
  BOOST_TEST(chain("TZ=Europe/London 0 30 1 * * *", "2024-03-30T12:00:00-0000", 1) == "2024-04-01T00:30:00Z");
  BOOST_TEST(chain("TZ=Europe/London 0 30 1 * * *", "2024-10-26T12:00:00-0000", 3) ==
             "2024-10-27T00:30:00Z 2024-10-27T01:30:00Z 2024-10-28T01:30:00Z");
}

BOOST_AUTO_TEST_CASE(missing_calendar_day) {
  // Pacific/Apia skipped 2011-12-30 (UTC-10 to UTC+14). robfig/cron loops forever on any search
  // that walks days across it; jobs::cron steps over the missing day.
  const schedule s = schedule::parse("CRON_TZ=Pacific/Apia 0 0 0 30 12 *");
  BOOST_TEST(show(s.next(utc("2011-12-01T00:00:00-0000"))) ==
             "2012-12-29T10:00:00Z");  // 2012-12-30 00:00 +14
  // From after the gap, robfig's own answer (it does not hang there).
  BOOST_TEST(show(s.next(utc("2011-12-31T00:00:00-0000"))) == "2012-12-29T10:00:00Z");
  const schedule first = schedule::parse("CRON_TZ=Pacific/Apia 0 0 0 1 * *");
  BOOST_TEST(show(first.next(utc("2011-12-20T00:00:00-0000"))) == "2011-12-31T10:00:00Z");  // 2012-01-01 +14
  // The others (robfig hangs on each of these).
  const auto first_of_month = [](std::string_view zone, std::string_view from) {
    return show(schedule::parse("CRON_TZ=" + std::string(zone) + " 0 0 0 1 * *").next(utc(from)));
  };
  BOOST_TEST(first_of_month("Pacific/Fakaofo", "2011-12-20T00:00:00-0000") == "2011-12-31T11:00:00Z");
  BOOST_TEST(first_of_month("Pacific/Kwajalein", "1993-08-15T00:00:00-0000") == "1993-08-31T12:00:00Z");
  BOOST_TEST(first_of_month("Pacific/Kiritimati", "1994-12-20T00:00:00-0000") == "1994-12-31T10:00:00Z");
  BOOST_TEST(first_of_month("Pacific/Kanton", "1994-12-20T00:00:00-0000") == "1994-12-31T11:00:00Z");
}

BOOST_AUTO_TEST_CASE(day_of_month_or_day_of_week) {
  const auto t = utc("2024-01-01T00:00:00-0000");  // a Monday
  // Both restricted: either matches (the 5th, or a Wednesday).
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 5 * Wed").next(t)) == "2024-01-03T00:00:00Z");
  // One written "*" or "?": both must match.
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 * * Wed").next(t)) == "2024-01-03T00:00:00Z");
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 5 * ?").next(t)) == "2024-01-05T00:00:00Z");
  // "*/1" keeps the star (the 13th, any weekday); "*/2" does not (the 13th OR Sun, Tue, Thu, Sat).
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 13 * */1").next(t)) == "2024-01-13T00:00:00Z");
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 13 * */2").next(t)) == "2024-01-02T00:00:00Z");
  BOOST_TEST((schedule::parse("* * * * */1").fields().dow & star_bit) != 0);
  BOOST_TEST((schedule::parse("* * * * */2").fields().dow & star_bit) == 0);
  // Names, in any case; "*-5" is "*" (robfig ignores what follows the star).
  BOOST_TEST(schedule::parse("0 0 1 jAn-MAR sUn") == schedule::parse("0 0 1 1-3 0"));
  BOOST_TEST(schedule::parse("*-5 * * * *") == schedule::parse("* * * * *"));
}

BOOST_AUTO_TEST_CASE(fields_that_match_nothing) {
  // "," is an empty list: robfig accepts it and its walk ends at the five-year limit.
  const auto t = utc("2024-01-01T00:00:00-0000");
  BOOST_TEST(schedule::parse(", * * * * *").fields().second == 0u);
  BOOST_TEST(show(schedule::parse("TZ=UTC , * * * * *").next(t)) == "zero");  // at once, not 157M steps
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 , * * * *").next(t)) == "zero");
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 , * * *").next(t)) == "zero");
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 0 * , *").next(t)) == "zero");
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 0 , * *").next(t)) == "zero");  // no day AND every weekday
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 0 , * Tue").next(t)) ==
             "2024-01-02T00:00:00Z");  // no day OR Tue
  BOOST_TEST(show(schedule::parse("TZ=UTC 0 0 0 31 Feb *").next(t)) == "zero");
  BOOST_TEST(schedule::parse("1,,2 * * * *") == schedule::parse("1,2 * * * *"));
}

BOOST_AUTO_TEST_CASE(white_space) {
  // Go's strings.Fields and TrimSpace: Unicode white space separates fields too.
  const schedule plain = schedule::parse("0 5 * * * *");
  BOOST_TEST(schedule::parse("0\t5\v*\f*\r*\xc2\xa0*") == plain);
  BOOST_TEST(schedule::parse("\xe3\x80\x80 0 5 * * * * \xe2\x80\xa8") == plain);
  BOOST_TEST(schedule::parse("TZ=UTC \xc2\x85 @daily \xe1\x9a\x80").time_zone() == "UTC");
  // Not white space: U+200B, a lone continuation byte, a truncated NBSP.
  BOOST_CHECK_THROW(schedule::parse("0 5 * * *\xe2\x80\x8b*"), std::invalid_argument);
  BOOST_CHECK_THROW(schedule::parse("0 5 * * *\xa0*"), std::invalid_argument);
  BOOST_CHECK_THROW(schedule::parse("0 5 * * * *\xc2"), std::invalid_argument);
  // Descriptors are matched exactly; only a zone prefix makes robfig trim the rest.
  BOOST_CHECK_THROW(schedule::parse("@daily "), std::invalid_argument);
  BOOST_CHECK_THROW(schedule::parse(" @daily"), std::invalid_argument);
  BOOST_CHECK_THROW(schedule::parse("@Daily"), std::invalid_argument);
  BOOST_TEST(schedule::parse("TZ=UTC   @daily  ").time_zone() == "UTC");
}

BOOST_AUTO_TEST_CASE(value_semantics) {
  const schedule a = schedule::parse("CRON_TZ=Europe/Berlin 0 */5 8-18 * * Mon-Fri");
  schedule b = a;
  BOOST_TEST(b.spec() == a.spec());
  BOOST_TEST(b == a);
  b = schedule::parse("@hourly");
  BOOST_TEST(b.spec() == "@hourly");
  BOOST_TEST(a.time_zone() == "Europe/Berlin");
  BOOST_TEST(schedule::parse("5 * * * *") == schedule::parse("0 5 * * * *"));
  BOOST_TEST(schedule::parse("5 * * * *").spec() == "5 * * * *");
  BOOST_TEST(schedule::parse("@every 1m") != schedule::parse("0 * * * * *"));
}

BOOST_AUTO_TEST_CASE(range_of_time_point) {
  // Results past what time_point holds saturate; a start at its very beginning works.
  BOOST_TEST(show(schedule::every(24h).next(time_point::max())) == "max");
  BOOST_TEST(show(schedule::parse("TZ=UTC @yearly").next(time_point::max() - 24h)) == "max");
  BOOST_TEST(show(schedule::parse("TZ=UTC @yearly").next(time_point::min())) == "1678-01-01T00:00:00Z");
  // (floor(min) + 1s: min rounded down to the second is just before what time_point holds)
  BOOST_TEST(show(schedule::every(1s).next(time_point::min())) ==
             show(std::chrono::ceil<std::chrono::seconds>(time_point::min())));
  // A start before 1970 (negative time since the epoch, with a fraction of a second).
  BOOST_TEST(show(schedule::parse("TZ=UTC 30 * * * * *").next(utc("1969-12-31T23:59:59-0000") + 500ms)) ==
             "1970-01-01T00:00:30Z");
}

BOOST_AUTO_TEST_CASE(hostile_input) {
  // Arbitrary bytes never crash, hang or leak: each is a schedule or std::invalid_argument.
  rng r{42};
  static const std::string alphabet =
      "0123456789*?,-/ @abcdefghijklmnopqrstuvwxyzJANSUNTZCRON_=\t.\xc2\xa0\xff";
  static const std::vector<std::string> seeds = {"0 5 * * * *",
                                                 "*/15 1-5,7 ? JAN-mar/2 MON-FRI",
                                                 "CRON_TZ=America/New_York 0 30 2 * * *",
                                                 "TZ=Australia/Lord_Howe 0 0,30 1-3 * * SUN",
                                                 "@every 1h30m",
                                                 "@monthly",
                                                 "TZ=UTC @hourly",
                                                 "5-59/10 */2 1,15 * ?",
                                                 "0 0 0 29 Feb ?"};
  std::size_t parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    // A valid spec with a few bytes replaced, inserted or removed, or bytes at random.
    std::string s = i % 4 == 0 ? std::string() : seeds[r.next() % seeds.size()];
    const std::size_t edits = i % 4 == 0 ? r.next() % 40 : 1 + r.next() % 3;
    for (std::size_t k = 0; k < edits; ++k) {
      const auto x = r.next();
      const char c = x % 4 == 0 ? static_cast<char>(x >> 8) : alphabet[(x >> 8) % alphabet.size()];
      const std::size_t at = s.empty() ? 0 : (x >> 32) % (s.size() + 1);
      switch (i % 4 == 0 ? 1 : (x >> 16) % 3) {
        case 0:
          if (at < s.size()) s[at] = c;
          break;
        case 1: s.insert(at, 1, c); break;
        default:
          if (at < s.size()) s.erase(at, 1);
      }
    }
    try {
      const schedule sch = schedule::parse(s);
      ++parsed;
      time_point t = utc("2020-02-28T23:59:59-0000");
      for (int k = 0; k < 3; ++k) t = sch.next(t);
    } catch (const std::invalid_argument&) {
    }
  }
  BOOST_TEST_MESSAGE(parsed << " of 20000 random specs parsed");
  // Long input (appended to, not concatenated: GCC 12 warns wrongly about operator+ at -O1).
  const auto long_spec = [](std::string_view head, char c, std::string_view tail) {
    std::string s(head);
    s.append(std::size_t{1} << 20, c);
    s.append(tail);
    return s;
  };
  for (const char c : {'/', '9', ' ', '-', '@', '*'}) {
    BOOST_CHECK_THROW(schedule::parse(long_spec("", c, " * * * *")), std::invalid_argument);
  }
  BOOST_CHECK_THROW(schedule::parse(long_spec("TZ=", 'A', "")), std::invalid_argument);
  BOOST_CHECK_THROW(schedule::parse(long_spec("TZ=", 'A', " * * * * *")), std::invalid_argument);
  BOOST_CHECK_THROW(schedule::parse(long_spec("@every ", '1', "s")), std::invalid_argument);
  BOOST_TEST(schedule::parse(long_spec("", ',', " * * * * *")).fields().second == 0u);
  BOOST_TEST(schedule::parse("1/9223372036854775807 * * * *").fields().minute == 2u);
  BOOST_CHECK_THROW(schedule::parse(std::string("0 5 * * *\0*", 11)), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(threads) {
  // Schedules are immutable: any number of threads may use one (and resolve the local zone).
  const schedule local = schedule::parse("*/7 */3 * * * *");
  const schedule zoned = schedule::parse("CRON_TZ=Australia/Lord_Howe 0 */20 * * * *");
  std::vector<std::thread> threads;
  std::vector<std::string> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      time_point t = utc("2024-04-06T12:00:00-0000");
      for (int k = 0; k < 200; ++k) t = (i % 2 ? zoned : local).next(t);
      results[static_cast<std::size_t>(i)] = show(t);
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(results[0] == results[2]);
  BOOST_TEST(results[1] == results[3]);
}

BOOST_AUTO_TEST_SUITE_END()
