// jobs/detail/quote.hpp — user input quoted for an error message (not installed): the selector's
// and the cron parser's messages name the offending text this way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace jobs::detail {

/// `s` in double quotes, as Go's %q shows bytes: quotes and backslashes escaped, control and
/// non-ASCII bytes as \xHH (so a message is one printable line whatever the input), cut after
/// `max` bytes with "...".
inline std::string quote(std::string_view s, std::size_t max = 64) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  const std::size_t n = s.size() < max ? s.size() : max;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (n < s.size()) out += "...";
  return out;
}

}  // namespace jobs::detail
