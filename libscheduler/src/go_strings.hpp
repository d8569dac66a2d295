// Go's strings functions that robfig/cron's parser relies on (strings.Fields, strings.TrimSpace,
// strings.Split, strings.EqualFold on ASCII), ported so that jobs::cron splits a spec exactly as
// robfig does. Private to libscheduler.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace jobs::cron::go_strings {

// ---- text ---------------------------------------------------------------------------------------

/// The length of the white space (Go's unicode.IsSpace, UTF-8 encoded) that starts at s[i], or 0.
/// Go walks strings rune by rune and decodes an invalid byte as one U+FFFD; every white-space
/// rune starts with an ASCII byte or a UTF-8 lead byte, which is never inside another rune, so
/// testing each byte position gives the same answer as Go's walk.
inline std::size_t space_at(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  switch (at(0)) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ': return 1;
    case 0xc2: return at(1) == 0x85 || at(1) == 0xa0 ? 2 : 0;  // U+0085 NEL, U+00A0 NBSP
    case 0xe1: return at(1) == 0x9a && at(2) == 0x80 ? 3 : 0;  // U+1680
    case 0xe2:
      if (at(1) == 0x80) {
        const unsigned c = at(2);  // U+2000..U+200A, U+2028, U+2029, U+202F
        return (c >= 0x80 && c <= 0x8a) || c == 0xa8 || c == 0xa9 || c == 0xaf ? 3 : 0;
      }
      return at(1) == 0x81 && at(2) == 0x9f ? 3 : 0;           // U+205F
    case 0xe3: return at(1) == 0x80 && at(2) == 0x80 ? 3 : 0;  // U+3000
    default: return 0;
  }
}

/// The length of the white space that ends s, or 0 (Go decodes the last rune backwards; the
/// encodings of white space do not overlap, so at most one of these matches).
inline std::size_t space_before_end(std::string_view s) {
  for (std::size_t len : {std::size_t{3}, std::size_t{2}, std::size_t{1}}) {
    if (s.size() >= len && space_at(s, s.size() - len) == len) return len;
  }
  return 0;
}

/// strings.TrimSpace.
inline std::string_view trim_space(std::string_view s) {
  while (!s.empty()) {
    const std::size_t n = space_at(s, 0);
    if (n == 0) break;
    s.remove_prefix(n);
  }
  while (!s.empty()) {
    const std::size_t n = space_before_end(s);
    if (n == 0) break;
    s.remove_suffix(n);
  }
  return s;
}

/// strings.Fields: calls `f(field)` (a view into `s`) for the first `limit` fields and returns
/// how many fields there are.
template <class F>
inline std::size_t for_each_field(std::string_view s, std::size_t limit, F f) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (const std::size_t n = space_at(s, i)) {
      i += n;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && space_at(s, i) == 0) ++i;
    if (count < limit) f(s.substr(start, i - start));
    ++count;
  }
  return count;
}

/// strings.Split(s, sep) reduced to what robfig looks at: the first two parts and how many
/// there are (at least one: Split("", sep) is [""]).
struct split_result {
  std::string_view first;
  std::string_view second;
  std::size_t count = 1;
};
inline split_result split(std::string_view s, char sep) {
  split_result r;
  const std::size_t a = s.find(sep);
  if (a == std::string_view::npos) {
    r.first = s;
    return r;
  }
  r.first = s.substr(0, a);
  const std::string_view rest = s.substr(a + 1);
  const std::size_t b = rest.find(sep);
  r.second = rest.substr(0, b);
  r.count = 2;
  for (std::size_t k = b; k != std::string_view::npos; k = rest.find(sep, k + 1)) ++r.count;
  return r;
}

inline bool iequals_ascii(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace jobs::cron::go_strings
