// The lifecycle as a pure state machine (jobs/detail/lifecycle.hpp), exhaustively, and a real job
// compared against it for every (cancel reason, way the body ends) pair.
#include <jobs/detail/job_access.hpp>
#include <jobs/detail/lifecycle.hpp>
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <stdexcept>

namespace asio = boost::asio;
using jobs::state;
using jobs::detail::body_end;
using jobs::detail::cancel_reason;
using jobs::detail::run_error;
using jobs::detail::run_outcome;

namespace {

constexpr std::array all_states{state::created,   state::running, state::canceling,
                                state::succeeded, state::failed,  state::canceled};
constexpr std::array all_reasons{cancel_reason::none, cancel_reason::canceled, cancel_reason::timeout,
                                 cancel_reason::lease_lost};
constexpr std::array all_ends{body_end::returned, body_end::threw_cancellation, body_end::threw_other,
                              body_end::abandoned};

// API.md "Outcome of a run", written out as a table (reason x end), independently of on_end().
struct expected_row {
  cancel_reason reason;
  body_end end;
  run_outcome outcome;
};
constexpr std::array<expected_row, 16> outcome_table{{
    {cancel_reason::none, body_end::returned, {state::succeeded, run_error::none}},
    {cancel_reason::none, body_end::threw_cancellation, {state::failed, run_error::body}},
    {cancel_reason::none, body_end::threw_other, {state::failed, run_error::body}},
    {cancel_reason::none, body_end::abandoned, {state::canceled, run_error::canceled}},
    {cancel_reason::canceled, body_end::returned, {state::canceled, run_error::canceled}},
    {cancel_reason::canceled, body_end::threw_cancellation, {state::canceled, run_error::canceled}},
    {cancel_reason::canceled, body_end::threw_other, {state::canceled, run_error::body}},
    {cancel_reason::canceled, body_end::abandoned, {state::canceled, run_error::canceled}},
    {cancel_reason::timeout, body_end::returned, {state::succeeded, run_error::none}},
    {cancel_reason::timeout, body_end::threw_cancellation, {state::failed, run_error::timeout}},
    {cancel_reason::timeout, body_end::threw_other, {state::failed, run_error::body}},
    {cancel_reason::timeout, body_end::abandoned, {state::canceled, run_error::canceled}},
    // A coordinated run that lost its lease ends canceled, whatever the body does, with errc::lease_lost.
    {cancel_reason::lease_lost, body_end::returned, {state::canceled, run_error::lease_lost}},
    {cancel_reason::lease_lost, body_end::threw_cancellation, {state::canceled, run_error::lease_lost}},
    {cancel_reason::lease_lost, body_end::threw_other, {state::canceled, run_error::body}},
    {cancel_reason::lease_lost, body_end::abandoned, {state::canceled, run_error::canceled}},
}};

// The functions are usable in constant expressions.
static_assert(jobs::detail::on_start(state::created) == state::running);
static_assert(!jobs::detail::on_start(state::running));
static_assert(jobs::detail::on_cancel(state::running) == state::canceling);
static_assert(jobs::detail::on_end(cancel_reason::none, body_end::returned) ==
              run_outcome{state::succeeded, run_error::none});

}  // namespace

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(on_start_admits_every_state_but_pending_ones) {
  for (state s : all_states) {
    BOOST_TEST_CONTEXT("from " << s) {
      const auto next = jobs::detail::on_start(s);
      if (s == state::running || s == state::canceling) {
        BOOST_TEST(!next.has_value());
      } else {
        BOOST_TEST_REQUIRE(next.has_value());
        BOOST_TEST(*next == state::running);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(on_cancel_only_from_running) {
  for (state s : all_states) {
    BOOST_TEST_CONTEXT("from " << s) {
      const auto next = jobs::detail::on_cancel(s);
      if (s == state::running) {
        BOOST_TEST_REQUIRE(next.has_value());
        BOOST_TEST(*next == state::canceling);
      } else {
        BOOST_TEST(!next.has_value());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(on_end_matches_the_outcome_rules) {
  int checked = 0;
  for (cancel_reason r : all_reasons) {
    for (body_end e : all_ends) {
      BOOST_TEST_CONTEXT("reason " << int(r) << ", end " << int(e)) {
        const expected_row* row = nullptr;
        for (const auto& x : outcome_table)
          if (x.reason == r && x.end == e) row = &x;
        BOOST_TEST_REQUIRE(row != nullptr);
        const run_outcome got = jobs::detail::on_end(r, e);
        BOOST_TEST(got.final == row->outcome.final);
        BOOST_TEST(int(got.error) == int(row->outcome.error));
        ++checked;
      }
    }
  }
  BOOST_TEST(checked == int(outcome_table.size()));
}

BOOST_AUTO_TEST_CASE(every_end_is_a_terminal_state_and_canceled_runs_carry_an_error) {
  for (cancel_reason r : all_reasons) {
    for (body_end e : all_ends) {
      const run_outcome got = jobs::detail::on_end(r, e);
      BOOST_TEST(jobs::is_done(got.final));
      if (got.final == state::canceled) BOOST_TEST(int(got.error) != int(run_error::none));
      if (got.final == state::succeeded) BOOST_TEST(int(got.error) == int(run_error::none));
      if (got.final == state::failed) BOOST_TEST(int(got.error) != int(run_error::none));
    }
  }
}

// A real job, driven to each (reason, end) pair, ends as on_end() says.
BOOST_AUTO_TEST_CASE(a_real_job_follows_on_end) {
  const std::array ends{body_end::returned, body_end::threw_cancellation, body_end::threw_other};
  for (cancel_reason r : all_reasons) {
    for (body_end how : ends) {
      BOOST_TEST_CONTEXT("reason " << int(r) << ", end " << int(how)) {
        asio::io_context io;
        jobs_test::gate g(io.get_executor());
        std::exception_ptr thrown;
        boost::system::error_code seen_reason;
        bool after_gate = false;
        jobs::job j(io, "lc", [&](jobs::context& ctx) -> asio::awaitable<void> {
          try {
            co_await g.wait();
          } catch (...) {
          }
          after_gate = true;
          seen_reason = ctx.cancel_reason();
          switch (how) {
            case body_end::returned: co_return;
            case body_end::threw_cancellation:
              try {
                throw boost::system::system_error(asio::error::operation_aborted);
              } catch (...) {
                thrown = std::current_exception();
                throw;
              }
            default: try { throw std::runtime_error("other");
              } catch (...) {
                thrown = std::current_exception();
                throw;
              }
          }
        });
        jobs::detail::run_ticket ticket;
        jobs::detail::initiate_run(jobs::detail::job_access::impl(j), {}, jobs::detail::run_handler{},
                                   &ticket);
        BOOST_TEST_REQUIRE(j.is_state(state::running));
        BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
        switch (r) {
          case cancel_reason::none: g.open(); break;
          case cancel_reason::canceled: BOOST_TEST(j.cancel()); break;
          default: BOOST_TEST(jobs::detail::cancel_run(ticket, r)); break;
        }
        BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
        BOOST_TEST(after_gate);
        const run_outcome want = jobs::detail::on_end(r, how);
        BOOST_TEST(j.state() == want.final);
        switch (want.error) {
          case run_error::none: BOOST_TEST(!j.error()); break;
          case run_error::body:
            BOOST_TEST(bool(thrown));
            BOOST_TEST((j.error() == thrown));
            break;
          case run_error::canceled: BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled); break;
          case run_error::timeout: BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::timeout); break;
          case run_error::lease_lost:
            BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::lease_lost);
            break;
        }
        switch (r) {
          case cancel_reason::none: BOOST_TEST(!seen_reason); break;
          case cancel_reason::canceled: BOOST_TEST(seen_reason == jobs::errc::canceled); break;
          case cancel_reason::lease_lost: BOOST_TEST(seen_reason == jobs::errc::lease_lost); break;
          default: BOOST_TEST(seen_reason == jobs::errc::timeout); break;
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_timeout_moves_to_canceling_and_a_later_cancel_is_refused) {
  asio::io_context io;
  boost::system::error_code reason_in_body;
  bool canceled_in_body = false;
  jobs::job j(io, "timeout", [&](jobs::context& ctx) -> asio::awaitable<void> {
    auto ec = co_await jobs_test::forever_ec(ctx.get_executor());
    canceled_in_body = ctx.is_canceled();
    reason_in_body = ctx.cancel_reason();
    if (ec) throw boost::system::system_error(ec);
  });
  jobs::detail::run_ticket ticket;
  jobs::detail::initiate_run(jobs::detail::job_access::impl(j), {}, jobs::detail::run_handler{}, &ticket);
  io.poll();
  BOOST_TEST(jobs::detail::cancel_run(ticket, cancel_reason::timeout));
  BOOST_TEST(j.is_state(state::canceling));
  BOOST_TEST(!j.cancel());
  BOOST_TEST(!jobs::detail::cancel_run(ticket, cancel_reason::timeout));
  BOOST_TEST(!jobs::detail::cancel_run(ticket, cancel_reason::canceled));
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
  BOOST_TEST(canceled_in_body);
  BOOST_TEST(reason_in_body == jobs::errc::timeout);
  BOOST_TEST(j.state() == state::failed);
  BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::timeout);
  BOOST_TEST(jobs_test::what_of(j.error()).find("timed out") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_late_ticket_never_cancels_a_later_run) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  jobs::job j(io, "ticket", [&](jobs::context&) -> asio::awaitable<void> { co_await g.wait(); });
  jobs::detail::run_ticket first;
  jobs::detail::initiate_run(jobs::detail::job_access::impl(j), {}, jobs::detail::run_handler{}, &first);
  g.open();
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
  BOOST_TEST(j.state() == state::succeeded);

  BOOST_TEST(!jobs::detail::cancel_run(first, cancel_reason::timeout));
  BOOST_TEST(j.run());
  BOOST_TEST(!jobs::detail::cancel_run(first, cancel_reason::timeout));
  BOOST_TEST(j.is_state(state::running));
  BOOST_TEST(j.cancel());
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
  BOOST_TEST(j.state() == state::canceled);
}

BOOST_AUTO_TEST_SUITE_END()
