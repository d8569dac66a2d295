// jobs/detail/registry_extension.hpp — a small, generic extension point of jobs::registry for the
// layers built on it (the scheduler): add keys to an entry's stats() JSON, and act when a drain
// begins (before it closes admission) or the registry is reopened. Not part of the public API,
// and not installed (internal/).
#pragma once

#include <jobs/registry.hpp>

#include <boost/json/object.hpp>

#include <memory>
#include <string_view>
#include <vector>

namespace jobs::detail {

class registry_extension {
 public:
  virtual ~registry_extension() = default;
  /// Adds keys to the stats() object of `e`. Called without any lock of the registry's held;
  /// must not throw anything but std::bad_alloc.
  virtual void annotate(const registry::entry& e, boost::json::object& stats) const = 0;
  /// A drain begins: called before it closes admission and waits, without the registry's lock.
  virtual void on_drain() noexcept = 0;
  /// reopen() opened the registry again (called without the registry's lock).
  virtual void on_reopen() noexcept = 0;
  /// remove() took the entry with this id out (called without the registry's lock).
  virtual void on_remove(std::string_view /*id*/) noexcept {}
};

struct registry_access {
  static const std::shared_ptr<registry_state>& state(const registry& r) noexcept { return r.state_; }
};

/// Registers `x` (held weakly: an extension that is gone is skipped and forgotten).
void add_extension(const registry& r, const std::shared_ptr<registry_extension>& x);
/// Unregisters `x`; nothing if it is not registered.
void remove_extension(const registry& r, const registry_extension* x) noexcept;

/// The live extensions of a registry (a copy, taken under its mutex).
std::vector<std::shared_ptr<registry_extension>> extensions_of(const registry_state& s);

}  // namespace jobs::detail
