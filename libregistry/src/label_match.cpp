// flat_labels and label_matcher (label_match.hpp).
#include "label_match.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <utility>

namespace jobs::detail {

namespace {

std::uint32_t length_of(const std::string& s) {
  if (s.size() > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("jobs::registry: a label of 4 GiB or more");
  return static_cast<std::uint32_t>(s.size());
}

std::uint32_t read_u32(const char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

flat_labels::flat_labels(const jobs::labels& l) {
  if (l.size() > std::numeric_limits<std::uint32_t>::max() / 8)
    throw std::length_error("jobs::registry: too many labels");
  std::size_t size = 8 * l.size();
  for (const auto& [k, v] : l) {
    size += length_of(k);
    size += length_of(v);
    if (size > std::numeric_limits<std::uint32_t>::max())
      throw std::length_error("jobs::registry: labels of 4 GiB or more");
  }
  char* out = inline_;
  if (size > inline_bytes) {
    heap_ = std::make_unique<char[]>(size);
    out = heap_.get();
  }
  std::size_t header = 0, body = 8 * l.size();
  for (const auto& [k, v] : l) {
    const std::uint32_t lens[2] = {static_cast<std::uint32_t>(k.size()),
                                   static_cast<std::uint32_t>(v.size())};
    std::memcpy(out + header, lens, sizeof lens);
    header += sizeof lens;
    if (!k.empty()) std::memcpy(out + body, k.data(), k.size());
    body += k.size();
    if (!v.empty()) std::memcpy(out + body, v.data(), v.size());
    body += v.size();
  }
  count_ = static_cast<std::uint32_t>(l.size());
  size_ = static_cast<std::uint32_t>(size);
}

flat_labels::flat_labels(flat_labels&& o) noexcept
    : count_(std::exchange(o.count_, 0)), size_(std::exchange(o.size_, 0)), heap_(std::move(o.heap_)) {
  if (!heap_) std::memcpy(inline_, o.inline_, inline_bytes);
}

flat_labels& flat_labels::operator=(flat_labels&& o) noexcept {
  if (this != &o) {
    count_ = std::exchange(o.count_, 0);
    size_ = std::exchange(o.size_, 0);
    heap_ = std::move(o.heap_);
    if (!heap_) std::memcpy(inline_, o.inline_, inline_bytes);
  }
  return *this;
}

std::optional<std::string_view> flat_labels::find(std::string_view key) const noexcept {
  const char* d = data();
  std::size_t at = 8 * std::size_t{count_};
  for (std::uint32_t i = 0; i < count_; ++i) {
    const std::uint32_t kl = read_u32(d + 8 * i), vl = read_u32(d + 8 * i + 4);
    const std::string_view k(d + at, kl);
    if (k == key) return std::string_view(d + at + kl, vl);
    if (key < k) return std::nullopt;  // in key order: it is not further on
    at += std::size_t{kl} + vl;
  }
  return std::nullopt;
}

label_matcher::label_matcher(const selector& s) {
  terms_.reserve(s.requirements().size());
  for (const auto& r : s.requirements()) {
    std::int64_t bound = 0;
    if (r.operation() == selector::op::greater_than || r.operation() == selector::op::less_than)
      bound = parse_label_integer(r.values().front()).value_or(0);  // validated by the requirement
    terms_.push_back(term{r.key(), r.operation(), &r.values(), bound});
  }
}

// As selector::requirement::matches, on flat labels.
bool label_matcher::matches(const flat_labels& l) const noexcept {
  for (const term& t : terms_) {
    const auto v = l.find(t.key);
    const auto has_value = [&] {
      return std::binary_search(t.values->begin(), t.values->end(), *v, std::less<>{});
    };
    bool ok = false;
    switch (t.op) {
      case selector::op::exists: ok = v.has_value(); break;
      case selector::op::does_not_exist: ok = !v; break;
      case selector::op::equals:
      case selector::op::double_equals:
      case selector::op::in: ok = v && has_value(); break;
      case selector::op::not_equals:
      case selector::op::not_in: ok = !v || !has_value(); break;
      case selector::op::greater_than:
      case selector::op::less_than: {
        const auto n = v ? parse_label_integer(*v) : std::nullopt;
        ok = n && (t.op == selector::op::greater_than ? *n > t.bound : *n < t.bound);
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace jobs::detail
