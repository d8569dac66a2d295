// An executor with policies (the seed README's "Using Executor", scaled to milliseconds): a flaky
// API call retried up to 3 times, each attempt bounded by a timeout, then a cooldown.
// Exits 0 only if the start succeeded on its third attempt and the next start hit the cooldown.
#include <jobs/jobs.hpp>

#include <boost/asio.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/log/trivial.hpp>

#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

int main() {
  // The library's own records are off unless asked for: here its warnings (failures, timeouts),
  // printed by Boost.Log's default console sink.
  jobs::set_log_level(boost::log::trivial::warning);
  asio::io_context io;

  int calls = 0;
  jobs::job api_call(io, "api-call", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ++calls;
    asio::steady_timer latency(ctx.get_executor(), 5ms);
    co_await latency.async_wait(asio::use_awaitable);
    if (calls < 3) throw std::runtime_error("503 service unavailable (call " + std::to_string(calls) + ")");
    ctx.set_result(std::string("200 OK"));
  });

  jobs::executor exec(
      api_call, jobs::with_retry(3, 20ms),  // 3 tries, 20 ms apart
      jobs::with_timeout(2s),               // per attempt
      jobs::with_cooldown(10s),             // then rest
      jobs::on_retry([](unsigned attempt, std::exception_ptr e, std::chrono::nanoseconds next) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          std::cout << "attempt " << attempt << " failed: " << x.what() << "; retrying in "
                    << std::chrono::duration_cast<std::chrono::milliseconds>(next).count() << " ms\n";
        }
      }));

  bool ok = true;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await exec.start();
        std::cout << "succeeded: " << api_call.result<std::string>() << " after " << exec.stats().retries
                  << " failed attempts\n";
        std::cout << "stats: " << boost::json::serialize(boost::json::value_from(exec.stats())) << "\n";
        ok = ok && exec.stats().retries == 2 && calls == 3;
        try {
          co_await exec.start();
          ok = false;
        } catch (const boost::system::system_error& e) {
          std::cout << "second start: " << e.what() << "\n";
          ok = ok && e.code() == jobs::errc::cooldown;
        }
      },
      [&](std::exception_ptr e) {
        if (e) {
          ok = false;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            std::cerr << "unexpected: " << x.what() << "\n";
          }
        }
      });
  io.run();
  std::cout << (ok ? "OK" : "FAILED") << "\n";
  return ok ? 0 : 1;
}
