// Builds against the installed package and checks that a job runs to its result, that the admin
// API (jobs::http) answers for it, and that jobs::pg links (libpq) and is usable without a
// server: a coordinator contacts nothing until its first operation.
#include <jobs/http.hpp>
#include <jobs/jobs.hpp>
#include <jobs/pg/lease_coordinator.hpp>
#include <jobs/registry.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/log/core.hpp>

#include <chrono>
#include <future>
#include <iostream>
#include <memory>
#include <string>

namespace asio = boost::asio;

int main() {
  boost::log::core::get()->set_logging_enabled(false);
  asio::io_context io;
  jobs::job j(io, "consumer", [](jobs::context& ctx) -> asio::awaitable<void> {
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

  // jobs::http: the admin API over a registry, asked for the job without a socket.
  jobs::registry reg(io);
  reg.add(j);
  jobs::http::admin admin(reg);
  if (!admin.matches("/jobs/consumer")) {
    std::cerr << "consumer: the admin API does not match /jobs/consumer\n";
    return 1;
  }
  auto answer = asio::co_spawn(
      io, admin.handle(jobs::http::request(boost::beast::http::verb::get, "/jobs/consumer", 11)),
      asio::use_future);
  // Until the answer, not until io runs out of work: the admin keeps watching the registry's jobs
  // (its metrics count their runs).
  io.restart();
  while (answer.wait_for(std::chrono::seconds(0)) != std::future_status::ready && io.run_one() != 0) {
  }
  if (answer.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    std::cerr << "consumer: GET /jobs/consumer was never answered\n";
    return 1;
  }
  const jobs::http::response res = answer.get();
  if (res.result_int() != 200 || res.body().find("\"consumer\"") == std::string::npos) {
    std::cerr << "consumer: GET /jobs/consumer answered " << res.result_int() << " " << res.body() << "\n";
    return 1;
  }
  std::cout << "consumer: GET /jobs/consumer " << res.result_int() << "\n";

  // jobs::pg: a coordinator (no server is contacted before its first operation) on an executor.
  auto pg = std::make_shared<jobs::pg::lease_coordinator>(io.get_executor(), "host=/nonexistent dbname=app");
  jobs::executor coordinated(j, jobs::with_coordinator(pg, "consumer"));
  const auto ec = jobs::pg::make_error_code(jobs::pg::errc::connect_failed);
  if (pg->holder().empty() || std::string(ec.category().name()) != "jobs.pg") {
    std::cerr << "consumer: jobs::pg holder \"" << pg->holder() << "\", category " << ec.category().name()
              << "\n";
    return 1;
  }
  std::cout << "consumer: jobs::pg holder " << pg->holder() << ", " << ec.message() << "\n";
  return 0;
}
