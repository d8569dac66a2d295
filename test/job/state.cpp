// jobs::state: names, stream output and the is_done / is_pending tables.
#include <jobs/state.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

using jobs::state;

namespace {

struct row {
  state s;
  std::string_view name;
  bool done;
  bool pending;
};

// API.md "States".
constexpr std::array<row, 6> table{{
    {state::created, "created", false, false},
    {state::running, "running", false, true},
    {state::canceling, "canceling", false, true},
    {state::succeeded, "succeeded", true, false},
    {state::failed, "failed", true, false},
    {state::canceled, "canceled", true, false},
}};

static_assert(noexcept(jobs::to_string(state::created)));
static_assert(noexcept(jobs::is_done(state::created)));
static_assert(noexcept(jobs::is_pending(state::created)));
// Usable in constant expressions.
static_assert(jobs::is_done(state::canceled) && !jobs::is_done(state::canceling));
static_assert(jobs::is_pending(state::canceling) && !jobs::is_pending(state::created));
static_assert(sizeof(state) == 1);

}  // namespace

BOOST_AUTO_TEST_SUITE(states)

BOOST_AUTO_TEST_CASE(to_string_names_every_state) {
  for (const auto& r : table) BOOST_TEST(jobs::to_string(r.s) == r.name);
}

BOOST_AUTO_TEST_CASE(names_are_distinct) {
  std::set<std::string_view> names;
  for (const auto& r : table) names.insert(jobs::to_string(r.s));
  BOOST_TEST(names.size() == table.size());
}

BOOST_AUTO_TEST_CASE(stream_output_is_the_name) {
  for (const auto& r : table) {
    std::ostringstream os;
    os << "[" << r.s << "]";
    BOOST_TEST(os.str() == "[" + std::string(r.name) + "]");
  }
}

BOOST_AUTO_TEST_CASE(stream_output_keeps_the_stream_usable) {
  std::ostringstream os;
  os << state::failed << ' ' << 42;
  BOOST_TEST(os.good());
  BOOST_TEST(os.str() == "failed 42");
}

BOOST_AUTO_TEST_CASE(is_done_table) {
  for (const auto& r : table) BOOST_TEST_CONTEXT(r.name) {
      BOOST_TEST(jobs::is_done(r.s) == r.done);
    }
}

BOOST_AUTO_TEST_CASE(is_pending_table) {
  for (const auto& r : table) BOOST_TEST_CONTEXT(r.name) {
      BOOST_TEST(jobs::is_pending(r.s) == r.pending);
    }
}

BOOST_AUTO_TEST_CASE(no_state_is_both_done_and_pending) {
  for (const auto& r : table) BOOST_TEST(!(jobs::is_done(r.s) && jobs::is_pending(r.s)));
}

BOOST_AUTO_TEST_SUITE_END()
