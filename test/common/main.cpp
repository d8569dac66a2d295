#define BOOST_TEST_MODULE jobs
#include "log_sinks.hpp"

#include <boost/test/unit_test.hpp>

// Every suite: records go to a sink that accepts nothing, not to Boost.Log's console default.
using jobs_test::quiet_logs;  // (the macro takes a plain name)
BOOST_TEST_GLOBAL_FIXTURE(quiet_logs);
