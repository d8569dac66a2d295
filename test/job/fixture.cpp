// A global fixture for the job suite: Boost.Log prints every record to the console when the
// core has no sink. A sink that accepts nothing keeps the output quiet (and records unformatted)
// without touching the core's filter, so the tests that capture records still see them all.
#include <boost/core/null_deleter.hpp>
#include <boost/log/core/core.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/make_shared.hpp>
#include <boost/test/unit_test.hpp>

namespace {

class discard_backend : public boost::log::sinks::basic_sink_backend<boost::log::sinks::concurrent_feeding> {
 public:
  void consume(const boost::log::record_view&) {}
};

struct quiet_logs {
  using sink_t = boost::log::sinks::synchronous_sink<discard_backend>;
  boost::shared_ptr<sink_t> sink = boost::make_shared<sink_t>();

  quiet_logs() {
    sink->set_filter([](const boost::log::attribute_value_set&) { return false; });
    boost::log::core::get()->add_sink(sink);
  }
  ~quiet_logs() { boost::log::core::get()->remove_sink(sink); }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(quiet_logs);
