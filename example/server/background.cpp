// The service's background jobs, registered in its registry beside the per-request ones:
//   cache-refresh  an executor (retry with backoff, timeout) started every refresh_every: it
//                  fetches a watch list of prices from the upstream into the cache (GET /cache);
//   batch-report   a long batch (120 steps) that reports its progress, run again after each end.
// Both stop once the registry is closed by the SIGTERM drain.
#include "service.hpp"

#include <jobs/executor.hpp>

#include <ctime>
#include <iostream>

namespace quote {

namespace {

const char* const watch_list[] = {"ACME", "GLOBX", "INITE", "UMBRL"};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

asio::awaitable<void> refresh_body(service& svc, jobs::context& ctx) {
  std::map<std::string, double> fresh;
  int done = 0;
  for (const char* sym : watch_list) {
    auto r = co_await fetch_price(svc.upstream, sym);
    if (r.status != 200)
      throw upstream_error(
          r.status, "cache refresh: the upstream answered " + std::to_string(r.status) + " for " + sym);
    fresh[sym] = boost::json::parse(r.body).at("price").to_number<double>();
    ctx.set_progress(static_cast<double>(++done) / std::size(watch_list));
  }
  std::lock_guard lock(svc.cache.m);
  svc.cache.prices = std::move(fresh);
  svc.cache.refreshed_at = utc_now();
  ++svc.cache.refreshes;
}

asio::awaitable<void> batch_body(service& svc, jobs::context& ctx) {
  asio::steady_timer t(ctx.get_executor());
  constexpr int steps = 120;
  for (int i = 1; i <= steps; ++i) {
    t.expires_after(svc.cfg.batch_step);
    co_await t.async_wait(asio::use_awaitable);  // throws once cancelled (the drain)
    ctx.set_progress(static_cast<double>(i) / steps);
  }
}

bool shutting_down(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const jobs::error& j) {
    return j.code() == jobs::errc::shutting_down;
  } catch (...) {
  }
  return false;
}

asio::awaitable<void> refresh_loop(service& svc, jobs::executor exec) {
  asio::steady_timer t(svc.io);
  for (;;) {
    auto [e] = co_await exec.async_start(std::any{}, asio::as_tuple(asio::use_awaitable));
    if (shutting_down(e) || svc.registry.is_closed()) co_return;
    t.expires_after(svc.cfg.refresh_every);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> batch_loop(service& svc, jobs::job j) {
  asio::steady_timer t(svc.io);
  for (;;) {
    auto [e] = co_await j.async_run(std::any{}, asio::as_tuple(asio::use_awaitable));
    if (shutting_down(e) || svc.registry.is_closed()) co_return;
    t.expires_after(std::chrono::seconds(1));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void report(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::cerr << "quote_service: a background loop failed: " << x.what() << '\n';
  }
}

}  // namespace

void start_background_jobs(service& svc) {
  jobs::job refresh(
      svc.io, "cache-refresh", [&svc](jobs::context& ctx) { return refresh_body(svc, ctx); },
      jobs::with_labels({{"app", "quote-service"}, {"kind", "background"}, {"schedule", "periodic"}}));
  jobs::executor refresh_exec(refresh, jobs::with_retry(3, std::chrono::milliseconds(0)),
                              jobs::with_backoff(std::chrono::milliseconds(20), 2.0, std::chrono::seconds(1)),
                              jobs::with_timeout(std::chrono::seconds(2)));
  svc.registry.add(refresh_exec);

  jobs::job batch(
      svc.io, "batch-report", [&svc](jobs::context& ctx) { return batch_body(svc, ctx); },
      jobs::with_labels({{"app", "quote-service"}, {"kind", "background"}, {"schedule", "batch"}}));
  svc.registry.add(batch);

  asio::co_spawn(svc.io, refresh_loop(svc, refresh_exec), report);
  asio::co_spawn(svc.io, batch_loop(svc, batch), report);
}

}  // namespace quote
