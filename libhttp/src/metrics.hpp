// The admin API's metrics: what the watches observed (run ends by outcome, run durations,
// retries) and what the API refused, written in the Prometheus text exposition format 0.0.4.
#pragma once

#include <jobs/registry.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace jobs::http::detail {

/// Label values per the exposition format: backslash, double quote and line feed escaped.
std::string escape_label(std::string_view v);

class metrics {
 public:
  static constexpr std::array<double, 14> buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                  1,     2.5,  5,     10,   30,  60,   300};

  /// A snapshot from a job's watch: a run end is counted once per version.
  void observe(const jobs::stats& s);
  /// Executor stats sampled (at every observed run end and every scrape): retries accumulate.
  void sample_retries(const std::string& id, std::uint64_t starts, unsigned retries);
  /// A start refused through the API, by reason ("still_pending", "once", ...).
  void refused(const std::string& id, std::string_view reason);

  /// The exposition text for the registry's current entries and everything observed.
  /// `sse_clients`, `sse_watches`: the event streams' gauges.
  std::string render(const jobs::registry& r, std::size_t sse_clients, std::size_t sse_watches);

 private:
  struct per_job {
    std::uint64_t last_end_version = 0;
    std::map<std::string, std::uint64_t, std::less<>> runs;  // by outcome
    std::array<std::uint64_t, buckets.size()> bucket_counts{};
    std::uint64_t duration_count = 0;
    double duration_sum = 0;
    std::uint64_t retries = 0;
    std::uint64_t sampled_starts = 0;
    unsigned sampled_retries = 0;
    bool sampled = false;
    std::map<std::string, std::uint64_t, std::less<>> refusals;  // by reason
  };
  void sample_locked(per_job& j, std::uint64_t starts, unsigned retries);

  std::mutex mu_;
  std::map<std::string, per_job, std::less<>> jobs_;
};

}  // namespace jobs::http::detail
