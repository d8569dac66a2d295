// GET P/events: a Server-Sent Events stream fed by async_watch.
//
// One watch per matching job (a watch_set, on its own strand) pushes into the client's queue:
// a job's latest state replaces its earlier pending one (coalesced), a run end is never
// replaced. The writer drains the queue onto the socket; a reader waits for the client to go
// away. The queue is bounded (options::sse_max_backlog): a client that falls further behind is
// disconnected. When either side ends, the watches are cancelled.
#include "admin_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include <list>
#include <map>
#include <mutex>
#include <set>

namespace jobs::http::detail {

namespace bhttp = beast::http;
namespace json = boost::json;
using channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

namespace {

struct sse_client {
  struct event {
    std::string id;
    std::string text;
  };
  explicit sse_client(asio::any_io_executor ex, std::size_t limit) : wake(ex, 1), max_backlog(limit) {}

  channel wake;
  const std::size_t max_backlog;
  std::mutex mu;
  std::list<event> queue;
  std::map<std::string, std::list<event>::iterator, std::less<>> pending;  // coalescible "job" events
  std::set<std::string, std::less<>> seen;                                 // jobs whose first snapshot came
  std::size_t bytes = 0;
  bool overflow = false;

  void push(const std::string& id, bool end, std::string text) {
    {
      std::lock_guard lk(mu);
      if (overflow) return;
      if (auto it = pending.find(id); it != pending.end()) {
        // Coalesce: this job's earlier pending state is superseded.
        bytes -= it->second->text.size();
        queue.erase(it->second);
        pending.erase(it);
      }
      bytes += text.size();
      if (bytes > max_backlog) {
        overflow = true;
        queue.clear();
        pending.clear();
      } else {
        queue.push_back({id, std::move(text)});
        if (!end) pending[id] = std::prev(queue.end());
      }
    }
    wake.try_send(boost::system::error_code{});
  }

  /// Everything queued, as one string; false if the client overflowed.
  bool take(std::string& out) {
    std::lock_guard lk(mu);
    if (overflow) return false;
    for (auto& e : queue) out += e.text;
    queue.clear();
    pending.clear();
    bytes = 0;
    return true;
  }
};

std::string sse_event(std::string_view name, const json::value& data) {
  std::string s = "event: ";
  s += name;
  s += "\ndata: ";
  s += json::serialize(data);  // one line: serialize escapes control characters
  s += "\n\n";
  return s;
}

json::value job_json(const jobs::registry& reg, const jobs::job& j, const jobs::stats& st) {
  json::value v = json::value_from(st);
  if (auto e = reg.find(j.id()); e && e->job == j && e->executor)
    v.as_object()["executor"] = json::value_from(e->executor->stats());
  return v;
}

asio::awaitable<void> read_until_gone(beast::tcp_stream& stream) {
  char buf[512];
  for (;;) {
    auto [ec, n] =
        co_await stream.socket().async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // the client went away (or the coroutine was cancelled)
  }
}

asio::awaitable<void> write_events(std::shared_ptr<admin_state> s, beast::tcp_stream& stream,
                                   std::shared_ptr<sse_client> c, std::shared_ptr<watch_set> watches,
                                   jobs::selector sel) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer tick(ex);
  const auto rescan = std::min<std::chrono::milliseconds>(s->opt.sse_keepalive, std::chrono::seconds(1));
  auto last_write = std::chrono::steady_clock::now();
  for (;;) {
    std::string out;
    if (!c->take(out)) co_return;  // fell too far behind: disconnected
    if (out.empty() && std::chrono::steady_clock::now() - last_write >= s->opt.sse_keepalive)
      out = ": keepalive\n\n";
    if (!out.empty()) {
      stream.expires_after(s->opt.write_timeout);
      auto [ec, n] =
          co_await asio::async_write(stream, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      last_write = std::chrono::steady_clock::now();
      continue;
    }
    tick.expires_after(rescan);
    co_await asio::experimental::make_parallel_group(c->wake.async_receive(asio::deferred),
                                                     tick.async_wait(asio::deferred))
        .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    // Jobs added since: watch them too.
    std::vector<jobs::job> js;
    for (auto& e : s->reg.select(sel)) js.push_back(e.job);
    watches->add(std::move(js));
  }
}

}  // namespace

asio::awaitable<void> serve_events(std::shared_ptr<admin_state> s, beast::tcp_stream& stream, const route& r,
                                   const request& req) {
  jobs::selector sel;
  std::optional<response> bad;
  try {
    sel = jobs::selector::parse(r.selector);
  } catch (const std::invalid_argument& e) {
    bad = error_response(req.version(), false, 400, "bad_selector", e.what());
  }
  if (bad) {
    stream.expires_after(s->opt.write_timeout);
    co_await bhttp::async_write(stream, *bad, asio::use_awaitable);
    co_return;
  }
  auto ex = co_await asio::this_coro::executor;
  auto c = std::make_shared<sse_client>(ex, s->opt.sse_max_backlog);
  const jobs::registry reg = s->reg;
  std::weak_ptr<sse_client> weak = c;
  auto watches = watch_set::make(
      ex,
      [weak, reg](const jobs::job& j, const jobs::stats& st) {
        auto cl = weak.lock();
        if (!cl) return;
        bool first;
        {
          std::lock_guard lk(cl->mu);
          first = cl->seen.insert(j.id()).second;
        }
        const bool end = !first && jobs::is_done(st.state);
        cl->push(j.id(), end, sse_event(end ? "end" : "job", job_json(reg, j, st)));
      },
      s->sse_watches);

  bhttp::response<bhttp::empty_body> res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/event-stream");
  res.set(bhttp::field::cache_control, "no-store");
  res.keep_alive(false);  // the stream ends with the connection
  bhttp::response_serializer<bhttp::empty_body> sr{res};
  stream.expires_after(s->opt.write_timeout);
  co_await bhttp::async_write_header(stream, sr, asio::use_awaitable);

  // The first event: every matching job, as GET P?selector= lists them.
  std::vector<jobs::job> js;
  for (auto& e : reg.select(sel)) js.push_back(e.job);
  c->push("", true, sse_event("snapshot", reg.stats(sel)));
  watches->add(std::move(js));

  // Closes the watches however the stream ends (the client went away, a write failed or timed
  // out, the coroutine was cancelled).
  ++*s->sse_clients;
  struct closer {
    std::shared_ptr<watch_set> w;
    std::shared_ptr<std::atomic<std::size_t>> clients;
    ~closer() {
      w->close();
      --*clients;
    }
  } close_watches{watches, s->sse_clients};
  co_await asio::experimental::make_parallel_group(
      asio::co_spawn(ex, read_until_gone(stream), asio::deferred),
      asio::co_spawn(ex, write_events(s, stream, c, watches, sel), asio::deferred))
      .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
}

}  // namespace jobs::http::detail
