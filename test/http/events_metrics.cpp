// jobs::http's event stream and metrics through serve_admin: SSE with coalescing, every run end,
// a bounded backlog for slow clients, watches cancelled when the client goes; the metrics text
// checked by `promtool check metrics`.
#include "http_fixture.hpp"

#include <jobs/executor.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

using namespace http_test;

namespace {

/// An SSE client: sends the request and reads the raw stream.
struct sse_reader {
  asio::io_context ioc;
  tcp::socket s{ioc};
  std::string data;

  sse_reader(unsigned short port, std::string target, int rcvbuf = 0) {
    s.open(tcp::v4());
    if (rcvbuf) ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{30, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    s.connect({asio::ip::address_v4::loopback(), port});
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    asio::write(s, asio::buffer(req));
  }
  /// Reads until `text` has arrived; false on EOF or the 30 s receive timeout.
  bool read_until(const std::string& text) {
    while (data.find(text) == std::string::npos) {
      if (!read_more()) return false;
    }
    return true;
  }
  bool read_more() {
    char buf[4096];
    boost::system::error_code ec;
    const auto n = s.read_some(asio::buffer(buf), ec);
    if (ec) return false;
    data.append(buf, n);
    return true;
  }
  std::size_t count(const std::string& text) const {
    std::size_t n = 0;
    for (auto at = data.find(text); at != std::string::npos; at = data.find(text, at + 1)) ++n;
    return n;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(http_events)

BOOST_AUTO_TEST_CASE(stream_has_snapshot_changes_and_every_run_end) {
  server srv;
  jobs::executor ex(jobs::job(srv.ioc, "fast", quick(), jobs::with_label("k", "v")));
  srv.reg.add(ex);
  srv.reg.add(jobs::job(srv.ioc, "other", quick(), jobs::with_label("k", "w")));
  srv.start();

  sse_reader r(srv.port(), "/jobs/events?selector=k%3Dv");
  BOOST_REQUIRE(r.read_until("\r\n\r\n"));
  BOOST_TEST(r.data.starts_with("HTTP/1.1 200"));
  BOOST_TEST(r.data.find("Content-Type: text/event-stream") != std::string::npos);
  BOOST_REQUIRE(r.read_until("event: snapshot\n"));
  BOOST_REQUIRE(r.read_until("\"id\":\"fast\""));
  BOOST_REQUIRE(eventually([&] { return srv.metric("jobs_http_event_stream_watches") == 1; }));

  // Ten runs, one after another: ten "end" events, none lost to coalescing.
  for (int i = 0; i < 10; ++i) {
    std::promise<void> done;
    ex.async_start([&](std::exception_ptr) { done.set_value(); });
    done.get_future().wait();
  }
  while (r.count("event: end\n") < 10 && r.read_more()) {
  }
  BOOST_TEST(r.count("event: end\n") == 10u);
  BOOST_TEST(r.data.find("\"id\":\"other\"") == std::string::npos);  // not selected
}

BOOST_AUTO_TEST_CASE(progress_changes_are_coalesced) {
  server srv;
  // 2000 progress updates in one go (no yield between them): far fewer events reach the client.
  srv.reg.add(jobs::job(srv.ioc, "busy", [](jobs::context& ctx) -> asio::awaitable<void> {
    for (int i = 1; i <= 2000; ++i) ctx.set_progress(i / 2000.0);
    co_return;
  }));
  srv.start();
  sse_reader r(srv.port(), "/jobs/events");
  BOOST_REQUIRE(r.read_until("event: snapshot\n"));
  BOOST_REQUIRE(eventually([&] { return srv.metric("jobs_http_event_stream_watches") == 1; }));
  const auto s = srv.post("/jobs/busy/start").status;
  BOOST_TEST((s == 202u || s == 200u));
  BOOST_REQUIRE(r.read_until("event: end\n"));
  BOOST_TEST(r.data.find("\"state\":\"succeeded\"") != std::string::npos);
  BOOST_TEST(r.count("event: job\n") < 200u);
}

BOOST_AUTO_TEST_CASE(client_gone_cancels_its_watches) {
  server srv;
  for (int i = 0; i < 5; ++i) srv.reg.add(jobs::job(srv.ioc, "j" + std::to_string(i), quick()));
  srv.start();
  {
    sse_reader r(srv.port(), "/jobs/events");
    BOOST_REQUIRE(r.read_until("event: snapshot\n"));
    BOOST_REQUIRE(eventually([&] { return srv.metric("jobs_http_event_stream_watches") == 5; }));
    BOOST_TEST(srv.metric("jobs_http_event_streams") == 1);
  }  // the client closes its socket
  BOOST_TEST(eventually([&] { return srv.metric("jobs_http_event_stream_watches") == 0; }));
  BOOST_TEST(srv.metric("jobs_http_event_streams") == 0);
}

BOOST_AUTO_TEST_CASE(a_client_that_does_not_read_is_dropped) {
  jobs::http::options o;
  o.sse_max_backlog = 64 * 1024;
  o.write_timeout = 2s;
  server srv(o);
  const std::string big(32 * 1024, 'x');  // every run end carries a 32 KiB error
  jobs::job j(srv.ioc, "noisy", failing(big));
  srv.reg.add(j);
  srv.start();
  sse_reader r(srv.port(), "/jobs/events", 4096);
  BOOST_REQUIRE(r.read_until("event: snapshot\n"));
  BOOST_REQUIRE(eventually([&] { return srv.metric("jobs_http_event_stream_watches") == 1; }));
  // Never read again: run ends pile up until the backlog limit or the write timeout drops it.
  bool dropped = false;
  for (int i = 0; i < 2000 && !dropped; ++i) {
    std::promise<void> done;
    j.async_run([&](std::exception_ptr) { done.set_value(); });
    done.get_future().wait();
    dropped = srv.metric("jobs_http_event_streams") == 0;
  }
  BOOST_TEST(eventually([&] { return srv.metric("jobs_http_event_streams") == 0; }));
  BOOST_TEST(srv.metric("jobs_http_event_stream_watches") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_metrics)

BOOST_AUTO_TEST_CASE(metrics_pass_promtool_and_count_runs_retries_refusals) {
  server srv;
  int calls = 0;
  jobs::executor flaky(jobs::job(srv.ioc, "flaky",
                                 [&calls](jobs::context&) -> asio::awaitable<void> {
                                   if (++calls < 3) throw std::runtime_error("try again");
                                   co_return;
                                 }),
                       jobs::with_retry(5, 1ms));
  srv.reg.add(flaky);
  jobs::job odd(srv.ioc, "we\"ird\\id\nx", failing("boom"));
  srv.reg.add(odd);
  srv.admin->track();
  srv.start();
  BOOST_REQUIRE(eventually([&] { return srv.metric("jobs_http_event_stream_watches") == 0; }));

  std::promise<void> done;
  flaky.async_start([&](std::exception_ptr) { done.set_value(); });
  done.get_future().wait();
  std::promise<void> done2;
  odd.async_run([&](std::exception_ptr) { done2.set_value(); });
  done2.get_future().wait();
  BOOST_TEST(srv.post("/jobs/flaky/cancel").status == 200u);

  BOOST_REQUIRE(
      eventually([&] { return srv.metric("jobs_runs_total{job=\"flaky\",outcome=\"succeeded\"}") == 1; }));
  BOOST_TEST(srv.metric("jobs_runs_total{job=\"flaky\",outcome=\"failed\"}") == 2);
  BOOST_TEST(srv.metric("jobs_retries_total{job=\"flaky\"}") == 2);
  BOOST_TEST(srv.metric("jobs_executor_starts_total{job=\"flaky\",outcome=\"succeeded\"}") == 1);
  BOOST_TEST(srv.metric("jobs_run_duration_seconds_count{job=\"flaky\"}") == 3);
  BOOST_TEST(srv.metric("jobs_run_duration_seconds_bucket{job=\"flaky\",le=\"+Inf\"}") == 3);
  BOOST_TEST(srv.metric("jobs_in_progress") == 0);
  BOOST_TEST(srv.metric("jobs_registered") == 2);
  // Label values escaped per the exposition format.
  BOOST_TEST(srv.metric("jobs_runs_total{job=\"we\\\"ird\\\\id\\nx\",outcome=\"failed\"}") == 1);

  const auto res = srv.get("/jobs/metrics");
  BOOST_TEST(res.fields[bhttp::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  const char* tmp = std::getenv("TMPDIR");
  const std::string file =
      std::string(tmp ? tmp : "/tmp") + "/jobs_http_metrics_" + std::to_string(::getpid()) + ".txt";
  { std::ofstream(file) << res.body; }
  const int rc = std::system(("promtool check metrics < " + file + " > " + file + ".out 2>&1").c_str());
  std::ifstream out(file + ".out");
  const std::string promtool_says((std::istreambuf_iterator<char>(out)), {});
  BOOST_TEST_INFO("promtool: " << promtool_says << "\n" << res.body);
  BOOST_TEST(rc == 0);
  std::remove(file.c_str());
  std::remove((file + ".out").c_str());
}

BOOST_AUTO_TEST_SUITE_END()
