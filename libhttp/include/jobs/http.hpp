// jobs/http.hpp — jobs::http, the admin API of a jobs::registry over HTTP (Boost.Beast): a JSON
// API, a Server-Sent Events stream, Prometheus metrics and a live HTML page, to mount under a
// prefix (e.g. "/jobs") in an application's own Beast server, or served by serve_admin().
#pragma once

#include <jobs/registry.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include <any>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace jobs::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

/// The requests and responses of the admin API.
using request = beast::http::request<beast::http::string_body>;
using response = beast::http::response<beast::http::string_body>;

/// Decodes the JSON body of `POST {prefix}/{id}/start` into the params of the start. Throws to
/// refuse the body (any exception: the response is 400 with its what()).
using params_decoder = std::function<std::any(const boost::json::value&)>;

/// Limits and placement. Every limit must be positive (admin's constructor throws
/// std::invalid_argument otherwise).
struct options {
  /// Where the API is mounted: "/jobs" serves "/jobs", "/jobs/", "/jobs/{id}", ... Must start
  /// with '/' and not end with one.
  std::string prefix = "/jobs";
  /// Largest request body (POST params) accepted: beyond it, 413.
  std::size_t max_body = 64 * 1024;
  /// Largest request target (path and query): beyond it, 414.
  std::size_t max_target = 4096;
  /// Largest request header block (serve_admin only: an application's server sets its own).
  std::size_t max_header = 8 * 1024;
  /// serve_admin: a request's header and body must arrive within this (slow-loris bound), and an
  /// idle keep-alive connection is closed after it.
  std::chrono::milliseconds read_timeout{10'000};
  /// Every write must complete within this; an SSE client that does not read is dropped.
  std::chrono::milliseconds write_timeout{10'000};
  /// SSE: the most bytes of events kept for one client beyond what the socket accepted. Changes
  /// are coalesced per job (only the latest state of a job waits), run ends are kept; a client
  /// whose backlog exceeds this is disconnected (it can reconnect and get a fresh snapshot).
  std::size_t sse_max_backlog = 1024 * 1024;
  /// SSE: a comment line is sent after this much silence (keeps proxies from closing the stream).
  std::chrono::milliseconds sse_keepalive{15'000};
};

namespace detail {
class admin_state;
}

/// The admin API over a registry. A cheap, copyable handle (copies share the state: decoders
/// and metrics).
///
/// Endpoints (P = options::prefix):
///   GET  P?selector=S          the matching jobs (registry.stats(S)) as a JSON array
///   GET  P/{id}                one job's stats; 404 if there is none
///   POST P/{id}/start          body: JSON params (optional), decoded by the registered decoder;
///                              200 with the outcome if the start ended at once, 202 if it was
///                              admitted and is running, 409 {"reason": still_pending | once |
///                              cooldown | shutting_down} if refused
///   POST P/{id}/cancel         cancels the job's run / stops its executor; 200 {"canceled": bool}
///   POST P/cancel?selector=S   cancels every match; 200 {"canceled": n}
///   GET  P/events?selector=S   Server-Sent Events (serve() only): one "snapshot" event, then
///                              "job" events (latest state per job, coalesced) and "end" events
///                              (every run end)
///   GET  P/metrics             Prometheus text exposition format 0.0.4
///   GET  P/                    the live HTML page (self-contained)
/// Errors are JSON: {"error": {"status": 404, "code": "not_found", "message": "..."}}; a bad
/// selector gives 400 with code "bad_selector" and the parser's message.
///
/// \par Thread safety
/// Every member may be called from any thread at any time.
class admin {
 public:
  /// Throws std::invalid_argument for a bad prefix or a zero limit.
  explicit admin(jobs::registry r, options o = {});

  /// The decoder for starts of job `id`; an empty `id` sets the default, used for jobs that have
  /// none. Without any, a start's params are the boost::json::value itself (or an empty std::any
  /// for an empty body).
  void register_params(std::string id, params_decoder fn);

  /// A typed decoder: `fn` returns the params as a T.
  template <class T, class Fn>
  void register_params(std::string id, Fn fn) {
    register_params(std::move(id),
                    params_decoder([f = std::move(fn)](const boost::json::value& v) -> std::any {
                      return std::any(T(f(v)));
                    }));
  }

  /// Whether `target` (a request target) is under the prefix: delegate it to serve() or handle().
  bool matches(std::string_view target) const noexcept;

  /// Answers a request that is not a stream (everything but P/events, which gets 400 here).
  /// Never throws for bad input: every problem is an error response.
  asio::awaitable<response> handle(request req) const;

  /// Answers `req` on `stream`, writing the response itself: SSE streams until the client goes
  /// away (then its watches are cancelled) or the coroutine is cancelled. Returns whether the
  /// connection may be kept alive. Write errors throw boost::system::system_error.
  asio::awaitable<bool> serve(beast::tcp_stream& stream, request req) const;

  /// Starts watching every registered job (for the metrics' run counts and durations). Every
  /// request also does it for jobs added since; call it after adding jobs so that runs ending
  /// before the first request are counted too.
  void track() const;

  const options& get_options() const noexcept;
  const jobs::registry& get_registry() const noexcept;

 private:
  std::shared_ptr<detail::admin_state> state_;
};

/// A minimal Beast server for the admin API alone: accepts on `acceptor` until the coroutine is
/// cancelled (then closes the acceptor and every connection) or the acceptor is closed. One
/// coroutine per connection on its own strand, keep-alive, the limits and timeouts of
/// options. For applications without an HTTP server of their own, and the tests.
asio::awaitable<void> serve_admin(asio::ip::tcp::acceptor& acceptor, admin a);

}  // namespace jobs::http
