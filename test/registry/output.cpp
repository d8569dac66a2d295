// jobs::registry's output: stats() as JSON, print() as a kubectl-like table (and its AGE, kubectl's
// HumanDuration), the drain report's JSON.
#include "registry_helpers.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <sstream>

using namespace reg_test;

BOOST_AUTO_TEST_SUITE(registry_output)

BOOST_AUTO_TEST_CASE(stats_is_a_json_array_in_select_order_with_executor_stats) {
  asio::io_context io;
  jobs::registry reg(io);
  auto calls = std::make_shared<std::atomic<int>>(0);
  jobs::job a(io, "a", quick(), jobs::with_label("tier", "batch"));
  jobs::job b(io, "b", failing(calls), jobs::with_label("tier", "batch"));
  jobs::executor eb(b, jobs::with_retry(2, 0ms));
  jobs::job c(io, "c", quick(), jobs::with_label("tier", "web"));
  reg.add(a);
  reg.add(eb);
  reg.add(c);
  finished start;
  eb.async_start(start.handler());
  run_all(io);

  const boost::json::array all = reg.stats();
  BOOST_TEST_REQUIRE(all.size() == 3u);
  const boost::json::array batch = reg.stats("tier=batch");
  BOOST_TEST_REQUIRE(batch.size() == 2u);
  // a and c never ran (epoch): first, by id; b ran.
  BOOST_TEST(all[0].at("id") == "a");
  BOOST_TEST(all[1].at("id") == "c");
  BOOST_TEST(all[2].at("id") == "b");
  BOOST_TEST(all[2].at("state") == "failed");
  BOOST_TEST(all[2].at("error") == "failure 2");
  BOOST_TEST(all[2].at("labels").at("tier") == "batch");
  BOOST_TEST_REQUIRE(all[2].as_object().contains("executor"));
  BOOST_TEST(all[2].at("executor").at("retries") == 2);
  BOOST_TEST(all[2].at("executor").at("starts") == 1);
  BOOST_TEST(!all[0].as_object().contains("executor"));
  for (const auto& v : all)
    for (const char* key : {"id", "state", "progress", "started_at", "execution_time", "labels", "error"})
      BOOST_TEST(v.as_object().contains(key), key);
  BOOST_TEST(reg.stats(jobs::selector::parse("tier=none")).empty());
}

BOOST_AUTO_TEST_CASE(print_is_a_kubectl_like_table) {
  asio::io_context io;
  jobs::registry reg(io);
  auto calls = std::make_shared<std::atomic<int>>(0);
  jobs::job web(io, "web-1", quick(), jobs::with_labels({{"tier", "web"}, {"env", "prod"}}));
  jobs::job bad(io, "bad\njob", failing(calls));
  jobs::executor bad_exec(bad, jobs::with_retry(3, 0ms));
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  jobs::job up(io, "upload", [g](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(0.42);
    co_await g->wait();
  });
  jobs::job never(io, "never", quick());
  reg.add(web);
  reg.add(bad_exec);
  reg.add(up);
  reg.add(never);
  BOOST_TEST_REQUIRE(web.run());
  run_all(io);
  finished s;
  bad_exec.async_start(s.handler());
  run_all(io);
  BOOST_TEST_REQUIRE(up.run());
  run_until(io, [&] { return g->waiting() == 1; });

  std::ostringstream os;
  reg.print(os);
  const std::string table = os.str();
  BOOST_TEST_MESSAGE("\n" << table);
  std::vector<std::string> lines;
  std::istringstream in(table);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  BOOST_TEST_REQUIRE(lines.size() == 5u, table);
  // Header: the columns, each starting where its cells start.
  const std::string& h = lines[0];
  const std::vector<std::string> columns{"ID",   "LABELS",  "STATE", "PROGRESS",
                                         "RUNS", "RETRIES", "AGE",   "ERROR"};
  std::vector<std::size_t> at;
  for (const auto& c : columns) {
    at.push_back(h.find(c));
    BOOST_TEST_REQUIRE(at.back() != std::string::npos, c);
  }
  BOOST_TEST(std::is_sorted(at.begin(), at.end()));
  BOOST_TEST(at[0] == 0u);
  const auto field = [&](const std::string& line, std::size_t col) {
    if (at[col] >= line.size()) return std::string();  // an empty last cell (no trailing blanks)
    const std::size_t end = col + 1 < at.size() ? at[col + 1] : line.size();
    std::string f = line.substr(at[col], end - at[col]);
    while (!f.empty() && f.back() == ' ') f.pop_back();
    return f;
  };
  // Rows in select order: never (epoch), then web-1, bad\njob, upload by start time.
  BOOST_TEST(field(lines[1], 0) == "never");
  BOOST_TEST(field(lines[1], 1) == "<none>");
  BOOST_TEST(field(lines[1], 2) == "created");
  BOOST_TEST(field(lines[1], 3) == "-");
  BOOST_TEST(field(lines[1], 4) == "0");
  BOOST_TEST(field(lines[1], 5) == "-");
  const std::string age = field(lines[1], 6);  // "0s" unless the machine is very slow
  BOOST_TEST((age.size() >= 2 && age.back() == 's' && std::isdigit(static_cast<unsigned char>(age[0]))), age);
  BOOST_TEST(field(lines[1], 7) == "");

  BOOST_TEST(field(lines[2], 0) == "web-1");
  BOOST_TEST(field(lines[2], 1) == "env=prod,tier=web");
  BOOST_TEST(field(lines[2], 2) == "succeeded");
  BOOST_TEST(field(lines[2], 4) == "1");

  BOOST_TEST(field(lines[3], 0) == "bad\\njob");  // escaped: one line per job
  BOOST_TEST(field(lines[3], 2) == "failed");
  BOOST_TEST(field(lines[3], 4) == "3");  // one run per attempt
  BOOST_TEST(field(lines[3], 5) == "3");
  BOOST_TEST(field(lines[3], 7) == "failure 3");

  BOOST_TEST(field(lines[4], 0) == "upload");
  BOOST_TEST(field(lines[4], 2) == "running");
  BOOST_TEST(field(lines[4], 3) == "42%");
  BOOST_TEST(field(lines[4], 4) == "1");  // exact while a run is pending

  std::ostringstream only_web;
  reg.print(only_web, "tier=web");
  BOOST_TEST(only_web.str().find("web-1") != std::string::npos);
  BOOST_TEST(only_web.str().find("upload") == std::string::npos);
  std::ostringstream none;
  reg.print(none, jobs::selector::parse("tier=none"));
  const std::string header_only = none.str();
  BOOST_TEST(header_only.rfind("ID", 0) == 0u);
  BOOST_TEST(std::count(header_only.begin(), header_only.end(), '\n') == 1);
  g->open();
  run_all(io);
}

BOOST_AUTO_TEST_CASE(age_is_kubectls_human_duration) {
  using namespace std::chrono;
  struct row {
    nanoseconds d;
    const char* want;
  };
  // The rules of k8s.io/apimachinery/pkg/util/duration.HumanDuration, at and around each edge.
  const std::vector<row> rows{
      {-3s, "<invalid>"},
      {-1500ms, "0s"},
      {0s, "0s"},
      {999ms, "0s"},
      {1s, "1s"},
      {70s, "70s"},
      {119s, "119s"},
      {120s, "2m"},
      {190s, "3m10s"},
      {9min + 59s, "9m59s"},
      {10min, "10m"},
      {70min, "70m"},
      {179min, "179m"},
      {3h, "3h"},
      {3h + 5min, "3h5m"},
      {7h + 59min, "7h59m"},
      {8h, "8h"},
      {47h, "47h"},
      {48h, "2d"},
      {49h, "2d1h"},
      {(7 * 24 + 23) * 1h, "7d23h"},
      {(8 * 24 + 2) * 1h, "8d"},
      {(367 * 24) * 1h, "367d"},
      {(2 * 365 * 24) * 1h, "2y"},
      {(2 * 365 * 24 + 25) * 1h, "2y1d"},
      {(8 * 365 * 24 + 2) * 1h, "8y"},
      {nanoseconds::max(), "292y"},
  };
  for (const auto& r : rows) BOOST_TEST(jobs::detail::human_duration(r.d) == r.want, r.d.count() << " ns");
}

BOOST_AUTO_TEST_CASE(drain_report_json) {
  jobs::drain_report r;
  r.ended = 3;
  r.canceled = 2;
  r.still_running = {"a", "b"};
  r.duration = 1500ms;
  BOOST_TEST(boost::json::serialize(boost::json::value_from(r)) ==
             R"({"ended":3,"canceled":2,"still_running":["a","b"],"duration":1500000000})");
}

BOOST_AUTO_TEST_SUITE_END()
