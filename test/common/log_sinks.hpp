// Boost.Log sinks for the tests. Boost.Log prints every record to the console while its core
// has no sink; these keep the output quiet, or consume records as an application would.
#pragma once

#include <boost/log/core/core.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/make_shared.hpp>

namespace jobs_test {

class discard_backend : public boost::log::sinks::basic_sink_backend<boost::log::sinks::concurrent_feeding> {
 public:
  void consume(const boost::log::record_view&) {}
};

/// While alive, a sink in the logging core that discards what reaches it. `accept_all`: every
/// record reaches it (formatted and consumed, so the library's logging runs in full); else none
/// does (the console stays quiet without touching the core's filter, so that tests capturing
/// records with a sink of their own still see them all).
class discard_sink {
 public:
  explicit discard_sink(bool accept_all) {
    if (!accept_all) sink_->set_filter([](const boost::log::attribute_value_set&) { return false; });
    boost::log::core::get()->add_sink(sink_);
  }
  ~discard_sink() { boost::log::core::get()->remove_sink(sink_); }
  discard_sink(const discard_sink&) = delete;
  discard_sink& operator=(const discard_sink&) = delete;

 private:
  using sink_t = boost::log::sinks::synchronous_sink<discard_backend>;
  boost::shared_ptr<sink_t> sink_ = boost::make_shared<sink_t>();
};

/// The global fixture of every suite (common/main.cpp).
struct quiet_logs : discard_sink {
  quiet_logs() : discard_sink(false) {}
};

}  // namespace jobs_test
