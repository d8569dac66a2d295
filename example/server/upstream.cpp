// quote_upstream — the flaky upstream that example/server's quote_service calls: a small Beast
// HTTP server with a configurable latency and failure rate, and counters of what it is serving.
//
//   quote_upstream [--port N] [--latency-ms N] [--fail-rate F] [--seed N]
//
// Prints "upstream listening on 127.0.0.1:<port>" once it accepts (port 0 picks a free one).
//   GET /price?symbol=X   after the latency: 503 with probability F, else 200 {"symbol","price"}.
//                         X must be 1-5 letters A-Z (404 "unknown symbol" otherwise, never
//                         failed at random); DOWN always answers 503; SLOW answers after 10 min.
//   GET /stats            {"open_connections","in_flight","requests","failures",
//                         "symbol_requests"} — with ?symbol=X, symbol_requests counts X's calls.
// A client that hangs up while its answer is pending is noticed at once (the connection is
// closed and no longer counted). SIGINT/SIGTERM: exits 0.
#include <boost/asio.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct settings {
  unsigned short port = 0;
  std::chrono::milliseconds latency{10};
  double fail_rate = 0.2;
  std::uint64_t seed = std::random_device{}();
};

struct counters {
  std::int64_t open_connections = 0;
  std::int64_t in_flight = 0;
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  std::map<std::string, std::uint64_t, std::less<>> by_symbol;
};

struct scoped_count {
  std::int64_t& n;
  explicit scoped_count(std::int64_t& c) : n(c) { ++n; }
  ~scoped_count() { --n; }
  scoped_count(const scoped_count&) = delete;
  scoped_count& operator=(const scoped_count&) = delete;
};

// The value of `key` in the query string of `target` ("" if absent).
std::string query_param(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key)
      return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

bool known_symbol(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s)
    if (c < 'A' || c > 'Z') return false;
  return true;
}

struct server {
  settings cfg;
  counters n;
  std::mt19937_64 rng;

  http::response<http::string_body> answer(unsigned status, boost::json::value body) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = boost::json::serialize(body);
    res.prepare_payload();
    return res;
  }

  // Waits `d`, unless the client hangs up first (then false).
  asio::awaitable<bool> wait_unless_gone(tcp::socket& s, std::chrono::steady_clock::duration d) {
    asio::steady_timer t(s.get_executor(), d);
    using namespace asio::experimental;
    auto [order, timer_ec, read_ec] =
        co_await make_parallel_group(t.async_wait(asio::deferred),
                                     s.async_wait(tcp::socket::wait_read, asio::deferred))
            .async_wait(wait_for_one(), asio::use_awaitable);
    if (order[0] == 0) co_return true;
    boost::system::error_code ec;
    if (!read_ec && s.available(ec) > 0 && !ec) {  // a pipelined request, not a hang-up
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return true;
    }
    co_return false;
  }

  asio::awaitable<void> session(tcp::socket s) {
    scoped_count open(n.open_connections);
    beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, bytes] = co_await http::async_read(s, buf, req, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      scoped_count busy(n.in_flight);
      ++n.requests;
      const std::string_view target = req.target();
      const std::string_view path = target.substr(0, target.find('?'));
      http::response<http::string_body> res;
      if (req.method() != http::verb::get) {
        res = answer(405, {{"error", "only GET"}});
      } else if (path == "/stats") {
        const auto sym = query_param(target, "symbol");
        const auto it = n.by_symbol.find(sym);
        res = answer(200, {{"open_connections", n.open_connections},
                           {"in_flight", n.in_flight - 1},  // not this request
                           {"requests", n.requests},
                           {"failures", n.failures},
                           {"symbol_requests", it == n.by_symbol.end() ? 0 : it->second}});
      } else if (path == "/price") {
        const auto sym = query_param(target, "symbol");
        ++n.by_symbol[sym];
        auto delay = std::chrono::steady_clock::duration(cfg.latency);
        if (sym == "SLOW") delay = 10min;
        if (!co_await wait_unless_gone(s, delay)) co_return;
        const bool fail =
            sym == "DOWN" || (known_symbol(sym) && std::bernoulli_distribution(cfg.fail_rate)(rng));
        if (!known_symbol(sym)) {
          res = answer(404, {{"error", "unknown symbol"}, {"symbol", sym}});
        } else if (fail) {
          ++n.failures;
          res = answer(503, {{"error", "upstream overloaded, try again"}});
        } else {
          std::uint64_t h = 1469598103934665603ull;
          for (char c : sym) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
          const double price = static_cast<double>(h % 100000) / 100.0 + 1.0;
          res = answer(200, {{"symbol", sym}, {"price", price}});
        }
      } else {
        res = answer(404, {{"error", "no such path"}});
      }
      res.keep_alive(req.keep_alive());
      auto [wec, wbytes] = co_await http::async_write(s, res, asio::as_tuple(asio::use_awaitable));
      if (wec || !res.keep_alive()) {
        // Close first, so that TIME_WAIT stays on this side, not on the client's ephemeral ports.
        s.shutdown(tcp::socket::shutdown_send, wec);
        co_return;
      }
    }
  }

  asio::awaitable<void> listen(tcp::acceptor& acc) {
    for (;;) {
      auto [ec, s] = co_await acc.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;  // EMFILE and friends: keep serving the others
      asio::co_spawn(acc.get_executor(), session(std::move(s)), asio::detached);
    }
  }
};

int usage(const std::string& why) {
  std::cerr << "quote_upstream: " << why
            << "\nusage: quote_upstream [--port N] [--latency-ms N] [--fail-rate F in [0,1]] [--seed N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  settings cfg;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (i + 1 >= argc) return usage("missing value after " + a);
      const std::string v = argv[++i];
      std::size_t used = 0;
      if (a == "--port") {
        const auto p = std::stoul(v, &used);
        if (p > 65535) return usage("--port must be 0-65535, got " + v);
        cfg.port = static_cast<unsigned short>(p);
      } else if (a == "--latency-ms") {
        cfg.latency = std::chrono::milliseconds(std::stoul(v, &used));
      } else if (a == "--fail-rate") {
        cfg.fail_rate = std::stod(v, &used);
        if (!(cfg.fail_rate >= 0 && cfg.fail_rate <= 1))
          return usage("--fail-rate must be in [0, 1], got " + v);
      } else if (a == "--seed") {
        cfg.seed = std::stoull(v, &used);
      } else {
        return usage("unknown option " + a);
      }
      if (used != v.size()) return usage("bad number for " + a + ": " + v);
    }
  } catch (const std::exception&) {
    return usage("bad number in the arguments");
  }

  asio::io_context io(1);
  server srv{cfg, {}, std::mt19937_64(cfg.seed)};
  tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), cfg.port});
  acc.listen(asio::socket_base::max_listen_connections);
  std::cout << "upstream listening on 127.0.0.1:" << acc.local_endpoint().port() << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
  asio::co_spawn(io, srv.listen(acc), asio::detached);
  io.run();
  return 0;
}
