// stats -> JSON in the Go package's shape.
#include <jobs/stats.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <cstdio>
#include <ctime>

namespace jobs {

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ns = duration_cast<nanoseconds>(t.time_since_epoch()).count();
  auto secs = ns / 1'000'000'000;
  auto frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                              static_cast<long long>(frac));
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const stats& s) {
  boost::json::object o;
  o["id"] = s.id;
  o["state"] = to_string(s.state);
  o["progress"] = s.progress;
  if (s.started_at == std::chrono::system_clock::time_point{})
    o["started_at"] = nullptr;
  else
    o["started_at"] = format_rfc3339(s.started_at);
  o["execution_time"] = static_cast<std::int64_t>(s.execution_time.count());
  boost::json::object labels;
  for (const auto& [k, val] : s.labels) labels[k] = val;
  o["labels"] = std::move(labels);
  o["error"] = s.error;
  o["version"] = s.version;
  v = std::move(o);
}

}  // namespace jobs
