// One replica, as a process, for the multi-process tests (test/pg_multi/multi.cpp): a job under
// with_coordinator on the cluster named by argv; prints what it does, one line at a time.
//   pg_worker once     CONNINFO NAME          once(): runs it or is refused with once; waits
//                                             for a release (NOTIFY) while another runs it
//   pg_worker cooldown CONNINFO NAME CD_MS FOR_MS   starts for FOR_MS; prints each start's time
//   pg_worker hold     CONNINFO NAME LEASE_MS runs until its lease is lost, then tries a write
//                                             guarded by its epoch
//   pg_worker take     CONNINFO NAME LEASE_MS waits for the lease, runs once, guarded write
//   pg_worker restart  CONNINFO NAME LEASE_MS as hold, then starts again until one succeeds
#include <jobs/executor.hpp>
#include <jobs/pg/lease_coordinator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

void say(const std::string& line) {
  std::cout << line << std::endl;  // flushed: the test reads it at once
}

std::string what_of(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
  return "ok";
}
boost::system::error_code code_of(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const boost::system::system_error& x) {
    return x.code();
  } catch (...) {
  }
  return {};
}

using store_ptr = std::shared_ptr<jobs::pg::lease_coordinator>;

// The write a holder guards with its fencing token: accepted only while its epoch is the
// lease's current one.
asio::awaitable<std::size_t> fenced_write(store_ptr store, std::string name, std::uint64_t epoch) {
  // (The parameters are built first: GCC 12 cannot take a braced list inside a co_await.)
  std::vector<jobs::pg::param> params{jobs::pg::bytes(name), jobs::pg::text(std::to_string(epoch)),
                                      jobs::pg::text(std::to_string(getpid()))};
  auto [ec, r] = co_await store->async_exec(
      "INSERT INTO fenced_writes (name, epoch, writer) SELECT $1, $2::bigint, $3::int "
      "WHERE (SELECT epoch FROM jobs_lease WHERE name = $1) = $2::bigint",
      std::move(params), asio::as_tuple(asio::use_awaitable));
  if (ec) say("WRITE_ERROR " + store->last_error());
  co_return r.affected;
}

asio::awaitable<int> run(std::string mode, std::string conninfo, std::string name, long a, long b) {
  auto ex = co_await asio::this_coro::executor;
  auto store = std::make_shared<jobs::pg::lease_coordinator>(ex, conninfo);
  const auto pid = std::to_string(getpid());

  if (mode == "hold" || mode == "take" || mode == "restart") {
    auto [ec, r] = co_await store->async_exec(
        "CREATE TABLE IF NOT EXISTS fenced_writes (name bytea, epoch bigint, writer int)",
        std::vector<jobs::pg::param>{}, asio::as_tuple(asio::use_awaitable));
    (void)r;
    if (ec && store->last_error().find("already exists") == std::string::npos &&
        store->last_error().find("duplicate key") == std::string::npos) {
      say("ERROR " + store->last_error());
      co_return 1;
    }
  }

  if (mode == "once") {
    jobs::job j(ex, "migrate", [&](jobs::context& ctx) -> asio::awaitable<void> {
      say("RAN " + pid + " " + std::to_string(*ctx.fencing_token()));
      asio::steady_timer t(ctx.get_executor(), 300ms);
      co_await t.async_wait(asio::deferred);
    });
    jobs::executor e(j, jobs::once(), jobs::with_coordinator(store, name, {.lease = 2s}));
    for (;;) {
      auto [err] = co_await e.async_start(asio::as_tuple(asio::use_awaitable));
      const auto code = code_of(err);
      if (!err) {
        say("DONE " + pid);
        co_return 0;
      }
      if (code == jobs::errc::once) {
        say("REFUSED once " + pid);
        co_return 0;
      }
      if (code != jobs::errc::still_pending) {
        say("ERROR " + what_of(err));
        co_return 1;
      }
      co_await store->async_wait_release(name, 2s, asio::as_tuple(asio::use_awaitable));
    }
  }

  if (mode == "cooldown") {
    jobs::job j(ex, "scrape", [&](jobs::context&) -> asio::awaitable<void> {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch());
      say("START " + std::to_string(us.count()) + " " + pid);
      co_return;
    });
    jobs::executor e(j, jobs::with_cooldown(milliseconds(a)),
                     jobs::with_coordinator(store, name, {.lease = 2s}));
    const auto end = std::chrono::steady_clock::now() + milliseconds(b);
    asio::steady_timer t(ex);
    while (std::chrono::steady_clock::now() < end) {
      auto [err] = co_await e.async_start(asio::as_tuple(asio::use_awaitable));
      const auto code = code_of(err);
      if (err && code != jobs::errc::cooldown && code != jobs::errc::still_pending) {
        say("ERROR " + what_of(err));
        co_return 1;
      }
      t.expires_after(10ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return 0;
  }

  if (mode == "hold" || mode == "restart") {
    jobs::job j(ex, "holder", [&](jobs::context& ctx) -> asio::awaitable<void> {
      say("HOLD " + std::to_string(*ctx.fencing_token()));
      asio::steady_timer t(ctx.get_executor(), 120s);
      co_await t.async_wait(asio::as_tuple(asio::deferred));
      say("CANCELED " + ctx.cancel_reason().message());
      // The body goes on a little after the cancellation (it could be anywhere in its work):
      // the write it tries now must be rejected.
      co_await asio::this_coro::reset_cancellation_state();
      if (mode == "hold")
        say("WRITE " + std::to_string(co_await fenced_write(store, name, *ctx.fencing_token())));
    });
    jobs::executor e(j, jobs::with_coordinator(store, name, {.lease = milliseconds(a)}));
    auto [err] = co_await e.async_start(asio::as_tuple(asio::use_awaitable));
    say("END " + what_of(err));
    if (mode == "hold") co_return 0;
    // restart: the executor recovers once the server is back.
    jobs::job k(ex, "again", [&](jobs::context& ctx) -> asio::awaitable<void> {
      say("RECOVERED " + std::to_string(*ctx.fencing_token()));
      co_return;
    });
    jobs::executor again(k, jobs::with_coordinator(store, name, {.lease = milliseconds(a)}));
    asio::steady_timer t(ex);
    for (int i = 0; i < 600; ++i) {
      auto [e2] = co_await again.async_start(asio::as_tuple(asio::use_awaitable));
      if (!e2) co_return 0;
      t.expires_after(100ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    say("ERROR never recovered");
    co_return 1;
  }

  if (mode == "take") {
    jobs::job j(ex, "taker", [&](jobs::context& ctx) -> asio::awaitable<void> {
      say("TOOK " + std::to_string(*ctx.fencing_token()));
      say("WRITE " + std::to_string(co_await fenced_write(store, name, *ctx.fencing_token())));
    });
    jobs::executor e(j, jobs::with_coordinator(store, name, {.lease = milliseconds(a)}));
    for (;;) {
      auto [err] = co_await e.async_start(asio::as_tuple(asio::use_awaitable));
      if (!err) co_return 0;
      if (code_of(err) != jobs::errc::still_pending) {
        say("ERROR " + what_of(err));
        co_return 1;
      }
      co_await store->async_wait_release(name, milliseconds(a), asio::as_tuple(asio::use_awaitable));
    }
  }
  say("ERROR unknown mode " + mode);
  co_return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: pg_worker once|cooldown|hold|take|restart CONNINFO NAME [MS [MS]]\n";
    return 2;
  }
  asio::io_context io;
  int rc = 1;
  asio::co_spawn(
      io,
      run(argv[1], argv[2], argv[3], argc > 4 ? std::stol(argv[4]) : 0, argc > 5 ? std::stol(argv[5]) : 0),
      [&](std::exception_ptr e, int r) {
        if (e) say("ERROR " + what_of(e));
        rc = e ? 1 : r;
      });
  io.run();
  return rc;
}
