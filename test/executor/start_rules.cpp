// The decisions of one start as pure functions (jobs/detail/start_rules.hpp), without an
// io_context: the admission's order, and what follows an attempt's end.
#include "helpers.hpp"

#include <jobs/detail/start_rules.hpp>

using jobs::attempt_outcome;
using jobs::detail::admission;
using jobs::detail::admission_facts;
using jobs::detail::after_attempt;
using jobs::detail::attempt_end_facts;
using jobs::detail::refusal_reason;
using jobs::detail::start_next;

BOOST_AUTO_TEST_SUITE(start_rules)

BOOST_AUTO_TEST_CASE(admission_refuses_for_the_first_reason_in_order) {
  // Every combination of the five facts: the refusal is the first that holds, in the order
  // closed → still pending (a start or the job's own run) → once → cooldown.
  for (unsigned bits = 0; bits < 32; ++bits) {
    const admission_facts f{.closed = (bits & 1) != 0,
                            .in_progress = (bits & 2) != 0,
                            .job_executing = (bits & 4) != 0,
                            .once_succeeded = (bits & 8) != 0,
                            .cooldown_open = (bits & 16) != 0};
    refusal_reason expected = refusal_reason::none;
    if (f.cooldown_open) expected = refusal_reason::cooldown;
    if (f.once_succeeded) expected = refusal_reason::once;
    if (f.in_progress || f.job_executing) expected = refusal_reason::still_pending;
    if (f.closed) expected = refusal_reason::shutting_down;
    BOOST_TEST((admission(f) == expected), "facts " << bits);
  }
  static_assert(admission({}) == refusal_reason::none);
}

BOOST_AUTO_TEST_CASE(a_success_ends_the_start_whatever_else_happened) {
  for (bool stopped : {false, true})
    for (bool timed_out : {false, true}) {
      const auto d = after_attempt(
          {.succeeded = true, .stopped = stopped, .timed_out = timed_out, .attempt = 1, .attempts = 3});
      BOOST_TEST((d.next == start_next::succeed));
      BOOST_TEST((d.recorded == attempt_outcome::succeeded));
      BOOST_TEST(!d.counts_as_retry);
    }
}

BOOST_AUTO_TEST_CASE(a_failure_is_retried_until_the_last_attempt) {
  auto d = after_attempt({.attempt = 1, .attempts = 3});
  BOOST_TEST((d.next == start_next::retry));
  BOOST_TEST((d.recorded == attempt_outcome::failed));
  BOOST_TEST(d.counts_as_retry);
  d = after_attempt({.attempt = 3, .attempts = 3});
  BOOST_TEST((d.next == start_next::fail));
  BOOST_TEST(d.counts_as_retry);
  d = after_attempt({.attempt = 1, .attempts = 1});  // no with_retry: one attempt
  BOOST_TEST((d.next == start_next::fail));
}

BOOST_AUTO_TEST_CASE(a_timeout_is_a_failure_recorded_as_timed_out) {
  auto d = after_attempt({.timed_out = true, .attempt = 1, .attempts = 2});
  BOOST_TEST((d.recorded == attempt_outcome::timed_out));
  BOOST_TEST((d.next == start_next::retry));
  BOOST_TEST(d.counts_as_retry);
  d = after_attempt({.timed_out = true, .attempt = 2, .attempts = 2});
  BOOST_TEST((d.next == start_next::fail));
}

BOOST_AUTO_TEST_CASE(a_draining_registry_ends_the_retries) {
  const auto d = after_attempt({.draining = true, .attempt = 1, .attempts = 5});
  BOOST_TEST((d.next == start_next::fail));
  BOOST_TEST((d.recorded == attempt_outcome::failed));
}

BOOST_AUTO_TEST_CASE(a_stop_cancels_and_is_not_a_failed_attempt) {
  for (unsigned attempt : {1u, 3u}) {
    const auto d = after_attempt({.stopped = true, .attempt = attempt, .attempts = 3});
    BOOST_TEST((d.next == start_next::cancel));
    BOOST_TEST((d.recorded == attempt_outcome::canceled));
    BOOST_TEST(!d.counts_as_retry);
  }
}

BOOST_AUTO_TEST_CASE(an_attempt_that_failed_before_the_stop_reached_it_counts) {
  // Not the last: a failed attempt, and the start ends canceled (no further attempt runs).
  auto d = after_attempt({.stopped = true, .run_failed = true, .attempt = 1, .attempts = 3});
  BOOST_TEST((d.next == start_next::cancel));
  BOOST_TEST((d.recorded == attempt_outcome::failed));
  BOOST_TEST(d.counts_as_retry);
  // The last: its failure decided the start before the stop.
  d = after_attempt({.stopped = true, .run_failed = true, .timed_out = true, .attempt = 3, .attempts = 3});
  BOOST_TEST((d.next == start_next::fail));
  BOOST_TEST((d.recorded == attempt_outcome::timed_out));
}

BOOST_AUTO_TEST_CASE(a_stop_wins_over_a_timeout_and_a_draining_registry) {
  // The deadline cancelled the run, then the stop came: the run ended canceled, not failed.
  auto d = after_attempt({.stopped = true, .timed_out = true, .attempt = 1, .attempts = 3});
  BOOST_TEST((d.next == start_next::cancel));
  BOOST_TEST((d.recorded == attempt_outcome::canceled));
  BOOST_TEST(!d.counts_as_retry);
  d = after_attempt({.stopped = true, .draining = true, .attempt = 1, .attempts = 3});
  BOOST_TEST((d.next == start_next::cancel));
  BOOST_TEST(!d.counts_as_retry);
}

BOOST_AUTO_TEST_CASE(a_draining_refusal_of_the_last_attempt_fails_the_start) {
  const auto d = after_attempt({.draining = true, .attempt = 2, .attempts = 2});
  BOOST_TEST((d.next == start_next::fail));
  BOOST_TEST((d.recorded == attempt_outcome::failed));
  BOOST_TEST(d.counts_as_retry);
}

BOOST_AUTO_TEST_SUITE_END()
