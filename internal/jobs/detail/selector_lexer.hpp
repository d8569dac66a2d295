// internal/jobs/detail/selector_lexer.hpp — the tokens of a label selector (used by selector::parse; its
// own header so that the tests can check the lexer on its own, as Kubernetes' tests do).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jobs::detail {

enum class selector_token : std::uint8_t {
  end,             ///< end of the input
  identifier,      ///< a run of bytes other than blanks, NUL and `=!(),<>`
  comma,           ///< ,
  open_paren,      ///< (
  close_paren,     ///< )
  does_not_exist,  ///< !
  equals,          ///< =
  double_equals,   ///< ==
  not_equals,      ///< !=
  greater_than,    ///< >
  less_than,       ///< <
  in,              ///< the identifier "in"
  not_in,          ///< the identifier "notin"
  nul,             ///< a NUL byte (always an error)
};

struct selector_lexeme {
  selector_token token = selector_token::end;
  std::string_view text;     ///< the bytes of the token (empty at the end)
  std::size_t position = 0;  ///< byte offset of the token in the input
};

/// Splits a selector into tokens like Kubernetes' `labels.Lexer`: blanks (space, tab, CR, LF)
/// are skipped; `=!(),<>` form the longest operator they can (`==`, `!=`, else one byte); any
/// other run of bytes is an identifier, the keyword `in` or `notin` when it is exactly that.
class selector_lexer {
 public:
  explicit selector_lexer(std::string_view input) noexcept : in_(input) {}

  /// The next token; `end` at the end of the input, and again for every later call.
  selector_lexeme next() noexcept {
    while (pos_ < in_.size() && is_blank(in_[pos_])) ++pos_;
    const std::size_t start = pos_;
    if (pos_ == in_.size()) return {selector_token::end, {}, start};
    const char c = in_[pos_];
    if (c == '\0') {
      ++pos_;
      return {selector_token::nul, in_.substr(start, 1), start};
    }
    if (is_special(c)) {
      const char n = pos_ + 1 < in_.size() ? in_[pos_ + 1] : '\0';
      if ((c == '=' || c == '!') && n == '=') {
        pos_ += 2;
        return {c == '=' ? selector_token::double_equals : selector_token::not_equals, in_.substr(start, 2),
                start};
      }
      ++pos_;
      return {special_token(c), in_.substr(start, 1), start};
    }
    while (pos_ < in_.size() && !is_blank(in_[pos_]) && !is_special(in_[pos_]) && in_[pos_] != '\0') ++pos_;
    const std::string_view text = in_.substr(start, pos_ - start);
    selector_token t = selector_token::identifier;
    if (text == "in") t = selector_token::in;
    if (text == "notin") t = selector_token::not_in;
    return {t, text, start};
  }

  static constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
  static constexpr bool is_special(char c) noexcept {
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
  }

 private:
  static constexpr selector_token special_token(char c) noexcept {
    switch (c) {
      case '=': return selector_token::equals;
      case '!': return selector_token::does_not_exist;
      case '(': return selector_token::open_paren;
      case ')': return selector_token::close_paren;
      case ',': return selector_token::comma;
      case '>': return selector_token::greater_than;
      default: return selector_token::less_than;
    }
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace jobs::detail
