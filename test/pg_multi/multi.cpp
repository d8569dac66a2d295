// Replicas as processes (test/pg_multi/pg_worker.cpp) contending on the throw-away cluster:
// once() across 2 and 8 processes, a cooldown across processes, a holder frozen with SIGSTOP
// past its lease, and the server stopped and restarted in the middle of a run.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

std::string env(const char* k) {
  const char* v = std::getenv(k);
  BOOST_TEST_REQUIRE(v != nullptr, k << " is not set: run through ctest");
  return v;
}
std::string conninfo() { return "host=" + env("JOBS_PG_DIR") + " user=postgres dbname=postgres"; }
std::string unique(const std::string& base) {
  static std::mt19937_64 rng{std::random_device{}()};
  return base + "-" + std::to_string(rng());
}

// A worker process and its output, line by line.
class worker {
 public:
  explicit worker(std::vector<std::string> args) {
    args.insert(args.begin(), env("JOBS_PG_WORKER"));
    int fds[2];
    BOOST_TEST_REQUIRE(pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    BOOST_TEST_REQUIRE(posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    fd_ = fds[0];
  }
  ~worker() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(fd_);
  }
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  pid_t pid() const { return pid_; }

  // The next line starting with `prefix` (earlier ones are kept in lines()); "" on timeout or EOF.
  std::string wait_line(const std::string& prefix, std::chrono::seconds limit = 60s) {
    const auto end = steady::now() + limit;
    for (;;) {
      for (; seen_ < lines_.size(); ++seen_)
        if (lines_[seen_].rfind(prefix, 0) == 0) return lines_[seen_++];
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - steady::now()).count();
      if (left <= 0 || eof_) return "";
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      partial_.append(buf, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
        lines_.push_back(partial_.substr(0, nl));
        partial_.erase(0, nl + 1);
      }
    }
  }
  // Reads everything until the process exits; its exit status.
  int wait_exit(std::chrono::seconds limit = 120s) {
    (void)wait_line("\x01never", limit);  // to EOF
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::vector<std::string>& lines() const { return lines_; }
  std::string transcript() const {
    std::string s;
    for (auto& l : lines_) s += "  [" + std::to_string(pid_) + "] " + l + "\n";
    return s;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false, eof_ = false;
  std::vector<std::string> lines_;
  std::size_t seen_ = 0;
  std::string partial_;
};

int cluster(const std::string& what) {
  const std::string cmd = env("JOBS_PG_CLUSTER") + " " + what + " " + env("JOBS_PG_DIR");
  return std::system(cmd.c_str());
}

std::uint64_t number_after(const std::string& line, std::size_t word) {
  std::istringstream in(line);
  std::string w;
  for (std::size_t i = 0; i <= word; ++i) in >> w;
  return std::stoull(w);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pg_multiprocess)

BOOST_AUTO_TEST_CASE(once_across_2_then_8_processes_runs_exactly_once) {
  for (int n : {2, 8}) {
    const std::string name = unique("migration");
    std::vector<std::unique_ptr<worker>> ws;
    for (int i = 0; i < n; ++i)
      ws.push_back(std::make_unique<worker>(std::vector<std::string>{"once", conninfo(), name}));
    int ran = 0, refused = 0;
    std::string all;
    for (auto& w : ws) {
      BOOST_TEST(w->wait_exit() == 0, w->transcript());
      for (auto& l : w->lines()) {
        ran += l.rfind("RAN ", 0) == 0;
        refused += l.rfind("REFUSED once", 0) == 0;
      }
      all += w->transcript();
    }
    BOOST_TEST(ran == 1, n << " processes:\n" << all);
    BOOST_TEST(refused == n - 1, n << " processes:\n" << all);
  }
}

BOOST_AUTO_TEST_CASE(a_cooldown_holds_across_processes) {
  const std::string name = unique("scraper");
  const long cooldown_ms = 300;
  std::vector<std::unique_ptr<worker>> ws;
  for (int i = 0; i < 4; ++i)
    ws.push_back(std::make_unique<worker>(
        std::vector<std::string>{"cooldown", conninfo(), name, std::to_string(cooldown_ms), "2500"}));
  std::vector<std::uint64_t> starts;
  std::map<std::string, int> by_pid;
  std::string all;
  for (auto& w : ws) {
    BOOST_TEST(w->wait_exit() == 0, w->transcript());
    for (auto& l : w->lines())
      if (l.rfind("START ", 0) == 0) {
        starts.push_back(number_after(l, 1));
        ++by_pid[l.substr(l.rfind(' ') + 1)];
      }
    all += w->transcript();
  }
  std::sort(starts.begin(), starts.end());
  BOOST_TEST_REQUIRE(starts.size() >= 3u, all);
  BOOST_TEST(starts.size() <= 9u, all);  // 2.5 s / 0.3 s
  for (std::size_t i = 1; i < starts.size(); ++i)
    BOOST_TEST(starts[i] - starts[i - 1] >= static_cast<std::uint64_t>(cooldown_ms) * 1000u, all);
  BOOST_TEST(by_pid.size() >= 2u, "the starts came from more than one process\n" << all);
}

BOOST_AUTO_TEST_CASE(a_frozen_holder_loses_its_lease_and_its_stale_write_is_rejected) {
  const std::string name = unique("frozen");
  worker holder({"hold", conninfo(), name, "1000"});
  const std::string held = holder.wait_line("HOLD ");
  BOOST_TEST_REQUIRE(!held.empty(), holder.transcript());
  const std::uint64_t e1 = number_after(held, 1);
  BOOST_TEST_REQUIRE(kill(holder.pid(), SIGSTOP) == 0);

  const auto t0 = steady::now();
  worker taker({"take", conninfo(), name, "1000"});
  const std::string took = taker.wait_line("TOOK ");
  BOOST_TEST_REQUIRE(!took.empty(), taker.transcript());
  BOOST_TEST((steady::now() - t0 > 500ms));  // only once the frozen holder's lease lapsed
  const std::uint64_t e2 = number_after(took, 1);
  BOOST_TEST(e2 > e1);
  BOOST_TEST(taker.wait_line("WRITE ") == "WRITE 1", taker.transcript());
  BOOST_TEST(taker.wait_exit() == 0, taker.transcript());

  BOOST_TEST_REQUIRE(kill(holder.pid(), SIGCONT) == 0);
  const std::string canceled = holder.wait_line("CANCELED ");
  BOOST_TEST(canceled == "CANCELED job lease lost", holder.transcript());
  BOOST_TEST(holder.wait_line("WRITE ") == "WRITE 0", holder.transcript());  // the stale epoch
  const std::string end = holder.wait_line("END ");
  BOOST_TEST(end.find("lease lost") != std::string::npos, holder.transcript());
  BOOST_TEST(holder.wait_exit() == 0, holder.transcript());
}

BOOST_AUTO_TEST_CASE(a_server_restart_mid_run_cancels_the_run_and_the_executor_recovers) {
  const std::string name = unique("restart");
  worker w({"restart", conninfo(), name, "1500"});
  BOOST_TEST_REQUIRE(!w.wait_line("HOLD ").empty(), w.transcript());
  const auto t0 = steady::now();
  BOOST_TEST_REQUIRE(cluster("halt") == 0);
  const std::string canceled = w.wait_line("CANCELED ", 30s);
  const auto took = steady::now() - t0;
  BOOST_TEST(canceled == "CANCELED job lease lost", w.transcript());
  BOOST_TEST((took < 10s));  // bounded by the lease (1.5 s), not by the server's absence
  const std::string end = w.wait_line("END ");
  BOOST_TEST(end.find("lease lost") != std::string::npos, w.transcript());
  BOOST_TEST_REQUIRE(cluster("resume") == 0);
  BOOST_TEST(!w.wait_line("RECOVERED ", 60s).empty(), w.transcript());
  BOOST_TEST(w.wait_exit() == 0, w.transcript());
}

BOOST_AUTO_TEST_SUITE_END()
