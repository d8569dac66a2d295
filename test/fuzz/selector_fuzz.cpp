// libFuzzer target: jobs::selector::parse on arbitrary bytes. Any violation calls
// __builtin_trap() (a crash that libFuzzer reports and minimises); an exception other than
// std::invalid_argument escapes and aborts, which libFuzzer reports too.
//
// Invariants checked:
//   - parse either succeeds or throws std::invalid_argument whose what() starts with
//     "selector: at position N: " with N at most the input's size, and stays short;
//   - on success: to_string() parses back to an equal selector that prints the same text; the
//     printed text has no blanks other than the single ones around `in`/`notin`; rebuilding the
//     selector from its requirements (each through the validating constructor) gives an equal
//     selector; requirements are sorted by key and their values sorted and unique;
//   - matches() equals the AND of the requirements' matches() on a few label maps (the empty
//     map, one built from the selector's own keys and values, one from the input's bytes), and
//     the empty selector matches everything.
//
//   cmake --preset fuzz && cmake --build build/fuzz --target selector_fuzz -j2
//   cp -r test/fuzz/corpus_selector /tmp/s && build/fuzz/test/fuzz/selector_fuzz /tmp/s -max_total_time=60
#include <jobs/selector.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "selector_fuzz: invariant violated: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}
#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) fail(#cond " @ line " SELECTOR_FUZZ_STR(__LINE__)); \
  } while (0)
#define SELECTOR_FUZZ_STR2(x) #x
#define SELECTOR_FUZZ_STR(x) SELECTOR_FUZZ_STR2(x)

using jobs::selector;

void check_error(std::string_view input, const std::invalid_argument& e) {
  const std::string_view what = e.what();
  constexpr std::string_view prefix = "selector: at position ";
  CHECK(what.substr(0, prefix.size()) == prefix);
  std::size_t pos = 0;
  std::size_t i = prefix.size();
  CHECK(i < what.size() && what[i] >= '0' && what[i] <= '9');
  for (; i < what.size() && what[i] >= '0' && what[i] <= '9'; ++i) pos = pos * 10 + (what[i] - '0');
  CHECK(pos <= input.size());
  CHECK(what.substr(i, 2) == ": ");
  CHECK(what.size() < 1024);  // tokens are quoted cut short
}

bool and_of_requirements(const selector& s, const jobs::labels& l) {
  return std::all_of(s.requirements().begin(), s.requirements().end(),
                     [&](const selector::requirement& r) { return r.matches(l); });
}

void check_selector(std::string_view input, const selector& s) {
  const std::string text = s.to_string();
  CHECK(s.empty() == text.empty());
  CHECK(s.empty() == s.requirements().empty());

  // Printed text: parses back to the same selector and the same text.
  selector again;
  try {
    again = selector::parse(text);
  } catch (const std::invalid_argument&) {
    fail("to_string() does not parse");
  }
  CHECK(again == s);
  CHECK(again.to_string() == text);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ' ') continue;
    const bool before_op = text.compare(i, 4, " in ") == 0 || text.compare(i, 7, " notin ") == 0;
    const bool after_op =
        (i >= 3 && text.compare(i - 3, 4, " in ") == 0) || (i >= 6 && text.compare(i - 6, 7, " notin ") == 0);
    CHECK(before_op || after_op);
  }

  // Requirements: sorted by key, values sorted and unique, each one valid on its own.
  std::vector<selector::requirement> rebuilt;
  for (std::size_t i = 0; i < s.requirements().size(); ++i) {
    const selector::requirement& r = s.requirements()[i];
    if (i > 0) CHECK(s.requirements()[i - 1].key() <= r.key());
    CHECK(std::adjacent_find(r.values().begin(), r.values().end(),
                             [](const auto& a, const auto& b) { return !(a < b); }) == r.values().end());
    try {
      rebuilt.emplace_back(r.key(), r.operation(), r.values());
    } catch (const std::invalid_argument&) {
      fail("a parsed requirement does not pass the constructor's validation");
    }
    CHECK(rebuilt.back() == r);
    CHECK(rebuilt.back().to_string() == r.to_string());
  }
  CHECK(selector(rebuilt) == s);

  // matches(): the AND of the requirements, on a few maps.
  std::vector<jobs::labels> maps(3);
  for (const selector::requirement& r : s.requirements())
    maps[1][r.key()] = r.values().empty() ? std::string() : r.values().back();
  for (std::size_t i = 0; i + 1 < input.size() && i < 64; i += 2)
    maps[2][std::string(input.substr(i, 1 + static_cast<unsigned char>(input[i]) % 4))] =
        std::string(input.substr(i + 1, 1 + static_cast<unsigned char>(input[i + 1]) % 3));
  for (const selector::requirement& r : s.requirements()) maps[2].emplace(r.key(), "1");
  for (const jobs::labels& l : maps) {
    CHECK(s.matches(l) == and_of_requirements(s, l));
    CHECK(selector().matches(l));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  selector s;
  try {
    s = selector::parse(input);
  } catch (const std::invalid_argument& e) {
    check_error(input, e);
    return 0;
  }
  check_selector(input, s);
  return 0;
}
