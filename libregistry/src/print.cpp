// jobs::registry::print: a table for people, like `kubectl get`.
#include "registry_state.hpp"

#include <jobs/detail/job_access.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

namespace jobs {
namespace detail {

// k8s.io/apimachinery/pkg/util/duration.HumanDuration, as kubectl prints an AGE.
std::string human_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  const auto seconds = duration_cast<std::chrono::seconds>(d).count();
  const auto str = [](auto... parts) {
    std::string out;
    ((out += parts), ...);
    return out;
  };
  const auto n = [](long long v) { return std::to_string(v); };
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return str(n(seconds), "s");
  const long long minutes = duration_cast<std::chrono::minutes>(d).count();
  if (minutes < 10) {
    const long long s = seconds % 60;
    return s == 0 ? str(n(minutes), "m") : str(n(minutes), "m", n(s), "s");
  }
  if (minutes < 60 * 3) return str(n(minutes), "m");
  const long long hours = duration_cast<std::chrono::hours>(d).count();
  if (hours < 8) {
    const long long m = minutes % 60;
    return m == 0 ? str(n(hours), "h") : str(n(hours), "h", n(m), "m");
  }
  if (hours < 48) return str(n(hours), "h");
  if (hours < 24 * 8) {
    const long long h = hours % 24;
    return h == 0 ? str(n(hours / 24), "d") : str(n(hours / 24), "d", n(h), "h");
  }
  if (hours < 24 * 365 * 2) return str(n(hours / 24), "d");
  if (hours < 24 * 365 * 8) {
    const long long dy = (hours / 24) % 365;
    return dy == 0 ? str(n(hours / 24 / 365), "y") : str(n(hours / 24 / 365), "y", n(dy), "d");
  }
  return str(n(hours / 24 / 365), "y");
}

namespace {

// One cell: control characters escaped (\n, \t, \r, \xHH), so that a job is one line.
std::string cell(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

// The width of a cell on a terminal: one column per UTF-8 sequence (wide characters aside).
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string labels_cell(const jobs::labels& l) {
  if (l.empty()) return "<none>";
  std::string out;
  for (const auto& [k, v] : l) {
    if (!out.empty()) out += ',';
    out += k;
    out += '=';
    out += v;
  }
  return cell(out);
}

// Runs the job has started (whoever started them).
std::string runs_cell(const registry::entry& e) { return std::to_string(runs_of(*job_access::impl(e.job))); }

constexpr std::size_t columns = 8;
using row = std::array<std::string, columns>;

}  // namespace
}  // namespace detail

void registry::print(std::ostream& os, const selector& sel) const {
  using detail::row;
  const auto entries = detail::select_entries(detail::checked(state_), sel);
  const auto now = std::chrono::system_clock::now();

  std::vector<row> rows;
  rows.reserve(entries.size() + 1);
  rows.push_back(row{"ID", "LABELS", "STATE", "PROGRESS", "RUNS", "RETRIES", "AGE", "ERROR"});
  for (const auto& e : entries) {
    const jobs::stats s = e.job.stats();
    std::optional<executor_stats> es;
    if (e.executor) es = e.executor->stats();
    char progress[16] = "-";
    if (s.progress >= 0) std::snprintf(progress, sizeof progress, "%.0f%%", s.progress * 100);
    rows.push_back(row{detail::cell(s.id), detail::labels_cell(s.labels), std::string(to_string(s.state)),
                       progress, detail::runs_cell(e), es ? std::to_string(es->retries) : "-",
                       detail::human_duration(now - e.job.created_at()), detail::cell(s.error)});
  }

  std::array<std::size_t, detail::columns> widths{};
  for (const auto& r : rows)
    for (std::size_t c = 0; c < detail::columns; ++c) widths[c] = std::max(widths[c], detail::width(r[c]));

  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < detail::columns; ++c) {
      line += r[c];
      if (c + 1 < detail::columns) line.append(widths[c] - detail::width(r[c]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  os << out;
}

}  // namespace jobs
