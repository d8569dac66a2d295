// GET /quote: one upstream call per attempt, made two ways with the same policy — through a
// per-request jobs::executor (the service's way) and through a hand-written retry loop on bare
// Asio/Beast (the load test's baseline).
#include "service.hpp"

#include <jobs/executor.hpp>

#include <boost/asio/experimental/parallel_group.hpp>

#include <algorithm>
#include <cmath>
#include <random>

namespace quote {

namespace {

// +1 while alive: counts the per-request jobs and executors that still exist.
struct live_token {
  std::atomic<std::int64_t>& n;
  explicit live_token(std::atomic<std::int64_t>& c) : n(c) { ++n; }
  ~live_token() { --n; }
  live_token(const live_token&) = delete;
  live_token& operator=(const live_token&) = delete;
};

// Removes the request's entry from the registry whatever way the request ends.
struct registry_entry {
  jobs::registry& reg;
  std::string id;
  ~registry_entry() { reg.remove(id); }
};

// 5xx, timeouts and network failures are worth another attempt; 4xx are not.
bool retryable(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const upstream_error& u) {
    return u.status() >= 500;
  } catch (const jobs::error& j) {
    return j.code() == jobs::errc::timeout;
  } catch (const boost::system::system_error&) {
    return true;  // refused, reset: the upstream is restarting or overloaded
  } catch (...) {
    return false;
  }
}

// The answer for the client once the upstream has answered `body` (its JSON) after `attempts`.
quote_result success(const std::string& body, int attempts, std::string_view via) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object())
    return {502, error_body("upstream_bad_reply", "the upstream's reply is not a JSON object"), attempts};
  auto& o = v.as_object();
  o["attempts"] = attempts;
  o["via"] = via;
  return {200, boost::json::serialize(v), attempts};
}

// The answer for the client after the last attempt failed with `e`.
quote_result failure(std::exception_ptr e, int attempts) {
  try {
    std::rethrow_exception(e);
  } catch (const upstream_error& u) {
    if (u.status() < 500) return {u.status(), error_body("upstream_rejected", u.what()), attempts};
    return {502, error_body("upstream_failed", u.what()), attempts};
  } catch (const jobs::error& j) {
    if (j.code() == jobs::errc::timeout) return {504, error_body("upstream_timeout", j.what()), attempts};
    if (j.code() == jobs::errc::shutting_down) return {503, error_body("shutting_down", j.what()), attempts};
    if (j.code() == jobs::errc::canceled) return {499, error_body("canceled", j.what()), attempts};
    return {500, error_body("internal", j.what()), attempts};
  } catch (const boost::system::system_error& s) {
    return {502, error_body("upstream_unreachable", s.what()), attempts};
  } catch (const std::exception& x) {
    return {500, error_body("internal", x.what()), attempts};
  }
}

asio::awaitable<void> quote_body(tcp::endpoint upstream, std::string symbol, jobs::context& ctx) {
  auto r = co_await fetch_price(upstream, symbol);
  if (r.status >= 400)
    throw upstream_error(r.status, "the upstream answered " + std::to_string(r.status) + " for " + symbol);
  ctx.set_result(std::move(r.body));
}

// The executor's backoff, by hand: before attempt k+1, min(max, initial * multiplier^(k-1)),
// drawn from [d * (1 - jitter), d].
std::chrono::nanoseconds backoff_delay(const policy& p, int failed_attempts) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double base = std::chrono::duration<double, std::nano>(p.backoff_initial).count() *
                      std::pow(p.backoff_multiplier, failed_attempts - 1);
  const double d = std::min(base, std::chrono::duration<double, std::nano>(p.backoff_max).count());
  const double lo = d * (1 - p.jitter);
  return std::chrono::nanoseconds(
      static_cast<std::int64_t>(std::uniform_real_distribution<double>(lo, d)(rng)));
}

}  // namespace

std::string error_body(std::string_view code, std::string_view message) {
  return boost::json::serialize(boost::json::object{{"error", {{"code", code}, {"message", message}}}});
}

std::string check_symbol(std::string_view s) {
  if (s.empty()) return "the query parameter symbol is missing or empty (GET /quote?symbol=ACME)";
  if (s.size() > 10) return "symbol is longer than 10 characters";
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return "symbol may only contain A-Z and 0-9";
  return {};
}

asio::awaitable<upstream_reply> fetch_price(tcp::endpoint upstream, std::string symbol) {
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(upstream, asio::use_awaitable);
  http::request<http::empty_body> req{http::verb::get, "/price?symbol=" + symbol, 11};
  req.set(http::field::host, "upstream");
  req.keep_alive(false);  // the upstream closes first: TIME_WAIT stays on its side
  co_await http::async_write(s, req, asio::use_awaitable);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  co_await http::async_read(s, buf, res, asio::use_awaitable);
  co_return upstream_reply{res.result_int(), std::move(res.body())};
}

asio::awaitable<quote_result> quote_with_jobs(service& svc, std::string symbol) {
  static std::atomic<std::uint64_t> next{0};
  const auto& p = svc.cfg.retry;
  auto job_alive = std::make_shared<live_token>(svc.live.quote_jobs);
  auto exec_alive = std::make_shared<live_token>(svc.live.quote_executors);
  jobs::job j(
      svc.io, "quote-" + std::to_string(++next),
      [up = svc.upstream, symbol, job_alive](jobs::context& ctx) { return quote_body(up, symbol, ctx); },
      jobs::with_labels({{"app", "quote-service"}, {"kind", "quote"}, {"symbol", symbol}}));
  jobs::executor exec(j, jobs::with_retry(p.attempts, std::chrono::milliseconds(0)),
                      jobs::with_backoff(p.backoff_initial, p.backoff_multiplier, p.backoff_max, p.jitter),
                      jobs::with_timeout(p.timeout), jobs::retry_if(retryable),
                      jobs::on_complete([exec_alive](const jobs::job&) {}));
  job_alive.reset();
  exec_alive.reset();
  svc.registry.add(exec);
  registry_entry entry{svc.registry, j.id()};

  // Cancelling this coroutine (the client hung up) cancels the start: the attempt running is
  // cancelled, so its upstream connection is closed; a retry delay is cut short.
  auto [e] = co_await exec.async_start(std::any{}, asio::as_tuple(asio::use_awaitable));
  const int attempts = static_cast<int>(exec.stats().attempts.size());  // at most 64 are kept
  if (!e) co_return success(j.result<std::string>(), attempts, "jobs");
  co_return failure(e, attempts);
}

asio::awaitable<quote_result> quote_bare(service& svc, std::string symbol) {
  using namespace asio::experimental;
  const auto& p = svc.cfg.retry;
  const auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  for (int attempt = 1;; ++attempt) {
    timer.expires_after(p.timeout);
    auto [order, fetch_error, reply, timer_ec] =
        co_await make_parallel_group(asio::co_spawn(ex, fetch_price(svc.upstream, symbol), asio::deferred),
                                     timer.async_wait(asio::deferred))
            .async_wait(wait_for_one(), asio::use_awaitable);
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
      co_return quote_result{499, error_body("canceled", "the client went away"), attempt};

    std::exception_ptr e;
    if (order[0] == 1)
      e = std::make_exception_ptr(jobs::error(jobs::errc::timeout, "timed out"));
    else if (fetch_error)
      e = fetch_error;
    else if (reply.status >= 400)
      e = std::make_exception_ptr(upstream_error(
          reply.status, "the upstream answered " + std::to_string(reply.status) + " for " + symbol));
    else
      co_return success(reply.body, attempt, "bare");

    if (attempt >= p.attempts || !retryable(e)) co_return failure(e, attempt);
    timer.expires_after(backoff_delay(p, attempt));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return quote_result{499, error_body("canceled", "the client went away"), attempt};
  }
}

}  // namespace quote
