// jobs::pg::lease_coordinator: a queue of statements on one connection (reconnected with
// backoff), the three lease statements, and NOTIFY waiters on a second connection.
#include "statements.hpp"

#include <jobs/error.hpp>
#include <jobs/pg/lease_coordinator.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <list>
#include <mutex>
#include <random>

namespace jobs::pg {

using boost::system::error_code;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;

namespace {

std::string micros(nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::string make_holder() {
  char host[256] = {};
  (void)gethostname(host, sizeof host - 1);
  std::random_device rd;
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(rd());
}

std::string hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string r;
  r.reserve(s.size() * 2);
  for (unsigned char c : s) {
    r += digits[c >> 4];
    r += digits[c & 15];
  }
  return r;
}

template <class Handler, class... Args>
void complete(Handler h, Args... args) {
  if (auto s = asio::get_associated_cancellation_slot(h); s.is_connected()) s.clear();
  asio::dispatch(asio::append(std::move(h), std::move(args)...));
}

}  // namespace

class coordinator_impl : public std::enable_shared_from_this<coordinator_impl> {
 public:
  coordinator_impl(asio::any_io_executor ex, std::string conninfo, coordinator_options o)
      : holder_(make_holder()),
        strand_(asio::make_strand(ex)),
        ex_(ex),
        conninfo_(std::move(conninfo)),
        opt_(o),
        cmd_(ex, conninfo_),
        backoff_(o.backoff_initial),
        backoff_timer_(strand_) {}

  const std::string holder_;

  std::string last_error() const {
    std::lock_guard lk(mu_);
    return last_error_;
  }

  // ---- the statement queue --------------------------------------------------------------------
  struct request {
    std::string sql;
    std::vector<param> params;
    detail::exec_handler h;
    asio::cancellation_signal sig;  // on the strand only
    bool done = false;
  };
  struct request_cancellation {
    std::weak_ptr<coordinator_impl> c;
    std::weak_ptr<request> r;
    void operator()(asio::cancellation_type_t t) const {
      if ((t & asio::cancellation_type::terminal) == asio::cancellation_type::none) return;
      auto self = c.lock();
      if (!self) return;
      asio::post(self->strand_, [self, r = r] {
        auto req = r.lock();
        if (!req || req->done) return;
        auto it = std::find(self->queue_.begin(), self->queue_.end(), req);
        if (it != self->queue_.end()) {
          self->queue_.erase(it);
          req->done = true;
          complete(std::move(req->h), make_error_code(asio::error::operation_aborted), result{});
        } else {
          req->sig.emit(asio::cancellation_type::terminal);
        }
      });
    }
  };

  void exec(std::string sql, std::vector<param> params, detail::exec_handler h) {
    auto req = std::make_shared<request>();
    req->sql = std::move(sql);
    req->params = std::move(params);
    auto slot = asio::get_associated_cancellation_slot(h);
    req->h.swap(h);  // not `=`: Boost 1.81's any_completion_handler move assignment recurses
    asio::post(strand_, [self = shared_from_this(), req, slot]() mutable {
      if (slot.is_connected()) slot.template emplace<request_cancellation>(request_cancellation{self, req});
      self->queue_.push_back(req);
      if (self->driving_) return;
      self->driving_ = true;
      asio::co_spawn(self->strand_, self->drive(), [self](std::exception_ptr) { self->driving_ = false; });
    });
  }

  // ---- NOTIFY waiters ---------------------------------------------------------------------------
  struct waiter {
    std::string key;  // the name in hex, or "long"
    detail::wait_handler h;
    std::unique_ptr<asio::steady_timer> timer;
    bool done = false;
  };
  using waiter_ptr = std::shared_ptr<waiter>;

  void wait_release(std::string name, nanoseconds max_wait, detail::wait_handler h) {
    auto w = std::make_shared<waiter>();
    w->key = name.size() <= 3990 ? hex(name) : "long";
    auto slot = asio::get_associated_cancellation_slot(h);
    w->h.swap(h);  // (see above)
    asio::post(strand_, [self = shared_from_this(), w, slot, max_wait]() mutable {
      w->timer = std::make_unique<asio::steady_timer>(self->strand_, max_wait);
      w->timer->async_wait([self, w](error_code ec) {
        if (!ec) self->wake(w, error_code{});  // the fallback: try again
      });
      if (slot.is_connected()) {
        struct cancel {
          std::weak_ptr<coordinator_impl> c;
          std::weak_ptr<waiter> w;
          void operator()(asio::cancellation_type_t) const {
            auto self = c.lock();
            if (!self) return;
            asio::post(self->strand_, [self, w = w] {
              if (auto x = w.lock()) self->wake(x, make_error_code(asio::error::operation_aborted));
            });
          }
        };
        slot.template emplace<cancel>(cancel{self, w});
      }
      self->waiters_.push_back(w);
      if (!self->listening_) {
        self->listening_ = true;
        asio::co_spawn(self->strand_, self->listen(),
                       [self](std::exception_ptr) { self->listening_ = false; });
      }
    });
  }

  void close() {
    asio::post(strand_, [self = shared_from_this()] {
      self->cmd_.close();
      if (self->listen_) self->listen_->close();
    });
  }

 private:
  void wake(const waiter_ptr& w, error_code ec) {
    if (w->done) return;
    w->done = true;
    w->timer->cancel();
    waiters_.remove(w);
    complete(std::move(w->h), ec);
  }

  void set_error(std::string e) {
    std::lock_guard lk(mu_);
    last_error_ = std::move(e);
  }

  // Opens the statement connection if it is not open: after the backoff of earlier failures,
  // bounded by the connect timeout; makes the table on the first success.
  asio::awaitable<error_code> ensure_connected(request& req) {
    if (cmd_.is_open()) co_return error_code{};
    if (steady_clock::now() < next_connect_) {
      backoff_timer_.expires_at(next_connect_);
      auto [ec] = co_await backoff_timer_.async_wait(
          asio::bind_cancellation_slot(req.sig.slot(), asio::as_tuple(asio::use_awaitable)));
      if (ec) co_return ec;
    }
    auto [ec] = co_await cmd_.async_connect(
        opt_.connect_timeout,
        asio::bind_cancellation_slot(req.sig.slot(), asio::as_tuple(asio::use_awaitable)));
    if (ec) {
      set_error(cmd_.error_message().empty() ? ec.message() : cmd_.error_message());
      next_connect_ = steady_clock::now() + backoff_;
      backoff_ = std::min(backoff_ * 2, opt_.backoff_max);
      co_return ec;
    }
    backoff_ = opt_.backoff_initial;
    next_connect_ = {};
    if (!schema_ready_) {
      // Replicas starting together may race to create it: a unique violation on the catalog
      // means another one did; the next try sees the table.
      for (int i = 0; i < 3 && !schema_ready_; ++i) {
        auto [e, r] = co_await cmd_.async_exec(sql::create_table, {}, asio::as_tuple(asio::use_awaitable));
        if (!e)
          schema_ready_ = true;
        else if (e != errc::query_failed) {
          set_error(cmd_.error_message());
          co_return e;
        }
      }
      if (!schema_ready_) {
        set_error("cannot create the lease table: " + cmd_.error_message());
        co_return make_error_code(errc::query_failed);
      }
    }
    co_return error_code{};
  }

  asio::awaitable<void> drive() {
    while (!queue_.empty()) {
      auto req = queue_.front();
      queue_.pop_front();
      error_code ec;
      result r;
      // A connection found broken is reopened once for the same statement (after a server
      // restart the first statement finds the old connection dead).
      for (int tries = 0; tries < 2; ++tries) {
        ec = co_await ensure_connected(*req);
        if (ec) break;
        std::tie(ec, r) = co_await cmd_.async_exec(
            req->sql, req->params,
            asio::bind_cancellation_slot(req->sig.slot(), asio::as_tuple(asio::use_awaitable)));
        if (ec != errc::connection_lost && ec != errc::not_connected) break;
        set_error(cmd_.error_message());
      }
      if (ec == errc::query_failed) set_error(cmd_.error_message());
      req->done = true;
      complete(std::move(req->h), ec, std::move(r));
    }
  }

  // The LISTEN connection: wakes the waiters of each released name. On failure every waiter is
  // woken (they try again) and the next wait reconnects.
  asio::awaitable<void> listen() {
    if (!listen_) listen_ = std::make_unique<connection>(ex_, conninfo_);
    auto [ec] = co_await listen_->async_connect(opt_.connect_timeout, asio::as_tuple(asio::use_awaitable));
    if (!ec)
      std::tie(ec, std::ignore) =
          co_await listen_->async_exec("LISTEN jobs_lease", {}, asio::as_tuple(asio::use_awaitable));
    while (!ec && !waiters_.empty()) {
      auto [e, n] = co_await listen_->async_wait_notification(asio::as_tuple(asio::use_awaitable));
      ec = e;
      if (ec) break;
      std::vector<waiter_ptr> hit;
      for (auto& w : waiters_)
        if (w->key == n.payload) hit.push_back(w);
      for (auto& w : hit) wake(w, error_code{});
    }
    if (ec) {
      set_error(listen_->error_message());
      listen_->close();
      auto all = waiters_;
      for (auto& w : all) wake(w, error_code{});
    }
  }

  asio::strand<asio::any_io_executor> strand_;
  asio::any_io_executor ex_;
  const std::string conninfo_;
  const coordinator_options opt_;

 public:
  connection cmd_;

 private:
  std::unique_ptr<connection> listen_;
  std::deque<std::shared_ptr<request>> queue_;
  bool driving_ = false;
  bool schema_ready_ = false;
  bool listening_ = false;
  nanoseconds backoff_;
  steady_clock::time_point next_connect_{};
  asio::steady_timer backoff_timer_;
  std::list<waiter_ptr> waiters_;

  mutable std::mutex mu_;
  std::string last_error_;
};

namespace detail {
void initiate_wait_release(const std::shared_ptr<coordinator_impl>& c, std::string name, nanoseconds max_wait,
                           wait_handler h) {
  c->wait_release(std::move(name), max_wait, std::move(h));
}
void initiate_coordinator_exec(const std::shared_ptr<coordinator_impl>& c, std::string sql,
                               std::vector<param> params, exec_handler h) {
  c->exec(std::move(sql), std::move(params), std::move(h));
}
}  // namespace detail

lease_coordinator::lease_coordinator(asio::any_io_executor ex, std::string conninfo, coordinator_options o)
    : impl_(std::make_shared<coordinator_impl>(std::move(ex), std::move(conninfo), o)) {}

lease_coordinator::~lease_coordinator() { impl_->close(); }

const std::string& lease_coordinator::holder() const noexcept { return impl_->holder_; }
std::string lease_coordinator::last_error() const { return impl_->last_error(); }

void lease_coordinator::async_acquire(const std::string& name, nanoseconds lease, acquire_handler h) {
  // No row: the name's row was made by a transaction our statement's snapshot missed; once more.
  struct state {
    std::shared_ptr<coordinator_impl> c;
    std::string name;
    nanoseconds lease;
    acquire_handler h;
    int tries = 0;
  };
  auto st = std::make_shared<state>(state{impl_, name, lease, std::move(h)});
  auto slot = asio::get_associated_cancellation_slot(st->h);
  struct step {
    std::shared_ptr<state> st;
    mutable asio::cancellation_slot slot;
    void go() const {
      st->c->exec(sql::acquire, {bytes(st->name), text(st->c->holder_), text(micros(st->lease))},
                  asio::bind_cancellation_slot(slot, *this));
    }
    void operator()(error_code ec, result r) const {
      if (!ec && r.rows.empty() && ++st->tries < 3) return go();
      std::uint64_t epoch = 0;
      nanoseconds left{0};
      if (!ec) {
        if (r.rows.empty() || r.rows[0].size() != 3 || !r.rows[0][0] || !r.rows[0][1]) {
          ec = jobs::errc::still_pending;  // still not visible: taken a moment ago
        } else {
          const std::string& what = *r.rows[0][0];
          epoch = std::stoull(*r.rows[0][1]);
          left = std::chrono::microseconds(r.rows[0][2] ? std::stoll(*r.rows[0][2]) : 0);
          if (what == "pending")
            ec = jobs::errc::still_pending;
          else if (what == "once")
            ec = jobs::errc::once;
          else if (what == "cooldown")
            ec = jobs::errc::cooldown;
        }
      }
      if (slot.is_connected()) slot.clear();
      asio::dispatch(asio::append(std::move(st->h), ec, epoch, left));
    }
  };
  step{st, slot}.go();
}

void lease_coordinator::async_renew(const std::string& name, std::uint64_t epoch, nanoseconds lease,
                                    done_handler h) {
  impl_->exec(sql::renew,
              {bytes(name), text(impl_->holder_), text(micros(lease)), text(std::to_string(epoch))},
              [h = std::move(h)](error_code ec, result r) mutable {
                if (!ec && r.affected == 0) ec = jobs::errc::lease_lost;
                asio::dispatch(asio::append(std::move(h), ec));
              });
}

void lease_coordinator::async_release(const std::string& name, std::uint64_t epoch, lease_outcome outcome,
                                      done_handler h) {
  impl_->exec(sql::release,
              {bytes(name), text(impl_->holder_), text(std::to_string(epoch)),
               text(outcome.once_done ? "true" : "false"), text(micros(outcome.cooldown))},
              [h = std::move(h)](error_code ec, result r) mutable {
                if (!ec && r.rows.empty()) ec = jobs::errc::lease_lost;
                asio::dispatch(asio::append(std::move(h), ec));
              });
}

}  // namespace jobs::pg
