// The admin API's request router (sans-I/O: a method and a target in, a route or an error out).
#pragma once

#include <boost/beast/http/verb.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace jobs::http::detail {

enum class endpoint { list, get, start, cancel, cancel_selected, events, metrics, page };

struct route {
  endpoint ep;
  std::string id;        // get, start, cancel: the percent-decoded path segment
  std::string selector;  // list, cancel_selected, events: the decoded `selector` query parameter
};

/// An error response before any handler ran: status, stable code, message; `allow` for 405.
struct route_error {
  unsigned status;
  std::string code;
  std::string message;
  std::string allow;
};

/// Routes `target` under `prefix` (e.g. "/jobs"). Never throws for bad input (only bad_alloc).
std::variant<route, route_error> parse_route(boost::beast::http::verb method, std::string_view target,
                                             std::string_view prefix, std::size_t max_target);

}  // namespace jobs::http::detail
