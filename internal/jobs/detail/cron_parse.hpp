// internal/jobs/detail/cron_parse.hpp — the pieces of robfig/cron's parser that its own tests check
// one by one (getRange, getField, getBits) and Go's time.ParseDuration, which `@every` uses. Used
// by jobs::cron::schedule::parse; its own header so that the tests can port robfig's tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace jobs::cron::detail {

/// The bounds of one field; `names[i]` (lower case) spells the value `min + i`.
struct bounds {
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  const std::string_view* names = nullptr;
  std::size_t name_count = 0;
};

/// A bad range expression: the problem, and where the bad part starts within the text given.
struct field_error : std::invalid_argument {
  field_error(const std::string& problem, std::size_t offset, std::size_t length)
      : std::invalid_argument(problem), offset(offset), length(length) {}
  std::size_t offset;  ///< byte offset of the bad range expression in the field
  std::size_t length;  ///< its length
};

/// robfig's getBits: the bits min..max stepping by `step` (>= 1).
std::uint64_t get_bits(std::uint64_t min, std::uint64_t max, std::uint64_t step) noexcept;

/// robfig's getRange: `number | number "-" number ["/" number]`, `*`, `?`, with optional step.
/// \throws field_error (offset 0) with robfig's reasons: "too many hyphens", "failed to parse int
/// from", "negative number", "too many slashes", "below minimum", "above maximum", "beyond end of
/// range", "should be a positive number".
std::uint64_t get_range(std::string_view expr, const bounds& r);

/// robfig's getField: the union of the comma-separated ranges (empty elements are skipped, so
/// "," is an empty set). \throws field_error with the offset of the bad range in `field`.
std::uint64_t get_field(std::string_view field, const bounds& r);

/// Go's time.ParseDuration, in nanoseconds. \throws std::invalid_argument with Go's message
/// ("time: invalid duration ...", "time: missing unit ...", "time: unknown unit ...").
std::int64_t parse_go_duration(std::string_view text);

/// Go's Duration.String() for a whole number of seconds >= 0: 90 is "1m30s", 3600 is "1h0m0s".
std::string format_go_duration(std::int64_t seconds);

}  // namespace jobs::cron::detail
