#include "upstream_process.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace quote {

upstream_process::upstream_process(upstream_process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), port_(std::exchange(o.port_, 0)) {}

upstream_process& upstream_process::operator=(upstream_process&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    port_ = std::exchange(o.port_, 0);
  }
  return *this;
}

upstream_process::~upstream_process() { stop(); }

upstream_process upstream_process::start(const std::string& bin, unsigned latency_ms, double fail_rate) {
  if (::access(bin.c_str(), X_OK) != 0)
    throw std::runtime_error("the upstream program " + bin + " is not executable: " + std::strerror(errno) +
                             " (build the quote_upstream target, or pass --upstream-bin)");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const std::string latency = std::to_string(latency_ms);
  const std::string rate = std::to_string(fail_rate);
  std::vector<const char*> args{bin.c_str(),     "--port",      "0",          "--latency-ms",
                                latency.c_str(), "--fail-rate", rate.c_str(), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the service died before prctl
    ::dup2(fds[1], STDOUT_FILENO);          // dup2 clears O_CLOEXEC on the copy
    ::execv(bin.c_str(), const_cast<char* const*>(args.data()));
    ::_exit(127);
  }
  ::close(fds[1]);
  upstream_process p;
  p.pid_ = pid;

  // "upstream listening on 127.0.0.1:<port>\n"
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    pollfd pfd{fds[0], POLLIN, 0};
    if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
    char buf[256];
    const auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  const auto colon = line.rfind(':');
  int port = 0;
  if (line.rfind("upstream listening on ", 0) == 0 && colon != std::string::npos)
    port = std::atoi(&line[colon + 1]);
  if (port <= 0 || port > 65535)
    throw std::runtime_error("the upstream " + bin + " did not say which port it listens on (got \"" + line +
                             "\")");
  p.port_ = static_cast<unsigned short>(port);
  return p;
}

void upstream_process::stop() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace quote
