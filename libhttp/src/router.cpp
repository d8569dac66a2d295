// The admin API's routes as data: the path after the prefix, the method, the endpoint.
#include "router.hpp"

#include <jobs/detail/quote.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <vector>

namespace jobs::http::detail {

namespace bhttp = boost::beast::http;
using jobs::detail::quote;

namespace {

// The fixed routes (segments after the prefix). "{id}" matches one segment.
struct route_def {
  std::array<std::string_view, 2> path;  // "" = no segment
  std::size_t segments;
  bhttp::verb method;
  endpoint ep;
};

constexpr std::array<route_def, 8> routes{{
    {{"", ""}, 0, bhttp::verb::get, endpoint::list},
    {{"", ""}, 1, bhttp::verb::get, endpoint::page},  // "P/": one empty segment
    {{"events", ""}, 1, bhttp::verb::get, endpoint::events},
    {{"metrics", ""}, 1, bhttp::verb::get, endpoint::metrics},
    {{"cancel", ""}, 1, bhttp::verb::post, endpoint::cancel_selected},
    {{"{id}", ""}, 1, bhttp::verb::get, endpoint::get},
    {{"{id}", "start"}, 2, bhttp::verb::post, endpoint::start},
    {{"{id}", "cancel"}, 2, bhttp::verb::post, endpoint::cancel},
}};

bool segment_matches(std::string_view pattern, const std::string& seg) {
  if (pattern == "{id}") return !seg.empty();
  return pattern == seg;
}

route_error error(unsigned status, std::string code, std::string message, std::string allow = {}) {
  return {status, std::move(code), std::move(message), std::move(allow)};
}

}  // namespace

std::variant<route, route_error> parse_route(bhttp::verb method, std::string_view target,
                                             std::string_view prefix, std::size_t max_target) {
  if (target.size() > max_target)
    return error(414, "uri_too_long",
                 "the request target has " + std::to_string(target.size()) +
                     " bytes, more than the limit of " + std::to_string(max_target));
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed)
    return error(400, "bad_target", "bad request target " + quote(target) + ": " + parsed.error().message());
  const auto& u = *parsed;

  // The path must be the prefix, or the prefix followed by '/'.
  const auto encoded_path = u.encoded_path();
  std::string_view path(encoded_path.data(), encoded_path.size());
  if (path.substr(0, prefix.size()) != prefix || (path.size() > prefix.size() && path[prefix.size()] != '/'))
    return error(404, "not_found", "no such endpoint: " + quote(path));

  // Decoded segments after the prefix's ("%2F" stays inside its segment; "P/" is one empty one).
  std::vector<std::string> segs;
  const auto skip = static_cast<std::size_t>(std::count(prefix.begin(), prefix.end(), '/'));
  std::size_t i = 0;
  for (auto seg : u.segments()) {
    if (i++ >= skip) segs.emplace_back(seg.begin(), seg.end());
  }
  if (segs.size() > 2) return error(404, "not_found", "no such endpoint: " + quote(path));

  std::string allow;
  for (const auto& r : routes) {
    if (r.segments != segs.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < r.segments && match; ++i) match = segment_matches(r.path[i], segs[i]);
    if (!match) continue;
    // A fixed name ("events") wins over "{id}" for the same segments: routes are ordered so.
    if (r.method != method) {
      if (allow.empty()) allow = std::string(bhttp::to_string(r.method));
      // The first route that matches the path decides the Allow header: P/{id} GET only; a
      // fixed name matches before {id}, so "POST P/events" is 405, not a job lookup.
      return error(405, "method_not_allowed",
                   std::string(bhttp::to_string(method)) + " is not allowed on " + quote(path) +
                       " (allowed: " + allow + ")",
                   allow);
    }
    route out{r.ep, {}, {}};
    if (r.path[0] == "{id}") out.id = segs[0];
    if (r.ep == endpoint::list || r.ep == endpoint::cancel_selected || r.ep == endpoint::events ||
        r.ep == endpoint::page) {
      for (auto p : u.params()) {
        if (p.key == "selector") {
          out.selector = p.value;
          break;
        }
      }
    }
    return out;
  }
  return error(404, "not_found", "no such endpoint: " + quote(path));
}

}  // namespace jobs::http::detail
