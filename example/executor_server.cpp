// An async server's view: one coroutine per request, all on one io_context, each request running
// its work with `co_await exec.start(params)` on its own executor (its own policies and stats).
// One client disconnects while its request is between retries: the server cancels that request's
// coroutine, the pending retry delay is cut short and no further attempt runs.
// Exits 0 only if the three healthy requests succeeded and the abandoned one ended with
// errc::canceled after fewer attempts than it was allowed.
#include <jobs/jobs.hpp>

#include <boost/asio.hpp>
#include <boost/log/trivial.hpp>

#include <iostream>
#include <map>
#include <memory>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct request {
  std::string path;
  int failures_before_success;  // -1: never succeeds
  std::chrono::milliseconds work;
};

struct response {
  std::string status;
  unsigned retries = 0;
};

// The request handler: builds the request's executor and awaits one start.
asio::awaitable<response> handle(request r, std::shared_ptr<asio::cancellation_signal> disconnect,
                                 std::map<std::string, response>& log) {
  auto ex = co_await asio::this_coro::executor;
  auto calls = std::make_shared<int>(0);
  jobs::job work(ex, r.path, [r, calls](jobs::context& ctx) -> asio::awaitable<void> {
    ++*calls;
    asio::steady_timer t(ctx.get_executor(), r.work);
    co_await t.async_wait(asio::use_awaitable);
    if (r.failures_before_success < 0 || *calls <= r.failures_before_success)
      throw std::runtime_error("upstream error on " + r.path);
    ctx.set_result("200 " + r.path + " " + std::to_string(ctx.params<int>()));
  });
  jobs::executor exec(
      work, jobs::with_retry(20, 30ms), jobs::with_timeout(2s),
      jobs::on_retry(
          [disconnect, path = r.path, ex](unsigned attempt, std::exception_ptr, std::chrono::nanoseconds) {
            std::cout << path << ": attempt " << attempt << " failed, retrying\n";
            // The flaky client gives up while the server is retrying.
            if (disconnect && attempt == 2)
              asio::post(ex, [disconnect] { disconnect->emit(asio::cancellation_type::terminal); });
          }));
  response out;
  try {
    co_await exec.start(static_cast<int>(r.path.size()));
    out.status = work.result<std::string>();
  } catch (const boost::system::system_error& e) {
    out.status = e.code() == jobs::errc::canceled ? "canceled" : std::string("error: ") + e.what();
  } catch (const std::exception& e) {
    out.status = std::string("error: ") + e.what();
  }
  out.retries = exec.stats().retries;
  log[r.path] = out;
  co_return out;
}

}  // namespace

int main() {
  // The library's own records are off unless asked for: here its warnings (failures, timeouts),
  // printed by Boost.Log's default console sink.
  jobs::set_log_level(boost::log::trivial::warning);
  asio::io_context io;

  const std::vector<request> requests{
      {"/fast", 0, 5ms},
      {"/slow", 0, 80ms},
      {"/flaky", 2, 5ms},
      {"/doomed", -1, 5ms},  // never succeeds; its client disconnects mid-retry
  };
  std::map<std::string, response> log;
  std::map<std::string, bool> handler_canceled;

  // The "server": accepts every request and serves them concurrently.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (const auto& r : requests) {
          auto disconnect = r.path == "/doomed" ? std::make_shared<asio::cancellation_signal>() : nullptr;
          auto token = [&, path = r.path](std::exception_ptr e, response) {
            handler_canceled[path] = e != nullptr;
          };
          if (disconnect)
            asio::co_spawn(ex, handle(r, disconnect, log),
                           asio::bind_cancellation_slot(disconnect->slot(), token));
          else
            asio::co_spawn(ex, handle(r, nullptr, log), token);
        }
        co_return;
      },
      asio::detached);
  io.run();

  bool ok = log.size() == 4;
  for (const auto& [path, resp] : log) {
    std::cout << path << " -> " << resp.status << " (" << resp.retries << " failed attempts)\n";
    const bool good = path == "/doomed" ? resp.status == "canceled" && resp.retries >= 2 && resp.retries < 20
                                        : resp.status.rfind("200 ", 0) == 0;
    ok = ok && good && !handler_canceled[path];
  }
  ok = ok && log["/flaky"].retries == 2;
  std::cout << (ok ? "OK" : "FAILED") << "\n";
  return ok ? 0 : 1;
}
