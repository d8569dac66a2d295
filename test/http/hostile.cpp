// serve_admin against bad input: oversized bodies, headers and URLs, garbage, slow-loris
// clients. Each gets a clear 4xx or a closed connection within a bound, and the server goes on.
#include "http_fixture.hpp"

using namespace http_test;

namespace {

/// Sends `raw` and reads what the server answers until it closes (or `limit` passes).
std::string exchange(unsigned short port, const std::string& raw, std::chrono::seconds limit = 30s) {
  asio::io_context c;
  auto s = connect(c, port, limit);
  boost::system::error_code ec;
  asio::write(s, asio::buffer(raw), ec);
  std::string out;
  char buf[4096];
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

unsigned status_of(const std::string& response) {
  if (!response.starts_with("HTTP/1.1 ")) return 0;
  return static_cast<unsigned>(std::stoi(response.substr(9, 3)));
}

jobs::http::options tight() {
  jobs::http::options o;
  o.max_body = 1024;
  o.max_header = 2048;
  o.max_target = 512;
  o.read_timeout = 1s;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_hostile)

BOOST_AUTO_TEST_CASE(oversized_body_is_413) {
  server srv(tight());
  srv.reg.add(jobs::job(srv.ioc, "x", quick()));
  srv.start();
  auto r = srv.post("/jobs/x/start", "[" + std::string(4000, '1') + "]");
  BOOST_TEST(r.status == 413u);
  BOOST_TEST(r.code() == "payload_too_large");
  // Announced but not sent: refused from the header alone.
  const auto raw =
      exchange(srv.port(), "POST /jobs/x/start HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
  BOOST_TEST(status_of(raw) == 413u);
  BOOST_TEST(srv.get("/jobs/x").status == 200u);  // still serving
}

BOOST_AUTO_TEST_CASE(oversized_header_is_431_and_url_414) {
  server srv(tight());
  srv.start();
  const auto h =
      exchange(srv.port(), "GET /jobs HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  BOOST_TEST(status_of(h) == 431u);
  BOOST_TEST(h.find("\"header_too_large\"") != std::string::npos);
  auto u = srv.get("/jobs?selector=" + std::string(600, 'a'));
  BOOST_TEST(u.status == 414u);
  BOOST_TEST(u.code() == "uri_too_long");
}

BOOST_AUTO_TEST_CASE(garbage_is_400_and_closed) {
  server srv(tight());
  srv.start();
  for (const std::string& g :
       std::vector<std::string>{"HELLO\r\n\r\n", "GET /jobs HTTP/9.9\r\n\r\n", "GET  HTTP/1.1\r\n\r\n",
                                std::string("GET /jobs\0 HTTP/1.1\r\n\r\n", 23)}) {
    BOOST_TEST_CONTEXT(g) { BOOST_TEST(status_of(exchange(srv.port(), g)) == 400u); }
  }
  // A target that parses as HTTP but not as a URL path.
  auto r = srv.get("/jobs/%zz");
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(r.code() == "bad_target");
}

BOOST_AUTO_TEST_CASE(slow_loris_is_cut_off_within_the_read_timeout) {
  server srv(tight());
  srv.start();
  // Half a header, then silence: the server closes at read_timeout (1 s).
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = exchange(srv.port(), "GET /jobs HTTP/1.1\r\nHost: x\r\n");
  const auto waited = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(r.empty());
  BOOST_TEST((waited < 10s));
  BOOST_TEST((waited >= 900ms));

  // A trickle (one byte every 100 ms, never finishing the header) is cut off just the same: the
  // timeout covers the whole request, not each read.
  asio::io_context c;
  auto s = connect(c, srv.port());
  const std::string header = "GET /jobs HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'z');
  const auto t1 = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  for (char ch : header) {
    asio::write(s, asio::buffer(&ch, 1), ec);
    if (ec) break;
    std::this_thread::sleep_for(100ms);
    if (std::chrono::steady_clock::now() - t1 > 15s) break;
  }
  char b;
  s.read_some(asio::buffer(&b, 1), ec);  // the close (EOF or reset)
  BOOST_TEST(bool(ec));
  BOOST_TEST((std::chrono::steady_clock::now() - t1 < 12s));
  BOOST_TEST(srv.get("/jobs").status == 200u);
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_many_requests_on_one_connection) {
  server srv;
  srv.start();
  asio::io_context c;
  auto s = connect(c, srv.port());
  beast::flat_buffer buf;
  for (int i = 0; i < 20; ++i) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, i % 2 ? "/jobs" : "/jobs/none", 11};
    req.set(bhttp::field::host, "x");
    bhttp::write(s, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    BOOST_TEST(res.result_int() == (i % 2 ? 200u : 404u));
    BOOST_TEST(res.keep_alive());
  }
}

BOOST_AUTO_TEST_SUITE_END()
