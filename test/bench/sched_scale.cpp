// sched_scale: jobs::scheduler with 10^5 schedules on one io_context (issue 12, "Performance").
//
//   sched_scale [N] [S]   N schedules (default 10^5), S seconds of idle time (default 5)
//
// 1. Memory: heap bytes (glibc mallinfo2) of N executors (a job each) registered in a registry,
//    then of scheduling them (sched.add; the registry already holds them, so this is the
//    scheduler's own cost), per schedule. Also the time per add.
// 2. Idle CPU: the N schedules on the system clock (one timerfd), none due within the run (each
//    `@every <h>h` with h >= 1), the io_context run for S real seconds on this thread: the
//    process's CPU time (user + system, getrusage) over those seconds, and how many wake-ups
//    reached the scheduler (the goal: none; one timer armed at the earliest due time), beside
//    two baselines: an idle io_context with nothing armed, and the same io_context holding the
//    same N registered executors before any schedule is added.
// 3. Tick cost: the N schedules on the test clock, `@every <k>s` for k = 1..N (one due each
//    second), 10^4 wake-ups driven with advance_to_next(): CPU time per wake-up, which plans the
//    schedule's next tick, re-arms and launches one executor start (whose job body is empty).
#include <jobs/scheduler.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::size_t heap_bytes() { return mallinfo2().uordblks; }

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

jobs::body empty() {
  return [](jobs::context&) -> asio::awaitable<void> { co_return; };
}

std::vector<jobs::executor> make_execs(asio::io_context& io, std::size_t n) {
  std::vector<jobs::executor> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.emplace_back(jobs::job(io, "s-" + std::to_string(i), empty()));
  return out;
}

// A clock that counts the wake-ups it delivers (the system clock underneath).
class counting_clock final : public jobs::scheduler_clock {
 public:
  explicit counting_clock(asio::any_io_executor ex) : real_(jobs::make_system_clock(std::move(ex))) {}
  time_point now() const override { return real_->now(); }
  void arm(time_point at, wake_fn fn) override {
    ++arms;
    real_->arm(at, [this, fn = std::move(fn)](jobs::wake w) {
      ++wakes;
      fn(w);
    });
  }
  void disarm() noexcept override { real_->disarm(); }
  std::size_t arms = 0, wakes = 0;

 private:
  std::shared_ptr<jobs::scheduler_clock> real_;
};

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? static_cast<std::size_t>(std::atof(argv[1])) : 100'000;
  const double idle_s = argc > 2 ? std::atof(argv[2]) : 5.0;
  std::printf("sched_scale: %zu schedules on one io_context\n", n);

  {  // baseline for 2: the same idle run of an io_context with nothing armed at all
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    const double c0 = cpu_seconds();
    io.run_for(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(idle_s)));
    std::printf("baseline: %.1f s of an idle io_context with nothing armed: %.3f ms CPU\n", idle_s,
                (cpu_seconds() - c0) * 1e3);
  }

  {  // 1 and 2
    asio::io_context io;
    jobs::registry reg(io);
    auto clock = std::make_shared<counting_clock>(io.get_executor());
    jobs::scheduler sched(reg, jobs::with_clock(clock));
    const std::size_t h0 = heap_bytes();
    auto execs = make_execs(io, n);
    const std::size_t h1 = heap_bytes();
    for (auto& e : execs) reg.add(e);
    const std::size_t h2 = heap_bytes();
    {  // the same io_context and memory, no schedule yet
      auto guard = asio::make_work_guard(io);
      const double c0 = cpu_seconds();
      io.run_for(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(idle_s)));
      std::printf("baseline: %.1f s idle with the %zu executors registered, no schedule: %.3f ms CPU\n",
                  idle_s, n, (cpu_seconds() - c0) * 1e3);
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) sched.add(execs[i], "@every " + std::to_string(1 + i % 1000) + "h");
    const auto t1 = std::chrono::steady_clock::now();
    const std::size_t h3 = heap_bytes();
    std::printf("memory: executor+job %.0f B, registry entry %.0f B, schedule %.0f B (per item)\n",
                double(h1 - h0) / double(n), double(h2 - h1) / double(n), double(h3 - h2) / double(n));
    std::printf("add: %.2f us per schedule (%zu adds, %zu arms of the one timer)\n",
                std::chrono::duration<double, std::micro>(t1 - t0).count() / double(n), n, clock->arms);

    // Twice: the first run also does what the adds left ready (the page faults of a first pass
    // over fresh memory are counted there); the second is the steady state.
    for (const char* which : {"first", "second"}) {
      const double c0 = cpu_seconds();
      io.restart();
      io.run_for(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(idle_s)));
      const double c1 = cpu_seconds();
      std::printf("idle (%s): %.1f s with %zu schedules armed: %.3f ms CPU in total, %zu wake-ups\n", which,
                  idle_s, n, (c1 - c0) * 1e3, clock->wakes);
    }
  }

  {  // 3
    asio::io_context io;
    jobs::registry reg(io);
    auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
    jobs::scheduler sched(reg, jobs::with_clock(clock));
    auto execs = make_execs(io, n);
    for (std::size_t i = 0; i < n; ++i) sched.add(execs[i], "@every " + std::to_string(1 + i) + "s");
    const std::size_t ticks = std::min<std::size_t>(10'000, n);
    const double c0 = cpu_seconds();
    for (std::size_t i = 0; i < ticks; ++i) {
      clock->advance_to_next();
      io.restart();
      io.poll();
    }
    const double c1 = cpu_seconds();
    std::size_t run = 0;
    for (const auto& e : execs) run += sched.stats(e.get_job().id()).ticks_run;
    std::printf(
        "tick: %.2f us CPU per wake-up, %.2f us per start launched, among %zu schedules (%zu wake-ups, %zu "
        "starts)\n",
        (c1 - c0) * 1e6 / double(ticks), (c1 - c0) * 1e6 / double(run), n, ticks, run);
    if (run == 0) {
      std::printf("error: nothing ran\n");
      return 1;
    }
  }
  return 0;
}
