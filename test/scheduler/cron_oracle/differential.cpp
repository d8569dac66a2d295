// cron_differential: jobs::cron against robfig/cron v3 itself. Builds the Go program main.go
// (next to this file) with Debian's golang-github-robfig-cron-dev, generates a few thousand specs
// and start times from a fixed seed, and checks that both accept and reject the same specs and
// give the same 20 next activation times, to the nanosecond.
//
//   cron_differential <go executable or ""> <main.go> <work directory> <GOPATH>
//
// Exit status: 0 all matched, 1 a difference or a failure, 77 (a ctest skip) when no Go toolchain
// is installed. Environment: JOBS_CRON_DIFF_SEED (default 1), JOBS_CRON_DIFF_CASES (default 6000),
// JOBS_CRON_DIFF_LOCAL (the local zone of both sides, default America/New_York).
//
// What is not generated or not compared, and why:
//  - zone names Go finds but date/tz does not list (posix/..., right/..., Factory, posixrules);
//  - zones that skipped a whole calendar day (Pacific/Apia and Pacific/Fakaofo 2011-12-30,
//    Pacific/Kwajalein 1993, Pacific/Kiritimati and Pacific/Kanton 1994): robfig loops forever
//    there, jobs::cron steps over the day (the unit tests check it);
//  - a seconds or minutes field that matches nothing (","): robfig takes 157 (2.6) million
//    steps to give up (jobs::cron gives the same zero time at once; the unit tests check it);
//  - activation times after 2037: Go computes them from the zone file's POSIX rule, date/tz
//    keeps the last transition listed (tzdata lists them up to 2037), so zoned chains are
//    compared up to 2037-01-01.
#include <jobs/cron.hpp>

#include <date/date.h>
#include <date/tz.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono;
using jobs::cron::schedule;
using time_point = schedule::time_point;

constexpr int skip_code = 77;
constexpr int chain_length = 20;

// ---- a small deterministic generator (the same sequence on every platform) ----------------------

struct rng {
  std::uint64_t state;
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {  // inclusive
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  bool percent(unsigned p) { return below(100) < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }
};

// ---- what is generated --------------------------------------------------------------------------

const std::vector<std::string> zones = {
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "UTC",
    "Etc/UTC",
    "Pacific/Chatham",
    "America/St_Johns",
    "Europe/Dublin",
    "Africa/Casablanca",
    "America/Havana",
    "America/Santiago",
    "Asia/Tehran",
    "Europe/Lisbon",
    "Australia/Adelaide",
    "Asia/Kathmandu",
    "Antarctica/Troll",
    "Asia/Gaza",
    "America/Asuncion",
    "Europe/Moscow",
    "Pacific/Auckland",
    "America/Los_Angeles",
    "Asia/Jerusalem",
    "Africa/Cairo",
    "Europe/Chisinau",
    "America/Caracas",
    "Asia/Pyongyang",
    "Australia/Eucla",
    "America/Scoresbysund",
    "Asia/Dhaka",
    "America/Mexico_City",
    "America/Godthab",
    "Europe/Berlin",
    "Asia/Tokyo",
    "US/Eastern",
};

const std::vector<std::string> month_names = {"jan", "feb", "mar", "apr", "may", "jun",
                                              "jul", "aug", "sep", "oct", "nov", "dec"};
const std::vector<std::string> dow_names = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string random_case(rng& r, std::string s) {
  const auto mode = r.below(4);
  for (char& c : s) {
    if (mode == 1 || (mode == 3 && r.percent(50))) c = static_cast<char>(c - 'a' + 'A');
    if (mode == 2 && &c == &s[0]) c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

struct field_kind {
  int min, max;
  const std::vector<std::string>* names;
};
const field_kind kinds[6] = {
    {0, 59, nullptr}, {0, 59, nullptr},      {0, 23, nullptr},
    {1, 31, nullptr}, {1, 12, &month_names}, {0, 6, &dow_names},
};

std::string value(rng& r, const field_kind& k, bool allow_bad) {
  if (allow_bad && r.percent(4)) {  // out of range, just
    return std::to_string(r.percent(50) ? k.max + 1 + static_cast<int>(r.below(3)) : k.min - 1);
  }
  const int v = static_cast<int>(r.between(k.min, k.max));
  if (k.names != nullptr && r.percent(35))
    return random_case(r, (*k.names)[static_cast<std::size_t>(v - k.min)]);
  if (r.percent(5)) return "0" + std::to_string(v);
  if (r.percent(2)) return "+" + std::to_string(v);
  return std::to_string(v);
}

std::string step(rng& r, bool allow_bad) {
  if (allow_bad && r.percent(5)) return r.percent(50) ? "0" : "-1";
  const auto p = r.below(10);
  if (p < 6) return std::to_string(r.between(1, 15));
  if (p < 9) return std::to_string(r.between(16, 40));
  return std::to_string(r.between(41, 200));
}

/// "a-b", in order unless a bad spec is wanted (then reversed one time in four).
std::string range(rng& r, const field_kind& k, bool allow_bad) {
  int a = static_cast<int>(r.between(k.min, k.max)), b = static_cast<int>(r.between(k.min, k.max));
  if ((a > b) != (allow_bad && r.percent(25))) std::swap(a, b);
  const auto text = [&](int v) {
    if (k.names != nullptr && r.percent(35))
      return random_case(r, (*k.names)[static_cast<std::size_t>(v - k.min)]);
    return std::to_string(v);
  };
  return text(a) + "-" + text(b);
}

std::string element(rng& r, const field_kind& k, bool allow_bad) {
  const auto p = r.below(100);
  if (p < 30) return value(r, k, allow_bad);
  if (p < 45) return range(r, k, allow_bad);
  if (p < 58) return range(r, k, allow_bad) + "/" + step(r, allow_bad);
  if (p < 68) return (r.percent(80) ? "*" : "?") + std::string("/") + step(r, allow_bad);
  if (p < 76) return value(r, k, allow_bad) + "/" + step(r, allow_bad);
  if (p < 90) return "*";
  if (p < 95) return "?";
  // robfig's corners: "*-5" is "*", "-0" is 0, a sign, leading zeros, huge numbers.
  static const std::vector<std::string> odd = {"*-5", "?-x", "-0", "*/1", "?/1", "007",
                                               "1/1", "*-",  "00", "+0",  "0-0", "*/60"};
  static const std::vector<std::string> bad = {"5-",
                                               "-5",
                                               "x",
                                               "5--6",
                                               "5//2",
                                               "*/-1",
                                               "99999999999999999999",
                                               "1/99999999999999",
                                               "9223372036854775808",
                                               "1-2-3",
                                               "",
                                               "*/",
                                               "/5",
                                               "5/",
                                               "jan-",
                                               "*x",
                                               "L",
                                               "5#2",
                                               "1.5"};
  if (allow_bad && r.percent(50)) return r.pick(bad);
  return r.pick(odd);
}

std::string field(rng& r, int index, bool allow_bad) {
  const field_kind& k = kinds[index];
  std::string f;
  const std::size_t n = r.percent(80) ? 1 : (r.percent(80) ? 2 + r.below(2) : 4 + r.below(3));
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) f += ',';
    f += element(r, k, allow_bad);
  }
  if (r.percent(2)) f = r.percent(50) ? "," + f : f + ",,";
  // A field that matches nothing: robfig walks 5 years of seconds (too slow) or minutes (slow):
  // only for the hours and the days.
  if (index >= 2 && index != 4 && r.percent(1)) f = ",";
  if (index < 2 && f.find_first_not_of(',') == std::string::npos) f = "*";
  return f;
}

std::string zone_prefix(rng& r, std::string* zone) {
  *zone = r.pick(zones);
  return (r.percent(50) ? "CRON_TZ=" : "TZ=") + *zone + (r.percent(90) ? " " : "   ");
}

std::string go_duration(rng& r) {
  static const std::vector<std::string> units = {"h", "m", "s", "ms", "us", "\xc2\xb5s", "\xce\xbcs", "ns"};
  static const std::vector<std::string> bad = {"",
                                               "0",
                                               "-5s",
                                               "+90s",
                                               "1",
                                               "x",
                                               "1x",
                                               "1e3s",
                                               ".s",
                                               "1..5s",
                                               "5 m",
                                               "1h 30m",
                                               "-0",
                                               "+0",
                                               "0.0001s",
                                               "9999999999h",
                                               "2562048h",
                                               "9223372036854775807ns1ns",
                                               "9223372036854775808ns",
                                               "1.h",
                                               ".5m",
                                               "1.5.5s",
                                               "1H",
                                               "\xb5s",
                                               "100000000000000000000ns"};
  if (r.percent(20)) return r.pick(bad);
  std::string d;
  const std::size_t parts = 1 + r.below(3);
  for (std::size_t i = 0; i < parts; ++i) {
    const std::string& u = r.pick(units);
    std::int64_t n = u == "h" ? r.between(0, 400) : r.between(0, 5000);
    if (u == "ns" || u == "us" || u == "ms" || u.size() > 2) n = r.between(0, 3'000'000);
    d += std::to_string(n);
    if (r.percent(15)) {
      d += ".";
      d += std::to_string(r.below(1'000'000));
    }
    d += u;
  }
  return d;
}

struct test_case {
  std::string spec;
  std::string zone;  // the zone of the start times ("" for the local zone)
  time_point start;
};

// The DST (and other) transitions of a zone from 1975 to 2031.
std::vector<sys_seconds> transitions(const std::string& zone) {
  std::vector<sys_seconds> out;
  const date::time_zone* z = date::locate_zone(zone);
  sys_seconds t = date::sys_days{date::year{1975} / 1 / 1};
  const sys_seconds end = date::sys_days{date::year{2031} / 1 / 1};
  while (t < end) {
    const date::sys_info info = z->get_info(t);
    if (info.end >= end) break;
    out.push_back(info.end);
    t = info.end;
  }
  return out;
}

time_point start_time(rng& r, const std::string& zone,
                      std::map<std::string, std::vector<sys_seconds>>& cache) {
  const auto [it, inserted] = cache.try_emplace(zone);
  if (inserted) it->second = transitions(zone);
  const std::vector<sys_seconds>& tx = it->second;
  const sys_seconds lo = date::sys_days{date::year{1975} / 1 / 1};
  const sys_seconds hi = date::sys_days{date::year{2030} / 12 / 31};
  sys_seconds base;
  const auto p = r.below(100);
  if (p < 55 && !tx.empty()) {
    base = r.pick(tx);
    const auto q = r.below(10);
    if (q < 2) {
      base += seconds{r.between(-1, 1)};
    } else if (q < 7) {
      base += seconds{r.between(-3 * 3600, 3 * 3600)};
    } else {
      base += seconds{r.between(-2 * 86400, 2 * 86400)};
    }
  } else if (p < 75) {  // near a local midnight at the turn of a month or a year
    const date::time_zone* z = date::locate_zone(zone);
    const auto y = date::year{static_cast<int>(r.between(1975, 2030))};
    const auto m = date::month{static_cast<unsigned>(r.percent(30) ? 1 : r.between(1, 12))};
    const date::local_seconds midnight = date::local_days{y / m / 1};
    base = z->to_sys(midnight, date::choose::earliest) + seconds{r.between(-90, 90)};
  } else {
    base = lo + seconds{r.between(0, (hi - lo).count())};
  }
  time_point t = time_point(base);
  if (r.percent(40)) t += nanoseconds{r.between(1, 999'999'999)};
  return t;
}

std::vector<test_case> generate(std::uint64_t seed, std::size_t count, const std::string& local_zone) {
  rng r{seed};
  std::map<std::string, std::vector<sys_seconds>> cache;
  std::vector<test_case> cases;
  cases.reserve(count);
  static const std::vector<std::string> descriptors = {
      "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly",
      // not descriptors:
      "@Daily", "@HOURLY", "@daily ", " @daily", "@ daily", "@every", "@every ", "@every1m", "@", "@reboot",
      "@weekly\t", "@every  5m", "@every\t5m"};
  static const std::vector<std::string> odd_zones = {"",
                                                     "Local",
                                                     "Mars/Olympus_Mons",
                                                     "../etc/passwd",
                                                     "/UTC",
                                                     "\\UTC",
                                                     "America/new_york",
                                                     "EST5EDT",
                                                     "UTC",
                                                     "Etc/GMT+5",
                                                     "zone.tab",
                                                     "America/",
                                                     "America",
                                                     "GMT0",
                                                     "A..B",
                                                     ".",
                                                     "localtime",
                                                     "America/Argentina/Buenos_Aires",
                                                     "US/Pacific-New",
                                                     "Asia/Calcutta"};
  static const std::vector<std::string> spaces = {"  ",           "\t",       " \t ",         "\v",
                                                  "\f",           "\r",       "\xc2\xa0",     "\xe3\x80\x80",
                                                  "\xe2\x80\x83", "\xc2\x85", "\xe2\x80\xa8", "\xe1\x9a\x80"};
  for (std::size_t i = 0; i < count; ++i) {
    test_case c;
    std::string prefix;
    const bool zoned = r.percent(70);
    if (zoned) prefix = zone_prefix(r, &c.zone);
    const auto p = r.below(100);
    if (p < 58) {  // fields
      const bool bad = r.percent(12);
      const int first = r.percent(50) ? 0 : 1;
      std::string s;
      for (int f = first; f < 6; ++f) {
        if (f > first) s += r.percent(95) ? " " : r.pick(spaces);
        s += field(r, f, bad);
      }
      if (r.percent(4)) s = r.pick(spaces) + s;
      if (r.percent(4)) s += r.pick(spaces);
      c.spec = prefix + s;
    } else if (p < 68) {
      c.spec = prefix + r.pick(descriptors);
    } else if (p < 78) {
      c.spec = prefix + "@every " + go_duration(r);
    } else if (p < 86) {  // a wrong number of fields, or one too many spaces before the descriptor
      const int n = static_cast<int>(r.below(9));
      std::string s;
      for (int f = 0; f < n; ++f) {
        if (f > 0) s += ' ';
        s += field(r, std::min(f, 5), false);
      }
      c.spec = prefix + s;
    } else if (p < 93) {  // a prefix robfig reads in its own way
      c.zone.clear();
      const std::string name = r.pick(odd_zones);
      const std::string key = r.percent(50) ? "TZ=" : "CRON_TZ=";
      const std::string body = r.percent(70) ? "0 */5 * * * *" : "@hourly";
      switch (r.below(5)) {
        case 0: c.spec = key + name; break;                                // no space: robfig panics
        case 1: c.spec = key + name + "\t" + body; break;                  // a tab is not the space
        case 2: c.spec = key + name + r.pick(spaces) + " " + body; break;  // the name takes the rest
        default: c.spec = key + name + " " + body; break;
      }
      if (name == "Local") c.zone.clear();
    } else {  // bytes
      const std::size_t n = r.below(24);
      std::string s = prefix;
      static const std::string alphabet = "0123456789*?,-/ @JANjanSUNsun\t=TZCRON_";
      for (std::size_t k = 0; k < n; ++k) {
        if (r.percent(85)) {
          s += alphabet[r.below(alphabet.size())];
        } else {
          char b = static_cast<char>(r.below(256));
          if (b == '\n') b = ' ';
          s += b;
        }
      }
      c.spec = s;
    }
    c.start = start_time(r, c.zone.empty() ? local_zone : c.zone, cache);
    cases.push_back(std::move(c));
  }
  return cases;
}

// ---- both sides ---------------------------------------------------------------------------------

std::string rfc3339(time_point t) {
  const auto s = floor<seconds>(t);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lld",
                static_cast<long long>(duration_cast<nanoseconds>(t - s).count()));
  return date::format("%FT%T", s) + frac + "Z";
}

std::string unix_text(time_point t) {
  const auto s = floor<seconds>(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(s.time_since_epoch().count()),
                static_cast<long long>(duration_cast<nanoseconds>(t - s).count()));
  return buf;
}

/// Our answer in the oracle's format ("ok\t...", or "err" for any std::invalid_argument).
std::string ours(const test_case& c, std::string* error, bool* every) {
  try {
    const schedule s = schedule::parse(c.spec);
    *every = s.delay().has_value();
    std::string out = "ok\t";
    time_point t = c.start;
    for (int i = 0; i < chain_length; ++i) {
      if (i > 0) out += ' ';
      t = s.next(t);
      if (t == time_point{}) {
        out += "zero";
        break;
      }
      out += unix_text(t);
    }
    return out;
  } catch (const std::invalid_argument& e) {
    *error = e.what();
    return "err";
  }
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

const std::int64_t horizon = date::sys_days{date::year{2037} / 1 / 1}.time_since_epoch().count() * 86400;

/// How many times of two "ok" chains agree, up to 2037 for a spec with fields (see the top);
/// -1 if they differ before.
int same_chain(std::string_view a, std::string_view b, bool zoned) {
  const auto x = split_words(a), y = split_words(b);
  for (std::size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    if (i >= x.size() || i >= y.size()) return -1;
    const auto past = [](const std::string& w) { return w != "zero" && std::stoll(w) >= horizon; };
    if (zoned && (past(x[i]) || x[i] == "zero") && (past(y[i]) || y[i] == "zero") &&
        (past(x[i]) || past(y[i]))) {
      return static_cast<int>(i);
    }
    if (x[i] != y[i]) return -1;
  }
  return static_cast<int>(x.size());
}

// ---- processes ----------------------------------------------------------------------------------

int run(const std::vector<std::string>& argv, const char* in_path = nullptr, const char* out_path = nullptr) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in_path != nullptr) posix_spawn_file_actions_addopen(&actions, 0, in_path, O_RDONLY, 0);
  if (out_path != nullptr)
    posix_spawn_file_actions_addopen(&actions, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::cerr << "cron_differential: cannot start " << argv[0] << ": " << std::strerror(rc) << "\n";
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string find_go(const std::string& configured) {
  if (!configured.empty() && configured.find("NOTFOUND") == std::string::npos &&
      access(configured.c_str(), X_OK) == 0) {
    return configured;
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/go";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: cron_differential <go or \"\"> <main.go> <work directory> <GOPATH>\n";
    return 1;
  }
  const auto started = steady_clock::now();
  const std::string go = find_go(argv[1]);
  const std::string source = argv[2], work = argv[3], gopath = argv[4];
  if (go.empty()) {
    std::cout << "cron_differential: SKIPPED: no Go toolchain (`go` is not installed; build/deps.sh installs "
                 "golang-go and golang-github-robfig-cron-dev)\n";
    return skip_code;
  }

  // Both sides use the same local zone: jobs::cron resolves it from TZ as Go does (before the
  // first schedule is parsed), and the oracle inherits it.
  const char* local_env = std::getenv("JOBS_CRON_DIFF_LOCAL");
  const std::string local_zone = local_env != nullptr && *local_env != '\0' ? local_env : "America/New_York";
  setenv("TZ", local_zone.c_str(), 1);
  if (jobs::cron::local_time_zone() != local_zone) {
    std::cerr << "cron_differential: local zone is " << jobs::cron::local_time_zone() << ", not "
              << local_zone << "\n";
    return 1;
  }

  // Build the oracle, offline, with the packaged robfig/cron (GOPATH mode).
  const std::string oracle = work + "/cron_oracle";
  setenv("GO111MODULE", "off", 1);
  setenv("GOPATH", gopath.c_str(), 1);
  setenv("GOCACHE", (work + "/go-cache").c_str(), 1);
  setenv("GOFLAGS", "", 1);
  setenv("GOPROXY", "off", 1);
  setenv("GOENV", "off", 1);
  setenv("CGO_ENABLED", "0", 1);
  if (run({go, "build", "-o", oracle, source}) != 0) {
    std::cerr << "cron_differential: `" << go << " build` of " << source << " failed (GOPATH=" << gopath
              << "; is golang-github-robfig-cron-dev installed?)\n";
    return 1;
  }
  const auto built = steady_clock::now();

  const std::uint64_t seed = env_number("JOBS_CRON_DIFF_SEED", 1);
  const std::size_t count = env_number("JOBS_CRON_DIFF_CASES", 6000);
  const std::vector<test_case> cases = generate(seed, count, local_zone);
  const std::string in_path = work + "/cron_cases.txt", out_path = work + "/cron_oracle_out.txt";
  {
    std::ofstream in(in_path, std::ios::binary);
    for (const auto& c : cases) in << c.spec << '\t' << rfc3339(c.start) << '\n';
  }
  if (run({oracle}, in_path.c_str(), out_path.c_str()) != 0) {
    std::cerr << "cron_differential: the oracle failed\n";
    return 1;
  }
  std::ifstream out(out_path, std::ios::binary);
  std::vector<std::string> expected;
  for (std::string line; std::getline(out, line);) expected.push_back(line);
  if (expected.size() != cases.size()) {
    std::cerr << "cron_differential: the oracle answered " << expected.size() << " of " << cases.size()
              << " lines\n";
    return 1;
  }

  std::size_t accepted = 0, rejected = 0, panicked = 0, times = 0, mismatches = 0, never = 0, cut = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const test_case& c = cases[i];
    std::string error;
    bool every = false;
    const std::string mine = ours(c, &error, &every);
    const std::string& theirs = expected[i];
    bool same = false;
    if (theirs.starts_with("ok\t") && mine.starts_with("ok\t")) {
      const int n = same_chain(std::string_view(theirs).substr(3), std::string_view(mine).substr(3), !every);
      same = n >= 0;
      if (same) {
        ++accepted;
        times += static_cast<std::size_t>(n);
        if (theirs.ends_with("zero")) ++never;
        if (n < chain_length && !theirs.ends_with("zero")) ++cut;
      }
    } else if ((theirs.starts_with("err\t") || theirs.starts_with("panic\t")) && mine == "err") {
      same = true;
      ++(theirs.starts_with("panic\t") ? panicked : rejected);
    }
    if (!same && ++mismatches <= 20) {
      std::cout << "MISMATCH #" << i << ": spec \"" << c.spec << "\" start " << rfc3339(c.start) << "\n"
                << "  robfig:    " << theirs << "\n"
                << "  jobs::cron " << (mine == "err" ? "err: " + error : mine) << "\n";
    }
  }
  const auto done = steady_clock::now();
  std::cout << "cron_differential: seed " << seed << ", local zone " << local_zone << ": " << cases.size()
            << " cases: " << accepted << " accepted by both with the same next times (" << times
            << " times compared; " << never << " end in the zero time, " << cut << " cut at 2037), "
            << rejected << " rejected by both, " << panicked
            << " that make robfig panic rejected by jobs::cron; " << mismatches << " mismatches\n"
            << "cron_differential: go build " << duration_cast<milliseconds>(built - started).count()
            << " ms, cases " << duration_cast<milliseconds>(done - built).count() << " ms\n";
  return mismatches == 0 ? 0 : 1;
}
