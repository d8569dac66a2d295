// The upstream as a child process of the service: started with fork/exec (before any thread
// exists), its port read from the line it prints, stopped with SIGTERM (and PR_SET_PDEATHSIG, so
// that it never outlives a service that is killed).
#pragma once

#include <sys/types.h>
#include <string>

namespace quote {

class upstream_process {
 public:
  upstream_process() = default;
  upstream_process(upstream_process&& o) noexcept;
  upstream_process& operator=(upstream_process&& o) noexcept;
  ~upstream_process();

  /// Starts `bin --port 0 --latency-ms <latency_ms> --fail-rate <fail_rate>` and waits (up to
  /// 10 s) for it to print its port. Throws std::runtime_error saying what went wrong.
  static upstream_process start(const std::string& bin, unsigned latency_ms, double fail_rate);

  unsigned short port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }

  /// SIGTERM, then waits for it to exit (SIGKILL after 5 s). Idempotent.
  void stop() noexcept;

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

}  // namespace quote
