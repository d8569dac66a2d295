// serve_admin: a minimal Beast server for the admin API alone (accept loop, one coroutine per
// connection on its own strand, keep-alive, header/body limits, read and write timeouts).
#include "admin_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <map>
#include <mutex>

namespace jobs::http {

namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

/// The response to a request that could not be read, or nothing (close at once).
std::optional<response> read_error_response(boost::system::error_code ec, const options& o) {
  if (ec == bhttp::error::body_limit)
    return detail::error_response(
        11, false, 413, "payload_too_large",
        "the request body is larger than the limit of " + std::to_string(o.max_body) + " bytes");
  if (ec == bhttp::error::header_limit)
    return detail::error_response(
        11, false, 431, "header_too_large",
        "the request header is larger than the limit of " + std::to_string(o.max_header) + " bytes");
  if (ec.category() == make_error_code(bhttp::error::bad_target).category())
    return detail::error_response(11, false, 400, "bad_request",
                                  "the request could not be parsed: " + ec.message());
  return std::nullopt;  // timeout, reset, cancellation: nothing to answer
}

asio::awaitable<void> session(tcp::socket socket, admin a) {
  const auto& o = a.get_options();
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  try {
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(o.max_header, UINT32_MAX)));
      parser.body_limit(o.max_body);
      // The whole request (header and body) within read_timeout: a slow-loris client is cut off.
      stream.expires_after(o.read_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec == bhttp::error::end_of_stream) break;
      if (ec) {
        if (auto res = read_error_response(ec, o)) {
          stream.expires_after(o.write_timeout);
          co_await bhttp::async_write(stream, *res, asio::as_tuple(asio::use_awaitable));
        }
        break;
      }
      if (!co_await a.serve(stream, parser.release())) break;
    }
  } catch (const boost::system::system_error&) {
    // A write failed or timed out: the connection is closed below.
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
}

struct live_sessions {
  std::mutex mu;
  std::uint64_t next = 0;
  std::map<std::uint64_t,
           std::pair<asio::strand<asio::any_io_executor>, std::shared_ptr<asio::cancellation_signal>>>
      all;
};

}  // namespace

asio::awaitable<void> serve_admin(tcp::acceptor& acceptor, admin a) {
  auto live = std::make_shared<live_sessions>();
  auto ex = acceptor.get_executor();
  for (;;) {
    auto strand = asio::make_strand(ex);
    auto [ec, socket] = co_await acceptor.async_accept(strand, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) continue;  // e.g. too many open files: the next accept may succeed
    auto sig = std::make_shared<asio::cancellation_signal>();
    std::uint64_t id;
    {
      std::lock_guard lk(live->mu);
      id = live->next++;
      live->all.emplace(id, std::pair{strand, sig});
    }
    asio::co_spawn(strand, session(std::move(socket), a),
                   asio::bind_cancellation_slot(sig->slot(), [live, id, sig](std::exception_ptr) {
                     std::lock_guard lk(live->mu);
                     live->all.erase(id);
                   }));
  }
  boost::system::error_code ignored;
  acceptor.close(ignored);
  std::lock_guard lk(live->mu);
  for (auto& [id, s] : live->all)
    asio::post(s.first, [sig = s.second] { sig->emit(asio::cancellation_type::terminal); });
}

}  // namespace jobs::http
