// SIGTERM during load: the requests in flight finish (200) within the grace period, new
// connections are refused while they do, and the process exits 0.
#include "service_process.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <memory>
#include <thread>

using namespace quote_test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

struct outcome {
  unsigned status = 0;  // 0: no response (connection refused, reset or closed)
  clock_type::time_point sent, done;
};

// One request on its own connection.
asio::awaitable<void> one(tcp::endpoint ep, std::string target, outcome& out) {
  tcp::socket s(co_await asio::this_coro::executor);
  auto [cec] = co_await s.async_connect(ep, asio::as_tuple(asio::use_awaitable));
  out.sent = clock_type::now();
  if (cec) {
    out.done = clock_type::now();
    co_return;
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "x");
  auto [wec, wn] = co_await http::async_write(s, req, asio::as_tuple(asio::use_awaitable));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  if (!wec) {
    auto [rec, rn] = co_await http::async_read(s, buf, res, asio::as_tuple(asio::use_awaitable));
    if (!rec) out.status = res.result_int();
  }
  out.done = clock_type::now();
}

// Requests one after the other, each on a new connection, until `stop` or `deadline`.
asio::awaitable<void> looper(tcp::endpoint ep, std::vector<outcome>& outs, const std::atomic<bool>& stop) {
  while (!stop) {
    outcome o;
    co_await one(ep, "/quote?symbol=GLOBX", o);
    outs.push_back(o);
    if (o.status == 0) {  // refused: wait a little before the next try
      asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
      co_await t.async_wait(asio::use_awaitable);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(quote_service_sigterm)

BOOST_AUTO_TEST_CASE(sigterm_during_load_drains_and_exits_0) {
  constexpr int in_flight = 64;
  constexpr auto grace = 4000ms;
  // 300 ms per upstream call: six attempts and their backoff take < 2.2 s, inside the grace.
  service_process s({"--upstream-fail-rate", "0.2", "--upstream-latency-ms", "300", "--grace-ms", "4000",
                     "--refresh-ms", "600000", "--batch-step-ms", "100"});
  const tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), s.port()};

  asio::io_context io;
  std::vector<outcome> pinned(in_flight);
  std::vector<std::vector<outcome>> loops(8);
  std::atomic<bool> stop{false};
  for (auto& o : pinned) asio::co_spawn(io, one(ep, "/quote?symbol=ACME", o), asio::detached);
  for (auto& l : loops) asio::co_spawn(io, looper(ep, l, stop), asio::detached);
  std::thread runner([&] { io.run(); });
  struct join_on_exit {  // also when a REQUIRE fails
    asio::io_context& io;
    std::thread& t;
    ~join_on_exit() {
      if (t.joinable()) {
        io.stop();
        t.join();
      }
    }
  } joiner{io, runner};

  // The 64 (and the loops' 8) are in flight at the upstream: then SIGTERM.
  BOOST_TEST_REQUIRE(eventually([&] {
    return get_object(s.port(), "/debug/counts").at("in_flight").to_number<int>() >= in_flight + 8;
  }));
  const auto term = clock_type::now();
  s.signal(SIGTERM);

  // New connections are refused while the requests in flight are still being served.
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    asio::io_context c;
    tcp::socket sock(c);
    boost::system::error_code ec;
    sock.connect(ep, ec);
    refused = ec == asio::error::connection_refused;
    if (!refused) std::this_thread::sleep_for(10ms);
  }
  const auto refused_at = clock_type::now();
  BOOST_TEST(refused);
  BOOST_TEST(s.running());  // still draining when it refuses
  BOOST_TEST((refused_at - term < 1s));

  const auto status = s.wait_exit(grace + 10s);
  const auto exited = clock_type::now();
  stop = true;
  runner.join();
  BOOST_TEST_REQUIRE(status.has_value(), "still running 10 s after the grace period");
  BOOST_TEST(*status == 0, s.output());
  BOOST_TEST(s.output().find("drained in") != std::string::npos, s.output());
  // The drain waited the grace period for the batch job (which does not end on its own).
  BOOST_TEST((exited - term < grace + 5s));

  // Every request in flight at the SIGTERM ended 200, within the grace period.
  for (const auto& o : pinned) {
    BOOST_TEST(o.status == 200u);
    BOOST_TEST((o.done - term < grace));
  }
  // The loops: 200 before the SIGTERM; after it 200 (in flight), 503 (a request on a connection
  // being drained) or no response (refused) — never anything else.
  int refusals = 0;
  for (const auto& l : loops)
    for (const auto& o : l) {
      if (o.done < term) BOOST_TEST(o.status == 200u);
      BOOST_TEST((o.status == 200u || o.status == 503u || o.status == 0u));
      if (o.sent > refused_at) BOOST_TEST(o.status == 0u);
      refusals += o.status == 0;
    }
  BOOST_TEST(refusals > 0);
}

BOOST_AUTO_TEST_SUITE_END()
