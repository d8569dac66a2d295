// stats(): the snapshot and its JSON shape (Go's): id, state, progress, started_at (RFC 3339 or
// null), execution_time (integer ns), labels (object), error.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using jobs::state;
using sys_clock = std::chrono::system_clock;

namespace {

struct parsed_time {
  sys_clock::time_point t;
  std::chrono::nanoseconds precision;  // of the fraction given
};

// A strict RFC 3339 date-time parser (the subset any writer uses: 'T', optional fraction,
// 'Z' or a numeric offset).
std::optional<parsed_time> parse_rfc3339(const std::string& s) {
  std::size_t pos = 0;
  auto digits = [&](std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos += n;
    return true;
  };
  auto lit = [&](char c) {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
  };
  int y, mo, d, hh, mm, ss;
  if (!(digits(4, y) && lit('-') && digits(2, mo) && lit('-') && digits(2, d) && lit('T') && digits(2, hh) &&
        lit(':') && digits(2, mm) && lit(':') && digits(2, ss)))
    return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year(y), month(unsigned(mo)), day(unsigned(d))};
  if (!ymd.ok() || hh > 23 || mm > 59 || ss > 59) return std::nullopt;
  nanoseconds frac{0}, precision{1'000'000'000};
  if (lit('.')) {
    std::int64_t f = 0;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && n < 9) f = f * 10 + (s[pos++] - '0'), ++n;
    if (n == 0) return std::nullopt;
    precision = nanoseconds(1);
    for (int i = n; i < 9; ++i) f *= 10, precision *= 10;
    frac = nanoseconds(f);
  }
  sys_clock::time_point t{sys_days(ymd).time_since_epoch()};
  t += hours(hh) + minutes(mm) + seconds(ss);
  t += duration_cast<sys_clock::duration>(frac);
  if (!lit('Z')) {
    if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return std::nullopt;
    const bool plus = s[pos++] == '+';
    int oh, om;
    if (!(digits(2, oh) && lit(':') && digits(2, om))) return std::nullopt;
    const auto offset = hours(oh) + minutes(om);
    t += plus ? -offset : offset;
  }
  if (pos != s.size()) return std::nullopt;
  return parsed_time{t, precision};
}

json::object to_json(const jobs::stats& s) {
  const json::value v = json::value_from(s);
  BOOST_TEST_REQUIRE(v.is_object());
  // Whatever value_from gives must also survive a text round trip.
  const json::value round_trip = json::parse(json::serialize(v));
  BOOST_TEST((round_trip == v));
  return v.as_object();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stats)

BOOST_AUTO_TEST_CASE(the_parser_used_here_is_sound) {
  const auto a = parse_rfc3339("1970-01-01T00:00:01.5Z");
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST((a->t == sys_clock::time_point{} + 1500ms));
  const auto b = parse_rfc3339("1970-01-01T01:00:00+01:00");
  BOOST_TEST_REQUIRE(b.has_value());
  BOOST_TEST((b->t == sys_clock::time_point{}));
  BOOST_TEST(!parse_rfc3339("1970-01-01 00:00:00Z"));
  BOOST_TEST(!parse_rfc3339("1970-13-01T00:00:00Z"));
  BOOST_TEST(!parse_rfc3339("1970-01-01T00:00:00"));
}

BOOST_AUTO_TEST_CASE(before_the_first_run) {
  asio::io_context io;
  jobs::job j(io, "s0", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  const jobs::stats s = j.stats();
  BOOST_TEST(s.id == "s0");
  BOOST_TEST(s.state == state::created);
  BOOST_TEST(s.progress == -1.0);
  BOOST_TEST((s.started_at == sys_clock::time_point{}));
  BOOST_TEST(s.execution_time.count() == 0);
  BOOST_TEST(s.labels.empty());
  BOOST_TEST(s.error.empty());

  const auto o = to_json(s);
  for (const char* key : {"id", "state", "progress", "started_at", "execution_time", "labels", "error"})
    BOOST_TEST(o.contains(key), key);
  BOOST_TEST(o.at("id") == "s0");
  BOOST_TEST(o.at("state") == "created");
  BOOST_TEST_REQUIRE(o.at("progress").is_number());
  BOOST_TEST(o.at("progress").to_number<double>() == -1.0);
  BOOST_TEST(o.at("started_at").is_null());
  BOOST_TEST_REQUIRE((o.at("execution_time").is_int64() || o.at("execution_time").is_uint64()));
  BOOST_TEST(o.at("execution_time").to_number<std::int64_t>() == 0);
  BOOST_TEST_REQUIRE(o.at("labels").is_object());
  BOOST_TEST(o.at("labels").as_object().empty());
  BOOST_TEST(json::serialize(o.at("labels")) == "{}");
  BOOST_TEST(o.at("error") == "");
}

BOOST_AUTO_TEST_CASE(after_a_successful_run) {
  asio::io_context io;
  jobs::job j(
      io, "s1",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        asio::steady_timer t(ctx.get_executor(), 2ms);
        co_await t.async_wait(asio::use_awaitable);
        ctx.set_progress(0.75);
      },
      jobs::with_label("env", "prod"), jobs::with_label("team", "core"));
  BOOST_TEST(j.run());
  io.run();
  const jobs::stats s = j.stats();
  BOOST_TEST(s.state == state::succeeded);
  BOOST_TEST(s.progress == 0.75);
  BOOST_TEST((s.started_at == j.started_at()));
  BOOST_TEST((s.execution_time == j.execution_time()));
  BOOST_TEST(s.execution_time >= 2ms);
  BOOST_TEST((s.labels == j.labels()));

  const auto o = to_json(s);
  BOOST_TEST(o.at("id") == "s1");
  BOOST_TEST(o.at("state") == "succeeded");
  BOOST_TEST(o.at("progress").to_number<double>() == 0.75);
  BOOST_TEST_REQUIRE(o.at("started_at").is_string());
  const std::string text(o.at("started_at").as_string());
  const auto parsed = parse_rfc3339(text);
  BOOST_TEST_REQUIRE(parsed.has_value(), "not RFC 3339: " << text);
  const auto diff = parsed->t - s.started_at;
  BOOST_TEST((diff <= parsed->precision && -diff <= parsed->precision), text);
  BOOST_TEST_REQUIRE((o.at("execution_time").is_int64() || o.at("execution_time").is_uint64()));
  BOOST_TEST(o.at("execution_time").to_number<std::int64_t>() == s.execution_time.count());
  BOOST_TEST_REQUIRE(o.at("labels").is_object());
  const auto& labels = o.at("labels").as_object();
  BOOST_TEST(labels.size() == 2u);
  BOOST_TEST(labels.at("env") == "prod");
  BOOST_TEST(labels.at("team") == "core");
  BOOST_TEST(o.at("error") == "");
}

BOOST_AUTO_TEST_CASE(after_a_failed_run) {
  asio::io_context io;
  jobs::job j(io, "s2", [](jobs::context&) -> asio::awaitable<void> {
    throw std::runtime_error("stats error");
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  const jobs::stats s = j.stats();
  BOOST_TEST(s.state == state::failed);
  BOOST_TEST(s.error == "stats error");
  const auto o = to_json(s);
  BOOST_TEST(o.at("state") == "failed");
  BOOST_TEST(o.at("error") == "stats error");
}

BOOST_AUTO_TEST_CASE(while_running_and_canceling) {
  asio::io_context io;
  jobs::job j(io, "s3", [](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(0.5);
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST(j.run());
  io.poll();
  auto o = to_json(j.stats());
  BOOST_TEST(o.at("state") == "running");
  BOOST_TEST(o.at("progress").to_number<double>() == 0.5);
  BOOST_TEST(o.at("started_at").is_string());
  BOOST_TEST(o.at("execution_time").to_number<std::int64_t>() >= 0);
  BOOST_TEST(j.cancel());
  o = to_json(j.stats());
  BOOST_TEST(o.at("state") == "canceling");
  io.run();
  o = to_json(j.stats());
  BOOST_TEST(o.at("state") == "canceled");
  BOOST_TEST(std::string(o.at("error").as_string()).find("canceled") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_state_name_reaches_the_json) {
  for (state st :
       {state::created, state::running, state::canceling, state::succeeded, state::failed, state::canceled}) {
    jobs::stats s;
    s.id = "x";
    s.state = st;
    const auto o = to_json(s);
    BOOST_TEST(o.at("state") == json::string(jobs::to_string(st)));
  }
}

BOOST_AUTO_TEST_CASE(label_text_is_escaped_properly) {
  jobs::stats s;
  s.id = "quote\"id";
  s.labels = {{"k\"ey", "va\\lue\n"}, {"", "empty key"}};
  s.error = "line1\nline2";
  const auto o = to_json(s);
  BOOST_TEST(o.at("id") == "quote\"id");
  BOOST_TEST(o.at("labels").as_object().at("k\"ey") == "va\\lue\n");
  BOOST_TEST(o.at("labels").as_object().at("") == "empty key");
  BOOST_TEST(o.at("error") == "line1\nline2");
}

BOOST_AUTO_TEST_CASE(format_rfc3339_round_trips) {
  using namespace std::chrono;
  const sys_clock::time_point samples[] = {
      sys_clock::time_point{} + 1s + 5us,
      sys_clock::time_point{sys_days{2000y / February / 29}.time_since_epoch()} + 23h + 59min + 59s,
      sys_clock::time_point{sys_days{2026y / November / 29}.time_since_epoch()} + 18h + 123456789ns,
      time_point_cast<sys_clock::duration>(sys_clock::now()),
  };
  for (auto t : samples) {
    const std::string text = jobs::format_rfc3339(t);
    const auto parsed = parse_rfc3339(text);
    BOOST_TEST_REQUIRE(parsed.has_value(), "not RFC 3339: " << text);
    const auto diff = parsed->t - t;
    BOOST_TEST((diff <= parsed->precision && -diff <= parsed->precision), text);
  }
  const std::string leap = jobs::format_rfc3339(
      sys_clock::time_point{sys_days{2000y / February / 29}.time_since_epoch()} + 23h + 59min + 59s);
  BOOST_TEST(leap.rfind("2000-02-29T23:59:59", 0) == 0u, leap);
}

BOOST_AUTO_TEST_SUITE_END()
