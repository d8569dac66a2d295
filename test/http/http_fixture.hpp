// test/http: a running serve_admin on a loopback port (one io_context thread) and a small
// blocking Beast client.
#pragma once

#include <jobs/http.hpp>
#include <jobs/registry.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

namespace http_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct reply {
  unsigned status = 0;
  std::string body;
  bhttp::fields fields;
  json::value json() const { return json::parse(body); }
  /// The stable error shape: {"error": {"status", "code", "message"}}.
  std::string code() const { return std::string(json().at("error").at("code").as_string()); }
  std::string message() const { return std::string(json().at("error").at("message").as_string()); }
};

/// A socket with a receive timeout, so that a test that waits for bytes that never come fails
/// instead of hanging.
inline tcp::socket connect(asio::io_context& ioc, unsigned short port, std::chrono::seconds timeout = 30s) {
  tcp::socket s(ioc);
  s.connect({asio::ip::address_v4::loopback(), port});
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}

struct server {
  asio::io_context ioc;
  jobs::registry reg{ioc};
  std::optional<jobs::http::admin> admin;
  tcp::acceptor acceptor{ioc, {asio::ip::address_v4::loopback(), 0}};
  asio::cancellation_signal stop;
  std::promise<void> stopped;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{ioc.get_executor()};
  std::thread thread;

  explicit server(jobs::http::options o = {}) { admin.emplace(reg, std::move(o)); }

  void start() {
    asio::co_spawn(
        ioc, jobs::http::serve_admin(acceptor, *admin),
        asio::bind_cancellation_slot(stop.slot(), [this](std::exception_ptr) { stopped.set_value(); }));
    thread = std::thread([this] { ioc.run(); });
  }

  ~server() {
    reg.cancel(jobs::selector{});
    asio::post(ioc, [this] { stop.emit(asio::cancellation_type::terminal); });
    stopped.get_future().wait();
    admin.reset();  // closes its watches
    work.reset();
    thread.join();  // every job, session and watch has ended
  }

  unsigned short port() const { return acceptor.local_endpoint().port(); }

  reply request(bhttp::verb method, std::string target, std::string body = {},
                std::string content_type = "application/json") {
    asio::io_context c;
    auto s = connect(c, port());
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!body.empty()) req.set(bhttp::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    bhttp::write(s, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    return {res.result_int(), res.body(), res.base()};
  }
  reply get(std::string target) { return request(bhttp::verb::get, std::move(target)); }
  reply post(std::string target, std::string body = {}) {
    return request(bhttp::verb::post, std::move(target), std::move(body));
  }

  /// One metric sample's value ("name{labels}" as written), or -1 if absent.
  double metric(const std::string& sample) {
    const auto text = get("/jobs/metrics").body;
    const auto at = text.find("\n" + sample + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + sample.size() + 2));
  }
};

/// Polls `pred` until it holds or `limit` passes (for effects with no event a client can wait on).
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = 30s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

/// A body that runs until cancelled, reporting progress.
inline jobs::body until_canceled() {
  return [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (int i = 0;; ++i) {
      ctx.set_progress((i % 100) / 100.0);
      t.expires_after(20ms);
      co_await t.async_wait(asio::use_awaitable);
    }
  };
}

inline jobs::body quick() {
  return [](jobs::context&) -> asio::awaitable<void> { co_return; };
}

inline jobs::body failing(std::string what) {
  return [what](jobs::context&) -> asio::awaitable<void> {
    throw std::runtime_error(what);
    co_return;
  };
}

}  // namespace http_test
