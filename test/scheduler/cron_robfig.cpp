// jobs::cron against robfig/cron v3.0.1's own tests (parser_test.go, spec_test.go,
// constantdelay_test.go): the same inputs and expected outputs, table by table. Adapted only where
// Go's syntax has no C++ twin: Go time strings are parsed by cron_test::parse_go_time, Go durations
// are std::chrono literals, and since a time_point carries no zone, a test time given in a zone
// ("TZ=America/New_York 2012-...") puts that zone on the zoneless spec it is used with.
#include <jobs/cron.hpp>
#include <jobs/detail/cron_parse.hpp>

#include "cron_test_util.hpp"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;
using cron_test::parse_go_time;
using cron_test::show;
using jobs::cron::bit_fields;
using jobs::cron::schedule;
using jobs::cron::star_bit;

namespace {

// The bit sets of robfig's spec.go and its test helpers.
std::uint64_t all(std::uint64_t min, std::uint64_t max) {
  return jobs::cron::detail::get_bits(min, max, 1) | star_bit;
}
const std::uint64_t all_seconds = all(0, 59), all_minutes = all(0, 59), all_hours = all(0, 23),
                    all_dom = all(1, 31), all_months = all(1, 12), all_dow = all(0, 6);
constexpr std::uint64_t zero = 0;

bit_fields every5min() { return {1 << 0, 1 << 5, all_hours, all_dom, all_months, all_dow}; }
bit_fields every5min5s() { return {1 << 5, 1 << 5, all_hours, all_dom, all_months, all_dow}; }
bit_fields midnight() { return {1, 1, 1, all_dom, all_months, all_dow}; }
bit_fields annual() { return {1 << 0, 1 << 0, 1 << 0, 1 << 1, 1 << 1, all_dow}; }

// What a parse is expected to give: a SpecSchedule (bits and location: "" is time.Local) or a
// ConstantDelaySchedule (delay).
struct expected_schedule {
  std::optional<bit_fields> bits;
  std::string zone;
  std::chrono::seconds delay{0};
};
expected_schedule spec(bit_fields b, std::string zone = "") { return {b, std::move(zone), {}}; }
expected_schedule constant_delay(std::chrono::seconds d) { return {std::nullopt, "", d}; }

void check(const schedule& s, const expected_schedule& e) {
  if (e.bits) {
    BOOST_TEST(!s.delay().has_value());
    BOOST_TEST(s.fields() == *e.bits);
    BOOST_TEST(s.time_zone() == e.zone);
  } else {
    BOOST_TEST(s.delay().has_value());
    BOOST_TEST(s.delay().value_or(0s).count() == e.delay.count());
  }
}

template <class F>
void check_throws(F f, std::string_view err) {
  try {
    f();
    BOOST_ERROR("expected an error containing \"" << err << "\"");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST_INFO("error: " << e.what());
    BOOST_TEST(std::string_view(e.what()).find(err) != std::string_view::npos);
  }
}

// ---- parser_test.go -----------------------------------------------------------------------

struct range_row {
  const char* expr;
  unsigned min, max;
  std::uint64_t expected;
  const char* err;
};
std::ostream& operator<<(std::ostream& os, const range_row& r) {
  return os << '"' << r.expr << "\" [" << r.min << ", " << r.max << "]";
}
const std::vector<range_row> range_rows = {
    {"5", 0, 7, 1 << 5, ""},
    {"0", 0, 7, 1 << 0, ""},
    {"7", 0, 7, 1 << 7, ""},

    {"5-5", 0, 7, 1 << 5, ""},
    {"5-6", 0, 7, 1 << 5 | 1 << 6, ""},
    {"5-7", 0, 7, 1 << 5 | 1 << 6 | 1 << 7, ""},

    {"5-6/2", 0, 7, 1 << 5, ""},
    {"5-7/2", 0, 7, 1 << 5 | 1 << 7, ""},
    {"5-7/1", 0, 7, 1 << 5 | 1 << 6 | 1 << 7, ""},

    {"*", 1, 3, 1 << 1 | 1 << 2 | 1 << 3 | star_bit, ""},
    {"*/2", 1, 3, 1 << 1 | 1 << 3, ""},

    {"5--5", 0, 0, zero, "too many hyphens"},
    {"jan-x", 0, 0, zero, "failed to parse int from"},
    {"2-x", 1, 5, zero, "failed to parse int from"},
    {"*/-12", 0, 0, zero, "negative number"},
    {"*//2", 0, 0, zero, "too many slashes"},
    {"1", 3, 5, zero, "below minimum"},
    {"6", 3, 5, zero, "above maximum"},
    {"5-3", 3, 5, zero, "beyond end of range"},
    {"*/0", 0, 0, zero, "should be a positive number"},
};

struct field_row {
  const char* expr;
  unsigned min, max;
  std::uint64_t expected;
};
std::ostream& operator<<(std::ostream& os, const field_row& r) { return os << '"' << r.expr << '"'; }
const std::vector<field_row> field_rows = {
    {"5", 1, 7, 1 << 5},
    {"5,6", 1, 7, 1 << 5 | 1 << 6},
    {"5,6,7", 1, 7, 1 << 5 | 1 << 6 | 1 << 7},
    {"1,5-7/2,3", 1, 7, 1 << 1 | 1 << 5 | 1 << 7 | 1 << 3},
};

struct bits_row {
  unsigned min, max, step;
  std::uint64_t expected;
};
std::ostream& operator<<(std::ostream& os, const bits_row& r) {
  return os << r.min << "-" << r.max << "/" << r.step;
}
const std::vector<bits_row> bits_rows = {
    {0, 0, 1, 0x1},
    {1, 1, 1, 0x2},
    {1, 5, 2, 0x2a},  // 101010
    {1, 4, 2, 0xa},   // 1010
};

struct error_row {
  const char* expr;
  const char* err;
};
std::ostream& operator<<(std::ostream& os, const error_row& r) { return os << '"' << r.expr << '"'; }
// TestParseScheduleErrors (secondParser; these inputs fail the same way with ours).
const std::vector<error_row> parse_error_rows = {
    {"* 5 j * * *", "failed to parse int from"},
    {"@every Xm", "failed to parse duration"},
    {"@unrecognized", "unrecognized descriptor"},
    {"* * * *", "expected 5 to 6 fields"},
    {"", "empty spec string"},
};

struct parse_row {
  const char* expr;
  expected_schedule expected;
};
std::ostream& operator<<(std::ostream& os, const parse_row& r) { return os << '"' << r.expr << '"'; }
// TestParseSchedule: its secondParser and standardParser rows read the same with our parser (six
// fields with seconds, five without).
const std::vector<parse_row> parse_rows = {
    {"0 5 * * * *", spec(every5min())},
    {"5 * * * *", spec(every5min())},
    {"CRON_TZ=UTC  0 5 * * * *", spec(every5min(), "UTC")},
    {"CRON_TZ=UTC  5 * * * *", spec(every5min(), "UTC")},
    {"CRON_TZ=Asia/Tokyo 0 5 * * * *", spec(every5min(), "Asia/Tokyo")},
    {"@every 5m", constant_delay(5min)},
    {"@midnight", spec(midnight())},
    {"TZ=UTC  @midnight", spec(midnight(), "UTC")},
    {"TZ=Asia/Tokyo @midnight", spec(midnight(), "Asia/Tokyo")},
    {"@yearly", spec(annual())},
    {"@annually", spec(annual())},
    {"* 5 * * * *", spec({all_seconds, 1 << 5, all_hours, all_dom, all_months, all_dow})},
};
// TestOptionalSecondSchedule: exactly our parser.
const std::vector<parse_row> optional_second_rows = {
    {"0 5 * * * *", spec(every5min())},
    {"5 5 * * * *", spec(every5min5s())},
    {"5 * * * *", spec(every5min())},
};

struct normalize_row {
  const char* name;
  const char* input;     // the fields, joined by spaces
  const char* expected;  // the six fields after normalizeFields
};
std::ostream& operator<<(std::ostream& os, const normalize_row& r) { return os << r.name; }
// TestNormalizeFields: the rows whose options are ours (all six fields, seconds optional); the
// others configure parsers with fewer fields, which we do not offer.
const std::vector<normalize_row> normalize_rows = {
    {"AllFields_NoOptional", "0 5 * * * *", "0 5 * * * *"},
    {"AllFields_SecondOptional_Provided", "0 5 * * * *", "0 5 * * * *"},
    {"AllFields_SecondOptional_NotProvided", "5 * * * *", "0 5 * * * *"},
};
// TestNormalizeFields_Errors: the inputs that are errors for our parser too (TwoOptionals is a
// parser configuration we do not offer).
const std::vector<normalize_row> normalize_error_rows = {
    {"TooManyFields", "0 5 * *", ""},
    {"NoFields", "", ""},
    {"TooFewFields", "*", ""},
};

// TestStandardSpecSchedule (ParseStandard: five fields, which ours reads the same).
const std::vector<parse_row> standard_rows = {
    {"5 * * * *", spec({1 << 0, 1 << 5, all_hours, all_dom, all_months, all_dow})},
    {"@every 5m", constant_delay(5min)},
};
const std::vector<error_row> standard_error_rows = {
    {"5 j * * *", "failed to parse int from"},
    // robfig: "expected exactly 5 fields" (ParseStandard takes exactly five; ours five or six).
    {"* * * *", "expected 5 to 6 fields"},
};

// ---- spec_test.go ---------------------------------------------------------------------------

struct activation_row {
  const char* time;
  const char* spec;
  bool expected;
};
std::ostream& operator<<(std::ostream& os, const activation_row& r) {
  return os << r.time << ", \"" << r.spec << '"';
}
const std::vector<activation_row> activation_rows = {
    // Every fifteen minutes.
    {"Mon Jul 9 15:00 2012", "0/15 * * * *", true},
    {"Mon Jul 9 15:45 2012", "0/15 * * * *", true},
    {"Mon Jul 9 15:40 2012", "0/15 * * * *", false},
    // Every fifteen minutes, starting at 5 minutes.
    {"Mon Jul 9 15:05 2012", "5/15 * * * *", true},
    {"Mon Jul 9 15:20 2012", "5/15 * * * *", true},
    {"Mon Jul 9 15:50 2012", "5/15 * * * *", true},
    // Named months
    {"Sun Jul 15 15:00 2012", "0/15 * * Jul *", true},
    {"Sun Jul 15 15:00 2012", "0/15 * * Jun *", false},
    // Everything set.
    {"Sun Jul 15 08:30 2012", "30 08 ? Jul Sun", true},
    {"Sun Jul 15 08:30 2012", "30 08 15 Jul ?", true},
    {"Mon Jul 16 08:30 2012", "30 08 ? Jul Sun", false},
    {"Mon Jul 16 08:30 2012", "30 08 15 Jul ?", false},
    // Predefined schedules
    {"Mon Jul 9 15:00 2012", "@hourly", true},
    {"Mon Jul 9 15:04 2012", "@hourly", false},
    {"Mon Jul 9 15:00 2012", "@daily", false},
    {"Mon Jul 9 00:00 2012", "@daily", true},
    {"Mon Jul 9 00:00 2012", "@weekly", false},
    {"Sun Jul 8 00:00 2012", "@weekly", true},
    {"Sun Jul 8 01:00 2012", "@weekly", false},
    {"Sun Jul 8 00:00 2012", "@monthly", false},
    {"Sun Jul 1 00:00 2012", "@monthly", true},
    // Test interaction of DOW and DOM.
    // If both are restricted, then only one needs to match.
    {"Sun Jul 15 00:00 2012", "* * 1,15 * Sun", true},
    {"Fri Jun 15 00:00 2012", "* * 1,15 * Sun", true},
    {"Wed Aug 1 00:00 2012", "* * 1,15 * Sun", true},
    {"Sun Jul 15 00:00 2012", "* * */10 * Sun", true},  // verifies #70
    // However, if one has a star, then both need to match.
    {"Sun Jul 15 00:00 2012", "* * * * Mon", false},
    {"Mon Jul 9 00:00 2012", "* * 1,15 * *", false},
    {"Sun Jul 15 00:00 2012", "* * 1,15 * *", true},
    {"Sun Jul 15 00:00 2012", "* * */2 * Sun", true},
};

struct next_row {
  const char* time;
  const char* spec;
  const char* expected;
};
std::ostream& operator<<(std::ostream& os, const next_row& r) {
  return os << r.time << ", \"" << r.spec << '"';
}
const std::vector<next_row> next_rows = {
    // Simple cases
    {"Mon Jul 9 14:45 2012", "0 0/15 * * * *", "Mon Jul 9 15:00 2012"},
    {"Mon Jul 9 14:59 2012", "0 0/15 * * * *", "Mon Jul 9 15:00 2012"},
    {"Mon Jul 9 14:59:59 2012", "0 0/15 * * * *", "Mon Jul 9 15:00 2012"},
    // Wrap around hours
    {"Mon Jul 9 15:45 2012", "0 20-35/15 * * * *", "Mon Jul 9 16:20 2012"},
    // Wrap around days
    {"Mon Jul 9 23:46 2012", "0 */15 * * * *", "Tue Jul 10 00:00 2012"},
    {"Mon Jul 9 23:45 2012", "0 20-35/15 * * * *", "Tue Jul 10 00:20 2012"},
    {"Mon Jul 9 23:35:51 2012", "15/35 20-35/15 * * * *", "Tue Jul 10 00:20:15 2012"},
    {"Mon Jul 9 23:35:51 2012", "15/35 20-35/15 1/2 * * *", "Tue Jul 10 01:20:15 2012"},
    {"Mon Jul 9 23:35:51 2012", "15/35 20-35/15 10-12 * * *", "Tue Jul 10 10:20:15 2012"},
    {"Mon Jul 9 23:35:51 2012", "15/35 20-35/15 1/2 */2 * *", "Thu Jul 11 01:20:15 2012"},
    {"Mon Jul 9 23:35:51 2012", "15/35 20-35/15 * 9-20 * *", "Wed Jul 10 00:20:15 2012"},
    {"Mon Jul 9 23:35:51 2012", "15/35 20-35/15 * 9-20 Jul *", "Wed Jul 10 00:20:15 2012"},
    // Wrap around months
    {"Mon Jul 9 23:35 2012", "0 0 0 9 Apr-Oct ?", "Thu Aug 9 00:00 2012"},
    {"Mon Jul 9 23:35 2012", "0 0 0 */5 Apr,Aug,Oct Mon", "Tue Aug 1 00:00 2012"},
    {"Mon Jul 9 23:35 2012", "0 0 0 */5 Oct Mon", "Mon Oct 1 00:00 2012"},
    // Wrap around years
    {"Mon Jul 9 23:35 2012", "0 0 0 * Feb Mon", "Mon Feb 4 00:00 2013"},
    {"Mon Jul 9 23:35 2012", "0 0 0 * Feb Mon/2", "Fri Feb 1 00:00 2013"},
    // Wrap around minute, hour, day, month, and year
    {"Mon Dec 31 23:59:45 2012", "0 * * * * *", "Tue Jan 1 00:00:00 2013"},
    // Leap year
    {"Mon Jul 9 23:35 2012", "0 0 0 29 Feb ?", "Mon Feb 29 00:00 2016"},
    // Daylight savings time 2am EST (-5) -> 3am EDT (-4)
    {"2012-03-11T00:00:00-0500", "TZ=America/New_York 0 30 2 11 Mar ?", "2013-03-11T02:30:00-0400"},
    // hourly job
    {"2012-03-11T00:00:00-0500", "TZ=America/New_York 0 0 * * * ?", "2012-03-11T01:00:00-0500"},
    {"2012-03-11T01:00:00-0500", "TZ=America/New_York 0 0 * * * ?", "2012-03-11T03:00:00-0400"},
    {"2012-03-11T03:00:00-0400", "TZ=America/New_York 0 0 * * * ?", "2012-03-11T04:00:00-0400"},
    {"2012-03-11T04:00:00-0400", "TZ=America/New_York 0 0 * * * ?", "2012-03-11T05:00:00-0400"},
    // hourly job using CRON_TZ
    {"2012-03-11T00:00:00-0500", "CRON_TZ=America/New_York 0 0 * * * ?", "2012-03-11T01:00:00-0500"},
    {"2012-03-11T01:00:00-0500", "CRON_TZ=America/New_York 0 0 * * * ?", "2012-03-11T03:00:00-0400"},
    {"2012-03-11T03:00:00-0400", "CRON_TZ=America/New_York 0 0 * * * ?", "2012-03-11T04:00:00-0400"},
    {"2012-03-11T04:00:00-0400", "CRON_TZ=America/New_York 0 0 * * * ?", "2012-03-11T05:00:00-0400"},
    // 1am nightly job
    {"2012-03-11T00:00:00-0500", "TZ=America/New_York 0 0 1 * * ?", "2012-03-11T01:00:00-0500"},
    {"2012-03-11T01:00:00-0500", "TZ=America/New_York 0 0 1 * * ?", "2012-03-12T01:00:00-0400"},
    // 2am nightly job (skipped)
    {"2012-03-11T00:00:00-0500", "TZ=America/New_York 0 0 2 * * ?", "2012-03-12T02:00:00-0400"},
    // Daylight savings time 2am EDT (-4) => 1am EST (-5)
    {"2012-11-04T00:00:00-0400", "TZ=America/New_York 0 30 2 04 Nov ?", "2012-11-04T02:30:00-0500"},
    {"2012-11-04T01:45:00-0400", "TZ=America/New_York 0 30 1 04 Nov ?", "2012-11-04T01:30:00-0500"},
    // hourly job
    {"2012-11-04T00:00:00-0400", "TZ=America/New_York 0 0 * * * ?", "2012-11-04T01:00:00-0400"},
    {"2012-11-04T01:00:00-0400", "TZ=America/New_York 0 0 * * * ?", "2012-11-04T01:00:00-0500"},
    {"2012-11-04T01:00:00-0500", "TZ=America/New_York 0 0 * * * ?", "2012-11-04T02:00:00-0500"},
    // 1am nightly job (runs twice)
    {"2012-11-04T00:00:00-0400", "TZ=America/New_York 0 0 1 * * ?", "2012-11-04T01:00:00-0400"},
    {"2012-11-04T01:00:00-0400", "TZ=America/New_York 0 0 1 * * ?", "2012-11-04T01:00:00-0500"},
    {"2012-11-04T01:00:00-0500", "TZ=America/New_York 0 0 1 * * ?", "2012-11-05T01:00:00-0500"},
    // 2am nightly job
    {"2012-11-04T00:00:00-0400", "TZ=America/New_York 0 0 2 * * ?", "2012-11-04T02:00:00-0500"},
    {"2012-11-04T02:00:00-0500", "TZ=America/New_York 0 0 2 * * ?", "2012-11-05T02:00:00-0500"},
    // 3am nightly job
    {"2012-11-04T00:00:00-0400", "TZ=America/New_York 0 0 3 * * ?", "2012-11-04T03:00:00-0500"},
    {"2012-11-04T03:00:00-0500", "TZ=America/New_York 0 0 3 * * ?", "2012-11-05T03:00:00-0500"},
    // hourly job
    {"TZ=America/New_York 2012-11-04T00:00:00-0400", "0 0 * * * ?", "2012-11-04T01:00:00-0400"},
    {"TZ=America/New_York 2012-11-04T01:00:00-0400", "0 0 * * * ?", "2012-11-04T01:00:00-0500"},
    {"TZ=America/New_York 2012-11-04T01:00:00-0500", "0 0 * * * ?", "2012-11-04T02:00:00-0500"},
    // 1am nightly job (runs twice)
    {"TZ=America/New_York 2012-11-04T00:00:00-0400", "0 0 1 * * ?", "2012-11-04T01:00:00-0400"},
    {"TZ=America/New_York 2012-11-04T01:00:00-0400", "0 0 1 * * ?", "2012-11-04T01:00:00-0500"},
    {"TZ=America/New_York 2012-11-04T01:00:00-0500", "0 0 1 * * ?", "2012-11-05T01:00:00-0500"},
    // 2am nightly job
    {"TZ=America/New_York 2012-11-04T00:00:00-0400", "0 0 2 * * ?", "2012-11-04T02:00:00-0500"},
    {"TZ=America/New_York 2012-11-04T02:00:00-0500", "0 0 2 * * ?", "2012-11-05T02:00:00-0500"},
    // 3am nightly job
    {"TZ=America/New_York 2012-11-04T00:00:00-0400", "0 0 3 * * ?", "2012-11-04T03:00:00-0500"},
    {"TZ=America/New_York 2012-11-04T03:00:00-0500", "0 0 3 * * ?", "2012-11-05T03:00:00-0500"},
    // Unsatisfiable
    {"Mon Jul 9 23:35 2012", "0 0 0 30 Feb ?", ""},
    {"Mon Jul 9 23:35 2012", "0 0 0 31 Apr ?", ""},
    // Monthly job
    {"TZ=America/New_York 2012-11-04T00:00:00-0400", "0 0 3 3 * ?", "2012-12-03T03:00:00-0500"},
    // Test the scenario of DST resulting in midnight not being a valid time.
    // https://github.com/robfig/cron/issues/157
    {"2018-10-17T05:00:00-0400", "TZ=America/Sao_Paulo 0 0 9 10 * ?", "2018-11-10T06:00:00-0500"},
    {"2018-02-14T05:00:00-0500", "TZ=America/Sao_Paulo 0 0 9 22 * ?", "2018-02-22T07:00:00-0500"},
};

// TestNextWithTz: times with a +0530 offset and zoneless specs, which robfig evaluates in the
// time's own zone (a fixed +05:30). A time_point has no zone, so the zone goes on the spec:
// Asia/Kolkata has been +05:30 without daylight saving since 1945.
const std::vector<next_row> next_with_tz_rows = {
    // Failing tests
    {"2016-01-03T13:09:03+0530", "14 14 * * *", "2016-01-03T14:14:00+0530"},
    {"2016-01-03T04:09:03+0530", "14 14 * * ?", "2016-01-03T14:14:00+0530"},

    // Passing tests
    {"2016-01-03T14:09:03+0530", "14 14 * * *", "2016-01-03T14:14:00+0530"},
    {"2016-01-03T14:00:00+0530", "14 14 * * ?", "2016-01-03T14:14:00+0530"},
};

// TestErrors (ParseStandard).
const std::vector<const char*> invalid_specs = {
    "xyz",
    "60 0 * * *",
    "0 60 * * *",
    "0 0 * * XYZ",
};

// ---- constantdelay_test.go ------------------------------------------------------------------

struct delay_row {
  const char* time;
  std::chrono::nanoseconds delay;
  const char* expected;
};
std::ostream& operator<<(std::ostream& os, const delay_row& r) {
  return os << r.time << ", " << r.delay.count() << "ns";
}
const std::vector<delay_row> delay_rows = {
    // Simple cases
    {"Mon Jul 9 14:45 2012", 15min + 50ns, "Mon Jul 9 15:00 2012"},
    {"Mon Jul 9 14:59 2012", 15min, "Mon Jul 9 15:14 2012"},
    {"Mon Jul 9 14:59:59 2012", 15min, "Mon Jul 9 15:14:59 2012"},

    // Wrap around hours
    {"Mon Jul 9 15:45 2012", 35min, "Mon Jul 9 16:20 2012"},

    // Wrap around days
    {"Mon Jul 9 23:46 2012", 14min, "Tue Jul 10 00:00 2012"},
    {"Mon Jul 9 23:45 2012", 35min, "Tue Jul 10 00:20 2012"},
    {"Mon Jul 9 23:35:51 2012", 44min + 24s, "Tue Jul 10 00:20:15 2012"},
    {"Mon Jul 9 23:35:51 2012", 25h + 44min + 24s, "Thu Jul 11 01:20:15 2012"},

    // Wrap around months
    {"Mon Jul 9 23:35 2012", 91 * 24h + 25min, "Thu Oct 9 00:00 2012"},

    // Wrap around minute, hour, day, month, and year
    {"Mon Dec 31 23:59:45 2012", 15s, "Tue Jan 1 00:00:00 2013"},

    // Round to nearest second on the delay
    {"Mon Jul 9 14:45 2012", 15min + 50ns, "Mon Jul 9 15:00 2012"},

    // Round up to 1 second if the duration is less.
    {"Mon Jul 9 14:45:00 2012", 15ms, "Mon Jul 9 14:45:01 2012"},

    // Round to nearest second when calculating the next time.
    {"Mon Jul 9 14:45:00.005 2012", 15min, "Mon Jul 9 15:00 2012"},

    // Round to nearest second for both.
    {"Mon Jul 9 14:45:00.005 2012", 15min + 50ns, "Mon Jul 9 15:00 2012"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cron_robfig)

// ---- parser_test.go -----------------------------------------------------------------------

BOOST_DATA_TEST_CASE(TestRange, bdata::make(range_rows), c) {
  const jobs::cron::detail::bounds r{c.min, c.max};
  if (std::string_view(c.err).empty()) {
    BOOST_TEST(jobs::cron::detail::get_range(c.expr, r) == c.expected);
  } else {
    check_throws([&] { (void)jobs::cron::detail::get_range(c.expr, r); }, c.err);
  }
}

BOOST_DATA_TEST_CASE(TestField, bdata::make(field_rows), c) {
  BOOST_TEST(jobs::cron::detail::get_field(c.expr, {c.min, c.max}) == c.expected);
}

BOOST_AUTO_TEST_CASE(TestAll) {
  // all() adds the starBit; a field written "*" is all() of its bounds.
  const bit_fields f = schedule::parse("* * * * * *").fields();
  BOOST_TEST(f.minute == (0xfffffffffffffffull | star_bit));  // 0-59: 60 ones
  BOOST_TEST(f.hour == (0xffffffull | star_bit));             // 0-23: 24 ones
  BOOST_TEST(f.dom == (0xfffffffeull | star_bit));            // 1-31: 31 ones, 1 zero
  BOOST_TEST(f.month == (0x1ffeull | star_bit));              // 1-12: 12 ones, 1 zero
  BOOST_TEST(f.dow == (0x7full | star_bit));                  // 0-6: 7 ones
}

BOOST_DATA_TEST_CASE(TestBits, bdata::make(bits_rows), c) {
  BOOST_TEST(jobs::cron::detail::get_bits(c.min, c.max, c.step) == c.expected);
}

BOOST_DATA_TEST_CASE(TestParseScheduleErrors, bdata::make(parse_error_rows), c) {
  check_throws([&] { (void)schedule::parse(c.expr); }, c.err);
}

BOOST_DATA_TEST_CASE(TestParseSchedule, bdata::make(parse_rows), c) {
  check(schedule::parse(c.expr), c.expected);
}

BOOST_DATA_TEST_CASE(TestOptionalSecondSchedule, bdata::make(optional_second_rows), c) {
  check(schedule::parse(c.expr), c.expected);
}

BOOST_DATA_TEST_CASE(TestNormalizeFields, bdata::make(normalize_rows), c) {
  BOOST_TEST(schedule::parse(c.input).fields() == schedule::parse(c.expected).fields());
}

BOOST_DATA_TEST_CASE(TestNormalizeFields_Errors, bdata::make(normalize_error_rows), c) {
  BOOST_CHECK_THROW((void)schedule::parse(c.input), std::invalid_argument);
}

BOOST_DATA_TEST_CASE(TestStandardSpecSchedule, bdata::make(standard_rows), c) {
  check(schedule::parse(c.expr), c.expected);
}

BOOST_DATA_TEST_CASE(TestStandardSpecSchedule_Errors, bdata::make(standard_error_rows), c) {
  check_throws([&] { (void)schedule::parse(c.expr); }, c.err);
}

// ---- spec_test.go ---------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(TestActivation, bdata::make(activation_rows), test) {
  const schedule sched = schedule::parse(test.spec);
  const auto expected = parse_go_time(test.time).at;
  const auto actual = sched.next(expected - 1s);
  BOOST_TEST((expected == actual) == test.expected, show(expected) << " vs " << show(actual));
}

BOOST_DATA_TEST_CASE(TestNext, bdata::make(next_rows), c) {
  const cron_test::go_time t = parse_go_time(c.time);
  std::string spec = c.spec;
  if (!t.zone.empty()) spec = "TZ=" + t.zone + " " + spec;  // the time's zone (see the top)
  const schedule sched = schedule::parse(spec);
  BOOST_TEST(show(sched.next(t.at)) == show(parse_go_time(c.expected).at));
}

BOOST_DATA_TEST_CASE(TestNextWithTz, bdata::make(next_with_tz_rows), c) {
  const schedule sched = schedule::parse(std::string("CRON_TZ=Asia/Kolkata ") + c.spec);
  BOOST_TEST(show(sched.next(parse_go_time(c.time).at)) == show(parse_go_time(c.expected).at));
}

BOOST_DATA_TEST_CASE(TestErrors, bdata::make(invalid_specs), spec) {
  BOOST_CHECK_THROW((void)schedule::parse(spec), std::invalid_argument);
}

// https://github.com/robfig/cron/issues/144
BOOST_AUTO_TEST_CASE(TestSlash0NoHang) {
  BOOST_CHECK_THROW((void)schedule::parse("TZ=America/New_York 15/0 * * * *"), std::invalid_argument);
}

// ---- constantdelay_test.go ------------------------------------------------------------------

BOOST_DATA_TEST_CASE(TestConstantDelayNext, bdata::make(delay_rows), c) {
  const auto actual = schedule::every(c.delay).next(parse_go_time(c.time).at);
  BOOST_TEST(show(actual) == show(parse_go_time(c.expected).at));
}

BOOST_AUTO_TEST_SUITE_END()
