// The backoff delay as a pure function (jobs/detail/backoff.hpp), without an io_context.
#include "helpers.hpp"

#include <jobs/detail/backoff.hpp>

#include <limits>

using namespace exec_test;
using jobs::detail::backoff_delay;
using jobs::detail::backoff_policy;
using std::chrono::nanoseconds;

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(exponential_then_capped) {
  const backoff_policy b{std::chrono::milliseconds(10), 2.0, std::chrono::milliseconds(100), 0};
  BOOST_TEST(backoff_delay(b, 1, 0).count() == nanoseconds(10ms).count());
  BOOST_TEST(backoff_delay(b, 2, 0).count() == nanoseconds(20ms).count());
  BOOST_TEST(backoff_delay(b, 4, 0).count() == nanoseconds(80ms).count());
  BOOST_TEST(backoff_delay(b, 5, 0).count() == nanoseconds(100ms).count());       // capped
  BOOST_TEST(backoff_delay(b, 10'000, 0).count() == nanoseconds(100ms).count());  // no overflow
}

BOOST_AUTO_TEST_CASE(jitter_takes_up_to_its_share_off) {
  const backoff_policy b{std::chrono::milliseconds(100), 1.0, std::chrono::milliseconds(100), 0.5};
  BOOST_TEST(backoff_delay(b, 1, 0).count() == nanoseconds(100ms).count());
  BOOST_TEST(backoff_delay(b, 1, 0.5).count() == nanoseconds(75ms).count());
  BOOST_TEST(backoff_delay(b, 1, 0.999999).count() >= nanoseconds(50ms).count());
  const backoff_policy full{std::chrono::milliseconds(100), 1.0, std::chrono::milliseconds(100), 1.0};
  BOOST_TEST(backoff_delay(full, 1, 0.25).count() == nanoseconds(75ms).count());
}

BOOST_AUTO_TEST_CASE(degenerate_inputs_give_zero_or_saturate) {
  const backoff_policy zero{nanoseconds(0), 2.0, nanoseconds::max(), 0};
  BOOST_TEST(backoff_delay(zero, 50, 0).count() == 0);  // 0 x inf is 0, never NaN
  const backoff_policy huge{nanoseconds::max(), 10.0, nanoseconds::max(), 0};
  BOOST_TEST(backoff_delay(huge, 3, 0).count() == nanoseconds::max().count());
}

BOOST_AUTO_TEST_SUITE_END()
