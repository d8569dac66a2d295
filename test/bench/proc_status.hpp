// The process's memory as /proc/self/status reports it (for the benchmarks and the scale program).
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bench {

/// VmRSS (current) or VmHWM (peak) of this process in bytes, from /proc/self/status.
inline std::size_t rss_bytes(const char* key = "VmRSS:") {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  std::size_t kb = 0;
  const std::size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, n) == 0) kb = std::strtoull(line + n, nullptr, 10);
  std::fclose(f);
  return kb * 1024;
}

}  // namespace bench
