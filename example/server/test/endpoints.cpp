// quote_service's endpoints and every error status, and its retry policy, seen from a real
// client and counted at the upstream.
#include "service_process.hpp"

#include <boost/test/unit_test.hpp>

#include <set>

using namespace quote_test;

namespace {

std::uint64_t upstream_calls(const service_process& s, const std::string& symbol) {
  return get_object(s.upstream_port(), "/stats?symbol=" + symbol)
      .at("symbol_requests")
      .to_number<std::uint64_t>();
}

std::string error_code(const reply& r) { return std::string(r.json().at("error").at("code").as_string()); }

}  // namespace

BOOST_AUTO_TEST_SUITE(quote_service_endpoints)

BOOST_AUTO_TEST_CASE(quote_cache_health_and_errors) {
  service_process s({"--upstream-fail-rate", "0", "--upstream-latency-ms", "1", "--refresh-ms", "200"});

  for (const std::string path : {"/quote", "/bare/quote"}) {
    auto r = get(s.port(), path + "?symbol=ACME");
    BOOST_TEST(r.status == 200u, path << ": " << r.body);
    auto o = r.json().as_object();
    BOOST_TEST(o.at("symbol").as_string() == "ACME");
    BOOST_TEST(o.at("price").to_number<double>() > 0);
    BOOST_TEST(o.at("attempts").to_number<int>() == 1);
    BOOST_TEST(o.at("via").as_string() == (path == "/quote" ? "jobs" : "bare"));
    BOOST_TEST(r.headers["x-attempts"] == "1");
    BOOST_TEST(r.headers[http::field::content_type] == "application/json");

    r = get(s.port(), path);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(error_code(r) == "bad_symbol");
    BOOST_TEST(r.body.find("missing") != std::string::npos, r.body);
    r = get(s.port(), path + "?symbol=ac%20me");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("A-Z and 0-9") != std::string::npos, r.body);
    r = get(s.port(), path + "?symbol=ABCDEFGHIJK");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("longer than 10") != std::string::npos, r.body);
    r = request(s.port(), http::verb::post, path + "?symbol=ACME");
    BOOST_TEST(r.status == 405u);
    BOOST_TEST(r.headers[http::field::allow] == "GET");
  }

  auto r = get(s.port(), "/nowhere");
  BOOST_TEST(r.status == 404u);
  BOOST_TEST(error_code(r) == "not_found");
  BOOST_TEST(get(s.port(), "/healthz").status == 200u);

  // The cache-refresh job fills the cache from the upstream (every 200 ms here).
  BOOST_TEST(
      eventually([&] { return get_object(s.port(), "/cache").at("refreshes").to_number<int>() >= 2; }));
  auto cache = get_object(s.port(), "/cache");
  BOOST_TEST(cache.at("prices").as_object().size() == 4u);
  BOOST_TEST(cache.at("prices").at("ACME").to_number<double>() > 0);

  // Bad requests: a clear 4xx, and the connection is closed.
  r = raw_request(s.port(), "GET /quote?symbol=ACME HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') +
                                "\r\n\r\n");
  BOOST_TEST(r.status == 431u);
  BOOST_TEST(error_code(r) == "header_too_large");
  r = raw_request(s.port(), "POST /quote HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n");
  BOOST_TEST(r.status == 413u);
  BOOST_TEST(error_code(r) == "body_too_large");
  r = raw_request(s.port(), "GET /quote HTTP/1.1\r\nHost x\r\n\r\n");
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(error_code(r) == "bad_request");

  auto counts = get_object(s.port(), "/debug/counts");
  BOOST_TEST(counts.at("quote_jobs_registered").to_number<int>() == 0);
  BOOST_TEST(counts.at("registry_size").to_number<int>() == 2);  // the two background jobs
}

#ifdef QUOTE_WITH_ADMIN
BOOST_AUTO_TEST_CASE(jobs_admin_is_mounted) {
  service_process s({"--upstream-fail-rate", "0", "--upstream-latency-ms", "1", "--batch-step-ms", "20"});
  auto list = get(s.port(), "/jobs?selector=kind%3Dbackground");
  BOOST_TEST_REQUIRE(list.status == 200u, list.body);
  std::set<std::string> ids;
  const auto jobs = list.json();
  for (const auto& j : jobs.as_array()) ids.insert(std::string(j.at("id").as_string()));
  BOOST_TEST((ids == std::set<std::string>{"batch-report", "cache-refresh"}));
  BOOST_TEST(eventually(
      [&] { return get_object(s.port(), "/jobs/batch-report").at("progress").to_number<double>() > 0; }));
  auto one = get(s.port(), "/jobs/cache-refresh");
  BOOST_TEST(one.status == 200u);
  BOOST_TEST(one.json().as_object().contains("executor"), one.body);
  BOOST_TEST(get(s.port(), "/jobs/no-such-job").status == 404u);
  BOOST_TEST(get(s.port(), "/jobs?selector=%3D%3D").status == 400u);
  auto metrics = get(s.port(), "/jobs/metrics");
  BOOST_TEST(metrics.status == 200u);
  BOOST_TEST(metrics.body.find("# TYPE") != std::string::npos);
}
#endif

// 5xx and timeouts are retried (with_retry + with_backoff + retry_if), 4xx are not: counted at
// the upstream, for the jobs::executor and the bare loop alike.
BOOST_AUTO_TEST_CASE(retry_policy_at_the_upstream) {
  service_process s({"--upstream-fail-rate", "0", "--upstream-latency-ms", "1", "--attempts", "4",
                     "--upstream-timeout-ms", "200", "--refresh-ms", "600000"});
  for (const std::string path : {"/quote", "/bare/quote"}) {
    BOOST_TEST_CONTEXT(path) {
      auto before = upstream_calls(s, "DOWN");
      auto r = get(s.port(), path + "?symbol=DOWN");  // always 503
      BOOST_TEST(r.status == 502u);
      BOOST_TEST(error_code(r) == "upstream_failed");
      BOOST_TEST(r.headers["x-attempts"] == "4");
      BOOST_TEST(upstream_calls(s, "DOWN") - before == 4u);

      before = upstream_calls(s, "AB12");
      r = get(s.port(), path + "?symbol=AB12");  // 404 unknown symbol: not retried
      BOOST_TEST(r.status == 404u);
      BOOST_TEST(error_code(r) == "upstream_rejected");
      BOOST_TEST(r.headers["x-attempts"] == "1");
      BOOST_TEST(upstream_calls(s, "AB12") - before == 1u);

      before = upstream_calls(s, "SLOW");
      const auto t0 = std::chrono::steady_clock::now();
      r = get(s.port(), path + "?symbol=SLOW");  // never answers: 4 timeouts of 200 ms
      const auto took = std::chrono::steady_clock::now() - t0;
      BOOST_TEST(r.status == 504u, r.body);
      BOOST_TEST(error_code(r) == "upstream_timeout");
      BOOST_TEST(r.headers["x-attempts"] == "4");
      BOOST_TEST(upstream_calls(s, "SLOW") - before == 4u);
      BOOST_TEST((took >= std::chrono::milliseconds(800)));
      BOOST_TEST((took < std::chrono::seconds(10)));
      // Every timed-out call was aborted: the upstream holds no connection for them.
      BOOST_TEST(eventually(
          [&] { return get_object(s.upstream_port(), "/stats").at("in_flight").to_number<int>() == 0; }));
    }
  }
}

// Under a 50% failure rate, 20 attempts absorb every failure (0.5^20 per request).
BOOST_AUTO_TEST_CASE(failures_are_absorbed) {
  service_process s({"--upstream-fail-rate", "0.5", "--upstream-latency-ms", "1", "--attempts", "20",
                     "--refresh-ms", "600000"});
  for (const std::string path : {"/quote", "/bare/quote"}) {
    const auto before = upstream_calls(s, "ZETA");
    int attempts = 0;
    for (int i = 0; i < 60; ++i) {
      auto r = get(s.port(), path + "?symbol=ZETA");
      BOOST_TEST_REQUIRE(r.status == 200u, path << ": " << r.body);
      attempts += std::stoi(r.headers["x-attempts"]);
    }
    BOOST_TEST(attempts > 60);  // some were retried (P(none) = 0.5^60)
    BOOST_TEST(upstream_calls(s, "ZETA") - before == static_cast<std::uint64_t>(attempts));
  }
}

BOOST_AUTO_TEST_CASE(bad_flags_are_refused) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--upstream-fail-rate", "1.5"}, "--upstream-fail-rate must be in [0, 1]"},
      {{"--port", "70000"}, "--port must be 0-65535"},
      {{"--attempts", "0"}, "--attempts must be 1-64"},
      {{"--grace-ms", "x"}, "bad number for --grace-ms: x"},
      {{"--upstream-latency-ms", "5ms"}, "bad number for --upstream-latency-ms: 5ms"},
      {{"--bogus", "1"}, "unknown option --bogus"},
      {{"--upstream-bin", "/nonexistent/up"}, "/nonexistent/up is not executable"},
  };
  for (const auto& [flags, message] : cases) {
    try {
      service_process s{flags};
      BOOST_ERROR("started with " << flags[0] << " " << flags[1]);
    } catch (const std::runtime_error& e) {
      BOOST_TEST(std::string(e.what()).find(message) != std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
