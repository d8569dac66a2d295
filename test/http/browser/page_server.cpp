// A registry with a few jobs in every state, served by jobs::http::serve_admin on a loopback port
// it prints ("port N"), until its standard input closes: the browser test's server.
//   ingest   runs until cancelled, reporting progress
//   report   succeeded
//   flaky    an executor whose start failed after 2 retries
//   nightly  never run
#include <jobs/executor.hpp>
#include <jobs/http.hpp>

#include <boost/asio.hpp>

#include <iostream>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;

int main() {
  asio::io_context ioc;
  jobs::registry reg(ioc);
  jobs::job ingest(
      ioc, "ingest",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0;; ++i) {
          ctx.set_progress(0.42 + (i % 10) / 1000.0);
          t.expires_after(200ms);
          co_await t.async_wait(asio::use_awaitable);
        }
      },
      jobs::with_label("tier", "batch"));
  jobs::job report(
      ioc, "report",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        ctx.set_progress(1);
        co_return;
      },
      jobs::with_label("tier", "web"));
  jobs::executor flaky(jobs::job(
                           ioc, "flaky",
                           [](jobs::context&) -> asio::awaitable<void> {
                             throw std::runtime_error("upstream returned 503");
                             co_return;
                           },
                           jobs::with_label("tier", "web")),
                       jobs::with_retry(3, 1ms));
  jobs::job nightly(
      ioc, "nightly", [](jobs::context&) -> asio::awaitable<void> { co_return; },
      jobs::with_label("tier", "batch"));
  reg.add(ingest);
  reg.add(report);
  reg.add(flaky);
  reg.add(nightly);
  jobs::http::admin admin(reg);
  admin.track();

  ingest.run();
  report.run();
  flaky.async_start([](std::exception_ptr) {});

  asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::address_v4::loopback(), 0});
  asio::cancellation_signal stop;
  asio::co_spawn(ioc, jobs::http::serve_admin(acceptor, admin),
                 asio::bind_cancellation_slot(stop.slot(), asio::detached));
  std::cout << "port " << acceptor.local_endpoint().port() << std::endl;

  std::thread waiter([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    asio::post(ioc, [&] {
      stop.emit(asio::cancellation_type::terminal);
      reg.cancel(jobs::selector{});
      ioc.stop();
    });
  });
  ioc.run();
  waiter.join();
  return 0;
}
