// jobs::selector: the tables of Kubernetes' pkg/labels/selector_test.go (k8s.io/apimachinery),
// with their inputs and expected results unchanged, then our own checks: error messages,
// hostile input, integer bounds, and no heap allocation in matches().
#include <jobs/detail/selector_lexer.hpp>
#include <jobs/selector.hpp>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// ---- a counting global operator new (this test binary only) ----------------------------------

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

// Every unaligned form is replaced, so that each pair allocates and frees alike (under ASan too);
// the aligned forms stay the library's own pairs.
namespace {
void* counted_malloc(std::size_t n) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

// ---- helpers ----------------------------------------------------------------------------------

namespace jobs {
inline std::ostream& boost_test_print_type(std::ostream& os, const selector& s) {
  return os << '"' << s.to_string() << '"';
}
inline std::ostream& boost_test_print_type(std::ostream& os, selector::op o) { return os << to_string(o); }
namespace detail {
inline std::ostream& boost_test_print_type(std::ostream& os, selector_token t) {
  return os << static_cast<int>(t);
}
}  // namespace detail
}  // namespace jobs

namespace {

namespace bdata = boost::unit_test::data;
using jobs::selector;
using op = jobs::selector::op;
using tok = jobs::detail::selector_token;

// A requirement as the Go tables write it: getRequirement(key, op, sets.NewString(values...)).
struct req_spec {
  std::string key;
  op operation;
  std::vector<std::string> values;
};

selector make_selector(const std::vector<req_spec>& specs) {
  std::vector<selector::requirement> reqs;
  for (const req_spec& r : specs) reqs.emplace_back(r.key, r.operation, r.values);
  return selector(std::move(reqs));
}

std::string error_of(std::string_view text) {
  try {
    (void)selector::parse(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else
      out += c;
  }
  return out;
}

// ---- TestSelectorParse ----

const std::vector<std::string> good_strings = {
    "x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5",
};
const std::vector<std::string> bad_strings = {"x=a||y=b", "x==a==b", "!x=a", "x<a"};

// ---- TestSelectorMatches (expectMatch / expectNoMatch) ----

struct match_row {
  std::string selector;
  jobs::labels labels;
  bool match;
};
std::ostream& operator<<(std::ostream& os, const match_row& r) {
  return os << '"' << r.selector << "\" " << (r.match ? "matches" : "does not match");
}

const jobs::labels labelset = {{"foo", "bar"}, {"baz", "blah"}};
const std::vector<match_row> selector_matches_rows = {
    {"", {{"x", "y"}}, true},
    {"x=y", {{"x", "y"}}, true},
    {"x=y,z=w", {{"x", "y"}, {"z", "w"}}, true},
    {"x!=y,z!=w", {{"x", "z"}, {"z", "a"}}, true},
    {"notin=in", {{"notin", "in"}}, true},  // in and notin in exactMatch
    {"x", {{"x", "z"}}, true},
    {"!x", {{"y", "z"}}, true},
    {"x>1", {{"x", "2"}}, true},
    {"x<1", {{"x", "0"}}, true},
    {"x=z", {}, false},
    {"x=y", {{"x", "z"}}, false},
    {"x=y,z=w", {{"x", "w"}, {"z", "w"}}, false},
    {"x!=y,z!=w", {{"x", "z"}, {"z", "w"}}, false},
    {"x", {{"y", "z"}}, false},
    {"!x", {{"x", "z"}}, false},
    {"x>1", {{"x", "0"}}, false},
    {"x<1", {{"x", "2"}}, false},
    {"foo=bar", labelset, true},
    {"baz=blah", labelset, true},
    {"foo=bar,baz=blah", labelset, true},
    {"foo=blah", labelset, false},
    {"baz=bar", labelset, false},
    {"foo=bar,foobar=bar,baz=blah", labelset, false},
};

// ---- TestLexer, TestLexerSequence, TestParserLookahead ----

struct lex_row {
  std::string input;
  tok token;
};
std::ostream& operator<<(std::ostream& os, const lex_row& r) { return os << '"' << r.input << '"'; }

const std::vector<lex_row> lexer_rows = {
    {"", tok::end},
    {",", tok::comma},
    {"notin", tok::not_in},
    {"in", tok::in},
    {"=", tok::equals},
    {"==", tok::double_equals},
    {">", tok::greater_than},
    {"<", tok::less_than},
    // Note that Lex returns the longest valid token found
    {"!", tok::does_not_exist},
    {"!=", tok::not_equals},
    {"(", tok::open_paren},
    {")", tok::close_paren},
    // Non-"special" characters are considered part of an identifier
    {"~", tok::identifier},
    {"||", tok::identifier},
};

struct sequence_row {
  std::string input;
  std::vector<tok> tokens;
};
std::ostream& operator<<(std::ostream& os, const sequence_row& r) { return os << '"' << r.input << '"'; }

using enum jobs::detail::selector_token;
const std::vector<sequence_row> lexer_sequences = {
    {"key in ( value )", {identifier, in, open_paren, identifier, close_paren}},
    {"key notin ( value )", {identifier, not_in, open_paren, identifier, close_paren}},
    {"key in ( value1, value2 )", {identifier, in, open_paren, identifier, comma, identifier, close_paren}},
    {"key", {identifier}},
    {"!key", {does_not_exist, identifier}},
    {"()", {open_paren, close_paren}},
    {"x in (),y", {identifier, in, open_paren, close_paren, comma, identifier}},
    {"== != (), = notin", {double_equals, not_equals, open_paren, close_paren, comma, equals, not_in}},
    {"key>2", {identifier, greater_than, identifier}},
    {"key<1", {identifier, less_than, identifier}},
};

// TestParserLookahead: the same scans, up to and including the end token.
const std::vector<sequence_row> parser_lookahead_rows = {
    {"key in ( value )", {identifier, in, open_paren, identifier, close_paren, end}},
    {"key notin ( value )", {identifier, not_in, open_paren, identifier, close_paren, end}},
    {"key in ( value1, value2 )",
     {identifier, in, open_paren, identifier, comma, identifier, close_paren, end}},
    {"key", {identifier, end}},
    {"!key", {does_not_exist, identifier, end}},
    {"()", {open_paren, close_paren, end}},
    {"", {end}},
    {"x in (),y", {identifier, in, open_paren, close_paren, comma, identifier, end}},
    {"== != (), = notin", {double_equals, not_equals, open_paren, close_paren, comma, equals, not_in, end}},
    {"key>2", {identifier, greater_than, identifier, end}},
    {"key<1", {identifier, less_than, identifier, end}},
};

// ---- TestParseOperator ----

struct operator_row {
  std::string token;
  bool valid;
  op operation;
};
std::ostream& operator<<(std::ostream& os, const operator_row& r) { return os << '"' << r.token << '"'; }

const std::vector<operator_row> parse_operator_rows = {
    {"in", true, op::in},          {"=", true, op::equals},    {"==", true, op::double_equals},
    {">", true, op::greater_than}, {"<", true, op::less_than}, {"notin", true, op::not_in},
    {"!=", true, op::not_equals},  {"!", false, op::exists},   {"exists", false, op::exists},
    {"(", false, op::exists},
};

// ---- TestRequirementConstructor ----

struct constructor_row {
  std::string key;
  op operation;
  std::vector<std::string> values;
  std::string error;  // a part of what() (the field Kubernetes names); "" = valid
};
std::ostream& operator<<(std::ostream& os, const constructor_row& r) {
  return os << r.key.substr(0, 10) << ' ' << to_string(r.operation);
}

const op unsupported_op = static_cast<op>(200);  // "unsupportedOp"
const std::vector<constructor_row> constructor_rows = {
    {"x1", op::in, {}, "key \"x1\": for 'in', 'notin' operators, values set can't be empty"},
    {"x2", op::not_in, {}, "key \"x2\": for 'in', 'notin' operators, values set can't be empty"},
    {"x3", op::in, {"foo"}, ""},
    {"x4", op::not_in, {"foo"}, ""},
    {"x5", op::equals, {"bar", "foo"}, "key \"x5\": exact-match compatibility requires one single value"},
    {"x6", op::exists, {}, ""},
    {"x7", op::does_not_exist, {}, ""},
    {"x8", op::exists, {"foo"}, "key \"x8\": values set must be empty for exists and does not exist"},
    {"x9", op::in, {"bar"}, ""},
    {"x10", op::in, {"bar"}, ""},
    {"x11", op::greater_than, {"1"}, ""},
    {"x12", op::less_than, {"6"}, ""},
    {"x13", op::greater_than, {}, "key \"x13\": for 'gt', 'lt' operators, exactly one value is required"},
    {"x14", op::greater_than, {"bar"}, "invalid value \"bar\" for key \"x14\": for 'gt' and 'lt'"},
    {"x15", op::less_than, {"bar"}, "invalid value \"bar\" for key \"x15\": for 'gt' and 'lt'"},
    {std::string(254, 'a'), op::exists, {}, "invalid key \"aaaa"},  // breaks DNS rule that len(key) <= 253
    {"x16", op::equals, {std::string(254, 'a')}, "for key \"x16\": must be no more than 63 bytes"},
    {"x17", op::equals, {"a b"}, "invalid value \"a b\" for key \"x17\": a valid label must be"},
    {"x18", unsupported_op, {}, "key \"x18\": unsupported operator"},
};

// ---- TestToString (the row holding a zero Requirement cannot be built: skipped) ----

struct to_string_row {
  std::vector<req_spec> in;
  std::string out;
};
std::ostream& operator<<(std::ostream& os, const to_string_row& r) { return os << '"' << r.out << '"'; }

const std::vector<to_string_row> to_string_rows = {
    {{{"x", op::in, {"abc", "def"}}, {"y", op::not_in, {"jkl"}}, {"z", op::exists, {}}},
     "x in (abc,def),y notin (jkl),z"},
    {{{"x", op::not_in, {"abc", "def"}}, {"y", op::not_equals, {"jkl"}}, {"z", op::does_not_exist, {}}},
     "x notin (abc,def),y!=jkl,!z"},
    {{{"x", op::not_in, {"abc"}}, {"y", op::in, {"jkl", "mno"}}, {"z", op::not_in, {""}}},
     "x notin (abc),y in (jkl,mno),z notin ()"},
    {{{"x", op::equals, {"abc"}},
      {"y", op::double_equals, {"jkl"}},
      {"z", op::not_equals, {"a"}},
      {"z", op::exists, {}}},
     "x=abc,y==jkl,z!=a,z"},
    {{{"x", op::greater_than, {"2"}}, {"y", op::less_than, {"8"}}, {"z", op::exists, {}}}, "x>2,y<8,z"},
};

// ---- TestRequirementSelectorMatching (the row holding a zero Requirement: skipped) ----

struct requirement_match_row {
  jobs::labels set;
  std::vector<req_spec> sel;
  bool match;
};
std::ostream& operator<<(std::ostream& os, const requirement_match_row& r) {
  return os << '"' << make_selector(r.sel).to_string() << '"';
}

const std::vector<requirement_match_row> requirement_matching_rows = {
    {{{"x", "foo"}, {"y", "baz"}}, {{"x", op::in, {"foo"}}, {"y", op::not_in, {"alpha"}}}, true},
    {{{"x", "foo"}, {"y", "baz"}}, {{"x", op::in, {"foo"}}, {"y", op::in, {"alpha"}}}, false},
    {{{"y", ""}}, {{"x", op::not_in, {""}}, {"y", op::exists, {}}}, true},
    {{{"y", ""}}, {{"x", op::does_not_exist, {}}, {"y", op::exists, {}}}, true},
    {{{"y", ""}}, {{"x", op::not_in, {""}}, {"y", op::does_not_exist, {}}}, false},
    {{{"y", "baz"}}, {{"x", op::in, {""}}}, false},
    {{{"z", "2"}}, {{"z", op::greater_than, {"1"}}}, true},
    {{{"z", "v2"}}, {{"z", op::greater_than, {"1"}}}, false},
};

// ---- TestSetSelectorParser ----

struct parser_row {
  std::string in;
  std::vector<req_spec> out;
  bool match;  // compare the result with `out`
  bool valid;
};
std::ostream& operator<<(std::ostream& os, const parser_row& r) {
  return os << '"' << printable(r.in) << '"';
}

const std::vector<parser_row> set_selector_parser_rows = {
    {"", {}, true, true},
    {"\rx", {{"x", op::exists, {}}}, true, true},
    {"this-is-a-dns.domain.com/key-with-dash",
     {{"this-is-a-dns.domain.com/key-with-dash", op::exists, {}}},
     true,
     true},
    {"this-is-another-dns.domain.com/key-with-dash in (so,what)",
     {{"this-is-another-dns.domain.com/key-with-dash", op::in, {"so", "what"}}},
     true,
     true},
    {"0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
     {{"0.1.2.domain/99", op::not_in, {"10.10.100.1", "tick.tack.clock"}}},
     true,
     true},
    {"foo  in\t (abc)", {{"foo", op::in, {"abc"}}}, true, true},
    {"x notin\n (abc)", {{"x", op::not_in, {"abc"}}}, true, true},
    {"x  notin\t\t\t(abc,def)", {{"x", op::not_in, {"abc", "def"}}}, true, true},
    {"x in (abc,def)", {{"x", op::in, {"abc", "def"}}}, true, true},
    {"x in (abc,)", {{"x", op::in, {"abc", ""}}}, true, true},
    {"x in (abc,abc)", {{"x", op::in, {"abc"}}}, true, true},
    {"x in ()", {{"x", op::in, {""}}}, true, true},
    {"x in (a,,)", {{"x", op::in, {"a", ""}}}, true, true},
    {"x in (a,,,)", {{"x", op::in, {"a", ""}}}, true, true},
    {"x in (a,,,,,,)", {{"x", op::in, {"a", ""}}}, true, true},
    {"x in (a,,a,,a,,a,,)", {{"x", op::in, {"a", ""}}}, true, true},
    {"x notin (abc,,def),bar,z in (),w",
     {{"bar", op::exists, {}},
      {"w", op::exists, {}},
      {"x", op::not_in, {"abc", "", "def"}},
      {"z", op::in, {""}}},
     true,
     true},
    {"x,y in (a)", {{"y", op::in, {"a"}}, {"x", op::exists, {}}}, false, true},
    {"x=a", {{"x", op::equals, {"a"}}}, true, true},
    {"x>1", {{"x", op::greater_than, {"1"}}}, true, true},
    {"x<7", {{"x", op::less_than, {"7"}}}, true, true},
    {"x=a,y!=b", {{"x", op::equals, {"a"}}, {"y", op::not_equals, {"b"}}}, true, true},
    {"x=a,y!=b,z in (h,i,j)",
     {{"x", op::equals, {"a"}}, {"y", op::not_equals, {"b"}}, {"z", op::in, {"h", "i", "j"}}},
     true,
     true},
    {"x=a||y=b", {}, false, false},
    {"x,,y", {}, true, false},
    {",x,y", {}, true, false},
    {"x nott in (y)", {}, true, false},
    {"x notin ( )", {{"x", op::not_in, {""}}}, true, true},
    {"x notin (, a)", {{"x", op::not_in, {"", "a"}}}, true, true},
    {"a in (xyz),", {}, true, false},
    {"a in (xyz)b notin ()", {}, true, false},
    {"a ", {{"a", op::exists, {}}}, true, true},
    {"a in (x,y,notin, z,in)",
     {{"a", op::in, {"in", "notin", "x", "y", "z"}}},
     true,
     true},                                // operator 'in' inside list of identifiers
    {"a in (xyz abc)", {}, false, false},  // no comma
    {"a notin(", {}, true, false},         // bad formed
    {"a (", {}, false, false},             // cpar
    {"(", {}, false, false},               // opar
};

}  // namespace

BOOST_AUTO_TEST_SUITE(selector_k8s)

BOOST_DATA_TEST_CASE(selector_parse_good, bdata::make(good_strings), text) {
  const selector s = selector::parse(text);
  std::string without_spaces = text;
  std::erase(without_spaces, ' ');
  BOOST_TEST(s.to_string() == without_spaces);
}

BOOST_DATA_TEST_CASE(selector_parse_bad, bdata::make(bad_strings), text) {
  BOOST_CHECK_THROW(selector::parse(text), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(deterministic_parse) {
  BOOST_TEST(selector::parse("x=a,a=x").to_string() == selector::parse("a=x,x=a").to_string());
  BOOST_TEST(selector::parse("x=a,a=x") == selector::parse("a=x,x=a"));
}

BOOST_AUTO_TEST_CASE(everything) {
  BOOST_TEST(selector().matches({{"x", "y"}}));
  BOOST_TEST(selector().empty());
}

BOOST_DATA_TEST_CASE(selector_matches, bdata::make(selector_matches_rows), row) {
  BOOST_TEST(selector::parse(row.selector).matches(row.labels) == row.match);
}

BOOST_DATA_TEST_CASE(lexer, bdata::make(lexer_rows), row) {
  jobs::detail::selector_lexer l(row.input);
  const auto t = l.next();
  BOOST_TEST(t.token == row.token);
  BOOST_TEST(t.text == row.input);
}

BOOST_DATA_TEST_CASE(lexer_sequence, bdata::make(lexer_sequences), row) {
  jobs::detail::selector_lexer l(row.input);
  std::vector<tok> tokens;
  for (auto t = l.next(); t.token != tok::end; t = l.next()) tokens.push_back(t.token);
  BOOST_TEST(tokens == row.tokens, boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(parser_lookahead, bdata::make(parser_lookahead_rows), row) {
  jobs::detail::selector_lexer l(row.input);
  std::vector<tok> tokens;
  for (bool done = false; !done;) {
    const auto t = l.next();
    tokens.push_back(t.token);
    done = t.token == tok::end;
  }
  BOOST_TEST(tokens == row.tokens, boost::test_tools::per_element());
  BOOST_TEST(l.next().token == tok::end);  // and stays there
}

BOOST_DATA_TEST_CASE(parse_operator, bdata::make(parse_operator_rows), row) {
  const bool set = row.token == "in" || row.token == "notin";
  const std::string text = "x " + row.token + (set ? " (y)" : " 1");
  if (row.valid) {
    const selector s = selector::parse(text);
    BOOST_TEST_REQUIRE(s.requirements().size() == 1u);
    BOOST_TEST(s.requirements()[0].operation() == row.operation);
  } else {
    const std::string e = error_of(text);
    BOOST_TEST(
        contains(e, "at position 2: expected one of 'in', 'notin', '=', '==', '!=', '>', '<' but found"), e);
  }
}

BOOST_DATA_TEST_CASE(requirement_constructor, bdata::make(constructor_rows), row) {
  std::string what;
  try {
    selector::requirement r(row.key, row.operation, row.values);
  } catch (const std::invalid_argument& e) {
    what = e.what();
  }
  if (row.error.empty()) {
    BOOST_TEST(what.empty(), what);
  } else {
    BOOST_TEST(contains(what, row.error), what);
  }
}

BOOST_DATA_TEST_CASE(to_string, bdata::make(to_string_rows), row) {
  BOOST_TEST(make_selector(row.in).to_string() == row.out);
}

BOOST_DATA_TEST_CASE(requirement_selector_matching, bdata::make(requirement_matching_rows), row) {
  BOOST_TEST(make_selector(row.sel).matches(row.set) == row.match);
}

BOOST_DATA_TEST_CASE(set_selector_parser, bdata::make(set_selector_parser_rows), row) {
  const std::string e = error_of(row.in);
  BOOST_TEST(e.empty() == row.valid, e);
  if (row.valid && row.match) BOOST_TEST(selector::parse(row.in) == make_selector(row.out));
  if (row.valid) {  // and what it prints parses back to the same selector
    const selector s = selector::parse(row.in);
    BOOST_TEST(selector::parse(s.to_string()) == s);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- beyond the Kubernetes tables -------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(selector_semantics)

BOOST_AUTO_TEST_CASE(negative_operators_match_objects_without_the_label) {
  const jobs::labels none;
  const jobs::labels other = {{"b", "1"}};
  for (const char* text : {"a!=b", "a notin (b)", "a notin ()", "!a"}) {
    BOOST_TEST(selector::parse(text).matches(none), text);
    BOOST_TEST(selector::parse(text).matches(other), text);
  }
  for (const char* text : {"a=b", "a==b", "a in (b)", "a", "a>1", "a<1", "a="}) {
    BOOST_TEST(!selector::parse(text).matches(none), text);
    BOOST_TEST(!selector::parse(text).matches(other), text);
  }
}

BOOST_AUTO_TEST_CASE(empty_values) {
  BOOST_TEST(selector::parse("a=").matches({{"a", ""}}));
  BOOST_TEST(!selector::parse("a=").matches({{"a", "x"}}));
  BOOST_TEST(selector::parse("a in ()").matches({{"a", ""}}));
  BOOST_TEST(selector::parse("a in (,x)").matches({{"a", "x"}}));
  BOOST_TEST(!selector::parse("a notin (,x)").matches({{"a", ""}}));
  BOOST_TEST(selector::parse("a=,b==,c!=").to_string() == "a=,b==,c!=");
}

BOOST_AUTO_TEST_CASE(keywords_are_identifiers_where_a_value_or_key_is_expected) {
  const selector s = selector::parse("in in (in, notin),notin notin (in),x=in,!in");
  BOOST_TEST(s.to_string() == "in in (in,notin),!in,notin notin (in),x=in");
  BOOST_TEST(selector::parse(s.to_string()) == s);
  BOOST_CHECK_THROW(selector::parse("x in in"), std::invalid_argument);
  BOOST_CHECK_THROW(selector::parse("x in"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(integer_bounds) {
  BOOST_TEST(selector::parse("x>9223372036854775806").matches({{"x", "9223372036854775807"}}));
  BOOST_TEST(!selector::parse("x>9223372036854775807").matches({{"x", "9223372036854775808"}}));
  BOOST_CHECK_THROW(selector::parse("x>9223372036854775808"), std::invalid_argument);
  BOOST_TEST(selector::parse("x>0007").to_string() == "x>0007");
  BOOST_TEST(selector::parse("x>0007").matches({{"x", "8"}}));
  // Label values are read like strconv.ParseInt: a sign is allowed, blanks and '_' are not.
  BOOST_TEST(selector::parse("x<1").matches({{"x", "-5"}}));
  BOOST_TEST(selector::parse("x<1").matches({{"x", "-9223372036854775808"}}));
  BOOST_TEST(!selector::parse("x<1").matches({{"x", "-9223372036854775809"}}));
  BOOST_TEST(selector::parse("x>1").matches({{"x", "+5"}}));
  for (const char* bad : {"", "+", "-", " 5", "5 ", "1_000", "0x10", "5.0", "v2"}) {
    BOOST_TEST(!selector::parse("x>0").matches({{"x", bad}}), bad);
    BOOST_TEST(!selector::parse("x<9").matches({{"x", bad}}), bad);
  }
}

BOOST_AUTO_TEST_CASE(a_bound_must_also_be_a_valid_label_value) {
  // Kubernetes checks the integer and then the label-value rule, so negative bounds and
  // explicit '+' signs are refused even though they parse as integers.
  BOOST_TEST(contains(error_of("x>-1"), "invalid value \"-1\" for key \"x\""));
  BOOST_TEST(contains(error_of("x<+1"), "invalid value \"+1\" for key \"x\""));
  BOOST_TEST(contains(error_of("x>"), "at position 2: invalid value \"\" for key \"x\": for 'gt' and 'lt'"));
}

BOOST_AUTO_TEST_CASE(requirements_with_one_key_keep_their_order) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += (i ? "," : "") + std::string(i % 2 ? "k!=" : "k=") + std::to_string(i);
  text += ",a";
  const selector s = selector::parse(text);
  BOOST_TEST(s.to_string() == "a," + text.substr(0, text.size() - 2));
  BOOST_TEST(selector::parse(s.to_string()) == s);
}

BOOST_AUTO_TEST_CASE(equality_is_structural) {
  BOOST_TEST(selector::parse(" x in (b,a,a) , y ") == selector::parse("y,x in (a,b)"));
  BOOST_TEST(selector::parse("x=a") != selector::parse("x==a"));  // as Requirement.Equal
  BOOST_TEST(selector::parse("x=a,x!=b") != selector::parse("x!=b,x=a"));
  BOOST_TEST(selector::parse("") == selector());
  BOOST_TEST(selector::parse(" \t\r\n").empty());
}

BOOST_AUTO_TEST_CASE(requirement_constructor_sorts_and_deduplicates_values) {
  const selector::requirement r("k", op::not_in, {"b", "a", "b", ""});
  BOOST_TEST(r.values() == (std::vector<std::string>{"", "a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(r.to_string() == "k notin (,a,b)");
  BOOST_TEST(r.key() == "k");
  BOOST_TEST(r.operation() == op::not_in);
}

BOOST_AUTO_TEST_CASE(key_rules) {
  for (const std::string& good :
       {std::string("a"), std::string("A-b_c.d"), std::string("example.com/Name"), std::string("a.b-c/x"),
        std::string(63, 'n'), std::string("0/0"), std::string("in"), std::string("notin")})
    BOOST_TEST(error_of(good).empty(), good);
  const std::string prefix253 = std::string(126, 'p') + "." + std::string(126, 'q');
  BOOST_TEST(error_of(prefix253 + "/n").empty());
  BOOST_TEST(contains(error_of(prefix253 + "q/n"), "prefix part must be no more than 253 bytes"));
  BOOST_TEST(contains(error_of(std::string(64, 'n')), "name part must be no more than 63 bytes"));
  BOOST_TEST(contains(error_of("Example.com/n"), "prefix part a lowercase RFC 1123 subdomain"));
  BOOST_TEST(contains(error_of("/n"), "prefix part must be non-empty"));
  BOOST_TEST(contains(error_of("p/"), "name part must be non-empty"));
  BOOST_TEST(contains(error_of("a/b/c"), "with an optional DNS subdomain prefix and '/'"));
  for (const char* bad : {"-a", "a-", "_a", "a.", "a..b/c", "-a.b/c", "a/-b", "\xc3\xa9", "a:b", "a\"b"})
    BOOST_TEST(contains(error_of(bad), "at position 0: invalid key"), bad);
}

BOOST_AUTO_TEST_CASE(value_rules) {
  BOOST_TEST(error_of("k=" + std::string(63, 'v')).empty());
  BOOST_TEST(contains(error_of("k=" + std::string(64, 'v')), "at position 2: invalid value \"vvvv"));
  BOOST_TEST(contains(error_of("k=" + std::string(64, 'v')), "must be no more than 63 bytes"));
  for (const char* bad : {"k=-a", "k=a-", "k=a/b", "k=\xff", "k in (a,_b)"})
    BOOST_TEST(contains(error_of(bad), "invalid value"), bad);
  // The first invalid value in sorted order is reported, at its own position.
  BOOST_TEST(contains(error_of("k in (ok, z-, -a)"), "at position 14: invalid value \"-a\""));
}

BOOST_AUTO_TEST_CASE(syntax_errors_name_the_position_and_what_was_expected) {
  BOOST_TEST(error_of("x in (a b)") ==
             "selector: at position 8: expected ',' or ')' but found identifier \"b\"");
  BOOST_TEST(error_of("x=a,") ==
             "selector: at position 4: expected '!' or identifier after ',' but found end of input");
  BOOST_TEST(error_of(",x") ==
             "selector: at position 0: expected '!', identifier or end of input but found ','");
  BOOST_TEST(error_of("x=a y") ==
             "selector: at position 4: expected ',' or end of input but found identifier \"y\"");
  BOOST_TEST(error_of("x == (a)") == "selector: at position 5: expected identifier but found '('");
  BOOST_TEST(error_of("x in a") == "selector: at position 5: expected '(' but found identifier \"a\"");
  BOOST_TEST(error_of("x in (=") == "selector: at position 6: expected ',', ')' or identifier but found '='");
  BOOST_TEST(error_of("x in (,=") == "selector: at position 7: expected ',' or identifier but found '='");
  BOOST_TEST(error_of("!") == "selector: at position 1: expected identifier but found end of input");
  BOOST_TEST(error_of("x y") ==
             "selector: at position 2: expected one of 'in', 'notin', '=', '==', '!=', '>', '<' but found "
             "identifier \"y\"");
  BOOST_TEST(error_of("x>=1") == "selector: at position 2: expected identifier but found '='");
}

BOOST_AUTO_TEST_CASE(hostile_bytes) {
  using namespace std::string_literals;
  BOOST_TEST(error_of("a=b\0c"s) ==
             "selector: at position 3: expected ',' or end of input but found a NUL byte");
  BOOST_TEST(contains(error_of("\0"s), "at position 0:"));
  BOOST_TEST(contains(error_of("a=b \0"s), "at position 4:"));
  BOOST_TEST(contains(error_of("a\0"s), "at position 1:"));
  BOOST_TEST(contains(error_of("a=\xff\xfe"), "invalid value \"\\xff\\xfe\" for key \"a\""));
  // Long tokens are cut in messages.
  const std::string e = error_of(std::string(1 << 20, '~'));
  BOOST_TEST(contains(e, "at position 0: invalid key \"~~~~"));
  BOOST_TEST(e.size() < 1000u);
}

BOOST_AUTO_TEST_CASE(long_inputs_parse_in_linear_time) {
  const auto start = std::chrono::steady_clock::now();
  std::string many;
  for (int i = 0; i < 100000; ++i) many += "k" + std::to_string(i % 1000) + "=v,";
  many += "z";
  BOOST_TEST(selector::parse(many).requirements().size() == 100001u);
  BOOST_TEST(selector::parse("x in (" + std::string(1 << 20, ',') + ")").to_string() == "x in ()");
  std::string values = "x notin (";
  for (int i = 0; i < 100000; ++i) values += "v" + std::to_string(i) + ",";
  values += ")";
  BOOST_TEST(selector::parse(values).requirements()[0].values().size() == 100001u);
  BOOST_TEST(error_of(std::string(1 << 20, '(')).size() < 1000u);
  BOOST_TEST(error_of(std::string(1 << 20, ' ') + "!").size() < 1000u);
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(20)));
}

BOOST_AUTO_TEST_CASE(matches_does_not_allocate) {
  const std::string long_key(60, 'k');
  const std::string long_value(100, 'v');  // beyond any small-string buffer
  const jobs::labels l = {{"app", "web"}, {"tier", "frontend"},   {"n", "42"},
                          {"neg", "-7"},  {long_key, long_value}, {"empty", ""}};
  const std::vector<selector> selectors = {
      selector::parse("app=web,tier in (backend,frontend),!missing,n>41,n<43,neg<0"),
      selector::parse("app!=db,missing notin (a),empty=,empty in (),tier"),
      selector::parse(long_key + " in (a,b,c," + std::string(63, 'v') + ")"),
      selector::parse(long_key + ",app==web,app>1,missing<1"),
      selector(),
  };
  const std::vector<bool> expected = {true, true, false, false, true};
  std::vector<bool> got(selectors.size());
  const std::size_t before = allocations.load();
  for (std::size_t i = 0; i < selectors.size(); ++i) got[i] = selectors[i].matches(l);
  for (const selector& s : selectors)
    for (const selector::requirement& r : s.requirements()) (void)r.matches(l);
  const std::size_t after = allocations.load();
  BOOST_TEST(after - before == 0u);
  BOOST_TEST(got == expected, boost::test_tools::per_element());
  // The counter works: a parse allocates.
  (void)selector::parse("a=b");
  BOOST_TEST(allocations.load() > after);
}

BOOST_AUTO_TEST_SUITE_END()
