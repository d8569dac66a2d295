// jobs/selector.hpp — Kubernetes label selectors: parse, match, print.
#pragma once

#include <jobs/stats.hpp>  // jobs::labels

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jobs {

/// A label selector with the syntax and meaning of Kubernetes' `labels.Parse`
/// (k8s.io/apimachinery/pkg/labels): a comma-separated AND of requirements.
///
///     x=a   x==a   x!=a          exactly one value ("x=" is the empty value)
///     x in (a,b)   x notin (a,b) a set of values, "()" being the set {""}
///     x   !x                     the label exists / does not exist
///     x>1   x<1                  the label's value, read as a 64-bit integer, is > or < the bound
///
/// `!=` and `notin` also match objects that do not have the label; `>` and `<` never match a
/// value that is not an integer. Keys are qualified names (an optional lowercase DNS-1123
/// subdomain of at most 253 bytes and '/', then a name of 1-63 bytes of `[A-Za-z0-9_.-]`
/// starting and ending with an alphanumeric); values are empty or follow the name rule. Blanks
/// (space, tab, CR, LF) separate tokens. `in` and `notin` are keywords only where an operator is
/// expected, so `in in (notin)` is valid.
///
/// The empty selector (default-constructed, or parsed from "" or blanks) matches everything.
/// Requirements are kept sorted by key (stably: two requirements on one key keep their order,
/// where Kubernetes' unstable sort may reorder them beyond 12 requirements) and each
/// requirement's values sorted and without duplicates, so equal selectors print alike.
///
/// \par Thread safety
/// A value type: distinct objects are independent; const members may be called concurrently.
class selector {
  class parser;  // in selector.cpp

 public:
  /// A requirement's operator (Kubernetes' `selection.Operator`).
  enum class op : std::uint8_t {
    exists,          ///< `x`
    does_not_exist,  ///< `!x`
    equals,          ///< `x=v`
    double_equals,   ///< `x==v` (same meaning as `=`, printed as written)
    not_equals,      ///< `x!=v`
    in,              ///< `x in (v,...)`
    not_in,          ///< `x notin (v,...)`
    greater_than,    ///< `x>n`
    less_than,       ///< `x<n`
  };

  /// One validated requirement: a key, an operator and a sorted set of values.
  class requirement {
   public:
    /// Validates like Kubernetes' `NewRequirement` and throws std::invalid_argument naming the
    /// key or value and the rule it breaks: the key must be a qualified name; `in`/`notin` need
    /// at least one value; `=`, `==`, `!=` exactly one; `exists`/`does_not_exist` none;
    /// `>`/`<` exactly one that parses as a base-10 int64; every value must be a valid label
    /// value. The values are then sorted and duplicates dropped.
    requirement(std::string key, op operation, std::vector<std::string> values = {});

    const std::string& key() const noexcept { return key_; }
    op operation() const noexcept { return op_; }
    /// Sorted, without duplicates; empty for `exists`/`does_not_exist`.
    const std::vector<std::string>& values() const noexcept { return values_; }

    /// Whether `l` satisfies this requirement. Allocates nothing.
    bool matches(const labels& l) const noexcept;
    /// Kubernetes' `Requirement.String()`, e.g. "x in (a,b)", "!x", "x>3".
    std::string to_string() const;

    friend bool operator==(const requirement&, const requirement&) = default;

   private:
    friend class selector;
    friend class selector::parser;
    struct trusted {};
    requirement(trusted, std::string key, op operation, std::vector<std::string> values,
                std::int64_t bound) noexcept;

    std::string key_;
    op op_;
    std::vector<std::string> values_;
    std::int64_t bound_ = 0;  // the value of `>`/`<`, read once
  };

  /// The empty selector: matches everything.
  selector() = default;

  /// The AND of `requirements`, sorted stably by key (like Kubernetes' `Selector.Add`).
  explicit selector(std::vector<requirement> requirements);

  /// Parses `text` exactly as Kubernetes' `labels.Parse` does, except that a NUL byte is an
  /// error (Kubernetes' lexer takes one at a token boundary for the end of the input and drops
  /// what follows, and one inside a token for a separator).
  /// Throws std::invalid_argument whose what() reads "selector: at position N: ...", N being
  /// the 0-based byte offset of the offending token, followed by what was expected and what was
  /// found, or by the invalid key or value and the rule it breaks. Linear in the input apart
  /// from sorting; never reads past `text`.
  static selector parse(std::string_view text);

  /// Whether `l` satisfies every requirement. Allocates nothing.
  bool matches(const labels& l) const noexcept;

  /// Whether there are no requirements (the selector matches everything).
  bool empty() const noexcept { return requirements_.empty(); }

  /// Sorted by key.
  const std::vector<requirement>& requirements() const noexcept { return requirements_; }

  /// Kubernetes' `Selector.String()`: the requirements joined by ',' without blanks, e.g.
  /// "a=x,b in (c,d),!e"; "" for the empty selector. parse(to_string()) gives an equal selector.
  std::string to_string() const;

  friend bool operator==(const selector&, const selector&) = default;

 private:
  std::vector<requirement> requirements_;
};

/// Kubernetes' `selection.Operator` spelling: "exists", "!", "=", "==", "!=", "in", "notin",
/// "gt", "lt".
std::string_view to_string(selector::op o) noexcept;

}  // namespace jobs
