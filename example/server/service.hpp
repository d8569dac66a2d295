// The quote service's shared pieces: its settings, its state (registry, counters, cache) and the
// functions its files define (upstream calls, /quote two ways, background jobs, HTTP sessions).
#pragma once

#include <jobs/registry.hpp>
#ifdef QUOTE_WITH_ADMIN
#include <jobs/http.hpp>
#endif

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

namespace quote {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

/// The retry policy of a /quote call, the same for the jobs::executor and the bare loop.
struct policy {
  int attempts = 6;                              // tries per request
  std::chrono::milliseconds timeout{1000};       // per attempt
  std::chrono::milliseconds backoff_initial{5};  // before the 2nd attempt
  double backoff_multiplier = 2;                 // then x2 each time
  std::chrono::milliseconds backoff_max{100};    // never more
  double jitter = 0.5;                           // delay drawn from [d/2, d]
};

struct settings {
  unsigned short port = 8080;
  double upstream_fail_rate = 0.2;
  unsigned upstream_latency_ms = 10;
  std::string upstream_bin;               // default: quote_upstream next to this program
  std::chrono::milliseconds grace{5000};  // SIGTERM's drain grace period
  std::chrono::milliseconds refresh_every{2000};
  std::chrono::milliseconds batch_step{500};  // the batch: 120 steps of this
  policy retry;
};

/// A reply from the upstream.
struct upstream_reply {
  unsigned status = 0;
  std::string body;
};

/// The upstream answered with a status >= 400.
class upstream_error : public std::runtime_error {
 public:
  upstream_error(unsigned status, const std::string& what) : std::runtime_error(what), status_(status) {}
  unsigned status() const noexcept { return status_; }

 private:
  unsigned status_;
};

/// Live objects, to show that a request leaves nothing behind.
struct live_counts {
  std::atomic<std::int64_t> sessions{0};
  std::atomic<std::int64_t> quote_jobs{0};       // per-request job bodies alive
  std::atomic<std::int64_t> quote_executors{0};  // per-request executors alive
  std::atomic<std::int64_t> in_flight{0};        // /quote requests being served (both ways)
  std::atomic<std::uint64_t> disconnects{0};     // requests whose client hung up mid-way
};

/// What the cache-refresh job keeps.
struct price_cache {
  std::mutex m;
  std::map<std::string, double> prices;
  std::string refreshed_at;
  std::uint64_t refreshes = 0;
};

/// A client connection, as the drain sees it.
struct session_slot {
  beast::tcp_stream* stream = nullptr;
  const beast::flat_buffer* buffer = nullptr;
  bool reading = false;  // waiting for a request
};

/// The service's state. Its io_context runs on one thread: the members that are not atomic are
/// only touched there.
struct service {
  settings cfg;
  asio::io_context& io;
  tcp::endpoint upstream;
  jobs::registry registry;
  live_counts live;
  price_cache cache;
  std::atomic<bool> draining{false};
  std::set<session_slot*> sessions;
#ifdef QUOTE_WITH_ADMIN
  std::optional<jobs::http::admin> admin;  // mounted under /jobs
#endif

  service(settings s, asio::io_context& ctx, tcp::endpoint up)
      : cfg(std::move(s)), io(ctx), upstream(up), registry(ctx) {}
};

/// One HTTP exchange with the upstream on a new connection: GET /price?symbol=X. Throws
/// boost::system::system_error for network failures; cancellation aborts it (the socket closes).
asio::awaitable<upstream_reply> fetch_price(tcp::endpoint upstream, std::string symbol);

/// The outcome of a /quote call, whichever way it was made.
struct quote_result {
  unsigned status = 200;  // the status for the client
  std::string body;       // JSON
  int attempts = 0;
};

/// /quote through a per-request jobs::executor registered in the service's registry (labels
/// app=quote-service, kind=quote). Cancelling the awaiting coroutine (terminal) stops the start.
asio::awaitable<quote_result> quote_with_jobs(service& svc, std::string symbol);

/// The same with a hand-written retry loop on bare Asio/Beast (the comparison).
asio::awaitable<quote_result> quote_bare(service& svc, std::string symbol);

/// Registers and starts the background jobs: "cache-refresh" (an executor every
/// cfg.refresh_every) and "batch-report" (a long batch with progress).
void start_background_jobs(service& svc);

/// Serves one client connection until it closes, an idle timeout, or the drain.
asio::awaitable<void> session(service& svc, tcp::socket socket);

/// Closes the connections that are waiting for a request with nothing received yet (the drain).
void close_idle_sessions(service& svc);

/// A JSON error body {"error": {"code": ..., "message": ...}}.
std::string error_body(std::string_view code, std::string_view message);

/// "" if `s` is a valid symbol (1 to 10 of A-Z, 0-9), else why not.
std::string check_symbol(std::string_view s);

}  // namespace quote
