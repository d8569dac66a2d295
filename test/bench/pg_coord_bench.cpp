// jobs::pg figures (a plain program, not Google Benchmark: the 8-process part forks).
//   pg_coord_bench DIR [N]   DIR: a cluster's socket directory (test/pg/pg_cluster.sh start DIR)
// 1. acquire + release round trip: the bare statements through plain synchronous libpq
//    (PQexecParams, what psql would send), beside the same two statements through
//    jobs::pg::lease_coordinator, and a whole coordinated executor start (empty body);
// 2. starts per second across 8 processes on one job with no cooldown (waiting replicas are
//    woken by NOTIFY).
#include "../../libcoord/src/statements.hpp"

#include <jobs/executor.hpp>
#include <jobs/pg/lease_coordinator.hpp>

#include <boost/asio/io_context.hpp>

#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

std::string conninfo;

double us_since(clk::time_point t0, long n) {
  return std::chrono::duration<double, std::micro>(clk::now() - t0).count() / static_cast<double>(n);
}

// The same SQL as the coordinator's, through blocking libpq.
double bare(long n) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "connect: %s", PQerrorMessage(c));
    std::exit(1);
  }
  PQclear(PQexec(c, jobs::pg::sql::create_table));
  const std::string name = "bench-bare", holder = "bench", lease = "30000000", zero = "0", no = "false";
  const auto t0 = clk::now();
  for (long i = 0; i < n; ++i) {
    const char* a[3] = {name.data(), holder.data(), lease.data()};
    const int len[3] = {static_cast<int>(name.size()), 0, 0};
    const int fmt[3] = {1, 0, 0};
    PGresult* r = PQexecParams(c, jobs::pg::sql::acquire, 3, nullptr, a, len, fmt, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
      std::fprintf(stderr, "acquire: %s", PQerrorMessage(c));
      std::exit(1);
    }
    const std::string epoch = PQgetvalue(r, 0, 1);
    PQclear(r);
    const char* b[5] = {name.data(), holder.data(), epoch.data(), no.data(), zero.data()};
    const int blen[5] = {static_cast<int>(name.size()), 0, 0, 0, 0};
    const int bfmt[5] = {1, 0, 0, 0, 0};
    r = PQexecParams(c, jobs::pg::sql::release, 5, nullptr, b, blen, bfmt, 0);
    PQclear(r);
  }
  const double us = us_since(t0, n);
  PQfinish(c);
  return us;
}

template <class F>
void run_until(asio::io_context& io, F done) {
  while (!done()) {
    io.restart();
    io.run_one();
  }
}

double ours(long n) {
  asio::io_context io;
  auto store = std::make_shared<jobs::pg::lease_coordinator>(io.get_executor(), conninfo);
  const std::string name = "bench-ours";
  auto once = [&] {
    bool done = false;
    store->async_acquire(
        name, 30s, [&](boost::system::error_code ec, std::uint64_t epoch, std::chrono::nanoseconds) {
          if (ec) {
            std::fprintf(stderr, "acquire: %s (%s)\n", ec.message().c_str(), store->last_error().c_str());
            std::exit(1);
          }
          store->async_release(name, epoch, {}, [&](boost::system::error_code) { done = true; });
        });
    run_until(io, [&] { return done; });
  };
  once();  // connects and makes the table
  const auto t0 = clk::now();
  for (long i = 0; i < n; ++i) once();
  return us_since(t0, n);
}

double starts(long n) {
  asio::io_context io;
  auto store = std::make_shared<jobs::pg::lease_coordinator>(io.get_executor(), conninfo);
  jobs::job j(io, "bench", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  jobs::executor e(j, jobs::with_coordinator(store, "bench-start", {.lease = 30s}));
  auto once = [&] {
    std::optional<std::exception_ptr> got;
    e.async_start([&](std::exception_ptr x) { got = x; });
    run_until(io, [&] { return got.has_value(); });
    if (*got) std::rethrow_exception(*got);
  };
  once();
  const auto t0 = clk::now();
  for (long i = 0; i < n; ++i) once();
  return us_since(t0, n);
}

// One replica for `secs`: starts one job under the lease as often as it can; a refused start
// (another replica holds it) waits for its release (NOTIFY). Its count of starts.
long replica(std::chrono::seconds secs) {
  asio::io_context io;
  auto store = std::make_shared<jobs::pg::lease_coordinator>(io.get_executor(), conninfo);
  jobs::job j(io, "bench", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  jobs::executor e(j, jobs::with_coordinator(store, "bench-8", {.lease = 5s}));
  long count = 0;
  const auto end = clk::now() + secs;
  while (clk::now() < end) {
    std::optional<std::exception_ptr> got;
    e.async_start([&](std::exception_ptr x) { got = x; });
    run_until(io, [&] { return got.has_value(); });
    if (!*got) {
      ++count;
      continue;
    }
    bool woke = false;
    store->async_wait_release("bench-8", 5s, [&](boost::system::error_code) { woke = true; });
    run_until(io, [&] { return woke; });
  }
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pg_coord_bench SOCKET_DIR [N=2000]\n");
    return 2;
  }
  conninfo = std::string("host=") + argv[1] + " user=postgres dbname=postgres";
  const long n = argc > 2 ? std::stol(argv[2]) : 2000;
  std::printf("acquire+release, bare libpq (PQexecParams, blocking): %8.1f us\n", bare(n));
  std::printf("acquire+release, jobs::pg::lease_coordinator:         %8.1f us\n", ours(n));
  std::printf("coordinated executor start (empty body):              %8.1f us\n", starts(n));

  const int procs = 8;
  const auto secs = 5s;
  std::vector<std::pair<pid_t, int>> kids;
  for (int i = 0; i < procs; ++i) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      const long c = replica(secs);
      if (write(fds[1], &c, sizeof c) != sizeof c) _exit(1);
      _exit(0);
    }
    close(fds[1]);
    kids.emplace_back(pid, fds[0]);
  }
  long total = 0;
  std::string per;
  for (auto [pid, fd] : kids) {
    long c = 0;
    if (read(fd, &c, sizeof c) != sizeof c) c = 0;
    close(fd);
    waitpid(pid, nullptr, 0);
    total += c;
    per += ' ';  // (not " " + string: a GCC 12 -Wrestrict false positive at -O2)
    per += std::to_string(c);
  }
  std::printf("8 processes, one job, no cooldown: %.0f starts/s (%ld in %llds; per process:%s)\n",
              static_cast<double>(total) / static_cast<double>(secs.count()), total,
              static_cast<long long>(secs.count()), per.c_str());
  return 0;
}
