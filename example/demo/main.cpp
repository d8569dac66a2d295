// The jobs demo: a realistic mix of jobs running concurrently on one io_context, shown live.
//
//   build/demo.sh [--jobs N] [--seconds S] [--plain]
//
//   - uploads report their progress chunk by chunk;
//   - a flaky API call under with_retry + with_backoff + with_timeout fails twice, times out once,
//     then succeeds;
//   - a migration under once() + with_retry is started twice: the second start is refused;
//   - a scraper under with_cooldown is started on a ticker: most ticks are refused;
//   - a long reindex is canceled by the demo when it is halfway.
//
// The dashboard (dashboard.cpp) follows every job with `co_await job.async_watch(version)` — one
// watcher coroutine per job, no polling. At the end: a summary table, the stats of every job and
// executor as JSON, and a check of everything the scenario expects (exit 1 if anything is off).
#include "dashboard.hpp"

#include <jobs/jobs.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/log/attributes/value_extraction.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/trivial.hpp>
#include <boost/smart_ptr/make_shared_object.hpp>

#include <unistd.h>

#include <algorithm>
#include <any>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;

namespace {

// ---- the command line -----------------------------------------------------------------------------

struct options {
  int uploads = 4;
  double seconds = 10;
  bool plain = false;
};

constexpr std::string_view usage =
    "usage: demo [--jobs N] [--seconds S] [--plain]\n"
    "  --jobs N      number of uploads, 1 to 500 (default 4)\n"
    "  --seconds S   how long the demo takes, 1 to 3600 (default 10); every duration scales with it\n"
    "  --plain       print changes as lines even on a terminal (the default when stdout is not one)\n";

// Throws std::invalid_argument with a message for the user.
options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i], value;
    const bool takes_value = arg.starts_with("--jobs") || arg.starts_with("--seconds");
    if (const auto eq = arg.find('='); takes_value && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);  // --jobs=8
      arg = arg.substr(0, eq);
    } else if (takes_value && (arg == "--jobs" || arg == "--seconds")) {
      if (i + 1 == argc) throw std::invalid_argument(std::string(arg) + " needs a value");
      value = argv[++i];
    }
    if (arg == "--jobs") {
      int n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc{} || end != value.data() + value.size() || n < 1 || n > 500)
        throw std::invalid_argument("--jobs expects a whole number from 1 to 500, not '" +
                                    std::string(value) + "'");
      o.uploads = n;
    } else if (arg == "--seconds") {
      double s = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
      if (ec != std::errc{} || end != value.data() + value.size() || !std::isfinite(s) || s < 1 || s > 3600)
        throw std::invalid_argument("--seconds expects a number of seconds from 1 to 3600, not '" +
                                    std::string(value) + "'");
      o.seconds = s;
    } else if (arg == "--plain") {
      o.plain = true;
    } else {
      throw std::invalid_argument("unknown argument '" + std::string(argv[i]) + "'");
    }
  }
  return o;
}

// ---- time: every duration below is written for the default 10-second run ---------------------------

struct timeline {
  double factor;  // --seconds / 10
  steady_clock::time_point t0 = steady_clock::now();

  /// `s` seconds of the 10-second run, scaled to --seconds.
  nanoseconds operator()(double s) const {
    return std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(s * factor));
  }
  /// `s` seconds after the start of the demo, scaled.
  steady_clock::time_point at(double s) const { return t0 + (*this)(s); }
};

asio::awaitable<void> sleep_until(steady_clock::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  co_await timer.async_wait(asio::use_awaitable);
}

// A job body's work: `steps` waits over `total`, reporting progress from `from` to `to`. Each wait
// is a cancellation point: job.cancel() and the executor's timeout make it throw operation_aborted.
asio::awaitable<void> work(jobs::context& ctx, nanoseconds total, int steps, double from = 0, double to = 1) {
  asio::steady_timer timer(ctx.get_executor());
  for (int i = 1; i <= steps; ++i) {
    timer.expires_after(total / steps);
    co_await timer.async_wait(asio::use_awaitable);
    ctx.set_progress(from + (to - from) * i / steps);
  }
}

std::string what(const std::exception_ptr& e) {
  if (!e) return "";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

// The framework's error code of `e` (jobs::errc::once, cooldown, timeout, ...), or none.
boost::system::error_code code_of(const std::exception_ptr& e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const boost::system::system_error& x) {
    return x.code();
  } catch (...) {
  }
  return {};
}

std::string count(int n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string seconds(nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
  return buf;
}

// ---- logging: library records go to the dashboard's event log, never over the live table -----------

class event_log_backend
    : public boost::log::sinks::basic_sink_backend<boost::log::sinks::synchronized_feeding> {
 public:
  explicit event_log_backend(std::function<void(std::string)> out) : out_(std::move(out)) {}
  void consume(const boost::log::record_view& rec) {
    const auto severity = rec[boost::log::trivial::severity];
    const auto message = rec[boost::log::expressions::smessage];
    out_(std::string("log ") + (severity ? boost::log::trivial::to_string(*severity) : "?") + ": " +
         (message ? *message : std::string()));
  }

 private:
  std::function<void(std::string)> out_;
};

// ---- what the scenario expects ---------------------------------------------------------------------

struct checks {
  std::vector<std::pair<bool, std::string>> items;
  void expect(bool ok, std::string what) { items.emplace_back(ok, std::move(what)); }
  std::size_t failed() const {
    return static_cast<std::size_t>(
        std::count_if(items.begin(), items.end(), [](auto& i) { return !i.first; }));
  }
};

std::vector<jobs::state> end_states(const demo::row& r) {
  std::vector<jobs::state> out;
  for (const auto& s : r.ends) out.push_back(s.state);
  return out;
}

template <class T>
std::string join(const std::vector<T>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + std::string(to_string(x));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  try {
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
        std::cout << usage;
        return 0;
      }
    }
    opt = parse(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::cerr << "demo: " << e.what() << "\n" << usage;
    return 2;
  }
  const bool live = !opt.plain && ::isatty(STDOUT_FILENO);

  asio::io_context io;  // everything runs on this one io_context, on this one thread
  const timeline tl{opt.seconds / 10};
  demo::dashboard board(io, live,
                        "jobs demo: " + std::to_string(opt.uploads) +
                            " uploads, an API call, a migration, a scraper and a long job on one io_context");

  // The library's own records, from info up (cancellations and retries at info, failures and
  // timeouts at warning; each run's start and end at debug stay off), go to the event log.
  jobs::set_log_level(boost::log::trivial::info);
  boost::log::core::get()->add_sink(
      boost::make_shared<boost::log::sinks::synchronous_sink<event_log_backend>>(
          boost::make_shared<event_log_backend>([&](std::string text) { board.event(std::move(text)); })));

  // ---- 1. the API call: fails twice, times out once, then succeeds ------------------------------
  int api_attempt = 0;
  jobs::job api(
      io, "api-call",
      [&](jobs::context& ctx) -> asio::awaitable<void> {
        switch (++api_attempt) {  // deterministic: the attempt number decides what the "server" does
          case 1:
            co_await work(ctx, tl(0.4), 4, 0, 0.5);
            throw std::runtime_error("HTTP 503 Service Unavailable");
          case 2:
            co_await work(ctx, tl(0.3), 3, 0, 0.3);
            throw std::runtime_error("connection reset by peer");
          case 3: {
            // The request is sent and no answer ever comes: the executor's timeout cancels this
            // wait, which then throws operation_aborted (the attempt ends failed, errc::timeout).
            ctx.set_progress(0.2);
            asio::steady_timer no_answer(ctx.get_executor(), tl(100));
            co_await no_answer.async_wait(asio::use_awaitable);
            break;
          }
          default: {
            co_await work(ctx, tl(0.5), 5);
            ctx.set_result(std::string("200 OK, 3 new orders"));
          }
        }
      },
      jobs::with_label("kind", "http"), jobs::with_label("svc", "orders"));
  jobs::executor api_exec(api, jobs::with_retry(5, tl(0.25)),      // up to 5 attempts,
                          jobs::with_backoff(tl(0.25), 2, tl(1)),  // 0.25 s, 0.5 s, 1 s, 1 s apart,
                          jobs::with_timeout(tl(1.5)),             // each at most 1.5 s
                          jobs::on_retry([&](unsigned attempt, std::exception_ptr e, nanoseconds next) {
                            board.note(api,
                                       "attempt " + std::to_string(attempt) +
                                           (code_of(e) == jobs::errc::timeout ? " timed out" : " failed") +
                                           "; retry in " + seconds(next));
                          }));

  // ---- 2. the migration: once() + with_retry; the second start is refused -----------------------
  int migration_runs = 0;
  jobs::job migration(
      io, "migration",
      [&](jobs::context& ctx) -> asio::awaitable<void> {
        const int version = ctx.params<int>();
        if (++migration_runs == 1) {
          co_await work(ctx, tl(0.5), 2, 0, 0.1);
          throw std::runtime_error("database is locked");
        }
        co_await work(ctx, tl(2.5), 10);  // ten schema steps
        ctx.set_result("schema at v" + std::to_string(version));
      },
      jobs::with_label("kind", "db"), jobs::with_label("schema", "v42"));
  jobs::executor migration_exec(
      migration, jobs::once(), jobs::with_retry(3, tl(0.4)),
      jobs::on_retry([&](unsigned attempt, std::exception_ptr e, nanoseconds next) {
        board.note(migration, what(e) + "; retry " + std::to_string(attempt + 1) + " in " + seconds(next));
      }));

  // ---- 3. the scraper: with_cooldown, started on a ticker --------------------------------------
  jobs::job scraper(
      io, "scraper",
      [&](jobs::context& ctx) -> asio::awaitable<void> {
        co_await work(ctx, tl(0.3), 3);
        ctx.set_result(std::string("7 headlines"));
      },
      jobs::with_label("kind", "scrape"), jobs::with_label("site", "news"));
  jobs::executor scraper_exec(scraper, jobs::with_cooldown(tl(1.5)));

  // ---- 4. the long job, cancelled halfway ---------------------------------------------------------
  jobs::job reindex(
      io, "reindex", [&](jobs::context& ctx) -> asio::awaitable<void> { co_await work(ctx, tl(12), 48); },
      jobs::with_label("kind", "batch"), jobs::with_label("idx", "search"));

  // ---- 5. the uploads: progress in chunks; the size comes in the run's params -------------------
  struct upload {
    int megabytes;
    int chunks;
    nanoseconds duration;
  };
  const jobs::body upload_body = [](jobs::context& ctx) -> asio::awaitable<void> {
    const auto& u = ctx.params<upload>();
    co_await work(ctx, u.duration, u.chunks);  // one chunk per step
    ctx.set_result(std::to_string(u.megabytes) + " MB uploaded");
  };
  std::vector<jobs::job> uploads;
  std::vector<upload> upload_specs;
  for (int i = 0; i < opt.uploads; ++i) {
    const int mb = 8 + (i * 13) % 40;
    upload_specs.push_back({mb, mb / 2, tl(3.5 + 0.7 * (i % 5))});
    uploads.emplace_back(io, "upload-" + std::to_string(i + 1), upload_body,
                         jobs::with_label("kind", "upload"),
                         jobs::with_label("size", std::to_string(mb) + "MB"));
  }

  // ---- the dashboard: one watcher per job ------------------------------------------------------
  board.add(api, api_exec);
  board.add(migration, migration_exec);
  board.add(scraper, scraper_exec);
  board.add(reindex);
  for (const auto& u : uploads) board.add(u, {}, /*collapsible=*/true);
  board.note(api, "fails twice, times out, then succeeds", false);
  board.note(migration, "runs once; started twice", false);
  board.note(scraper, "a tick every " + seconds(tl(0.5)) + ", cooldown " + seconds(tl(1.5)), false);
  board.note(reindex, "to be canceled halfway", false);
  for (std::size_t i = 0; i < uploads.size(); ++i)
    board.note(uploads[i], std::to_string(upload_specs[i].chunks) + " chunks of 2 MB", false);
  board.start();

  // ---- the scenario: each part is a coroutine; when the last one ends, the dashboard stops ---------
  int parts_left = 0;
  std::vector<std::string> unexpected;  // exceptions that escaped a part
  auto part = [&](std::function<asio::awaitable<void>()> fn) {
    ++parts_left;
    asio::co_spawn(io, std::move(fn), [&](std::exception_ptr e) {
      if (e) unexpected.push_back(what(e));
      if (--parts_left == 0) board.stop();
    });
  };

  std::exception_ptr api_error;
  part([&]() -> asio::awaitable<void> {
    co_await sleep_until(tl.at(0.5));
    auto [e] = co_await api_exec.async_start(asio::as_tuple(asio::use_awaitable));
    api_error = e;
    board.note(api, e ? "gave up: " + what(e)
                      : api.result<std::string>() + " after " + std::to_string(api_exec.stats().retries) +
                            " retries");
  });

  std::exception_ptr migration_first, migration_second;
  part([&]() -> asio::awaitable<void> {
    co_await sleep_until(tl.at(1));
    auto [first] = co_await migration_exec.async_start(42, asio::as_tuple(asio::use_awaitable));
    migration_first = first;
    board.note(migration, first ? "failed: " + what(first) : migration.result<std::string>());
    co_await sleep_until(tl.at(7));  // a second deploy runs the migration again
    auto [second] = co_await migration_exec.async_start(42, asio::as_tuple(asio::use_awaitable));
    migration_second = second;
    board.note(migration, second ? "2nd start: " + what(second) : "2nd start ran it again!");
  });

  int scrapes = 0, cooldown_refusals = 0;
  std::string last_refusal;
  std::vector<std::string> scraper_errors;
  part([&]() -> asio::awaitable<void> {
    for (double t = 0.2; t < 9.3; t += 0.5) {  // a ticker: each tick tries to start a scrape
      co_await sleep_until(tl.at(t));
      auto [e] = co_await scraper_exec.async_start(asio::as_tuple(asio::use_awaitable));
      if (!e) {
        ++scrapes;
      } else if (code_of(e) == jobs::errc::cooldown) {
        ++cooldown_refusals;
        last_refusal = what(e);
      } else {
        scraper_errors.push_back(what(e));
      }
      board.event(e ? "scraper: tick refused: " + what(e)
                    : "scraper: tick ran a scrape: " + scraper.result<std::string>());
      board.note(scraper, count(scrapes, "scrape") + ", " + std::to_string(cooldown_refusals) + " refused",
                 false);
    }
  });

  double reindex_canceled_at = -1;
  part([&]() -> asio::awaitable<void> {
    co_await sleep_until(tl.at(0.5));
    reindex.run();
    // A supervisor: follow the job's progress and cancel it once it is halfway.
    for (std::uint64_t seen = 0;;) {
      const jobs::stats s = co_await reindex.async_watch(seen);
      seen = s.version;
      if (s.progress >= 0.5 || jobs::is_done(s.state)) break;
    }
    if (reindex.cancel()) {
      reindex_canceled_at = reindex.progress();
      board.note(reindex, "canceled by the demo at " +
                              std::to_string(static_cast<int>(std::lround(reindex_canceled_at * 100))) + "%");
    }
    co_await reindex.async_wait();  // its body responds: the timer wait throws operation_aborted
  });

  for (std::size_t i = 0; i < uploads.size(); ++i) {
    part([&, i]() -> asio::awaitable<void> {
      co_await sleep_until(tl.at(0.25 * static_cast<double>(i % 10)));
      auto [e] = co_await uploads[i].async_run(upload_specs[i], asio::as_tuple(asio::use_awaitable));
      board.note(uploads[i], e ? what(e) : uploads[i].result<std::string>(), false);
    });
  }

  io.run();
  const double took = board.elapsed();
  boost::log::core::get()->remove_all_sinks();  // board.event() must not be called from here on

  // ---- the summary -------------------------------------------------------------------------------
  std::cout << "\nsummary ("
            << seconds(std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(took))) << ")\n";
  std::printf("  %-11s %-10s %8s %5s %8s %7s  %s\n", "JOB", "STATE", "PROGRESS", "RUNS", "RETRIES", "TIME",
              "RESULT / ERROR");
  std::fflush(stdout);
  for (const auto& r : board.rows()) {
    const auto s = r.job.stats();
    const auto result = r.job.result();
    const auto* text = std::any_cast<std::string>(&result);
    const std::string outcome = s.state == jobs::state::succeeded && text ? *text : s.error;
    char progress[16] = "-";
    if (s.progress >= 0) std::snprintf(progress, sizeof progress, "%.0f%%", s.progress * 100);
    std::printf("  %-11s %-10s %8s %5zu %8s %7s  %s\n", s.id.c_str(),
                std::string(jobs::to_string(s.state)).c_str(), progress, r.ends.size(),
                r.exec ? std::to_string(r.exec->stats().retries).c_str() : "-",
                seconds(s.execution_time).c_str(), outcome.c_str());
  }
  std::fflush(stdout);

  // ---- every job's and every executor's stats, as JSON ---------------------------------------------
  std::cout << "\nstats (JSON):\n{\"jobs\": [\n";
  for (std::size_t i = 0; i < board.rows().size(); ++i)
    std::cout << "  " << boost::json::serialize(boost::json::value_from(board.rows()[i].job.stats()))
              << (i + 1 < board.rows().size() ? ",\n" : "\n");
  std::cout << " ],\n \"executors\": {\n";
  const std::vector<std::pair<std::string, jobs::executor>> executors{
      {"api-call", api_exec}, {"migration", migration_exec}, {"scraper", scraper_exec}};
  for (std::size_t i = 0; i < executors.size(); ++i)
    std::cout << "  \"" << executors[i].first
              << "\": " << boost::json::serialize(boost::json::value_from(executors[i].second.stats()))
              << (i + 1 < executors.size() ? ",\n" : "\n");
  std::cout << " }}\n";

  // ---- did everything happen as the scenario says? -----------------------------------------------
  checks c;
  const auto find_row = [&](const jobs::job& j) -> const demo::row& {
    return *std::find_if(board.rows().begin(), board.rows().end(),
                         [&](const demo::row& r) { return r.job == j; });
  };

  const auto uploaded = std::count_if(uploads.begin(), uploads.end(), [](const jobs::job& u) {
    return u.state() == jobs::state::succeeded && u.progress() == 1;
  });
  c.expect(uploaded == opt.uploads, "uploads: " + std::to_string(uploaded) + " of " +
                                        std::to_string(opt.uploads) + " succeeded at 100%");

  const auto as = api_exec.stats();
  std::vector<jobs::attempt_outcome> outcomes;
  for (const auto& a : as.attempts) outcomes.push_back(a.outcome);
  using enum jobs::attempt_outcome;
  c.expect(!api_error && api.state() == jobs::state::succeeded,
           "api-call: succeeded (" + (api_error ? what(api_error) : api.result<std::string>()) + ")");
  c.expect(as.retries == 3, "api-call: 3 retries (got " + std::to_string(as.retries) + ")");
  c.expect(outcomes == std::vector{failed, failed, timed_out, succeeded},
           "api-call: attempts failed, failed, timed_out, succeeded (got " + join(outcomes) + ")");
  c.expect(as.attempts.size() == 4 && code_of(as.attempts[2].exception) == jobs::errc::timeout,
           "api-call: the third attempt ended with errc::timeout");
  const auto api_ends = end_states(find_row(api));
  c.expect(api_ends == std::vector{jobs::state::failed, jobs::state::failed, jobs::state::failed,
                                   jobs::state::succeeded},
           "api-call: its watcher saw every run end: " + join(api_ends));

  c.expect(!migration_first && migration.state() == jobs::state::succeeded && migration_runs == 2,
           "migration: the first start succeeded on its second attempt (" +
               (migration_first ? what(migration_first) : migration.result<std::string>()) + ")");
  c.expect(code_of(migration_second) == jobs::errc::once,
           "migration: the second start was refused with errc::once (" + what(migration_second) + ")");
  c.expect(migration_exec.stats().starts == 1 && migration_exec.stats().successes == 1,
           "migration: one admitted start, one success");

  c.expect(cooldown_refusals >= 1 && last_refusal.find("cooldown") != std::string::npos &&
               last_refusal.find("left") != std::string::npos,
           "scraper: " + std::to_string(cooldown_refusals) + " ticks refused with errc::cooldown (" +
               last_refusal + ")");
  c.expect(scrapes >= 2 && scraper_errors.empty() && scraper.state() == jobs::state::succeeded,
           "scraper: " + std::to_string(scrapes) + " scrapes succeeded, no other error" +
               (scraper_errors.empty() ? "" : " (got " + scraper_errors.front() + ")"));
  c.expect(find_row(scraper).ends.size() == static_cast<std::size_t>(scrapes),
           "scraper: its watcher saw all " + std::to_string(scrapes) + " scrapes end");

  c.expect(reindex.state() == jobs::state::canceled && code_of(reindex.error()) == jobs::errc::canceled &&
               reindex_canceled_at >= 0.5 && reindex.progress() < 1,
           "reindex: canceled halfway (" + std::string(jobs::to_string(reindex.state())) + " at " +
               std::to_string(static_cast<int>(std::lround(reindex.progress() * 100))) + "%)");
  c.expect(end_states(find_row(reindex)) == std::vector{jobs::state::canceled},
           "reindex: its watcher saw the run end canceled");

  c.expect(unexpected.empty(),
           "no part of the scenario threw" + (unexpected.empty() ? "" : ": " + unexpected[0]));

  std::cout << "\nexpectations:\n";
  for (const auto& [ok, text] : c.items) std::cout << (ok ? "  ok    " : "  FAIL  ") << text << "\n";
  if (c.failed() == 0) {
    std::cout << "demo: all " << c.items.size() << " expectations met\n";
    return 0;
  }
  std::cout << "demo: " << c.failed() << " of " << c.items.size() << " expectations NOT met\n";
  return 1;
}
