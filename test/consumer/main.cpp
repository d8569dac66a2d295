// Builds against the installed package and checks that a job runs to its result.
#include <jobs/jobs.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/log/core.hpp>

#include <iostream>

int main() {
  boost::log::core::get()->set_logging_enabled(false);
  boost::asio::io_context io;
  jobs::job j(io, "consumer", [](jobs::context& ctx) -> boost::asio::awaitable<void> {
    ctx.set_result(ctx.params<int>() * 2);
    co_return;
  });
  if (!j.run(21)) return 1;
  io.run();
  if (!j.is_state(jobs::state::succeeded) || j.result<int>() != 42) {
    std::cerr << "consumer: unexpected outcome " << j.state() << "\n";
    return 1;
  }
  std::cout << "consumer: " << j.id() << " " << j.state() << " result " << j.result<int>() << "\n";
  return 0;
}
