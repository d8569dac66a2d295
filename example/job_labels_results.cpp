// Labels, params and results (the seed's "fetch-data" and "batch processing" scenarios), with
// the run awaited from a coroutine: `co_await j.async_run(params)` rethrows the body's own
// exception, unchanged.
#include <jobs/job.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <iostream>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace asio = boost::asio;

struct item {
  int value;
};

int main() {
  asio::io_context io;

  jobs::job batch(
      io, "batch",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        const auto& items = ctx.params<std::vector<item>>();
        int sum = 0;
        for (std::size_t i = 0; i < items.size(); ++i) {
          if (ctx.is_canceled()) co_return;  // a CPU loop polls for cancellation
          if (items[i].value < 0) throw std::invalid_argument("negative item " + std::to_string(i));
          sum += items[i].value;  // process the item
          ctx.set_progress(double(i + 1) / double(items.size()));
        }
        ctx.set_result(sum);
      },
      jobs::with_label("env", "production"), jobs::with_label("service", "api"));

  auto done = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<int> {
        std::vector<item> items(100);
        for (int i = 0; i < 100; ++i) items[i].value = i;
        co_await batch.async_run(items);  // succeeds
        const int first = batch.result<int>();

        items[42].value = -1;
        try {
          co_await batch.async_run(items);  // fails: the body's own exception comes back
        } catch (const std::invalid_argument& e) {
          std::cout << "second run failed as expected: " << e.what() << "\n";
        }
        co_return first;
      },
      asio::use_future);
  io.run();

  const int sum = done.get();
  std::cout << "first run: sum " << sum << "; labels:";
  for (const auto& [k, v] : batch.labels()) std::cout << " " << k << "=" << v;
  std::cout << "\n" << boost::json::serialize(boost::json::value_from(batch.stats())) << "\n";
  return sum == 4950 && batch.is_state(jobs::state::failed) && batch.stats().error == "negative item 42" ? 0
                                                                                                         : 1;
}
