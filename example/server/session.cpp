// One client connection of the quote service: HTTP/1.1 keep-alive with read and write timeouts
// and size limits, the routes, and the hang-up detection of /quote (the client's socket becoming
// readable with nothing to read, while the quote is being made, cancels it).
#include "service.hpp"

#include <boost/asio/experimental/parallel_group.hpp>

#include <iostream>
#include <optional>

namespace quote {

namespace {

using response = http::response<http::string_body>;
using request = http::request<http::string_body>;

constexpr auto idle_timeout = std::chrono::seconds(30);   // for a whole request to arrive
constexpr auto write_timeout = std::chrono::seconds(30);  // for a whole response to leave
constexpr std::size_t max_header = 8 * 1024;
constexpr std::size_t max_body = 64 * 1024;

struct count_scope {
  std::atomic<std::int64_t>& n;
  explicit count_scope(std::atomic<std::int64_t>& c) : n(c) { ++n; }
  ~count_scope() { --n; }
  count_scope(const count_scope&) = delete;
  count_scope& operator=(const count_scope&) = delete;
};

std::string query_param(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key)
      return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

response json(unsigned status, std::string body) {
  response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

response error(unsigned status, std::string_view code, std::string_view message) {
  return json(status, error_body(code, message));
}

// Ends the group when the quote is made (then the wait is cancelled), or when the client's
// socket becomes readable with nothing to read: the client hung up (then the quote is
// cancelled). A pipelined request makes it readable too; that one waits its turn.
struct until_made_or_hung_up {
  tcp::socket* socket;
  asio::cancellation_type_t operator()(const std::exception_ptr&, const quote_result&) const {
    return asio::cancellation_type::terminal;
  }
  asio::cancellation_type_t operator()(const boost::system::error_code& ec) const {
    boost::system::error_code e;
    if (ec || socket->available(e) == 0 || e) return asio::cancellation_type::terminal;
    return asio::cancellation_type::none;
  }
};

// /quote and /bare/quote. Empty when the client hung up.
asio::awaitable<std::optional<response>> quote_route(service& svc, const request& req, tcp::socket& socket,
                                                     bool bare) {
  if (req.method() != http::verb::get) {
    auto res = error(405, "method_not_allowed", "use GET");
    res.set(http::field::allow, "GET");
    co_return res;
  }
  auto symbol = query_param(req.target(), "symbol");
  if (auto why = check_symbol(symbol); !why.empty()) co_return error(400, "bad_symbol", why);
  if (svc.draining) co_return error(503, "shutting_down", "the service is shutting down");

  count_scope busy(svc.live.in_flight);
  const auto ex = co_await asio::this_coro::executor;
  auto op = bare ? quote_bare(svc, std::move(symbol)) : quote_with_jobs(svc, std::move(symbol));
  auto [order, e, result, wait_ec] = co_await asio::experimental::make_parallel_group(
                                         asio::co_spawn(ex, std::move(op), asio::deferred),
                                         socket.async_wait(tcp::socket::wait_read, asio::deferred))
                                         .async_wait(until_made_or_hung_up{&socket}, asio::use_awaitable);
  // Canceled (the client went away): the quote completes with 499, or throws operation_aborted
  // if the cancellation came before it awaited anything.
  if ((e && order[0] == 1) || (!e && result.status == 499)) {
    ++svc.live.disconnects;
    co_return std::nullopt;
  }
  if (e) std::rethrow_exception(e);
  auto res = json(result.status, std::move(result.body));
  res.set("x-attempts", std::to_string(result.attempts));
  co_return res;
}

response counts(service& svc) {
  boost::json::object o{
      {"sessions", svc.live.sessions.load()},
      {"in_flight", svc.live.in_flight.load()},
      {"quote_jobs_alive", svc.live.quote_jobs.load()},
      {"quote_executors_alive", svc.live.quote_executors.load()},
      {"quote_jobs_registered", svc.registry.select("kind=quote").size()},
      {"disconnects", svc.live.disconnects.load()},
      {"registry_size", svc.registry.size()},
      {"draining", svc.draining.load()},
  };
  return json(200, boost::json::serialize(o));
}

response cache(service& svc) {
  std::lock_guard lock(svc.cache.m);
  boost::json::object prices;
  for (const auto& [k, v] : svc.cache.prices) prices[k] = v;
  return json(200, boost::json::serialize(boost::json::object{
                       {"prices", std::move(prices)},
                       {"refreshed_at", svc.cache.refreshed_at},
                       {"refreshes", svc.cache.refreshes},
                   }));
}

// The response to a request the parser refused, or nothing (just close) for a network failure.
std::optional<response> refusal(const boost::system::error_code& ec) {
  static const auto& http_category = make_error_code(http::error::end_of_stream).category();
  if (ec.category() != http_category) return std::nullopt;  // a network failure or a timeout
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return std::nullopt;
  if (ec == http::error::body_limit) return error(413, "body_too_large", "the request body is over 64 KiB");
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
    return error(431, "header_too_large", "the request header is over 8 KiB");
  return error(400, "bad_request", "malformed HTTP request: " + ec.message());
}

}  // namespace

void close_idle_sessions(service& svc) {
  for (auto* s : svc.sessions) {
    boost::system::error_code ec;
    if (s->reading && s->buffer->size() == 0 && s->stream->socket().available(ec) == 0) s->stream->cancel();
  }
}

asio::awaitable<void> session(service& svc, tcp::socket socket) {
  count_scope alive(svc.live.sessions);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buf(max_header + max_body);
  session_slot slot{&stream, &buf};
  svc.sessions.insert(&slot);
  struct unregister {
    service& svc;
    session_slot* slot;
    ~unregister() { svc.sessions.erase(slot); }
  } unregister_slot{svc, &slot};

  for (;;) {
    if (svc.draining && buf.size() == 0) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_header);
    parser.body_limit(max_body);
    stream.expires_after(idle_timeout);
    slot.reading = true;
    auto [ec, n] = co_await http::async_read(stream, buf, parser, asio::as_tuple(asio::use_awaitable));
    slot.reading = false;
    std::optional<response> res;
    bool keep_alive = false;
    if (ec) {
      res = refusal(ec);
      if (!res) break;
    } else {
      stream.expires_never();
      request req = parser.release();
      keep_alive = req.keep_alive();
      const std::string_view target = req.target();
      const std::string_view path = target.substr(0, target.find('?'));
      if (path == "/quote" || path == "/bare/quote") {
        res = co_await quote_route(svc, req, stream.socket(), path == "/bare/quote");
        if (!res) break;  // the client hung up
      } else if (path == "/cache") {
        res = cache(svc);
      } else if (path == "/debug/counts") {
        res = counts(svc);
      } else if (path == "/healthz") {
        res = svc.draining ? error(503, "shutting_down", "draining") : json(200, R"({"ok":true})");
#ifdef QUOTE_WITH_ADMIN
      } else if (svc.admin && svc.admin->matches(target)) {
        // jobs::http writes its own response (SSE streams until the client leaves).
        bool keep = false;
        try {
          keep = co_await svc.admin->serve(stream, std::move(req));
        } catch (const boost::system::system_error&) {
          break;
        }
        if (!keep || svc.draining) break;
        continue;
#endif
      } else {
        res = error(404, "not_found", "no route for " + std::string(path));
      }
    }
    res->keep_alive(keep_alive && !svc.draining);
    res->prepare_payload();
    stream.expires_after(write_timeout);
    auto [wec, wn] = co_await http::async_write(stream, *res, asio::as_tuple(asio::use_awaitable));
    if (wec) break;
    if (!res->keep_alive()) {
      stream.socket().shutdown(tcp::socket::shutdown_send, wec);
      break;
    }
  }
}

}  // namespace quote
