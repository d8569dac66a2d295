// jobs::http::admin: options, decoders, routing a request to its endpoint.
#include "admin_state.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include <stdexcept>

namespace jobs::http {

namespace bhttp = beast::http;

namespace detail {

admin_state::admin_state(jobs::registry r, options o) : reg(std::move(r)), opt(std::move(o)) {
  if (opt.prefix.empty() || opt.prefix.front() != '/' || opt.prefix.back() == '/')
    throw std::invalid_argument(
        "jobs::http::admin: the prefix must start with '/' and not end with one, not \"" + opt.prefix + "\"");
  if (opt.max_body == 0 || opt.max_target == 0 || opt.max_header == 0 || opt.sse_max_backlog == 0)
    throw std::invalid_argument(
        "jobs::http::admin: max_body, max_target, max_header and sse_max_backlog must be > 0");
  if (opt.read_timeout.count() <= 0 || opt.write_timeout.count() <= 0 || opt.sse_keepalive.count() <= 0)
    throw std::invalid_argument(
        "jobs::http::admin: read_timeout, write_timeout and sse_keepalive must be > 0");
}

admin_state::~admin_state() {
  if (removal_hook) jobs::detail::remove_extension(reg, removal_hook.get());
  if (tracker) tracker->close();
}

namespace {
struct tracker_removal final : jobs::detail::registry_extension {
  std::weak_ptr<watch_set> tracker;
  explicit tracker_removal(std::weak_ptr<watch_set> t) : tracker(std::move(t)) {}
  void annotate(const registry::entry&, boost::json::object&) const override {}
  void on_drain() noexcept override {}
  void on_reopen() noexcept override {}
  void on_remove(std::string_view id) noexcept override {
    try {
      if (auto t = tracker.lock()) t->forget(std::string(id));
    } catch (...) {  // (std::bad_alloc) the job stays watched until the next listing prunes it
    }
  }
};
}  // namespace

void admin_state::track() {
  std::vector<jobs::job> js;
  for (auto& e : reg.select()) js.push_back(e.job);
  tracker->prune();  // jobs that ended and left the registry since
  tracker->add(std::move(js));
}

params_decoder admin_state::decoder_for(std::string_view id) const {
  std::lock_guard lk(mu_);
  if (auto it = decoders_.find(id); it != decoders_.end()) return it->second;
  if (auto it = decoders_.find(""); it != decoders_.end()) return it->second;
  return {};
}

void admin_state::set_decoder(std::string id, params_decoder fn) {
  std::lock_guard lk(mu_);
  decoders_[std::move(id)] = std::move(fn);
}

response json_response(unsigned version, bool keep_alive, unsigned status, const boost::json::value& body) {
  response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::content_type, "application/json");
  res.set(bhttp::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = boost::json::serialize(body);
  res.body() += '\n';
  res.prepare_payload();
  return res;
}

response error_response(unsigned version, bool keep_alive, unsigned status, std::string_view code,
                        std::string_view message, boost::json::object extra) {
  boost::json::object e = std::move(extra);
  e["status"] = status;
  e["code"] = code;
  e["message"] = message;
  return json_response(version, keep_alive, status, boost::json::object{{"error", std::move(e)}});
}

}  // namespace detail

admin::admin(jobs::registry r, options o)
    : state_(std::make_shared<detail::admin_state>(std::move(r), std::move(o))) {
  std::weak_ptr<detail::admin_state> weak = state_;
  state_->tracker =
      detail::watch_set::make(state_->reg.get_executor(), [weak](const jobs::job& j, const jobs::stats& s) {
        auto st = weak.lock();
        if (!st) return;
        st->stats.observe(s);
        if (jobs::is_done(s.state)) {
          if (auto e = st->reg.find(j.id()); e && e->job == j && e->executor) {
            const auto x = e->executor->stats();
            st->stats.sample_retries(j.id(), x.starts, x.retries);
          }
        }
      });
  // A job that has ended and is no longer in the registry (a per-request job, say) is not watched
  // or held any longer; it is watched again if it is added back and listed.
  state_->removal_hook = std::make_shared<detail::tracker_removal>(state_->tracker);
  jobs::detail::add_extension(state_->reg, state_->removal_hook);
  state_->tracker->keep_while([weak](const jobs::job& j, const jobs::stats& s) {
    auto st = weak.lock();
    if (!st) return false;
    if (!jobs::is_done(s.state)) return true;
    auto e = st->reg.find(j.id());
    return e && e->job == j;
  });
}

void admin::register_params(std::string id, params_decoder fn) {
  state_->set_decoder(std::move(id), std::move(fn));
}

bool admin::matches(std::string_view target) const noexcept {
  const std::string_view p = state_->opt.prefix;
  if (target.substr(0, p.size()) != p) return false;
  return target.size() == p.size() || target[p.size()] == '/' || target[p.size()] == '?';
}

void admin::track() const { state_->track(); }

const options& admin::get_options() const noexcept { return state_->opt; }
const jobs::registry& admin::get_registry() const noexcept { return state_->reg; }

asio::awaitable<response> admin::handle(request req) const {
  auto s = state_;
  const auto routed = detail::parse_route(req.method(), req.target(), s->opt.prefix, s->opt.max_target);
  if (const auto* e = std::get_if<detail::route_error>(&routed)) {
    auto res = detail::error_response(req.version(), req.keep_alive(), e->status, e->code, e->message);
    if (!e->allow.empty()) res.set(bhttp::field::allow, e->allow);
    co_return res;
  }
  const auto& r = std::get<detail::route>(routed);
  if (r.ep == detail::endpoint::events)
    co_return detail::error_response(req.version(), req.keep_alive(), 400, "stream_needs_serve",
                                     "the event stream is served by admin::serve(), not admin::handle()");
  if (req.body().size() > s->opt.max_body)
    co_return detail::error_response(req.version(), false, 413, "payload_too_large",
                                     "the request body has " + std::to_string(req.body().size()) +
                                         " bytes, more than the limit of " + std::to_string(s->opt.max_body));
  s->track();
  co_return co_await detail::answer(s, r, std::move(req));
}

asio::awaitable<bool> admin::serve(beast::tcp_stream& stream, request req) const {
  auto s = state_;
  const auto routed = detail::parse_route(req.method(), req.target(), s->opt.prefix, s->opt.max_target);
  if (const auto* r = std::get_if<detail::route>(&routed); r && r->ep == detail::endpoint::events) {
    s->track();
    co_await detail::serve_events(s, stream, *r, req);
    co_return false;
  }
  auto res = co_await handle(std::move(req));
  const bool keep = res.keep_alive();
  stream.expires_after(s->opt.write_timeout);
  co_await bhttp::async_write(stream, res, asio::use_awaitable);
  co_return keep;
}

}  // namespace jobs::http
