// jobs::registry: add, find, remove, select (order, selectors), cancel, handles and bad input.
// JSON and the table are in output.cpp, the drain in drain*.cpp, the threads in stress.cpp.
#include "registry_helpers.hpp"

#include <random>
#include <set>
#include <sstream>

using namespace reg_test;

BOOST_AUTO_TEST_SUITE(registry_api)

BOOST_AUTO_TEST_CASE(add_find_remove_size) {
  asio::io_context io;
  jobs::registry reg(io);
  BOOST_TEST(reg.size() == 0u);
  BOOST_TEST(!reg.find("a"));

  jobs::job a(io, "a", quick(), jobs::with_label("tier", "web"));
  jobs::job b(io, "b", quick());
  jobs::executor eb(b, jobs::with_retry(2, 1ms));
  reg.add(a);
  reg.add(eb);
  BOOST_TEST(reg.size() == 2u);

  auto fa = reg.find("a");
  BOOST_TEST_REQUIRE(fa.has_value());
  BOOST_TEST((fa->job == a));
  BOOST_TEST(fa->id() == "a");
  BOOST_TEST(!fa->executor.has_value());
  auto fb = reg.find("b");
  BOOST_TEST_REQUIRE(fb.has_value());
  BOOST_TEST((fb->job == b));
  BOOST_TEST_REQUIRE(fb->executor.has_value());
  BOOST_TEST((*fb->executor == eb));

  BOOST_TEST(reg.remove("a"));
  BOOST_TEST(!reg.remove("a"));
  BOOST_TEST(!reg.find("a"));
  BOOST_TEST(reg.size() == 1u);
  // The id is free again.
  reg.add(a);
  BOOST_TEST(reg.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_generated_id_is_the_key) {
  asio::io_context io;
  jobs::registry reg(io);
  jobs::job j(io, "", quick());
  reg.add(j);
  BOOST_TEST(!j.id().empty());
  BOOST_TEST(reg.find(j.id()).has_value());
}

BOOST_AUTO_TEST_CASE(duplicate_id_is_a_system_error_with_errc_duplicate_id) {
  asio::io_context io;
  jobs::registry reg(io);
  jobs::job a(io, "same", quick());
  jobs::job a2(io, "same", quick());
  reg.add(a);
  // The same handle, another job with the id, an executor of either: all refused.
  for (int i = 0; i < 4; ++i) {
    try {
      if (i == 0) reg.add(a);
      if (i == 1) reg.add(a2);
      if (i == 2) reg.add(jobs::executor(a));
      if (i == 3) reg.add(jobs::executor(a2));
      BOOST_FAIL("no exception for case " << i);
    } catch (const boost::system::system_error& e) {
      BOOST_TEST(e.code() == jobs::errc::duplicate_id);
      BOOST_TEST(dynamic_cast<const jobs::error*>(&e) != nullptr);
      BOOST_TEST(std::string(e.what()).find("\"same\" is already registered") != std::string::npos, e.what());
    }
  }
  BOOST_TEST(reg.size() == 1u);
  BOOST_TEST((reg.find("same")->job == a));
  BOOST_TEST(!reg.find("same")->executor.has_value());
}

BOOST_AUTO_TEST_CASE(a_long_id_is_cut_in_the_message) {
  asio::io_context io;
  jobs::registry reg(io);
  const std::string id(1 << 20, 'x');
  jobs::job a(io, id, quick());
  reg.add(a);
  try {
    reg.add(a);
    BOOST_FAIL("no exception");
  } catch (const jobs::error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.size() < 400u);
    BOOST_TEST(what.find("(1048576 bytes)") != std::string::npos, what);
  }
}

BOOST_AUTO_TEST_CASE(the_new_error_codes_have_messages) {
  BOOST_TEST(jobs::make_error_code(jobs::errc::shutting_down).message() == "job is shutting down");
  BOOST_TEST(jobs::make_error_code(jobs::errc::duplicate_id).message() == "duplicate job id");
  BOOST_TEST(jobs::make_error_code(jobs::errc::duplicate_id).category().name() == std::string("jobs"));
}

BOOST_AUTO_TEST_CASE(bad_handles_and_executors) {
  asio::io_context io;
  BOOST_CHECK_THROW(jobs::registry(asio::any_io_executor{}), std::invalid_argument);

  jobs::registry reg(io);
  jobs::job j(io, "j", quick());
  jobs::job moved = std::move(j);
  try {
    reg.add(j);  // NOLINT(bugprone-use-after-move): on purpose
    BOOST_FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("job handle was moved from") != std::string::npos, e.what());
  }
  jobs::executor ex(moved);
  jobs::executor ex2 = std::move(ex);
  try {
    reg.add(ex);  // NOLINT(bugprone-use-after-move): on purpose
    BOOST_FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("executor handle was moved from") != std::string::npos, e.what());
  }
  BOOST_TEST(reg.size() == 0u);

  jobs::registry other = std::move(reg);
  BOOST_TEST(!reg.get_executor());  // NOLINT(bugprone-use-after-move): on purpose
  BOOST_CHECK_THROW(reg.add(moved), std::logic_error);
  BOOST_CHECK_THROW(reg.size(), std::logic_error);
  BOOST_CHECK_THROW(reg.find("x"), std::logic_error);
  BOOST_CHECK_THROW(reg.select(), std::logic_error);
  BOOST_CHECK_THROW(reg.cancel(jobs::selector{}), std::logic_error);
  BOOST_CHECK_THROW(reg.async_drain(1s, [](error_code, jobs::drain_report) {}), std::logic_error);
  other.add(moved);
  BOOST_TEST(other.size() == 1u);
}

BOOST_AUTO_TEST_CASE(copies_share_one_registry) {
  asio::io_context io;
  jobs::registry a(io);
  jobs::registry b = a;
  jobs::registry c(io);
  BOOST_TEST((a == b));
  BOOST_TEST(!(a == c));
  b.add(jobs::job(io, "x", quick()));
  BOOST_TEST(a.find("x").has_value());
  BOOST_TEST(!c.find("x").has_value());
  BOOST_TEST((a.get_executor() == asio::any_io_executor(io.get_executor())));
}

BOOST_AUTO_TEST_CASE(select_orders_by_start_time_then_id) {
  asio::io_context io;
  jobs::registry reg(io);
  // Never run: epoch start time, first, by id.
  for (const char* id : {"n2", "n1", "n3"}) reg.add(jobs::job(io, id, quick(), jobs::with_label("k", "v")));
  // Run in the order r3, r1, r2, each strictly after the previous one.
  std::vector<jobs::job> runs;
  for (const char* id : {"r3", "r1", "r2"}) {
    jobs::job j(io, id, quick(), jobs::with_label("k", "v"));
    reg.add(j);
    if (!runs.empty()) after(runs.back().started_at());
    BOOST_TEST_REQUIRE(j.run());
    runs.push_back(j);
  }
  run_all(io);
  using v = std::vector<std::string>;
  BOOST_TEST(ids_of(reg.select()) == (v{"n1", "n2", "n3", "r3", "r1", "r2"}),
             boost::test_tools::per_element());
  BOOST_TEST(ids_of(reg.select("k=v")) == (v{"n1", "n2", "n3", "r3", "r1", "r2"}),
             boost::test_tools::per_element());
  // Run r3 again: now the latest.
  after(runs[2].started_at());
  BOOST_TEST_REQUIRE(runs[0].run());
  run_all(io);
  BOOST_TEST(ids_of(reg.select()) == (v{"n1", "n2", "n3", "r1", "r2", "r3"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(select_by_selector) {
  asio::io_context io;
  jobs::registry reg(io);
  struct spec {
    const char* id;
    jobs::labels labels;
  };
  const std::vector<spec> specs{
      {"a", {{"tier", "batch"}, {"env", "prod"}}},
      {"b", {{"tier", "batch"}, {"env", "dev"}}},
      {"c", {{"tier", "batch"}}},
      {"d", {{"tier", "web"}, {"env", "prod"}}},
      {"e", {}},
  };
  for (const auto& s : specs) reg.add(jobs::job(io, s.id, quick(), jobs::with_labels(s.labels)));
  using v = std::vector<std::string>;
  // != matches a job without the label (Kubernetes).
  BOOST_TEST(ids_of(reg.select("tier=batch,env!=prod")) == (v{"b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(ids_of(reg.select(jobs::selector::parse("env in (prod)"))) == (v{"a", "d"}),
             boost::test_tools::per_element());
  BOOST_TEST(ids_of(reg.select("!tier")) == (v{"e"}), boost::test_tools::per_element());
  BOOST_TEST(ids_of(reg.select("env")) == (v{"a", "b", "d"}), boost::test_tools::per_element());
  BOOST_TEST(ids_of(reg.select("env notin (prod)")) == (v{"b", "c", "e"}), boost::test_tools::per_element());
  BOOST_TEST(reg.select("").size() == 5u);
  BOOST_TEST(reg.select("tier=nope").empty());
}

BOOST_AUTO_TEST_CASE(select_agrees_with_selector_matches) {
  // The registry matches its own layout of the labels (label_match.hpp): held here to
  // selector::matches, over random label sets and random selectors of every operator.
  asio::io_context io;
  jobs::registry reg(io);
  std::mt19937 rng(12345);
  const auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> keys{"a", "b", "tier", "x.io/k", "k-1", "z"};
  const std::vector<std::string> values{
      "", "1", "-5", "42", "9223372036854775807", "9223372036854775808", "+7", "v", "prod", "w_2", "007"};
  std::vector<jobs::job> all;
  for (int i = 0; i < 300; ++i) {
    jobs::labels l;
    const int n = static_cast<int>(rng() % 5);
    for (int k = 0; k < n; ++k) l[pick(keys)] = pick(values);
    if (i % 50 == 0) l["long-" + std::to_string(i)] = std::string(100, 'x');  // beyond the inline buffer
    all.emplace_back(io, "j" + std::to_string(i), quick(), jobs::with_labels(l));
    reg.add(all.back());
  }
  const std::vector<std::string> ops{"=", "==", "!=", " in ", " notin ", ">", "<", "", "!"};
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const int terms = static_cast<int>(rng() % 4);
    for (int t = 0; t < terms; ++t) {
      if (!text.empty()) text += ',';
      const std::string op = pick(ops), key = pick(keys);
      if (op.empty()) {
        text += key;
      } else if (op == "!") {
        text += "!" + key;
      } else if (op == " in " || op == " notin ") {
        text += key + op + "(" + pick(values) + "," + pick(values) + ")";
      } else if (op == ">" || op == "<") {
        text += key + op + std::to_string(static_cast<int>(rng() % 100) - 50);
      } else {
        text += key + op + pick(values);
      }
    }
    jobs::selector sel;
    try {
      sel = jobs::selector::parse(text);
    } catch (const std::invalid_argument&) {
      continue;  // e.g. "+7" is no valid label value
    }
    std::set<std::string> want;
    for (const auto& j : all)
      if (sel.matches(j.labels())) want.insert(j.id());
    const auto got = ids_of(reg.select(sel));
    BOOST_TEST((std::set<std::string>(got.begin(), got.end()) == want), text);
    BOOST_TEST(got.size() == want.size(), text);
  }
}

BOOST_AUTO_TEST_CASE(removes_keep_every_other_entry_findable) {
  // Entries are dense: a remove moves the last one into the hole.
  asio::io_context io;
  jobs::registry reg(io);
  for (int i = 0; i < 100; ++i)
    reg.add(jobs::job(io, "e" + std::to_string(i), quick(), jobs::with_label("n", std::to_string(i))));
  for (int i = 0; i < 100; i += 3) BOOST_TEST(reg.remove("e" + std::to_string(i)));
  for (int i = 0; i < 100; ++i) {
    const auto e = reg.find("e" + std::to_string(i));
    BOOST_TEST(e.has_value() == (i % 3 != 0), i);
    if (e) BOOST_TEST(e->job.labels().at("n") == std::to_string(i));
    BOOST_TEST(reg.select("n=" + std::to_string(i)).size() == (i % 3 != 0 ? 1u : 0u), i);
  }
  BOOST_TEST(reg.size() == 66u);
}

BOOST_AUTO_TEST_CASE(a_bad_selector_throws_invalid_argument_with_its_position) {
  asio::io_context io;
  jobs::registry reg(io);
  for (const char* bad : {"tier=batch,", "tier in (a", "=x", "a b"}) {
    try {
      (void)reg.select(bad);
      BOOST_FAIL("no exception for " << bad);
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()).find("selector: at position") == 0u, e.what());
    }
    BOOST_CHECK_THROW(reg.cancel(bad), std::invalid_argument);
    BOOST_CHECK_THROW(reg.stats(bad), std::invalid_argument);
    std::ostringstream os;
    BOOST_CHECK_THROW(reg.print(os, bad), std::invalid_argument);
    BOOST_TEST(os.str().empty());
  }
}

BOOST_AUTO_TEST_CASE(remove_keeps_a_running_job_running) {
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  jobs::job j(io, "r", gated(g));
  reg.add(j);
  BOOST_TEST_REQUIRE(j.run());
  run_until(io, [&] { return g->waiting() == 1; });
  BOOST_TEST(reg.remove("r"));
  BOOST_TEST(j.is_state(jobs::state::running));
  g->open();
  run_all(io);
  BOOST_TEST(j.is_state(jobs::state::succeeded));
}

BOOST_AUTO_TEST_CASE(cancel_reaches_running_jobs_and_executors) {
  asio::io_context io;
  jobs::registry reg(io);
  auto calls = std::make_shared<std::atomic<int>>(0);
  jobs::job run1(io, "run1", until_canceled(), jobs::with_label("tier", "batch"));
  jobs::job run2(io, "run2", until_canceled(), jobs::with_labels({{"tier", "batch"}, {"env", "prod"}}));
  jobs::job idle(io, "idle", quick(), jobs::with_label("tier", "batch"));
  jobs::job web(io, "web", until_canceled(), jobs::with_label("tier", "web"));
  // An executor waiting an hour between attempts: no run, but a start in progress.
  jobs::job flaky(io, "flaky", failing(calls), jobs::with_label("tier", "batch"));
  jobs::executor flaky_exec(flaky, jobs::with_retry(3, 1h));
  // An executor whose attempt is running.
  jobs::job slow(io, "slow", until_canceled(), jobs::with_label("tier", "batch"));
  jobs::executor slow_exec(slow, jobs::with_retry(3, 0ms));
  reg.add(run1);
  reg.add(run2);
  reg.add(idle);
  reg.add(web);
  reg.add(flaky_exec);
  reg.add(slow_exec);

  BOOST_TEST_REQUIRE(run1.run());
  BOOST_TEST_REQUIRE(run2.run());
  BOOST_TEST_REQUIRE(web.run());
  finished flaky_start, slow_start;
  flaky_exec.async_start(flaky_start.handler());
  slow_exec.async_start(slow_start.handler());
  run_until(io, [&] { return calls->load() == 1 && slow.is_executing(); });

  // tier=batch,env!=prod: run1, flaky (its start), slow (its run); not run2 (prod), idle (not
  // running), web (tier).
  BOOST_TEST(reg.cancel("tier=batch,env!=prod") == 3u);
  run_until(io, [&] { return flaky_start.done() && slow_start.done() && run1.is_done(); });
  BOOST_TEST(run1.is_state(jobs::state::canceled));
  BOOST_TEST(has_errc(flaky_start.error, jobs::errc::canceled), what_of(flaky_start.error));
  BOOST_TEST(has_errc(slow_start.error, jobs::errc::canceled), what_of(slow_start.error));
  BOOST_TEST(calls->load() == 1);               // the retry delay was cut short: no second attempt
  BOOST_TEST(slow_exec.stats().retries == 0u);  // a stopped attempt is not a failed one
  BOOST_TEST(run2.is_state(jobs::state::running));
  BOOST_TEST(web.is_state(jobs::state::running));
  BOOST_TEST(idle.is_state(jobs::state::created));

  // Nothing running matches any more.
  BOOST_TEST(reg.cancel("tier=batch,env!=prod") == 0u);
  // The empty selector reaches everything left.
  BOOST_TEST(reg.cancel(jobs::selector{}) == 2u);
  run_all(io);
  BOOST_TEST(run2.is_state(jobs::state::canceled));
  BOOST_TEST(web.is_state(jobs::state::canceled));
}

BOOST_AUTO_TEST_SUITE_END()
