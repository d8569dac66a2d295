// The label selector: Kubernetes' labels.Parse grammar and NewRequirement validation, written
// for C++ (a one-token-lookahead recursive descent over jobs::detail::selector_lexer).
#include "label_match.hpp"

#include <jobs/detail/quote.hpp>
#include <jobs/detail/selector_lexer.hpp>
#include <jobs/selector.hpp>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

namespace jobs {

namespace {

using detail::quote;  // at most 64 bytes of a key, value or token, in a message
using detail::selector_lexeme;
using detail::selector_lexer;
using detail::selector_token;

// ---- validation (k8s.io/apimachinery/pkg/api/validate/content: IsLabelKey, IsLabelValue) ----

constexpr std::size_t max_name_length = 63;     // a label key's name part, a label value
constexpr std::size_t max_prefix_length = 253;  // a DNS-1123 subdomain

constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
constexpr bool is_lower_alnum(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] — also the non-empty case of a label value.
bool is_name(std::string_view s) noexcept {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*
bool is_dns1123_subdomain_syntax(std::string_view s) noexcept {
  std::size_t begin = 0;
  while (true) {
    const std::size_t dot = s.find('.', begin);
    const std::string_view label = s.substr(begin, dot == std::string_view::npos ? s.npos : dot - begin);
    if (label.empty() || !is_lower_alnum(label.front()) || !is_lower_alnum(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_lower_alnum(c) || c == '-'; }))
      return false;
    if (dot == std::string_view::npos) return true;
    begin = dot + 1;
  }
}

constexpr std::string_view name_rule =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

void add_problem(std::string& out, std::string_view part, std::string_view rule) {
  if (!out.empty()) out += "; ";
  out += part;
  out += rule;
}

// What is wrong with a label key, every rule it breaks joined by "; " as Kubernetes does; ""
// when it is valid.
std::string key_problems(std::string_view key) {
  std::string out;
  const std::size_t slash = key.find('/');
  std::string_view name = key;
  if (slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      out = "a valid label key ";
      out += name_rule;
      out += " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
      return out;
    }
    const std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) {
      add_problem(out, "prefix part ", "must be non-empty");
    } else {
      if (prefix.size() > max_prefix_length)
        add_problem(out, "prefix part ", "must be no more than 253 bytes");
      if (!is_dns1123_subdomain_syntax(prefix))
        add_problem(out, "prefix part ",
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                    "or '.', and must start and end with an alphanumeric character");
    }
  }
  if (name.empty()) {
    add_problem(out, "name part ", "must be non-empty");
  } else if (name.size() > max_name_length) {
    add_problem(out, "name part ", "must be no more than 63 bytes");
  }
  if (!is_name(name)) add_problem(out, "name part ", name_rule);
  return out;
}

std::string value_problems(std::string_view value) {
  std::string out;
  if (value.size() > max_name_length) add_problem(out, "", "must be no more than 63 bytes");
  if (!value.empty() && !is_name(value))
    add_problem(out, "",
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                "'.', and must start and end with an alphanumeric character");
  return out;
}

// strconv.ParseInt(s, 10, 64): an optional sign, then one or more decimal digits, in range.
std::optional<std::int64_t> parse_int64(std::string_view s) noexcept {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  const std::uint64_t limit = negative ? std::uint64_t{1} << 63
                                       : static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (limit - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (negative)
    return v == (std::uint64_t{1} << 63) ? std::numeric_limits<std::int64_t>::min()
                                         : -static_cast<std::int64_t>(v);
  return static_cast<std::int64_t>(v);
}

// ---- messages ----

// A found token, as a message names it. `values` context: `in`/`notin` are identifiers there.
std::string describe(const selector_lexeme& t, bool values_context) {
  switch (t.token) {
    case selector_token::end: return "end of input";
    case selector_token::nul: return "a NUL byte";
    case selector_token::identifier: return "identifier " + quote(t.text);
    case selector_token::in:
    case selector_token::not_in:
      if (values_context) return "identifier " + quote(t.text);
      return "'" + std::string(t.text) + "'";
    default: return "'" + std::string(t.text) + "'";
  }
}

[[noreturn]] void fail_at(std::size_t position, std::string_view what) {
  std::string m = "selector: at position ";
  m += std::to_string(position);
  m += ": ";
  m += what;
  throw std::invalid_argument(m);
}

[[noreturn]] void fail(std::string_view what) {
  std::string m = "selector: ";
  m += what;
  throw std::invalid_argument(m);
}

std::string invalid_key(std::string_view key, std::string_view problems) {
  return "invalid key " + quote(key) + ": " + std::string(problems);
}

std::string invalid_value(std::string_view key, std::string_view value, std::string_view problems) {
  return "invalid value " + quote(value) + " for key " + quote(key) + ": " + std::string(problems);
}

constexpr std::string_view not_an_integer =
    "for 'gt' and 'lt' operators the value must be a base-10 64-bit integer";

bool is_set_op(selector::op o) noexcept { return o == selector::op::in || o == selector::op::not_in; }
bool is_exact_op(selector::op o) noexcept {
  return o == selector::op::equals || o == selector::op::double_equals || o == selector::op::not_equals;
}
bool is_unary_op(selector::op o) noexcept {
  return o == selector::op::exists || o == selector::op::does_not_exist;
}
bool is_order_op(selector::op o) noexcept {
  return o == selector::op::greater_than || o == selector::op::less_than;
}

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// ---- the parser: Kubernetes' Parser, with one token of lookahead instead of a token array ----

struct parsed_value {
  std::string_view text;
  std::size_t position;
};

}  // namespace

class selector::parser {
 public:
  explicit parser(std::string_view in) : lex_(in) { next_ = lex_.next(); }

  std::vector<selector::requirement> parse() {
    std::vector<selector::requirement> out;
    if (next_.token == selector_token::end) return out;
    if (!starts_requirement(next_))
      fail_at(next_.position, "expected '!', identifier or end of input but found " + describe(next_, true));
    while (true) {
      out.push_back(parse_requirement());
      const selector_lexeme t = consume();
      if (t.token == selector_token::end) return out;
      if (t.token != selector_token::comma)
        fail_at(t.position, "expected ',' or end of input but found " + describe(t, true));
      if (!starts_requirement(next_))
        fail_at(next_.position, "expected '!' or identifier after ',' but found " + describe(next_, true));
    }
  }

 private:
  static bool is_identifier(const selector_lexeme& t) noexcept {  // in the values context
    return t.token == selector_token::identifier || t.token == selector_token::in ||
           t.token == selector_token::not_in;
  }
  static bool starts_requirement(const selector_lexeme& t) noexcept {
    return is_identifier(t) || t.token == selector_token::does_not_exist;
  }

  selector_lexeme consume() noexcept {
    const selector_lexeme t = next_;
    next_ = lex_.next();
    return t;
  }

  selector::requirement parse_requirement() {
    // [!] KEY: the key is validated as soon as it is read, before the operator.
    selector_lexeme t = consume();
    const bool negated = t.token == selector_token::does_not_exist;
    if (negated) t = consume();
    if (!is_identifier(t)) fail_at(t.position, "expected identifier but found " + describe(t, true));
    const std::string_view key = t.text;
    if (const std::string p = key_problems(key); !p.empty()) fail_at(t.position, invalid_key(key, p));

    if (negated) return make(key, selector::op::does_not_exist, {});
    if (next_.token == selector_token::end || next_.token == selector_token::comma)
      return make(key, selector::op::exists, {});

    const selector_lexeme o = consume();  // `in`/`notin` are operators here
    selector::op op{};
    switch (o.token) {
      case selector_token::in: op = selector::op::in; break;
      case selector_token::not_in: op = selector::op::not_in; break;
      case selector_token::equals: op = selector::op::equals; break;
      case selector_token::double_equals: op = selector::op::double_equals; break;
      case selector_token::not_equals: op = selector::op::not_equals; break;
      case selector_token::greater_than: op = selector::op::greater_than; break;
      case selector_token::less_than: op = selector::op::less_than; break;
      default:
        fail_at(o.position,
                "expected one of 'in', 'notin', '=', '==', '!=', '>', '<' but found " + describe(o, false));
    }
    values_.clear();
    if (is_set_op(op)) {
      parse_value_set();
    } else {
      parse_exact_value();
    }
    return make(key, op, values_);
  }

  // "(" [VALUE] {"," [VALUE]} ")": empty values are allowed anywhere, "()" is {""}.
  void parse_value_set() {
    const selector_lexeme open = consume();
    if (open.token != selector_token::open_paren)
      fail_at(open.position, "expected '(' but found " + describe(open, true));
    if (next_.token == selector_token::close_paren) {
      values_.push_back({{}, next_.position});
      consume();
      return;
    }
    if (!is_identifier(next_) && next_.token != selector_token::comma)
      fail_at(next_.position, "expected ',', ')' or identifier but found " + describe(next_, true));
    bool have_empty = false;
    const auto add_empty = [&](std::size_t position) {
      if (!have_empty) values_.push_back({{}, position});
      have_empty = true;
    };
    while (true) {
      const selector_lexeme t = consume();
      if (is_identifier(t)) {
        values_.push_back({t.text, t.position});
        if (next_.token == selector_token::close_paren) break;
        if (next_.token != selector_token::comma)
          fail_at(next_.position, "expected ',' or ')' but found " + describe(next_, true));
      } else if (t.token == selector_token::comma) {
        if (values_.empty()) add_empty(t.position);  // "(,"
        if (next_.token == selector_token::close_paren) {
          add_empty(next_.position);  // ",)"
          break;
        }
        if (next_.token == selector_token::comma) add_empty(next_.position);  // ",,"
      } else {
        fail_at(t.position, "expected ',' or identifier but found " + describe(t, true));
      }
    }
    consume();  // ")"
  }

  // [VALUE]: nothing before ',' or the end is the empty value.
  void parse_exact_value() {
    if (next_.token == selector_token::end || next_.token == selector_token::comma) {
      values_.push_back({{}, next_.position});
      return;
    }
    const selector_lexeme t = consume();
    if (!is_identifier(t)) fail_at(t.position, "expected identifier but found " + describe(t, true));
    values_.push_back({t.text, t.position});
  }

  // NewRequirement on what the grammar guarantees (key valid, value count right): the integer
  // of `>`/`<`, then each value in sorted order.
  static selector::requirement make(std::string_view key, selector::op op, std::vector<parsed_value> values) {
    std::sort(values.begin(), values.end(), [](const parsed_value& a, const parsed_value& b) {
      return a.text < b.text || (a.text == b.text && a.position < b.position);
    });
    values.erase(std::unique(values.begin(), values.end(),
                             [](const parsed_value& a, const parsed_value& b) { return a.text == b.text; }),
                 values.end());
    std::int64_t bound = 0;
    if (is_order_op(op)) {
      const auto n = parse_int64(values.front().text);
      if (!n) fail_at(values.front().position, invalid_value(key, values.front().text, not_an_integer));
      bound = *n;
    }
    std::vector<std::string> strings;
    strings.reserve(values.size());
    for (const parsed_value& v : values) {
      if (const std::string p = value_problems(v.text); !p.empty())
        fail_at(v.position, invalid_value(key, v.text, p));
      strings.emplace_back(v.text);
    }
    return selector::requirement(selector::requirement::trusted{}, std::string(key), op, std::move(strings),
                                 bound);
  }

  selector_lexer lex_;
  selector_lexeme next_;
  std::vector<parsed_value> values_;
};

// ---- requirement ----

selector::requirement::requirement(std::string key, op operation, std::vector<std::string> values)
    : key_(std::move(key)), op_(operation), values_(std::move(values)) {
  if (const std::string p = key_problems(key_); !p.empty()) fail(invalid_key(key_, p));
  const std::string on_key = "key " + quote(key_) + ": ";
  if (is_set_op(op_)) {
    if (values_.empty()) fail(on_key + "for 'in', 'notin' operators, values set can't be empty");
  } else if (is_exact_op(op_)) {
    if (values_.size() != 1) fail(on_key + "exact-match compatibility requires one single value");
  } else if (is_unary_op(op_)) {
    if (!values_.empty()) fail(on_key + "values set must be empty for exists and does not exist");
  } else if (is_order_op(op_)) {
    if (values_.size() != 1) fail(on_key + "for 'gt', 'lt' operators, exactly one value is required");
    const auto n = parse_int64(values_.front());
    if (!n) fail(invalid_value(key_, values_.front(), not_an_integer));
    bound_ = *n;
  } else {
    fail(on_key + "unsupported operator " + std::to_string(static_cast<int>(op_)));
  }
  for (const std::string& v : values_)
    if (const std::string p = value_problems(v); !p.empty()) fail(invalid_value(key_, v, p));
  sort_unique(values_);
}

selector::requirement::requirement(trusted, std::string key, op operation, std::vector<std::string> values,
                                   std::int64_t bound) noexcept
    : key_(std::move(key)), op_(operation), values_(std::move(values)), bound_(bound) {}

bool selector::requirement::matches(const labels& l) const noexcept {
  const auto it = l.find(std::string_view(key_));
  const bool has = it != l.end();
  const auto has_value = [&] { return std::binary_search(values_.begin(), values_.end(), it->second); };
  switch (op_) {
    case op::exists: return has;
    case op::does_not_exist: return !has;
    case op::equals:
    case op::double_equals:
    case op::in: return has && has_value();
    case op::not_equals:
    case op::not_in: return !has || !has_value();
    case op::greater_than:
    case op::less_than: {
      if (!has) return false;
      const auto n = parse_int64(it->second);
      if (!n) return false;
      return op_ == op::greater_than ? *n > bound_ : *n < bound_;
    }
  }
  return false;
}

std::string selector::requirement::to_string() const {
  std::size_t size = key_.size() + 9;
  for (const std::string& v : values_) size += v.size() + 1;
  std::string out;
  out.reserve(size);
  if (op_ == op::does_not_exist) out += '!';
  out += key_;
  switch (op_) {
    case op::exists:
    case op::does_not_exist: return out;
    case op::equals: out += '='; break;
    case op::double_equals: out += "=="; break;
    case op::not_equals: out += "!="; break;
    case op::in: out += " in ("; break;
    case op::not_in: out += " notin ("; break;
    case op::greater_than: out += '>'; break;
    case op::less_than: out += '<'; break;
  }
  for (std::size_t i = 0; i < values_.size(); ++i) {
    if (i > 0) out += ',';
    out += values_[i];
  }
  if (is_set_op(op_)) out += ')';
  return out;
}

// ---- selector ----

selector::selector(std::vector<requirement> requirements) : requirements_(std::move(requirements)) {
  std::stable_sort(requirements_.begin(), requirements_.end(),
                   [](const requirement& a, const requirement& b) { return a.key_ < b.key_; });
}

selector selector::parse(std::string_view text) { return selector(parser(text).parse()); }

bool selector::matches(const labels& l) const noexcept {
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const requirement& r) { return r.matches(l); });
}

std::string selector::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < requirements_.size(); ++i) {
    if (i > 0) out += ',';
    out += requirements_[i].to_string();
  }
  return out;
}

namespace detail {
// (label_match.hpp) The registry's matcher reads `>`/`<` values exactly as requirement::matches.
std::optional<std::int64_t> parse_label_integer(std::string_view s) noexcept { return parse_int64(s); }
}  // namespace detail

std::string_view to_string(selector::op o) noexcept {
  switch (o) {
    case selector::op::exists: return "exists";
    case selector::op::does_not_exist: return "!";
    case selector::op::equals: return "=";
    case selector::op::double_equals: return "==";
    case selector::op::not_equals: return "!=";
    case selector::op::in: return "in";
    case selector::op::not_in: return "notin";
    case selector::op::greater_than: return "gt";
    case selector::op::less_than: return "lt";
  }
  return "?";
}

}  // namespace jobs
