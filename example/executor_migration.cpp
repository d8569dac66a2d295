// A database migration: it must succeed exactly once, but transient failures are retried
// (once() + with_retry(), the seed README's "Combining Once() and WithRetry()").
// Exits 0 only if the migration ran to success once (after two transient failures) and a second
// start was refused with errc::once.
#include <jobs/jobs.hpp>

#include <boost/asio.hpp>
#include <boost/log/trivial.hpp>

#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

int main() {
  // The library's own records are off unless asked for: here its warnings (failures, timeouts),
  // printed by Boost.Log's default console sink.
  jobs::set_log_level(boost::log::trivial::warning);
  asio::io_context io;

  int applied = 0, tries = 0;
  jobs::job migrate(io, "migrate-v42", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ++tries;
    const auto& version = ctx.params<int>();
    asio::steady_timer io_wait(ctx.get_executor(), 2ms);
    co_await io_wait.async_wait(asio::use_awaitable);
    if (tries <= 2) throw std::runtime_error("database is locked");
    ++applied;
    ctx.set_result("schema at v" + std::to_string(version));
  });

  jobs::executor exec(migrate, jobs::once(), jobs::with_retry(5, 10ms), jobs::with_timeout(30s),
                      jobs::on_complete([](const jobs::job& j) {
                        std::cout << "migration start ended: " << j.state() << "\n";
                      }));

  auto first = exec.async_start(42, asio::use_future);
  io.run();

  bool ok = true;
  try {
    first.get();
    std::cout << "first start: " << migrate.result<std::string>() << " after " << exec.stats().retries
              << " transient failures\n";
  } catch (const std::exception& e) {
    std::cout << "first start failed: " << e.what() << "\n";
    ok = false;
  }
  io.restart();
  auto again = exec.async_start(42, asio::use_future);
  io.run();
  try {
    again.get();
    std::cout << "second start ran the migration again!\n";
    ok = false;
  } catch (const boost::system::system_error& e) {
    std::cout << "second start: " << e.what() << "\n";
    ok = ok && e.code() == jobs::errc::once;
  }
  ok = ok && applied == 1 && tries == 3 && exec.stats().retries == 2;
  std::cout << (ok ? "OK" : "FAILED") << "\n";
  return ok ? 0 : 1;
}
