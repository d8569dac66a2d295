// Stress (issue 11, for ThreadSanitizer): eight threads add, remove, find, select, cancel, print,
// stats, drain (some drains cancelled) and reopen on one registry, on a 4-thread pool, while
// its jobs and executors run — immediate bodies, short timers, throwing ones, bodies that ignore
// cancellation for a while — and start them (run, async_run, async_start) as they go.
//
// Checked afterwards, on the main thread: every drain completed exactly once, and every report
// is consistent (what is still running was cancelled); a selection only holds entries that
// match; only the documented errors came out (duplicate_id, shutting_down, reopen during a
// drain); every async_run and async_start completed; a final drain finds nothing left running
// and the pool runs out of work (nothing keeps a work count up). A hang fails after the cap.
//
//   JOBS_STRESS_SECONDS  how long the threads hammer (default 2)
//   JOBS_STRESS_SEED     the seed of the threads' choices (default: random; printed)
#include "registry_helpers.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstdlib>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

using namespace reg_test;

namespace {

double stress_seconds() {
  if (const char* s = std::getenv("JOBS_STRESS_SECONDS")) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end != s && v > 0 && std::isfinite(v)) return v;
  }
  return 2.0;
}

std::uint64_t stress_seed() {
  if (const char* s = std::getenv("JOBS_STRESS_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

struct shared {
  std::mutex mu;
  std::vector<std::string> failures;  // invariants broken on a worker thread (Boost.Test is not thread-safe)
  void fail(std::string what) {
    std::lock_guard lk(mu);
    if (failures.size() < 20) failures.push_back(std::move(what));
  }

  std::atomic<long> adds{0}, duplicates{0}, removes{0}, selects{0}, cancels{0}, reached{0};
  std::atomic<long> refusals{0};  // shutting_down, from run() or through a handler
  std::atomic<long> async_started{0}, async_done{0};
  std::atomic<long> drains_started{0}, drains_done{0}, drains_aborted{0}, drains_cancel_requested{0};
  std::atomic<long> reopens{0}, reopen_refused{0};
  std::atomic<long> unexpected{0};
};

const std::vector<std::string> selectors{
    "tier=batch", "tier=batch,env!=prod", "env in (prod,staging)", "!env", "tier", "tier notin (web),env", "",
};

// Bodies that always end within a few milliseconds, cancelled or not.
jobs::body make_body(unsigned kind) {
  switch (kind % 5) {
    case 0: return quick();
    case 1:  // a short timer (cancellable)
      return [](jobs::context& ctx) -> asio::awaitable<void> {
        asio::steady_timer t(ctx.get_executor(), std::chrono::microseconds(500));
        co_await t.async_wait(asio::use_awaitable);
        ctx.set_progress(1);
      };
    case 2:  // ignores cancellation for up to ~10 ms
      return [](jobs::context& ctx) -> asio::awaitable<void> {
        co_await asio::this_coro::throw_if_cancelled(false);
        asio::steady_timer t(ctx.get_executor());
        for (int i = 0; i < 10; ++i) {
          t.expires_after(1ms);
          co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
          ctx.set_progress(i / 10.0);
        }
      };
    case 3:  // fails after a timer
      return [](jobs::context& ctx) -> asio::awaitable<void> {
        asio::steady_timer t(ctx.get_executor(), std::chrono::microseconds(200));
        co_await t.async_wait(asio::use_awaitable);
        throw test_error("stress failure");
      };
    default:  // fails at once
      return [](jobs::context&) -> asio::awaitable<void> {
        throw test_error("immediate failure");
        co_return;
      };
  }
}

bool is_shutting_down(const std::exception_ptr& e) { return has_errc(e, jobs::errc::shutting_down); }

void hammer(jobs::registry reg, asio::thread_pool& pool, shared& sh, std::uint64_t seed,
            steady_clock::time_point deadline) {
  std::mt19937_64 rng(seed);
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const auto an_id = [&] { return "j" + std::to_string(pick(48)); };
  const auto a_selector = [&] { return selectors[pick(selectors.size())]; };
  const auto async_handler = [&sh] {
    ++sh.async_started;
    return [&sh](std::exception_ptr e) {
      if (is_shutting_down(e)) ++sh.refusals;
      ++sh.async_done;
    };
  };
  const auto start_one = [&](const jobs::registry::entry& e) {
    try {
      switch (pick(3)) {
        case 0:
          if (e.executor) {
            jobs::executor(*e.executor).async_start(async_handler());
            break;
          }
          [[fallthrough]];
        case 1: (void)jobs::job(e.job).run(); break;
        default: jobs::job(e.job).async_run(async_handler()); break;
      }
    } catch (const jobs::error& x) {
      if (x.code() == jobs::errc::shutting_down)
        ++sh.refusals;
      else
        sh.fail(std::string("start: unexpected ") + x.what());
    }
  };

  while (steady_clock::now() < deadline) {
    try {
      const auto op = pick(100);
      if (op < 20) {  // add a job or an executor, and maybe start it
        static const char* tiers[] = {"batch", "web"};
        static const char* envs[] = {"prod", "dev", "staging"};
        jobs::labels l{{"tier", tiers[pick(2)]}};
        if (pick(4) != 0) l["env"] = envs[pick(3)];
        jobs::job j(pool, an_id(), make_body(static_cast<unsigned>(rng())), jobs::with_labels(l));
        std::optional<jobs::executor> ex;
        if (pick(3) == 0) ex.emplace(j, jobs::with_retry(3, 1ms));
        try {
          if (ex)
            reg.add(*ex);
          else
            reg.add(j);
          ++sh.adds;
          if (pick(2) == 0) start_one(jobs::registry::entry{j, ex});
        } catch (const jobs::error& x) {
          if (x.code() != jobs::errc::duplicate_id) throw;
          ++sh.duplicates;
        }
      } else if (op < 30) {
        if (reg.remove(an_id())) ++sh.removes;
      } else if (op < 42) {
        if (auto e = reg.find(an_id())) start_one(*e);
      } else if (op < 54) {
        const auto text = a_selector();
        const auto sel = jobs::selector::parse(text);
        for (const auto& e : reg.select(sel))
          if (!sel.matches(e.job.labels())) sh.fail("select(" + text + ") returned " + e.id());
        ++sh.selects;
      } else if (op < 64) {
        sh.reached += static_cast<long>(reg.cancel(a_selector()));
        ++sh.cancels;
      } else if (op < 68) {
        const auto a = reg.stats(a_selector());
        for (const auto& v : a)
          if (!v.is_object() || !v.as_object().contains("id")) sh.fail("stats: an element without an id");
      } else if (op < 72) {
        std::ostringstream os;
        reg.print(os, a_selector());
        if (os.str().rfind("ID", 0) != 0) sh.fail("print: no header");
      } else if (op < 78) {  // a drain, a third of them cancelled through their slot
        const auto grace = std::chrono::microseconds(pick(5000));
        auto strand = asio::make_strand(pool);
        auto sig = std::make_shared<asio::cancellation_signal>();
        auto calls = std::make_shared<std::atomic<int>>(0);
        ++sh.drains_started;
        reg.async_drain(
            grace, asio::bind_cancellation_slot(
                       sig->slot(),
                       asio::bind_executor(strand, [&sh, sig, calls](error_code ec, jobs::drain_report r) {
                         if (++*calls != 1) sh.fail("a drain completed twice");
                         if (ec == asio::error::operation_aborted)
                           ++sh.drains_aborted;
                         else if (ec)
                           sh.fail("drain: " + ec.message());
                         if (r.still_running.size() > r.canceled)
                           sh.fail("drain: still running but not cancelled");
                         if (!std::is_sorted(r.still_running.begin(), r.still_running.end()))
                           sh.fail("drain: still_running not sorted");
                         ++sh.drains_done;
                       })));
        if (pick(3) == 0) {
          ++sh.drains_cancel_requested;
          // The signal is emitted on the strand its handler runs on, as a slot requires.
          asio::post(strand, [sig] { sig->emit(asio::cancellation_type::terminal); });
        }
      } else if (op < 90) {
        try {
          reg.reopen();
          ++sh.reopens;
        } catch (const std::logic_error&) {
          ++sh.reopen_refused;
        }
      } else {
        (void)reg.size();
        (void)reg.is_closed();
      }
    } catch (const std::exception& x) {
      ++sh.unexpected;
      sh.fail(std::string("unexpected exception: ") + x.what());
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_stress)

BOOST_AUTO_TEST_CASE(eight_threads_add_remove_select_cancel_and_drain_while_jobs_run) {
  const double seconds = stress_seconds();
  const std::uint64_t seed = stress_seed();
  BOOST_TEST_MESSAGE("registry stress: " << seconds << " s (JOBS_STRESS_SECONDS), seed " << seed
                                         << " (JOBS_STRESS_SEED)");
  asio::thread_pool pool(4);
  shared sh;
  {
    jobs::registry reg(pool);
    const auto deadline = steady_clock::now() + std::chrono::duration_cast<steady_clock::duration>(
                                                    std::chrono::duration<double>(seconds));
    std::vector<std::thread> threads;
    for (std::uint64_t i = 0; i < 8; ++i)
      threads.emplace_back(hammer, reg, std::ref(pool), std::ref(sh), seed + i, deadline);
    for (auto& t : threads) t.join();

    // Every drain completes (their graces are a few milliseconds; the bodies end on their own).
    BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return sh.drains_done == sh.drains_started; }),
                       sh.drains_done << " of " << sh.drains_started << " drains completed");
    // Open again (no drain is in progress now), cancel everything, and drain: nothing is left.
    reg.reopen();
    reg.cancel(jobs::selector{});
    auto f = reg.async_drain(cap, asio::use_future);
    BOOST_TEST_REQUIRE((f.wait_for(cap) == std::future_status::ready), "the final drain did not complete");
    const auto report = f.get();
    BOOST_TEST(report.still_running.empty());
    BOOST_TEST(report.canceled == 0u);  // everything ended within the grace period
    BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return sh.async_done == sh.async_started; }),
                       sh.async_done << " of " << sh.async_started << " async_run/async_start completed");
    for (const auto& e : reg.select()) BOOST_TEST(!e.job.is_executing(), e.id());
  }
  // The pool runs out of work: nothing keeps a work count up.
  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    pool.join();
    joined = true;
  });
  const bool ok = jobs_test::spin_until([&] { return joined.load(); });
  if (!ok) pool.stop();
  joiner.join();
  BOOST_TEST(ok, "the pool still had work");

  for (const auto& f : sh.failures) BOOST_ERROR(f << " (seed " << seed << ")");
  BOOST_TEST(sh.unexpected == 0);
  BOOST_TEST(sh.drains_done == sh.drains_started);
  BOOST_TEST_MESSAGE("adds " << sh.adds << ", duplicates " << sh.duplicates << ", removes " << sh.removes
                             << ", selects " << sh.selects << ", cancels " << sh.cancels << " (reached "
                             << sh.reached << "), refusals " << sh.refusals << ", async " << sh.async_done
                             << ", drains " << sh.drains_done << " (" << sh.drains_aborted << " aborted of "
                             << sh.drains_cancel_requested << " cancel requests), reopens " << sh.reopens
                             << " (" << sh.reopen_refused << " refused during a drain)");
  // The mix did happen.
  BOOST_TEST(sh.adds > 0);
  BOOST_TEST(sh.drains_done > 0);
}

BOOST_AUTO_TEST_SUITE_END()
