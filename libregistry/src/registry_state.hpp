// The registry's shared state, and what its parts (registry.cpp, drain.cpp, print.cpp) share.
// Private to libregistry.
#pragma once

#include "label_match.hpp"

#include <jobs/registry.hpp>

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jobs::detail {

class drain_op;
class registry_extension;

/// One registered job.
struct registry_node {
  registry::entry entry;
  /// The job's labels, copied once (a job's labels never change) and laid out for a scan: a
  /// match takes no lock of the job's, allocates nothing, and mostly reads memory next to the
  /// previous entry's.
  flat_labels labels;
  /// Unique per add (ids may be re-used after a remove): how a drain tells its entries apart.
  std::uint64_t serial = 0;
};

class registry_state {
 public:
  explicit registry_state(asio::any_io_executor e) : ex(std::move(e)) {}

  const asio::any_io_executor ex;

  // Lock order: this mutex, then a job's or an executor's (set_closed); never the other way
  // (neither calls back into the registry). Shared for reads.
  mutable std::shared_mutex mu;
  /// The entries, dense and in no order (a remove moves the last one into the hole), so that a
  /// scan reads one array (guarded by mu).
  std::vector<registry_node> nodes;
  /// id → position in `nodes`. The key views the job's own id (immutable, owned by the job the
  /// node holds). Guarded by mu.
  std::unordered_map<std::string_view, std::size_t> index;
  std::uint64_t next_serial = 0;  // guarded by mu
  bool closed = false;            // guarded by mu
  /// The drain in progress, if any (guarded by mu). Weak: the drain's own handlers keep it
  /// alive, so a drain whose execution context is destroyed frees everything.
  std::weak_ptr<drain_op> drain;
  /// Layers built on the registry (jobs/detail/registry_extension.hpp), guarded by mu.
  std::vector<std::weak_ptr<registry_extension>> extensions;
};

/// Whether the entry is running: its job has a run pending, or its executor a start in progress.
bool is_running(const registry::entry& e);

/// Closes (or opens) the entry's job, and its executor if it has one.
void set_closed(const registry::entry& e, bool closed) noexcept;

/// The drain in progress is told, through its strand, of an entry added or removed while it
/// runs (under the registry's mutex, so that it sees them in order). Both may throw
/// std::bad_alloc (the post), and then changed nothing.
void drain_added(drain_op& d, std::uint64_t serial, const registry::entry& e);
void drain_removed(drain_op& d, std::uint64_t serial);
/// False once the drain has completed (under the registry's mutex).
bool drain_in_progress(const drain_op& d) noexcept;

/// The registry of a handle, which must not have been moved from.
registry_state& checked(const std::shared_ptr<registry_state>& s);

/// The matching entries, ordered by start time then id (registry::select).
std::vector<registry::entry> select_entries(const registry_state& s, const selector& sel);

}  // namespace jobs::detail
