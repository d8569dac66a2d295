// The JSON endpoints, /metrics and the page: everything but the event stream.
#include "admin_state.hpp"

#include <jobs/detail/quote.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

namespace jobs::http::detail {

namespace bhttp = beast::http;
namespace json = boost::json;
using jobs::detail::quote;

namespace {

/// A selector from the query, or the 400 that says why not.
std::optional<response> parse_selector(const request& req, const std::string& text, jobs::selector& out) {
  try {
    out = jobs::selector::parse(text);
    return std::nullopt;
  } catch (const std::invalid_argument& e) {
    return error_response(req.version(), req.keep_alive(), 400, "bad_selector", e.what());
  }
}

json::value entry_json(const jobs::registry::entry& e) {
  json::value v = json::value_from(e.job.stats());
  if (e.executor) v.as_object()["executor"] = json::value_from(e.executor->stats());
  return v;
}

response not_found(const request& req, const std::string& id) {
  return error_response(req.version(), req.keep_alive(), 404, "not_found", "no job with id " + quote(id));
}

std::string_view reason_of(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const jobs::error& e) {
    if (e.code() == errc::still_pending) return "still_pending";
    if (e.code() == errc::once) return "once";
    if (e.code() == errc::cooldown) return "cooldown";
    if (e.code() == errc::shutting_down) return "shutting_down";
  } catch (...) {
  }
  return {};
}

std::string what_of(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

/// How an executor's start was decided: `done` if it completed (refused, or ended) before a
/// marker posted after it to the same strand — a refusal always does, since the executor posts
/// it to the handler's executor (the strand) inside async_start.
struct decision {
  bool done = false;
  std::exception_ptr error;
};

asio::awaitable<decision> decide_start(jobs::executor ex, std::any params) {
  auto own = co_await asio::this_coro::executor;
  auto strand = asio::make_strand(own);
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(decision)>(
      [&](auto handler) {
        struct shared {
          decltype(handler) h;
          asio::any_io_executor own;
          bool decided = false;
          void finish(decision d) {
            if (decided) return;
            decided = true;
            asio::post(own, [h = std::move(h), d]() mutable { std::move(h)(d); });
          }
        };
        auto sh = std::make_shared<shared>(shared{std::move(handler), own});
        asio::post(strand, [sh, strand, ex, params = std::move(params)]() mutable {
          ex.async_start(std::move(params), asio::bind_executor(strand, [sh](std::exception_ptr ep) {
                           sh->finish({true, ep});
                         }));
          asio::post(strand, [sh] { sh->finish({false, nullptr}); });
        });
      },
      asio::use_awaitable);
}

asio::awaitable<response> start(std::shared_ptr<admin_state> s, const route& r, const request& req) {
  auto e = s->reg.find(r.id);
  if (!e) co_return not_found(req, r.id);
  std::any params;
  const auto& body = req.body();
  json::value doc;
  const bool has_body = body.find_first_not_of(" \t\r\n") != std::string::npos;
  if (has_body) {
    boost::system::error_code ec;
    json::parse_options po;
    po.max_depth = 64;
    doc = json::parse(body, ec, {}, po);
    if (ec)
      co_return error_response(req.version(), req.keep_alive(), 400, "bad_json",
                               "the body is not JSON: " + ec.message());
  }
  if (auto dec = s->decoder_for(r.id)) {
    try {
      params = dec(doc);
    } catch (const std::exception& x) {
      co_return error_response(req.version(), req.keep_alive(), 400, "bad_params",
                               "the params of " + quote(r.id) + " were refused: " + x.what());
    }
  } else if (has_body) {
    params = doc;
  }

  std::exception_ptr refusal;
  bool done = false;
  std::exception_ptr error;
  if (e->executor) {
    const auto d = co_await decide_start(*e->executor, std::move(params));
    done = d.done;
    error = d.error;
    if (done && error && !reason_of(error).empty()) refusal = error;
  } else {
    try {
      if (!e->job.run(std::move(params)))
        refusal =
            std::make_exception_ptr(jobs::error(errc::still_pending, "job " + r.id + " is still running"));
    } catch (const jobs::error&) {
      refusal = std::current_exception();
    }
  }
  if (refusal) {
    const auto reason = reason_of(refusal);
    s->stats.refused(r.id, reason);
    co_return error_response(req.version(), req.keep_alive(), 409, "refused", what_of(refusal),
                             json::object{{"reason", reason}, {"id", r.id}});
  }
  json::object out{{"id", r.id}, {"admitted", true}, {"done", done}};
  if (done) {
    out["outcome"] = error ? "failed" : "succeeded";
    if (error) out["error"] = what_of(error);
  }
  out["job"] = entry_json(*e);
  co_return json_response(req.version(), req.keep_alive(), done ? 200 : 202, out);
}

}  // namespace

asio::awaitable<response> answer(std::shared_ptr<admin_state> s, const route& r, request req) {
  switch (r.ep) {
    case endpoint::list: {
      jobs::selector sel;
      if (auto bad = parse_selector(req, r.selector, sel)) co_return *bad;
      co_return json_response(req.version(), req.keep_alive(), 200, s->reg.stats(sel));
    }
    case endpoint::get: {
      auto e = s->reg.find(r.id);
      if (!e) co_return not_found(req, r.id);
      co_return json_response(req.version(), req.keep_alive(), 200, entry_json(*e));
    }
    case endpoint::start: co_return co_await start(s, r, req);
    case endpoint::cancel: {
      auto e = s->reg.find(r.id);
      if (!e) co_return not_found(req, r.id);
      bool reached = e->job.cancel();
      if (e->executor) {
        reached = e->executor->stats().in_progress || reached;
        e->executor->stop();
      }
      co_return json_response(req.version(), req.keep_alive(), 200,
                              json::object{{"id", r.id}, {"canceled", reached}});
    }
    case endpoint::cancel_selected: {
      jobs::selector sel;
      if (auto bad = parse_selector(req, r.selector, sel)) co_return *bad;
      const auto n = s->reg.cancel(sel);
      co_return json_response(req.version(), req.keep_alive(), 200,
                              json::object{{"canceled", n}, {"selector", sel.to_string()}});
    }
    case endpoint::metrics: {
      response res{bhttp::status::ok, req.version()};
      res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.set(bhttp::field::cache_control, "no-store");
      res.keep_alive(req.keep_alive());
      res.body() = s->stats.render(s->reg, s->sse_clients->load(), s->sse_watches->load());
      res.prepare_payload();
      co_return res;
    }
    case endpoint::page: {
      response res{bhttp::status::ok, req.version()};
      res.set(bhttp::field::content_type, "text/html; charset=utf-8");
      res.set(bhttp::field::cache_control, "no-store");
      res.set(
          "Content-Security-Policy",
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'");
      res.keep_alive(req.keep_alive());
      // The matching jobs inlined, so that the table is there as soon as the page is parsed
      // ("<" escaped: the JSON cannot close its script element).
      std::string initial = "null";
      try {
        initial = json::serialize(s->reg.stats(r.selector));
      } catch (const std::invalid_argument&) {
        // A bad selector: the page's own request shows the error.
      }
      std::string escaped;
      for (char ch : initial) {
        if (ch == '<')
          escaped += "\\u003c";
        else
          escaped += ch;
      }
      std::string page(page_html());
      const std::string_view mark = "/*INITIAL*/null";
      page.replace(page.find(mark), mark.size(), escaped);
      res.body() = std::move(page);
      res.prepare_payload();
      co_return res;
    }
    case endpoint::events: break;
  }
  co_return error_response(req.version(), req.keep_alive(), 400, "stream_needs_serve",
                           "the event stream needs admin::serve()");
}

}  // namespace jobs::http::detail
