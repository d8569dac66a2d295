// A server's jobs in a jobs::registry: it registers a dozen labelled jobs (web handlers, batch
// reports, an API sync run by an executor with retries, an audit flush that ignores
// cancellation), cancels `tier=batch,env!=prod`, prints the table, and drains on SIGINT/SIGTERM
// through asio::signal_set: what ends within the grace period ends on its own, the rest is
// cancelled, and the one job that ignores cancellation is reported instead of waited for.
//
//   registry_server            raises SIGTERM to itself once the table is printed (as under ctest)
//   registry_server --serve    waits for a real Ctrl-C / kill
//
// Exits 0 only if everything happened as described above.
#include <jobs/registry.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <csignal>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto grace = 2s;

// Serves (a timer per "request") until cancelled.
jobs::body serve() {
  return [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor());
    for (;;) {
      t.expires_after(50ms);
      co_await t.async_wait(asio::use_awaitable);  // throws operation_aborted once cancelled
    }
  };
}

// Works for `d`, reporting progress, then ends on its own (cancellable meanwhile).
jobs::body work_for(std::chrono::milliseconds d) {
  return [d](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor());
    const int steps = 20;
    for (int i = 1; i <= steps; ++i) {
      t.expires_after(d / steps);
      co_await t.async_wait(asio::use_awaitable);
      ctx.set_progress(static_cast<double>(i) / steps);
    }
  };
}

// Ignores cancellation: flushes until `release` is set (or 30 s have passed).
jobs::body ignore_cancellation(std::shared_ptr<bool> release) {
  return [release](jobs::context& ctx) -> asio::awaitable<void> {
    co_await asio::this_coro::throw_if_cancelled(false);
    asio::steady_timer t(ctx.get_executor());
    for (int i = 0; i < 600 && !*release; ++i) {
      t.expires_after(50ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  };
}

// Fails its first attempt (the CRM answers 503), then would serve until cancelled.
jobs::body flaky_sync(std::shared_ptr<int> attempts) {
  return [attempts](jobs::context& ctx) -> asio::awaitable<void> {
    if (++*attempts == 1) throw std::runtime_error("CRM API: 503 Service Unavailable");
    co_await serve()(ctx);
  };
}

struct checks {
  int failed = 0;
  void expect(bool ok, const std::string& what) {
    std::cout << (ok ? "  ok    " : "  FAIL  ") << what << '\n';
    if (!ok) ++failed;
  }
};

}  // namespace

int main(int argc, char** argv) {
  bool serve_forever = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--serve") {
      serve_forever = true;
    } else {
      std::cerr << "usage: registry_server [--serve]\n";
      return 2;
    }
  }

  asio::io_context io;
  jobs::registry reg(io);  // the drain's timers run on `io`
  auto release_audit = std::make_shared<bool>(false);
  auto crm_attempts = std::make_shared<int>(0);

  struct spec {
    const char* id;
    jobs::labels labels;
    jobs::body body;
  };
  const std::vector<spec> specs{
      {"http-listener", {{"tier", "web"}, {"env", "prod"}}, serve()},
      {"websocket-hub", {{"tier", "web"}, {"env", "prod"}}, serve()},
      {"admin-ui", {{"tier", "web"}, {"env", "staging"}}, serve()},
      {"thumbnails", {{"tier", "batch"}, {"env", "prod"}}, work_for(900ms)},
      {"report-nightly", {{"tier", "batch"}, {"env", "prod"}}, serve()},
      {"report-staging", {{"tier", "batch"}, {"env", "staging"}}, serve()},
      {"etl-dev", {{"tier", "batch"}, {"env", "dev"}}, serve()},
      {"backfill", {{"tier", "batch"}}, serve()},  // no env: `env!=prod` matches it (Kubernetes)
      {"cache-warmer", {{"tier", "api"}, {"env", "prod"}}, work_for(700ms)},
      {"audit-flush", {{"tier", "ops"}, {"env", "prod"}}, ignore_cancellation(release_audit)},
      {"mailer", {{"tier", "ops"}, {"env", "dev"}}, work_for(600ms)},
  };
  for (const auto& s : specs) {
    jobs::job j(io, s.id, s.body, jobs::with_labels(s.labels));
    reg.add(j);
    j.run();
  }
  // The twelfth: an API sync run by an executor, waiting 10 s before its retry.
  jobs::job crm(io, "sync-crm", flaky_sync(crm_attempts),
                jobs::with_labels({{"tier", "api"}, {"env", "prod"}}));
  jobs::executor crm_sync(crm, jobs::with_retry(3, 10s));
  reg.add(crm_sync);
  std::exception_ptr crm_outcome;
  bool crm_done = false;
  crm_sync.async_start([&](std::exception_ptr e) {
    crm_outcome = e;
    crm_done = true;
  });

  checks c;
  std::size_t reached = 0;
  bool prod_batch_running = false;
  jobs::drain_report report;
  boost::system::error_code drain_ec;
  std::string refusal;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    std::cout << "\nreceived " << (signo == SIGINT ? "SIGINT" : "SIGTERM") << ": draining, grace "
              << std::chrono::duration_cast<std::chrono::milliseconds>(grace).count() << " ms\n";
    reg.async_drain(grace, [&](boost::system::error_code e, jobs::drain_report r) {
      drain_ec = e;
      report = std::move(r);
      std::cout << "drained in "
                << std::chrono::duration_cast<std::chrono::milliseconds>(report.duration).count()
                << " ms: " << boost::json::serialize(boost::json::value_from(report)) << "\n\n";
      reg.print(std::cout);
      *release_audit = true;  // let it finish, so that io.run() returns
    });
    // Closed from the moment the drain starts: a new run is refused.
    try {
      reg.find("http-listener")->job.run();
    } catch (const jobs::error& e) {
      refusal = e.what();
      std::cout << "a new run of http-listener during the drain: " << refusal << '\n';
    }
  });

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Once every job is running and sync-crm waits for its retry, cancel the non-production
        // batch jobs.
        asio::steady_timer t(io);
        while (*crm_attempts < 1 || !reg.find("mailer")->job.is_state(jobs::state::running)) {
          t.expires_after(10ms);
          co_await t.async_wait(asio::use_awaitable);
        }
        reached = reg.cancel("tier=batch,env!=prod");
        std::cout << "cancel(\"tier=batch,env!=prod\") reached " << reached << " jobs\n";
        t.expires_after(50ms);  // their cancellations are handled
        co_await t.async_wait(asio::use_awaitable);
        prod_batch_running = reg.find("report-nightly")->job.is_state(jobs::state::running) &&
                             reg.find("thumbnails")->job.is_state(jobs::state::running);
        std::cout << '\n';
        reg.print(std::cout);
        if (serve_forever) {
          std::cout << "\nserving: Ctrl-C to drain\n";
        } else {
          t.expires_after(100ms);
          co_await t.async_wait(asio::use_awaitable);
          std::raise(SIGTERM);  // as a supervisor would
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });

  io.run();

  // ---- did it happen as described? ----
  std::cout << "\nchecks\n";
  const auto state_of = [&](const char* id) { return reg.find(id)->job.state(); };
  c.expect(reg.size() == 12, "twelve jobs registered");
  c.expect(reached == 3, "cancel reached report-staging, etl-dev and backfill");
  for (const char* id : {"report-staging", "etl-dev", "backfill"})
    c.expect(state_of(id) == jobs::state::canceled, std::string(id) + " canceled by the selector");
  c.expect(prod_batch_running, "report-nightly and thumbnails (env=prod) not touched by the selector");
  c.expect(refusal.find("shutting down") != std::string::npos, "nothing admitted once the drain started");
  c.expect(!drain_ec, "the drain completed");
  for (const char* id : {"thumbnails", "cache-warmer", "mailer"})
    c.expect(state_of(id) == jobs::state::succeeded,
             std::string(id) + " ended on its own within the grace period");
  c.expect(report.ended <= 3, "at most those three ended on their own during the drain");
  c.expect(report.canceled == 6,
           "the drain cancelled the six still running after the grace period (web x3, report-nightly, "
           "sync-crm, audit-flush)");
  for (const char* id : {"http-listener", "websocket-hub", "admin-ui", "report-nightly"})
    c.expect(state_of(id) == jobs::state::canceled, std::string(id) + " canceled by the drain");
  c.expect(crm_done && crm_sync.stats().canceled == 1, "sync-crm's start stopped in its retry delay");
  c.expect(*crm_attempts == 1, "sync-crm made no second attempt");
  c.expect(report.still_running == std::vector<std::string>{"audit-flush"},
           "audit-flush, which ignores cancellation, reported as still running");
  c.expect(report.duration >= 2 * grace && report.duration < 2 * grace + 10s,
           "the drain took both grace periods, and not much more");
  c.expect(state_of("audit-flush") == jobs::state::canceled, "audit-flush ended (canceled) once released");
  if (c.failed) {
    std::cout << c.failed << " check(s) failed\n";
    return 1;
  }
  std::cout << "registry_server: all checks passed\n";
  return 0;
}
