// Three replicas of one service, as processes, sharing a PostgreSQL cluster that this program
// starts (test/pg/pg_cluster.sh, in a temp directory, Unix socket only) and stops:
// - "migrate": once() fleet-wide: exactly one replica runs it, the others are refused;
// - "scrape": a fleet-wide cooldown of 1 s: whichever replica gets there first runs it, and
//   no two scrapes anywhere are less than 1 s apart.
// Prints who ran what; exits non-zero if the migration did not run exactly once.
#include <jobs/executor.hpp>
#include <jobs/pg/lease_coordinator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::string code_name(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const boost::system::system_error& x) {
    return x.code() == jobs::errc::still_pending ? "busy elsewhere" : x.what();
  } catch (const std::exception& x) {
    return x.what();
  }
  return "ok";
}

asio::awaitable<void> replica(int n, std::string conninfo, int& migrations, int& scrapes) {
  auto ex = co_await asio::this_coro::executor;
  auto store = std::make_shared<jobs::pg::lease_coordinator>(ex, conninfo);
  jobs::job migrate(ex, "migrate", [&](jobs::context& ctx) -> asio::awaitable<void> {
    std::printf("replica %d (pid %d): running the migration, fencing token %llu\n", n, getpid(),
                static_cast<unsigned long long>(*ctx.fencing_token()));
    std::fflush(stdout);
    asio::steady_timer t(ctx.get_executor(), 500ms);  // the migration's work
    co_await t.async_wait(asio::use_awaitable);
    ++migrations;
  });
  jobs::job scrape(ex, "scrape", [&](jobs::context& ctx) -> asio::awaitable<void> {
    std::printf("replica %d (pid %d): scraping, fencing token %llu\n", n, getpid(),
                static_cast<unsigned long long>(*ctx.fencing_token()));
    std::fflush(stdout);
    ++scrapes;
    co_return;
  });
  jobs::executor migrations_exec(migrate, jobs::once(),
                                 jobs::with_coordinator(store, "migrate", {.lease = 3s}));
  jobs::executor scrape_exec(scrape, jobs::with_cooldown(1s),
                             jobs::with_coordinator(store, "scrape", {.lease = 3s}));

  // The migration first: a replica that finds it running waits for its release (NOTIFY).
  for (;;) {
    auto [e] = co_await migrations_exec.async_start(asio::as_tuple(asio::use_awaitable));
    if (!e) break;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& x) {
      if (x.code() == jobs::errc::once) {
        std::printf("replica %d (pid %d): migration refused: %s\n", n, getpid(), x.what());
        break;
      }
      if (x.code() != jobs::errc::still_pending) throw;
    }
    co_await store->async_wait_release("migrate", 3s, asio::as_tuple(asio::use_awaitable));
  }
  // Then the scraper, tried every 150 ms for 3.5 s by every replica.
  asio::steady_timer t(ex);
  const auto end = std::chrono::steady_clock::now() + 3500ms;
  int refused = 0;
  while (std::chrono::steady_clock::now() < end) {
    auto [e] = co_await scrape_exec.async_start(asio::as_tuple(asio::use_awaitable));
    if (e) ++refused;
    if (e && code_name(e).find("cooldown") == std::string::npos && code_name(e) != "busy elsewhere")
      std::printf("replica %d: scrape failed: %s\n", n, code_name(e).c_str());
    t.expires_after(150ms);
    co_await t.async_wait(asio::use_awaitable);
  }
  std::printf("replica %d (pid %d): done: %d migration(s), %d scrape(s), %d scrape starts refused\n", n,
              getpid(), migrations, scrapes, refused);
  std::fflush(stdout);
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/jobs-pg-example-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  const std::string dir = tmpl, script = JOBS_PG_CLUSTER;
  std::printf("starting a throw-away PostgreSQL cluster in %s\n", dir.c_str());
  std::fflush(stdout);
  if (std::system((script + " start " + dir + " >/dev/null").c_str()) != 0) {
    std::fprintf(stderr, "could not start the cluster (build/deps.sh installs postgresql-15)\n");
    return 1;
  }
  const std::string conninfo = "host=" + dir + " user=postgres dbname=postgres";

  std::vector<std::pair<pid_t, int>> kids;
  for (int n = 1; n <= 3; ++n) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      int migrations = 0, scrapes = 0, rc = 0;
      try {
        asio::io_context io;
        asio::co_spawn(io, replica(n, conninfo, migrations, scrapes), [&](std::exception_ptr e) {
          if (e) {
            std::printf("replica %d failed: %s\n", n, code_name(e).c_str());
            rc = 1;
          }
        });
        io.run();
      } catch (...) {
        rc = 1;
      }
      const int counts[2] = {migrations, scrapes};
      if (write(fds[1], counts, sizeof counts) != sizeof counts) rc = 1;
      std::fflush(stdout);
      _exit(rc);
    }
    close(fds[1]);
    kids.emplace_back(pid, fds[0]);
  }
  int migrations = 0, scrapes = 0, failed = 0;
  for (auto [pid, fd] : kids) {
    int counts[2] = {0, 0};
    if (read(fd, counts, sizeof counts) != sizeof counts) ++failed;
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    migrations += counts[0];
    scrapes += counts[1];
  }
  (void)std::system((script + " stop " + dir).c_str());
  std::printf("fleet: the migration ran %d time(s); %d scrape(s), at least 1 s apart, across 3 replicas\n",
              migrations, scrapes);
  return (failed == 0 && migrations == 1 && scrapes >= 2 && scrapes <= 5) ? 0 : 1;
}
