// Quick start: the seed's "basic job" and "progress tracking" scenarios on one io_context.
//
//   1. a basic job runs to completion and its error is checked;
//   2. an "upload" reports progress chunk by chunk while a monitor coroutine on the same
//      io_context prints it, then the job's stats are printed as JSON.
#include <jobs/job.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/log/trivial.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

int main() {
  // The library's own records are off unless asked for: here its warnings (failures, timeouts),
  // printed by Boost.Log's default console sink.
  jobs::set_log_level(boost::log::trivial::warning);

  asio::io_context io;

  // 1. Basic job execution.
  jobs::job basic(io, "my-job", jobs::wrap([]() -> asio::awaitable<void> {
                    // Your job logic here.
                    co_return;
                  }));
  basic.run();
  io.run();
  if (auto e = basic.error()) {
    std::cerr << "job failed\n";
    return 1;
  }
  std::cout << "basic job " << basic.id() << ": " << basic.state() << "\n";

  // 2. Progress tracking.
  constexpr int chunks = 20;
  jobs::job upload(
      io, "upload",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        asio::steady_timer t(ctx.get_executor());
        for (int i = 0; i < chunks; ++i) {
          t.expires_after(25ms);  // "upload" one chunk
          co_await t.async_wait(asio::use_awaitable);
          ctx.set_progress(double(i + 1) / chunks);
        }
        ctx.set_result(std::string("uploaded ") + std::to_string(chunks) + " chunks");
      },
      jobs::with_label("kind", "upload"));

  // Monitor progress from another coroutine on the same io_context.
  asio::co_spawn(
      io,
      [upload]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        while (!upload.is_done()) {
          const double p = upload.progress();
          std::printf("progress: %3.0f%%\n", p < 0 ? 0.0 : p * 100);
          t.expires_after(100ms);
          co_await t.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);

  upload.run();
  io.restart();
  io.run();

  std::cout << "upload: " << upload.state() << ", " << upload.result<std::string>() << "\n";
  std::cout << boost::json::serialize(boost::json::value_from(upload.stats())) << "\n";
  return upload.is_state(jobs::state::succeeded) && upload.progress() == 1.0 ? 0 : 1;
}
