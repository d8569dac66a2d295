// The shared state behind jobs::http::admin handles.
#pragma once

#include <jobs/detail/registry_extension.hpp>

#include "metrics.hpp"
#include "router.hpp"
#include "watch_set.hpp"

#include <jobs/http.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace jobs::http::detail {

class admin_state {
 public:
  admin_state(jobs::registry r, options o);
  ~admin_state();

  jobs::registry reg;
  options opt;
  detail::metrics stats;
  std::shared_ptr<watch_set> tracker;  // the metrics' watches over every job
  // Tells the tracker when the registry removes an entry, so that it stops watching (and
  // holding) that job: a per-request job is freed once its request has removed it.
  std::shared_ptr<jobs::detail::registry_extension> removal_hook;
  // Event streams connected, and their pending watches (gauges in /metrics).
  std::shared_ptr<std::atomic<std::size_t>> sse_clients = std::make_shared<std::atomic<std::size_t>>(0);
  std::shared_ptr<std::atomic<std::size_t>> sse_watches = std::make_shared<std::atomic<std::size_t>>(0);

  params_decoder decoder_for(std::string_view id) const;
  void set_decoder(std::string id, params_decoder fn);
  void track();

 private:
  mutable std::mutex mu_;
  std::map<std::string, params_decoder, std::less<>> decoders_;
};

/// A JSON error response: {"error": {"status", "code", "message"}} (+ extra members).
response error_response(unsigned version, bool keep_alive, unsigned status, std::string_view code,
                        std::string_view message, boost::json::object extra = {});
response json_response(unsigned version, bool keep_alive, unsigned status, const boost::json::value& body);

/// The non-streaming endpoints (api.cpp).
asio::awaitable<response> answer(std::shared_ptr<admin_state> s, const route& r, request req);
/// GET P/events (sse.cpp): writes the stream on `stream` until the client goes away.
asio::awaitable<void> serve_events(std::shared_ptr<admin_state> s, beast::tcp_stream& stream, const route& r,
                                   const request& req);
/// GET P/ (page.cpp).
std::string_view page_html();

}  // namespace jobs::http::detail
