// Job cancellation (the seed's "long-running" job): the body loops on a timer until it is
// cancelled; cancel() makes the timer wait complete with operation_aborted, the job ends
// `canceled` and error() says why.
#include <jobs/job.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

int main() {
  asio::io_context io;
  int ticks = 0;

  jobs::job j(io, "long-running", jobs::wrap([&]() -> asio::awaitable<void> {
                asio::steady_timer t(co_await asio::this_coro::executor);
                for (;;) {  // do work until cancelled
                  t.expires_after(10ms);
                  co_await t.async_wait(asio::use_awaitable);  // throws operation_aborted on cancel()
                  ++ticks;
                }
              }));
  j.run();

  // Cancel after 50 ms, from another coroutine on the same io_context.
  asio::co_spawn(
      io,
      [j]() mutable -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, 50ms);
        co_await t.async_wait(asio::use_awaitable);
        std::cout << "cancel() -> " << std::boolalpha << j.cancel() << ", state " << j.state() << "\n";
      },
      asio::detached);
  io.run();

  std::cout << "after " << ticks << " ticks the job is " << j.state() << "\n";
  if (!j.is_state(jobs::state::canceled)) return 1;
  try {
    std::rethrow_exception(j.error());
  } catch (const boost::system::system_error& e) {
    std::cout << "error: " << e.what() << " (code " << e.code() << ")\n";
    return e.code() == jobs::errc::canceled ? 0 : 1;
  }
}
