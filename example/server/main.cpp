// quote_service — a small HTTP service on Boost.Beast built on jobs: GET /quote?symbol=X calls a
// flaky upstream (quote_upstream, a second process it starts) through a per-request
// jobs::executor (timeout, retry with backoff, retry_if: 5xx and timeouts, not 4xx); a client
// that hangs up cancels its start and the upstream call. jobs::http is mounted under /jobs; two
// background jobs live in the registry (cache-refresh, batch-report). SIGTERM/SIGINT: stop
// accepting, drain the registry with a grace period, exit 0.
//
//   quote_service [--port 8080] [--upstream-fail-rate 0.2] [--upstream-latency-ms 10]
//                 [--upstream-timeout-ms 1000] [--attempts 6] [--grace-ms 5000]
//                 [--refresh-ms 2000] [--batch-step-ms 500] [--upstream-bin PATH]
//
// Prints "quote_service listening on http://127.0.0.1:<port> upstream 127.0.0.1:<port>" once
// it accepts (--port 0 picks a free port).
//   GET /quote?symbol=X       through jobs::executor    GET /bare/quote?symbol=X  the same, by hand
//   GET /cache                what cache-refresh keeps  GET /debug/counts         live objects
//   GET /healthz              200, or 503 while draining
//   /jobs...                  jobs::http (JSON API, SSE, /jobs/metrics, the live page /jobs/)
#include "service.hpp"
#include "upstream_process.hpp"

#include <boost/json.hpp>

#include <csignal>
#include <filesystem>
#include <iostream>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// An io_context whose handlers (the sessions' coroutine frames among them) can be destroyed
// before the service they refer to.
struct io_context_with_shutdown : asio::io_context {
  using asio::execution_context::shutdown;
  using asio::io_context::io_context;
};

int usage(const std::string& why) {
  std::cerr << "quote_service: " << why << "\n"
            << "usage: quote_service [--port N] [--upstream-fail-rate F] [--upstream-latency-ms N]\n"
               "                     [--upstream-timeout-ms N] [--attempts N] [--grace-ms N]\n"
               "                     [--refresh-ms N] [--batch-step-ms N] [--upstream-bin PATH]\n";
  return 2;
}

// Parses the flags into `s`; returns "" or why not.
std::string parse_flags(int argc, char** argv, quote::settings& s) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return "missing value after " + a;
    const std::string v = argv[++i];
    try {
      std::size_t used = 0;
      auto ms = [&] {
        const long n = std::stol(v, &used);
        if (n < 0) throw std::out_of_range(v);
        return std::chrono::milliseconds(n);
      };
      if (a == "--port") {
        const auto p = std::stoul(v, &used);
        if (p > 65535) return "--port must be 0-65535, got " + v;
        s.port = static_cast<unsigned short>(p);
      } else if (a == "--upstream-fail-rate") {
        s.upstream_fail_rate = std::stod(v, &used);
        if (!(s.upstream_fail_rate >= 0 && s.upstream_fail_rate <= 1))
          return "--upstream-fail-rate must be in [0, 1], got " + v;
      } else if (a == "--upstream-latency-ms") {
        s.upstream_latency_ms = static_cast<unsigned>(ms().count());
      } else if (a == "--upstream-timeout-ms") {
        s.retry.timeout = ms();
        if (s.retry.timeout.count() == 0) return "--upstream-timeout-ms must be positive";
      } else if (a == "--attempts") {
        s.retry.attempts = std::stoi(v, &used);
        if (s.retry.attempts < 1 || s.retry.attempts > 64) return "--attempts must be 1-64, got " + v;
      } else if (a == "--grace-ms") {
        s.grace = ms();
      } else if (a == "--refresh-ms") {
        s.refresh_every = ms();
      } else if (a == "--batch-step-ms") {
        s.batch_step = ms();
      } else if (a == "--upstream-bin") {
        s.upstream_bin = v;
        used = v.size();
      } else {
        return "unknown option " + a;
      }
      if (used != v.size()) return "bad number for " + a + ": " + v;
    } catch (const std::exception&) {
      return "bad number for " + a + ": " + v;
    }
  }
  return {};
}

asio::awaitable<void> accept_loop(quote::service& svc, tcp::acceptor& acc) {
  for (;;) {
    auto [ec, s] = co_await acc.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
    if (ec) continue;  // EMFILE and friends: keep serving the others
    s.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(svc.io, quote::session(svc, std::move(s)), [](std::exception_ptr e) {
      try {
        if (e) std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::cerr << "quote_service: a session failed: " << x.what() << '\n';
      }
    });
  }
}

// SIGTERM: stop accepting (new connections are refused), close the idle connections, let the
// requests in flight finish (their retries too: the registry stays open for them), then drain
// the registry (the background jobs) in what is left of the grace period, and stop.
asio::awaitable<void> shut_down(quote::service& svc, tcp::acceptor& acc,
                                std::chrono::steady_clock::time_point t0) {
  svc.draining = true;
  acc.close();
  quote::close_idle_sessions(svc);
  const auto deadline = t0 + svc.cfg.grace;
  asio::steady_timer t(svc.io);
  while (svc.live.in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
    t.expires_after(std::chrono::milliseconds(5));
    co_await t.async_wait(asio::use_awaitable);
  }
  const auto left =
      std::max(std::chrono::steady_clock::duration::zero(), deadline - std::chrono::steady_clock::now());
  auto [ec, report] = co_await svc.registry.async_drain(left, asio::as_tuple(asio::use_awaitable));
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "quote_service: drained in " << ms
            << " ms: " << boost::json::serialize(boost::json::value_from(report)) << std::endl;
  svc.io.stop();
}

}  // namespace

int main(int argc, char** argv) {
  quote::settings cfg;
  if (auto why = parse_flags(argc, argv, cfg); !why.empty()) return usage(why);
  if (cfg.upstream_bin.empty())
    cfg.upstream_bin =
        (std::filesystem::canonical("/proc/self/exe").parent_path() / "quote_upstream").string();

  // The upstream first, before any thread exists (fork).
  quote::upstream_process upstream;
  try {
    upstream =
        quote::upstream_process::start(cfg.upstream_bin, cfg.upstream_latency_ms, cfg.upstream_fail_rate);
  } catch (const std::exception& e) {
    std::cerr << "quote_service: " << e.what() << '\n';
    return 1;
  }

  io_context_with_shutdown io(1);  // one thread: see quote::service
  quote::service svc(cfg, io, {asio::ip::make_address("127.0.0.1"), upstream.port()});
  tcp::acceptor acc(io);
  try {
    acc = tcp::acceptor(io, {asio::ip::make_address("127.0.0.1"), cfg.port});
    acc.listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    std::cerr << "quote_service: cannot listen on 127.0.0.1:" << cfg.port << ": " << e.code().message()
              << '\n';
    return 1;
  }

#ifdef QUOTE_WITH_ADMIN
  svc.admin.emplace(svc.registry, jobs::http::options{});
#endif
  quote::start_background_jobs(svc);
#ifdef QUOTE_WITH_ADMIN
  svc.admin->track();
#endif

  bool draining = false;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec || draining) return;
    draining = true;
    const auto t0 = std::chrono::steady_clock::now();
    std::cout << "quote_service: " << (signo == SIGTERM ? "SIGTERM" : "SIGINT") << ": draining, grace "
              << cfg.grace.count() << " ms" << std::endl;
    asio::co_spawn(io, shut_down(svc, acc, t0), asio::detached);
  });

  asio::co_spawn(io, accept_loop(svc, acc), asio::detached);
  std::cout << "quote_service listening on http://127.0.0.1:" << acc.local_endpoint().port()
            << " upstream 127.0.0.1:" << upstream.port() << std::endl;
  io.run();
  io.shutdown();  // what is left of the sessions, while `svc` still exists
  upstream.stop();
  return 0;
}
