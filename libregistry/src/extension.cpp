// The registry's extension point (jobs/detail/registry_extension.hpp).
#include "registry_state.hpp"

#include <jobs/detail/registry_extension.hpp>

#include <algorithm>
#include <mutex>

namespace jobs::detail {

void add_extension(const registry& r, const std::shared_ptr<registry_extension>& x) {
  auto& s = checked(registry_access::state(r));
  std::unique_lock lk(s.mu);
  std::erase_if(s.extensions, [](const auto& w) { return w.expired(); });
  s.extensions.push_back(x);
}

void remove_extension(const registry& r, const registry_extension* x) noexcept {
  const auto& sp = registry_access::state(r);
  if (!sp) return;
  std::unique_lock lk(sp->mu);
  std::erase_if(sp->extensions, [x](const auto& w) {
    const auto p = w.lock();
    return !p || p.get() == x;
  });
}

std::vector<std::shared_ptr<registry_extension>> extensions_of(const registry_state& s) {
  std::vector<std::shared_ptr<registry_extension>> out;
  std::shared_lock lk(s.mu);
  out.reserve(s.extensions.size());
  for (const auto& w : s.extensions)
    if (auto p = w.lock()) out.push_back(std::move(p));
  return out;
}

}  // namespace jobs::detail
