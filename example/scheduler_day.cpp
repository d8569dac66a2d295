// jobs::scheduler on the test clock: two virtual hours around midnight in well under a second.
//
//   - a nightly report on `@daily`;
//   - a health probe on `@every 5s` with overlap::skip: one probe hangs for 15 s, and the ticks
//     that come meanwhile are skipped, not piled up;
//   - a cache refresh on `0 */15 * * * *` whose executor has a cooldown: a manual trigger right
//     after a scheduled refresh is refused (the cooldown is the executor's, in real time).
//
// It prints what ran when (virtual time), then each schedule's statistics as registry.stats()
// shows them, and exits 1 if the counts are not what the schedules promise.
#include <jobs/scheduler.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<jobs::test_clock> sim;  // the virtual clock the bodies read

std::string at() { return jobs::format_rfc3339(sim->now()).substr(11, 8); }  // hh:mm:ss

int probes = 0, reports = 0, refreshes = 0;
bool hang_next_probe = false;
std::unique_ptr<asio::steady_timer> hung;  // the hung probe waits on it until released

}  // namespace

int main() {
  asio::io_context io;
  jobs::registry reg(io);
  // 2026-01-01 23:00:00 UTC: midnight comes after an hour.
  sim = std::make_shared<jobs::test_clock>(io.get_executor(), jobs::test_clock::default_start() + 23h);
  jobs::scheduler sched(reg, jobs::with_clock(sim));

  jobs::job report(io, "nightly-report", [](jobs::context&) -> asio::awaitable<void> {
    ++reports;
    std::printf("%s nightly-report: writing yesterday's report\n", at().c_str());
    co_return;
  });
  jobs::job probe(io, "health-probe", [](jobs::context& ctx) -> asio::awaitable<void> {
    ++probes;
    if (probes <= 2) std::printf("%s health-probe: ok\n", at().c_str());
    if (hang_next_probe) {
      hang_next_probe = false;
      std::printf("%s health-probe: the backend does not answer; probe hangs\n", at().c_str());
      hung = std::make_unique<asio::steady_timer>(ctx.get_executor(), asio::steady_timer::time_point::max());
      co_await hung->async_wait(asio::as_tuple(asio::use_awaitable));
      std::printf("%s health-probe: answered at last\n", at().c_str());
    }
  });
  jobs::job refresh(io, "cache-refresh", [](jobs::context&) -> asio::awaitable<void> {
    ++refreshes;
    std::printf("%s cache-refresh: refreshed\n", at().c_str());
    co_return;
  });

  sched.add(jobs::executor(report, jobs::with_timeout(10min)), "CRON_TZ=UTC @daily");
  sched.add(jobs::executor(probe), "@every 5s", jobs::with_overlap(jobs::overlap::skip));
  sched.add(jobs::executor(refresh, jobs::with_cooldown(1h)), "CRON_TZ=UTC 0 */15 * * * *",
            jobs::with_priority(10));

  auto settle = [&] {
    io.restart();
    while (io.poll() > 0) io.restart();
  };
  const auto end = sim->now() + 2h;
  bool triggered = false;
  while (sim->armed() && *sim->armed() <= end) {
    sim->advance_to_next();
    settle();
    const auto elapsed = sim->now() - (jobs::test_clock::default_start() + 23h);
    if (elapsed == 30min) hang_next_probe = true;  // the probe at 23:30:05 hangs...
    if (hung && elapsed == 30min + 20s) {          // ...for 15 s
      hung->cancel();
      settle();
      hung.reset();
      std::printf("%s health-probe: %llu ticks skipped so far\n", at().c_str(),
                  static_cast<unsigned long long>(sched.stats("health-probe").ticks_skipped));
    }
    if (!triggered && refreshes == 1) {  // a manual refresh right after the first one
      triggered = true;
      sched.trigger("cache-refresh");
      settle();
      std::printf("%s cache-refresh: manual trigger %s (%s)\n", at().c_str(),
                  sched.stats("cache-refresh").last_outcome.c_str(),
                  sched.stats("cache-refresh").last_error.c_str());
    }
  }

  std::printf("\nafter two virtual hours (until %s):\n", at().c_str());
  for (const auto& v : reg.stats())
    std::printf("  %s: %s\n", v.as_object().at("id").as_string().c_str(),
                boost::json::serialize(v.as_object().at("schedule")).c_str());

  // What the schedules promise: one report (midnight); 1440 probe ticks of which 3 skipped while
  // one hung; a refresh at :15, :30, :45 and :00 refused by the hour's cooldown after the first.
  const auto p = sched.stats("health-probe");
  const auto c = sched.stats("cache-refresh");
  const bool ok = reports == 1 && p.ticks_run + p.ticks_skipped == 1440 && p.ticks_skipped == 3 &&
                  refreshes == 1 && c.ticks_run == 1 && c.last_outcome == "refused";
  std::printf("%s\n", ok ? "as expected" : "UNEXPECTED counts");
  return ok ? 0 : 1;
}
