#include "metrics.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <sstream>

namespace jobs::http::detail {

namespace json = boost::json;

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

std::string number(double d) {
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (std::isnan(d)) return "NaN";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::uint64_t as_count(const json::value* v) {
  if (!v) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64()) return v->as_int64() < 0 ? 0 : static_cast<std::uint64_t>(v->as_int64());
  if (v->is_double()) return v->as_double() < 0 ? 0 : static_cast<std::uint64_t>(v->as_double());
  if (v->is_bool()) return v->as_bool() ? 1 : 0;
  return 0;
}

struct family {
  std::ostringstream& os;
  family(std::ostringstream& o, std::string_view name, std::string_view type, std::string_view help) : os(o) {
    os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
};

}  // namespace

void metrics::observe(const jobs::stats& s) {
  if (!jobs::is_done(s.state)) return;
  std::lock_guard lk(mu_);
  auto& j = jobs_[s.id];
  if (s.version == j.last_end_version) return;
  j.last_end_version = s.version;
  ++j.runs[std::string(to_string(s.state))];
  const double secs = std::chrono::duration<double>(s.execution_time).count();
  for (std::size_t i = 0; i < buckets.size(); ++i)
    if (secs <= buckets[i]) ++j.bucket_counts[i];
  ++j.duration_count;
  j.duration_sum += secs;
}

void metrics::sample_locked(per_job& j, std::uint64_t starts, unsigned retries) {
  // `retries` counts the failed attempts of the last start and restarts with each start.
  if (!j.sampled || starts != j.sampled_starts)
    j.retries += retries;
  else if (retries > j.sampled_retries)
    j.retries += retries - j.sampled_retries;
  j.sampled = true;
  j.sampled_starts = starts;
  j.sampled_retries = retries;
}

void metrics::sample_retries(const std::string& id, std::uint64_t starts, unsigned retries) {
  std::lock_guard lk(mu_);
  sample_locked(jobs_[id], starts, retries);
}

void metrics::refused(const std::string& id, std::string_view reason) {
  std::lock_guard lk(mu_);
  ++jobs_[id].refusals[std::string(reason)];
}

std::string metrics::render(const jobs::registry& r, std::size_t sse_clients, std::size_t sse_watches) {
  const auto entries = r.stats();
  std::ostringstream os;
  std::lock_guard lk(mu_);

  // Sample every executor's retries now, so that a scrape sees the current start's.
  for (const auto& v : entries) {
    const auto& o = v.as_object();
    if (const auto* ex = o.if_contains("executor"); ex && ex->is_object())
      sample_locked(jobs_[json::value_to<std::string>(o.at("id"))],
                    as_count(ex->as_object().if_contains("starts")),
                    static_cast<unsigned>(as_count(ex->as_object().if_contains("retries"))));
  }

  std::uint64_t in_progress = 0;
  for (const auto& v : entries) {
    const auto st = v.as_object().at("state").as_string();
    if (st == "running" || st == "canceling") ++in_progress;
  }
  family(os, "jobs_registered", "gauge", "Jobs in the registry.");
  os << "jobs_registered " << entries.size() << '\n';
  family(os, "jobs_in_progress", "gauge", "Jobs running or canceling.");
  os << "jobs_in_progress " << in_progress << '\n';

  family(os, "jobs_http_event_streams", "gauge", "Clients connected to the event stream.");
  os << "jobs_http_event_streams " << sse_clients << '\n';
  family(os, "jobs_http_event_stream_watches", "gauge", "Watches pending for the event streams' clients.");
  os << "jobs_http_event_stream_watches " << sse_watches << '\n';

  family(os, "jobs_runs_total", "counter",
         "Runs ended, by job and outcome (observed by the admin API's watches).");
  for (const auto& [id, j] : jobs_)
    for (const auto& [outcome, n] : j.runs)
      os << "jobs_runs_total{job=\"" << escape_label(id) << "\",outcome=\"" << outcome << "\"} " << n << '\n';

  family(os, "jobs_run_duration_seconds", "histogram", "Run durations, by job.");
  for (const auto& [id, j] : jobs_) {
    if (j.duration_count == 0) continue;
    const auto l = escape_label(id);
    for (std::size_t i = 0; i < buckets.size(); ++i)
      os << "jobs_run_duration_seconds_bucket{job=\"" << l << "\",le=\"" << number(buckets[i]) << "\"} "
         << j.bucket_counts[i] << '\n';
    os << "jobs_run_duration_seconds_bucket{job=\"" << l << "\",le=\"+Inf\"} " << j.duration_count << '\n';
    os << "jobs_run_duration_seconds_sum{job=\"" << l << "\"} " << number(j.duration_sum) << '\n';
    os << "jobs_run_duration_seconds_count{job=\"" << l << "\"} " << j.duration_count << '\n';
  }

  family(os, "jobs_retries_total", "counter", "Failed attempts of executor starts, by job.");
  for (const auto& [id, j] : jobs_)
    if (j.sampled) os << "jobs_retries_total{job=\"" << escape_label(id) << "\"} " << j.retries << '\n';

  family(os, "jobs_start_refusals_total", "counter",
         "Starts refused through the admin API, by job and reason.");
  for (const auto& [id, j] : jobs_)
    for (const auto& [reason, n] : j.refusals)
      os << "jobs_start_refusals_total{job=\"" << escape_label(id) << "\",reason=\"" << reason << "\"} " << n
         << '\n';

  family(os, "jobs_executor_starts_total", "counter",
         "Admitted executor starts that ended, by job and outcome.");
  for (const auto& v : entries) {
    const auto& o = v.as_object();
    const auto* ex = o.if_contains("executor");
    if (!ex || !ex->is_object()) continue;
    const auto l = escape_label(json::value_to<std::string>(o.at("id")));
    for (const auto& [key, outcome] : {std::pair{"successes", "succeeded"}, std::pair{"failures", "failed"},
                                       std::pair{"canceled", "canceled"}})
      os << "jobs_executor_starts_total{job=\"" << l << "\",outcome=\"" << outcome << "\"} "
         << as_count(ex->as_object().if_contains(key)) << '\n';
  }

  // The scheduler's entries (libscheduler puts "schedule" in a scheduled entry's stats).
  const std::pair<const char*, const char*> ticks[] = {
      {"ticks_run", "jobs_schedule_ticks_run_total"},
      {"ticks_skipped", "jobs_schedule_ticks_skipped_total"},
      {"ticks_caught_up", "jobs_schedule_ticks_caught_up_total"}};
  for (const auto& [key, name] : ticks) {
    bool header = false;
    for (const auto& v : entries) {
      const auto& o = v.as_object();
      const auto* sch = o.if_contains("schedule");
      if (!sch || !sch->is_object() || !sch->as_object().if_contains(key)) continue;
      if (!header) {
        family(os, name, "counter", std::string("Scheduler ticks (") + key + "), by job.");
        header = true;
      }
      os << name << "{job=\"" << escape_label(json::value_to<std::string>(o.at("id"))) << "\"} "
         << as_count(sch->as_object().if_contains(key)) << '\n';
    }
  }
  return os.str();
}

}  // namespace jobs::http::detail
