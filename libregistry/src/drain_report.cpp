// jobs::drain_report's JSON and the drain's argument check.
#include <jobs/registry.hpp>

#include <boost/json/value.hpp>

#include <stdexcept>

namespace jobs {

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const drain_report& r) {
  boost::json::array ids;
  ids.reserve(r.still_running.size());
  for (const auto& id : r.still_running) ids.emplace_back(id);
  v = boost::json::object{{"ended", r.ended},
                          {"canceled", r.canceled},
                          {"still_running", std::move(ids)},
                          {"duration", r.duration.count()}};
}

namespace detail {

std::chrono::nanoseconds drain_grace(std::chrono::nanoseconds grace) {
  if (grace < std::chrono::nanoseconds::zero())
    throw std::invalid_argument("jobs::registry::async_drain: the grace period is negative");
  return grace;
}

}  // namespace detail
}  // namespace jobs
