// Hostile input across both libraries (issue #4, point 5): one table, one row per input, each
// row stating the documented (API.md / header) behaviour it checks, or — where API.md is silent —
// the behaviour we chose ("choice:"). test/job/bad_input.cpp already covers the empty body, wrap
// of an empty function, a null executor, NaN and out-of-range progress, wait() from the body and
// wrong-type result()/params(); the rows here do not repeat those.
#include "../executor/helpers.hpp"

#include <boost/asio/thread_pool.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <array>
#include <climits>
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

using namespace exec_test;

namespace {

using dsec = std::chrono::duration<double>;
constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_v = std::numeric_limits<double>::infinity();

struct row {
  const char* input;
  const char* expected;
  std::function<void()> check;
};

// The error's message contains `word`.
template <class E, class F>
void throws_naming(F f, const std::string& word) {
  bool thrown = false;
  try {
    f();
  } catch (const E& e) {
    thrown = true;
    BOOST_TEST(std::string(e.what()).find(word) != std::string::npos, e.what());
  }
  BOOST_TEST(thrown, "no " << typeid(E).name() << " thrown");
}

// Starts under `exec` and runs `io` until the start completes.
std::exception_ptr start_and_run(asio::io_context& io, jobs::executor& exec, std::any params = {}) {
  outcome o;
  exec.async_start(std::move(params), o.handler());
  run_all(io);
  io.restart();
  BOOST_TEST_REQUIRE(o.done);
  return o.error;
}

// An executor with `opt`, over a job that fails its first `failures` calls, runs to the end:
// returns how many times the body ran.
template <class Opt>
int attempts_with(Opt opt, int failures) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "attempts", flaky(p, failures));
  jobs::executor exec(j, opt);
  start_and_run(io, exec);
  return p->calls;
}

// A start with INT_MAX attempts of a body that fails at once, `delay` apart: stop() must end it
// promptly (a wide margin on a loaded machine).
template <class Rep, class Period>
void endless_retries_end_on_stop(std::chrono::duration<Rep, Period> delay) {
  asio::thread_pool pool(2);
  auto p = std::make_shared<probe>();
  jobs::job j(pool.get_executor(), "endless", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(INT_MAX, delay));
  auto f = exec.async_start(asio::use_future);
  const auto deadline = steady_clock::now() + hang_limit;
  // More attempts than the executor keeps records of.
  const int many = static_cast<int>(jobs::executor_stats::kept_attempts) * 3;
  while (p->calls < many && steady_clock::now() < deadline) std::this_thread::yield();
  BOOST_TEST(p->calls >= many);
  {
    const auto s = exec.stats();
    BOOST_TEST(s.attempts.size() <= jobs::executor_stats::kept_attempts);  // bounded history
    BOOST_TEST(s.retries >= static_cast<unsigned>(many) - 1);              // every failure counted
  }
  const auto t0 = steady_clock::now();
  exec.stop();
  const bool ended = f.wait_for(10s) == std::future_status::ready;
  const auto took = steady_clock::now() - t0;
  BOOST_TEST_REQUIRE(ended);
  const std::exception_ptr e = outcome_of(f);
  BOOST_TEST(has_errc(e, jobs::errc::canceled), what_of(e));
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 10'000);
  BOOST_TEST_MESSAGE("  " << p->calls.load() << " attempts before stop; stop took "
                          << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us");
  pool.join();
}

std::string non_utf8() { return std::string("id-\xff\xfe-\xc3(", 8); }

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input_table)

BOOST_AUTO_TEST_CASE(hostile_values_at_every_entry_point) {
  const std::vector<row> rows = {
      // ---- with_retry ----
      {"with_retry(0, 1ms)", "attempts <= 0: the option is ignored (one attempt)",
       [] { BOOST_TEST(attempts_with(jobs::with_retry(0, 1ms), 5) == 1); }},
      {"with_retry(-1, 1ms)", "attempts <= 0: the option is ignored (one attempt)",
       [] { BOOST_TEST(attempts_with(jobs::with_retry(-1, 1ms), 5) == 1); }},
      {"with_retry(INT_MIN, 1ms)", "attempts <= 0: the option is ignored (one attempt)",
       [] { BOOST_TEST(attempts_with(jobs::with_retry(INT_MIN, 1ms), 5) == 1); }},
      {"with_retry(3, -1ns)", "std::invalid_argument: the delay is negative",
       [] { throws_naming<std::invalid_argument>([] { (void)jobs::with_retry(3, -1ns); }, "negative"); }},
      {"with_retry(3, nanoseconds::min())", "std::invalid_argument: the delay is negative",
       [] {
         throws_naming<std::invalid_argument>(
             [] { (void)jobs::with_retry(3, std::chrono::nanoseconds::min()); }, "negative");
       }},
      {"with_retry(3, -inf s)", "std::invalid_argument: the delay is negative",
       [] {
         throws_naming<std::invalid_argument>([] { (void)jobs::with_retry(3, dsec(-inf_v)); }, "negative");
       }},
      {"with_retry(3, NaN s)", "std::invalid_argument naming the delay: not a number",
       [] {
         throws_naming<std::invalid_argument>([] { (void)jobs::with_retry(3, dsec(nan_v)); },
                                              "delay is not a number");
       }},
      {"with_retry(3, hours::max()) / +inf s", "saturates to nanoseconds::max(); stop() cuts the delay short",
       [] {
         for (auto opt : {jobs::with_retry(3, std::chrono::hours::max()), jobs::with_retry(3, dsec(inf_v))}) {
           BOOST_TEST((opt.delay == std::chrono::nanoseconds::max()));
           asio::io_context io;
           auto p = std::make_shared<probe>();
           jobs::job j(io, "max-delay", always_fail(p));
           jobs::executor exec(j, opt);
           outcome o;
           exec.async_start(o.handler());
           BOOST_TEST_REQUIRE(run_until(io, [&] { return exec.stats().retries == 1u; }));
           exec.stop();
           run_all(io);
           BOOST_TEST(has_errc(o.error, jobs::errc::canceled));
           BOOST_TEST(p->calls == 1);
         }
       }},
      {"with_retry(INT_MAX, 1ns), body fails at once",
       "runs until stopped; stop() ends it promptly (errc::canceled)",
       [] { endless_retries_end_on_stop(1ns); }},
      {"with_retry(INT_MAX, 0ns), body fails at once",
       "runs until stopped; stop() ends it promptly (errc::canceled)",
       [] { endless_retries_end_on_stop(0ns); }},
      // ---- with_timeout ----
      {"with_timeout(-1ms) / nanoseconds::min() / 0 / -inf s",
       "<= 0: ignored (alone: no timeout, a 20 ms body succeeds; after with_timeout(1ns): that one stays)",
       [] {
         for (auto opt : {jobs::with_timeout(-1ms), jobs::with_timeout(std::chrono::nanoseconds::min()),
                          jobs::with_timeout(0ns), jobs::with_timeout(dsec(-inf_v))}) {
           asio::io_context io;
           jobs::job j(io, "neg-timeout", sleeper(std::make_shared<probe>(), 20ms));
           jobs::executor alone(j, opt);
           BOOST_TEST(!start_and_run(io, alone));
           jobs::executor after(j, jobs::with_timeout(1ns), opt);
           BOOST_TEST(has_errc(start_and_run(io, after), jobs::errc::timeout));
         }
       }},
      {"with_timeout(nanoseconds::max()) / hours::max() / +inf s",
       "saturated: never fires; the start succeeds",
       [] {
         for (auto opt : {jobs::with_timeout(std::chrono::nanoseconds::max()),
                          jobs::with_timeout(std::chrono::hours::max()), jobs::with_timeout(dsec(inf_v))}) {
           asio::io_context io;
           jobs::job j(io, "max-timeout", sleeper(std::make_shared<probe>(), 5ms));
           jobs::executor exec(j, opt);
           BOOST_TEST(!start_and_run(io, exec));
         }
       }},
      {"with_timeout(NaN s)", "std::invalid_argument naming the timeout",
       [] {
         throws_naming<std::invalid_argument>([] { (void)jobs::with_timeout(dsec(nan_v)); },
                                              "timeout is not a number");
       }},
      // ---- with_cooldown ----
      {"with_cooldown(-1ms) / nanoseconds::min()", "<= 0: ignored (a second start is admitted)",
       [] {
         for (auto opt : {jobs::with_cooldown(-1ms), jobs::with_cooldown(std::chrono::nanoseconds::min())}) {
           asio::io_context io;
           jobs::job j(io, "neg-cooldown", succeed());
           jobs::executor exec(j, opt);
           BOOST_TEST(!start_and_run(io, exec));
           BOOST_TEST(!start_and_run(io, exec));
           BOOST_TEST(exec.stats().cooldown.count() == 0);
         }
       }},
      {"with_cooldown(nanoseconds::max()) / hours::max()",
       "saturated \"forever\": errc::cooldown with the time left; reset() ends it",
       [] {
         for (auto opt : {jobs::with_cooldown(std::chrono::nanoseconds::max()),
                          jobs::with_cooldown(std::chrono::hours::max())}) {
           asio::io_context io;
           jobs::job j(io, "max-cooldown", succeed());
           jobs::executor exec(j, opt);
           BOOST_TEST(!start_and_run(io, exec));
           auto e = start_and_run(io, exec);
           BOOST_TEST(has_errc(e, jobs::errc::cooldown));
           BOOST_TEST(what_of(e).find("cooldown") != std::string::npos, what_of(e));
           BOOST_TEST(what_of(e).find(" left") != std::string::npos, what_of(e));
           BOOST_TEST(exec.stats().cooldown > std::chrono::hours(24 * 365));
           exec.reset();
           BOOST_TEST(!start_and_run(io, exec));
         }
       }},
      {"with_cooldown(NaN s)", "std::invalid_argument naming the cooldown",
       [] {
         throws_naming<std::invalid_argument>([] { (void)jobs::with_cooldown(dsec(nan_v)); },
                                              "cooldown is not a number");
       }},
      // ---- with_backoff ----
      {"with_backoff(1ms, +inf, 3ms)", "multiplier >= 1 is valid; every delay is capped at max_delay",
       [] {
         asio::io_context io;
         auto p = std::make_shared<probe>();
         jobs::job j(io, "inf-backoff", always_fail(p));
         std::vector<std::chrono::nanoseconds> delays;
         jobs::executor exec(j, jobs::with_retry(4, 0ms), jobs::with_backoff(1ms, inf_v, 3ms),
                             jobs::on_retry([&](unsigned, std::exception_ptr, std::chrono::nanoseconds d) {
                               delays.push_back(d);
                             }));
         start_and_run(io, exec);
         BOOST_TEST_REQUIRE(delays.size() == 3u);
         BOOST_TEST((delays[0] == 1ms));
         BOOST_TEST((delays[1] == 3ms));
         BOOST_TEST((delays[2] == 3ms));
       }},
      {"with_backoff(0ns, +inf, 3ms)", "0 * inf is NaN: the delay is 0 (never NaN, never negative)",
       [] {
         asio::io_context io;
         jobs::job j(io, "nan-backoff", always_fail(std::make_shared<probe>()));
         std::vector<std::chrono::nanoseconds> delays;
         jobs::executor exec(j, jobs::with_retry(3, 0ms), jobs::with_backoff(0ns, inf_v, 3ms),
                             jobs::on_retry([&](unsigned, std::exception_ptr, std::chrono::nanoseconds d) {
                               delays.push_back(d);
                             }));
         start_and_run(io, exec);
         BOOST_TEST_REQUIRE(delays.size() == 2u);
         for (auto d : delays) BOOST_TEST((d >= 0ns && d <= 3ms));
       }},
      {"with_backoff(1ms, NaN / 0.5 / -inf, 1s)", "std::invalid_argument naming the multiplier",
       [] {
         for (double m : {nan_v, 0.5, -inf_v})
           throws_naming<std::invalid_argument>([m] { (void)jobs::with_backoff(1ms, m, 1s); }, "multiplier");
       }},
      {"with_backoff(1ms, 2, 1s, NaN / -0.1 / 1.5 / inf jitter)", "std::invalid_argument naming the jitter",
       [] {
         for (double jt : {nan_v, -0.1, 1.5, inf_v})
           throws_naming<std::invalid_argument>([jt] { (void)jobs::with_backoff(1ms, 2, 1s, jt); }, "jitter");
       }},
      // ---- callbacks ----
      {"on_complete({}), on_retry({}), retry_if({})", "choice: an empty std::function is no callback at all",
       [] {
         asio::io_context io;
         auto p = std::make_shared<probe>();
         jobs::job j(io, "empty-callbacks", flaky(p, 1));
         jobs::executor exec(j, jobs::with_retry(2, 0ms), jobs::on_complete({}), jobs::on_retry({}),
                             jobs::retry_if({}));
         BOOST_TEST(!start_and_run(io, exec));
         BOOST_TEST(p->calls == 2);
       }},
      // ---- the job handle ----
      {"executor over a moved-from job handle",
       "choice: std::invalid_argument at construction, naming the job",
       [] {
         asio::io_context io;
         jobs::job j(io, "moved", succeed());
         jobs::job k(std::move(j));
         throws_naming<std::invalid_argument>([&] { jobs::executor exec(j); },
                                              "job");  // NOLINT(bugprone-use-after-move)
         jobs::executor fine(k);
         BOOST_TEST(!start_and_run(io, fine));
       }},
      // ---- params and results ----
      {"params: std::any of a 1 MiB array, 3 attempts",
       "every attempt sees the same value (copied to all but the last)",
       [] {
         using big = std::array<unsigned char, 1 << 20>;
         auto value = std::make_unique<big>();
         value->fill(0);
         (*value)[12345] = 42;
         asio::io_context io;
         std::vector<int> seen;
         jobs::job j(io, "big-params", [&](jobs::context& ctx) -> asio::awaitable<void> {
           seen.push_back(ctx.params<big>()[12345]);
           if (seen.size() < 3) throw test_error("again");
           co_return;
         });
         jobs::executor exec(j, jobs::with_retry(3, 0ms));
         BOOST_TEST(!start_and_run(io, exec, std::any(*value)));
         BOOST_TEST((seen == std::vector<int>{42, 42, 42}));
         BOOST_TEST(j.run(std::any(*value)));  // and through run()
         run_all(io);
         BOOST_TEST(seen.size() == 4u);
       }},
      {"params of the wrong type read in the body under an executor",
       "the body's std::bad_any_cast is the attempt's failure, rethrown as is",
       [] {
         asio::io_context io;
         jobs::job j(io, "wrong-params", [](jobs::context& ctx) -> asio::awaitable<void> {
           (void)ctx.params<int>();
           co_return;
         });
         jobs::executor exec(j);
         auto e = start_and_run(io, exec, std::any(std::string("not an int")));
         bool is_bad_cast = false;
         try {
           std::rethrow_exception(e);
         } catch (const std::bad_any_cast&) {
           is_bad_cast = true;
         } catch (...) {
         }
         BOOST_TEST(is_bad_cast);
         BOOST_TEST((j.error() == e));
       }},
      {"result<int>() of a string result inside on_complete",
       "std::bad_any_cast out of on_complete: the start completes with it, the executor stays usable",
       [] {
         asio::io_context io;
         jobs::job j(io, "wrong-result", [](jobs::context& ctx) -> asio::awaitable<void> {
           ctx.set_result(std::string("text"));
           co_return;
         });
         int calls = 0;
         jobs::executor exec(j, jobs::on_complete([&](const jobs::job& jj) {
                               if (++calls == 1) (void)jj.result<int>();
                             }));
         auto e = start_and_run(io, exec);
         BOOST_TEST(what_of(e).find("any_cast") != std::string::npos, what_of(e));
         BOOST_TEST(!exec.stats().in_progress);
         BOOST_TEST(!start_and_run(io, exec));
       }},
      // ---- ids, labels and the stats JSON ----
      {"id \"\"", "a random UUID (36 characters)",
       [] {
         asio::io_context io;
         jobs::job a(io, "", succeed()), b(io, "", succeed());
         BOOST_TEST(a.id().size() == 36u);
         BOOST_TEST(a.id() != b.id());
       }},
      {"1 MiB id and label, non-UTF-8 id, label key and value, and error text",
       "kept byte for byte; stats JSON serializes them unchanged (Boost.JSON 1.81 neither validates nor "
       "escapes invalid UTF-8: the text is then not valid JSON and boost::json::parse rejects it)",
       [] {
         asio::io_context io;
         const std::string huge(1 << 20, 'x');
         const std::string bad = non_utf8();
         jobs::job j(
             io, bad,
             [bad](jobs::context&) -> asio::awaitable<void> {
               throw std::runtime_error(bad);
               co_return;
             },
             jobs::with_label(huge, huge), jobs::with_label(bad, bad));
         BOOST_TEST(j.id() == bad);
         jobs::executor exec(j);
         start_and_run(io, exec);
         const auto s = j.stats();
         BOOST_TEST(s.labels.at(huge) == huge);
         BOOST_TEST(s.labels.at(bad) == bad);
         BOOST_TEST(s.error == bad);
         const std::string text = boost::json::serialize(boost::json::value_from(s));
         BOOST_TEST(text.size() > 2u * huge.size());
         BOOST_TEST(text.find("\"id\":\"" + bad + "\"") != std::string::npos);  // raw bytes, unescaped
         boost::system::error_code ec;
         (void)boost::json::parse(text, ec);
         BOOST_TEST(ec.failed());  // invalid UTF-8 in the output: not valid JSON
         const std::string etext = boost::json::serialize(boost::json::value_from(exec.stats()));
         BOOST_TEST(etext.find(bad) != std::string::npos);
         // The same job with UTF-8 only round-trips.
         jobs::job ok(io, huge, succeed(), jobs::with_label("k\xc3\xa9", "v\xe2\x82\xac"));
         const auto v = boost::json::parse(boost::json::serialize(boost::json::value_from(ok.stats())));
         BOOST_TEST(v.at("id").as_string().size() == huge.size());
         BOOST_TEST(v.at("labels").at("k\xc3\xa9").as_string() == "v\xe2\x82\xac");
       }},
      {"progress +inf, then stats JSON", "clamped to 1 (JSON has no infinity); NaN never reaches the JSON",
       [] {
         asio::io_context io;
         jobs::job j(io, "inf-progress", [](jobs::context& ctx) -> asio::awaitable<void> {
           ctx.set_progress(inf_v);
           ctx.set_progress(nan_v);
           co_return;
         });
         BOOST_TEST(j.run());
         run_all(io);
         const auto v = boost::json::value_from(j.stats());
         BOOST_TEST(v.at("progress").as_double() == 1.0);
         BOOST_TEST(boost::json::serialize(v).find("\"progress\":1") != std::string::npos);
       }},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT(r.input << " -> " << r.expected) {
      BOOST_TEST_MESSAGE(r.input);
      try {
        r.check();
      } catch (const std::exception& e) {
        BOOST_ERROR("unexpected exception: " << e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
