// Rate-limited execution (the seed README's scraper, scaled from hours to milliseconds): a ticker
// fires every 50 ms, the executor's 300 ms cooldown lets a scrape through at most once per window,
// and the ticks in between are skipped.
// Exits 0 only if some ticks scraped, some were skipped for the cooldown, and consecutive scrapes
// were never closer than the cooldown.
#include <jobs/jobs.hpp>

#include <boost/asio.hpp>
#include <boost/log/trivial.hpp>

#include <iostream>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

int main() {
  // The library's own records are off unless asked for: here its warnings (failures, timeouts),
  // printed by Boost.Log's default console sink.
  jobs::set_log_level(boost::log::trivial::warning);
  asio::io_context io;

  constexpr auto cooldown = 300ms;
  std::vector<steady_clock::time_point> scrape_ends;
  jobs::job scrape(io, "scrape", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer fetch(ctx.get_executor(), 5ms);
    co_await fetch.async_wait(asio::use_awaitable);
  });
  jobs::executor exec(
      scrape, jobs::with_cooldown(cooldown), jobs::with_retry(3, 10ms),
      jobs::on_complete([&](const jobs::job&) { scrape_ends.push_back(steady_clock::now()); }));

  int scraped = 0, skipped = 0, other = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer ticker(co_await asio::this_coro::executor);
        for (int tick = 0; tick < 24; ++tick) {
          ticker.expires_after(50ms);
          co_await ticker.async_wait(asio::use_awaitable);
          auto [e] = co_await exec.async_start(asio::as_tuple(asio::deferred));
          if (!e) {
            ++scraped;
            std::cout << "tick " << tick << ": scraped\n";
            continue;
          }
          try {
            std::rethrow_exception(e);
          } catch (const boost::system::system_error& x) {
            if (x.code() == jobs::errc::cooldown) {
              ++skipped;
              std::cout << "tick " << tick << ": skipping (" << x.what() << ")\n";
            } else {
              ++other;
              std::cout << "tick " << tick << ": " << x.what() << "\n";
            }
          }
        }
      },
      asio::detached);
  io.run();

  bool spaced = true;
  for (std::size_t i = 1; i < scrape_ends.size(); ++i) {
    // A scrape starts only after the previous one's window (opened at its end) has passed.
    spaced = spaced && scrape_ends[i] - scrape_ends[i - 1] >= cooldown;
  }
  const bool ok = scraped >= 1 && skipped >= 1 && other == 0 && spaced;
  std::cout << scraped << " scraped, " << skipped << " skipped; " << (ok ? "OK" : "FAILED") << "\n";
  return ok ? 0 : 1;
}
