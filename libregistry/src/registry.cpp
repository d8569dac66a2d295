// jobs::registry: the map of id → entry, selection, cancellation, JSON and admission. The drain
// is in drain.cpp, the table in print.cpp.
#include "registry_state.hpp"

#include <jobs/detail/executor_access.hpp>
#include <jobs/detail/job_access.hpp>
#include <jobs/detail/registry_extension.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace jobs {
namespace detail {

registry_state& checked(const std::shared_ptr<registry_state>& s) {
  if (!s) throw std::logic_error("jobs::registry: the handle was moved from (it holds no registry)");
  return *s;
}

std::shared_ptr<registry_state> make_registry(asio::any_io_executor ex) {
  if (!ex) throw std::invalid_argument("jobs::registry: the executor is null");
  return std::make_shared<registry_state>(std::move(ex));
}

bool is_running(const registry::entry& e) {
  return e.job.is_executing() || (e.executor && e.executor->stats().in_progress);
}

void set_closed(const registry::entry& e, bool closed) noexcept {
  set_closed(*job_access::impl(e.job), closed);
  if (e.executor) set_closed(*executor_access::state(*e.executor), closed);
}

namespace {

// An id for an error message: quoted, and cut (on a UTF-8 boundary) if it is long.
std::string quoted(std::string_view id) {
  constexpr std::size_t max = 200;
  std::string out = "\"";
  if (id.size() <= max) {
    out += id;
    out += '"';
    return out;
  }
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(id[cut]) & 0xC0) == 0x80) --cut;
  out += id.substr(0, cut);
  out += "\"... (" + std::to_string(id.size()) + " bytes)";
  return out;
}

void add_entry(registry_state& s, registry::entry e) {
  // The labels are copied outside the registry's mutex (job.labels() takes the job's).
  registry_node n{std::move(e), {}, 0};
  n.labels = flat_labels(n.entry.job.labels());
  const std::string_view id = n.entry.job.id();  // owned by the job, which the node keeps

  std::unique_lock lk(s.mu);
  if (s.index.find(id) != s.index.end())
    throw error(errc::duplicate_id,
                "jobs::registry::add: a job with id " + quoted(id) + " is already registered");
  n.serial = ++s.next_serial;
  s.nodes.push_back(std::move(n));
  try {
    s.index.emplace(id, s.nodes.size() - 1);
  } catch (...) {
    s.nodes.pop_back();
    throw;
  }
  const registry_node& node = s.nodes.back();
  if (s.closed) set_closed(node.entry, true);
  if (auto d = s.drain.lock(); d && drain_in_progress(*d)) {
    try {
      drain_added(*d, node.serial, node.entry);
    } catch (...) {
      if (s.closed) set_closed(node.entry, false);
      s.index.erase(id);
      s.nodes.pop_back();
      throw;
    }
  }
}

// The matching entries, in no particular order.
std::vector<registry::entry> matching(const registry_state& s, const selector& sel) {
  const label_matcher m(sel);
  std::vector<registry::entry> out;
  std::shared_lock lk(s.mu);
  for (const auto& n : s.nodes)
    if (m.matches(n.labels)) out.push_back(n.entry);
  return out;
}

}  // namespace

std::vector<registry::entry> select_entries(const registry_state& s, const selector& sel) {
  std::vector<registry::entry> found = matching(s, sel);
  // Start times outside the registry's mutex (each takes its job's); the order is sorted as
  // (time, index) pairs, and the entries moved once into it.
  std::vector<std::pair<std::chrono::system_clock::time_point, std::size_t>> order;
  order.reserve(found.size());
  for (std::size_t i = 0; i < found.size(); ++i) order.emplace_back(found[i].job.started_at(), i);
  std::sort(order.begin(), order.end(), [&found](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return found[a.second].job.id() < found[b.second].job.id();
  });
  std::vector<registry::entry> out;
  out.reserve(found.size());
  for (const auto& [started, i] : order) out.push_back(std::move(found[i]));
  return out;
}

}  // namespace detail

registry::registry(asio::any_io_executor ex) : state_(detail::make_registry(std::move(ex))) {}

void registry::add(jobs::job j) {
  if (!detail::job_access::impl(j))
    throw std::invalid_argument("jobs::registry::add: the job handle was moved from (it holds no job)");
  detail::add_entry(detail::checked(state_), entry{std::move(j), std::nullopt});
}

void registry::add(jobs::executor e) {
  if (!detail::executor_access::state(e))
    throw std::invalid_argument(
        "jobs::registry::add: the executor handle was moved from (it holds no executor)");
  jobs::job j = e.get_job();
  detail::add_entry(detail::checked(state_), entry{std::move(j), std::move(e)});
}

std::optional<registry::entry> registry::find(std::string_view id) const {
  auto& s = detail::checked(state_);
  std::shared_lock lk(s.mu);
  const auto it = s.index.find(id);
  if (it == s.index.end()) return std::nullopt;
  return s.nodes[it->second].entry;
}

bool registry::remove(std::string_view id) {
  auto& s = detail::checked(state_);
  std::optional<detail::registry_node> gone;  // destroyed outside the mutex (maybe the job's last handle)
  {
    std::unique_lock lk(s.mu);
    const auto it = s.index.find(id);
    if (it == s.index.end()) return false;
    const std::size_t at = it->second;
    if (auto d = s.drain.lock(); d && detail::drain_in_progress(*d))
      detail::drain_removed(*d, s.nodes[at].serial);
    // Nothing below throws: the last node moves into the hole.
    gone.emplace(std::move(s.nodes[at]));
    s.index.erase(it);
    if (at + 1 != s.nodes.size()) {
      s.nodes[at] = std::move(s.nodes.back());
      s.index.find(s.nodes[at].entry.job.id())->second = at;
    }
    s.nodes.pop_back();
    if (s.closed) detail::set_closed(gone->entry, false);
  }
  // (Out of memory for the copy of the extensions, they are not told: never thrown from here.)
  try {
    for (const auto& x : detail::extensions_of(s)) x->on_remove(id);
  } catch (...) {
  }
  return true;
}

std::size_t registry::size() const {
  auto& s = detail::checked(state_);
  std::shared_lock lk(s.mu);
  return s.nodes.size();
}

std::vector<registry::entry> registry::select(const selector& s) const {
  return detail::select_entries(detail::checked(state_), s);
}

std::vector<registry::entry> registry::select(std::string_view s) const { return select(selector::parse(s)); }

std::size_t registry::cancel(const selector& sel) {
  std::size_t reached = 0;
  for (auto& e : detail::matching(detail::checked(state_), sel)) {
    if (e.executor) {
      // stop() alone, not job.cancel() first: stop marks the start stopped before it cancels the
      // run, so that the cancelled attempt is not taken for a failure and retried.
      const bool running = e.job.is_state(state::running);
      const bool in_progress = e.executor->stats().in_progress;
      e.executor->stop();
      if (running || in_progress) ++reached;
    } else if (e.job.cancel()) {
      ++reached;
    }
  }
  return reached;
}

std::size_t registry::cancel(std::string_view s) { return cancel(selector::parse(s)); }

boost::json::array registry::stats(const selector& sel) const {
  boost::json::array out;
  const auto entries = detail::select_entries(detail::checked(state_), sel);
  out.reserve(entries.size());
  const auto extensions = detail::extensions_of(*state_);
  for (const auto& e : entries) {
    boost::json::value v = boost::json::value_from(e.job.stats());
    if (e.executor) v.as_object()["executor"] = boost::json::value_from(e.executor->stats());
    for (const auto& x : extensions) x->annotate(e, v.as_object());
    out.push_back(std::move(v));
  }
  return out;
}

boost::json::array registry::stats(std::string_view s) const { return stats(selector::parse(s)); }

void registry::print(std::ostream& os, std::string_view s) const { print(os, selector::parse(s)); }

bool registry::is_closed() const {
  auto& s = detail::checked(state_);
  std::shared_lock lk(s.mu);
  return s.closed;
}

void registry::reopen() {
  auto& s = detail::checked(state_);
  {
    std::unique_lock lk(s.mu);
    if (auto d = s.drain.lock(); d && detail::drain_in_progress(*d))
      throw std::logic_error("jobs::registry::reopen: a drain is in progress; reopen once it has completed");
    if (!s.closed) return;
    s.closed = false;
    for (const auto& n : s.nodes) detail::set_closed(n.entry, false);
  }
  for (const auto& x : detail::extensions_of(s)) x->on_reopen();
}

asio::any_io_executor registry::get_executor() const noexcept {
  return state_ ? state_->ex : asio::any_io_executor{};
}

}  // namespace jobs
