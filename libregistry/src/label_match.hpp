// Labels laid out for a scan, and a selector compiled to match them: how select(), cancel(),
// stats() and print() test 10^5 entries without chasing a std::map (scattered over the heap
// between the jobs) per entry. Private to libregistry.
#pragma once

#include <jobs/selector.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobs::detail {

/// strconv.ParseInt(s, 10, 64), as selector::requirement::matches reads a `>`/`<` value
/// (defined in selector.cpp).
std::optional<std::int64_t> parse_label_integer(std::string_view s) noexcept;

/// A job's labels in one buffer, inline up to 64 bytes (three or four short labels): per label,
/// in key order, its key's and value's lengths (uint32), then every key's and value's bytes.
class flat_labels {
 public:
  flat_labels() noexcept = default;
  /// Throws std::length_error for a label of 4 GiB or more, std::bad_alloc.
  explicit flat_labels(const jobs::labels& l);
  flat_labels(flat_labels&& o) noexcept;
  flat_labels& operator=(flat_labels&& o) noexcept;
  flat_labels(const flat_labels&) = delete;
  flat_labels& operator=(const flat_labels&) = delete;
  ~flat_labels() = default;

  /// The value of the label `key`, if there is one.
  std::optional<std::string_view> find(std::string_view key) const noexcept;

 private:
  static constexpr std::size_t inline_bytes = 64;
  const char* data() const noexcept { return heap_ ? heap_.get() : inline_; }

  std::uint32_t count_ = 0;
  std::uint32_t size_ = 0;  // bytes used
  alignas(8) char inline_[inline_bytes] = {};
  std::unique_ptr<char[]> heap_;
};

/// A selector compiled for one scan: matches flat labels exactly as selector::matches matches
/// the same jobs::labels (test/registry/registry.cpp holds them to it). Refers to `s`, which
/// must outlive it.
class label_matcher {
 public:
  explicit label_matcher(const selector& s);
  bool matches(const flat_labels& l) const noexcept;

 private:
  struct term {
    std::string_view key;
    selector::op op;
    const std::vector<std::string>* values;  // sorted
    std::int64_t bound;                      // `>`/`<`
  };
  std::vector<term> terms_;
};

}  // namespace jobs::detail
