#include <jobs/job.hpp>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

namespace asio = boost::asio;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(smoke_runs_and_succeeds) {
  asio::io_context io;
  jobs::job j(io, "smoke", [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 1ms);
    co_await t.async_wait(asio::use_awaitable);
    ctx.set_progress(0.5);
    ctx.set_result(42);
  });
  BOOST_TEST(j.run());
  BOOST_TEST(j.is_state(jobs::state::running));
  io.run();
  BOOST_TEST(j.is_state(jobs::state::succeeded));
  BOOST_TEST(j.result<int>() == 42);
  BOOST_TEST(j.progress() == 0.5);
}
