// jobs::pg::connection: libpq's non-blocking API driven by coroutines on a strand. libpq owns
// the socket: the stream_descriptor only waits on it, and is released before PQfinish.
#include <jobs/pg/connection.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <libpq-fe.h>

#include <deque>
#include <mutex>
#include <tuple>

namespace jobs::pg {

using boost::system::error_code;

namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "jobs.pg"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::connect_failed: return "cannot connect to PostgreSQL";
      case errc::connect_timeout: return "timed out connecting to PostgreSQL";
      case errc::not_connected: return "not connected to PostgreSQL";
      case errc::connection_lost: return "the PostgreSQL connection was lost";
      case errc::query_failed: return "PostgreSQL rejected the statement";
    }
    return "unknown jobs.pg error " + std::to_string(ev);
  }
};

std::string trimmed(const char* s) {
  std::string r = s ? s : "";
  while (!r.empty() && (r.back() == '\n' || r.back() == ' ')) r.pop_back();
  return r;
}

}  // namespace

const boost::system::error_category& pg_category() noexcept {
  static const category instance;
  return instance;
}

class connection_impl : public std::enable_shared_from_this<connection_impl> {
 public:
  connection_impl(asio::any_io_executor ex, std::string conninfo)
      : strand_(asio::make_strand(ex)), conninfo_(std::move(conninfo)), sock_(strand_), timer_(strand_) {}
  ~connection_impl() { close(); }

  asio::strand<asio::any_io_executor> strand_;

  // On the strand.
  void close() noexcept {
    if (!conn_) return;
    error_code ignored;
    if (sock_.is_open()) {
      sock_.cancel(ignored);
      (void)sock_.release();  // libpq owns the descriptor: PQfinish closes it
    }
    PQfinish(conn_);
    conn_ = nullptr;
    std::lock_guard lk(mu_);
    open_ = false;
  }

  bool is_open() const {
    std::lock_guard lk(mu_);
    return open_;
  }
  std::string error_message() const {
    std::lock_guard lk(mu_);
    return error_;
  }
  std::string sqlstate() const {
    std::lock_guard lk(mu_);
    return sqlstate_;
  }

  asio::awaitable<error_code> connect(std::chrono::nanoseconds timeout) {
    co_await asio::this_coro::throw_if_cancelled(false);
    close();
    set_error("", "");
    conn_ = PQconnectStart(conninfo_.c_str());
    if (!conn_) co_return make_error_code(boost::system::errc::not_enough_memory);
    if (PQstatus(conn_) == CONNECTION_BAD) co_return fail_connect();
    if (PQsetnonblocking(conn_, 1) != 0) co_return fail_connect();
    // The server's notices ("relation ... already exists, skipping") are not errors: libpq
    // would print them on stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    // The timeout cancels the socket's wait; connecting stops there.
    timed_out_ = false;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->timed_out_ = true;
      error_code ignored;
      self->sock_.cancel(ignored);
    });
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    error_code result;
    for (;;) {
      if (st == PGRES_POLLING_OK) break;
      if (st == PGRES_POLLING_FAILED) {
        result = fail_connect();
        break;
      }
      if (!track_socket()) {
        result = fail_connect();
        break;
      }
      if (timed_out_ ||
          (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
        result = timed_out_ ? make_error_code(errc::connect_timeout)
                            : make_error_code(asio::error::operation_aborted);
        break;
      }
      const error_code ec =
          co_await wait(st == PGRES_POLLING_READING ? socket_t::wait_read : socket_t::wait_write);
      if (ec) {
        result = timed_out_ ? make_error_code(errc::connect_timeout) : ec;
        break;
      }
      st = PQconnectPoll(conn_);
    }
    timer_.cancel();
    if (result) {
      if (result == errc::connect_timeout) set_error("no connection within the connect timeout", "");
      close();
      co_return result;
    }
    std::lock_guard lk(mu_);
    open_ = true;
    co_return error_code{};
  }

  asio::awaitable<std::tuple<error_code, result>> exec(std::string sql, std::vector<param> params) {
    co_await asio::this_coro::throw_if_cancelled(false);
    result r;
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK)
      co_return std::tuple{make_error_code(errc::not_connected), std::move(r)};
    set_error("", "");
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : params) {
      values.push_back(p.value ? p.value->data() : nullptr);
      lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
      formats.push_back(p.binary ? 1 : 0);
    }
    if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                           lengths.data(), formats.data(), 0))
      co_return std::tuple{lost(), std::move(r)};
    for (;;) {  // PQflush until the statement is sent
      const int f = PQflush(conn_);
      if (f == 0) break;
      if (f < 0) co_return std::tuple{lost(), std::move(r)};
      if (const error_code ec = co_await wait(socket_t::wait_write))
        co_return std::tuple{aborted(ec), std::move(r)};
    }
    error_code failure;
    for (;;) {
      if (!PQconsumeInput(conn_)) co_return std::tuple{lost(), std::move(r)};
      take_notifications();
      bool finished = false;
      while (!PQisBusy(conn_)) {
        PGresult* res = PQgetResult(conn_);
        if (!res) {
          finished = true;
          break;
        }
        switch (PQresultStatus(res)) {
          case PGRES_TUPLES_OK:
          case PGRES_COMMAND_OK: {
            const int n = PQntuples(res), m = PQnfields(res);
            for (int i = 0; i < n; ++i) {
              auto& row = r.rows.emplace_back();
              for (int k = 0; k < m; ++k) {
                if (PQgetisnull(res, i, k))
                  row.emplace_back();
                else
                  row.emplace_back(
                      std::string(PQgetvalue(res, i, k), static_cast<std::size_t>(PQgetlength(res, i, k))));
              }
            }
            r.command = PQcmdStatus(res);
            const char* t = PQcmdTuples(res);
            r.affected = (t && *t) ? std::stoul(t) : 0;
            break;
          }
          default:
            failure = make_error_code(errc::query_failed);
            set_error(trimmed(PQresultErrorMessage(res)), trimmed(PQresultErrorField(res, PG_DIAG_SQLSTATE)));
            break;
        }
        PQclear(res);
      }
      if (finished) break;
      if (PQstatus(conn_) == CONNECTION_BAD) co_return std::tuple{lost(), std::move(r)};
      if (const error_code ec = co_await wait(socket_t::wait_read))
        co_return std::tuple{aborted(ec), std::move(r)};
    }
    co_return std::tuple{failure, std::move(r)};
  }

  asio::awaitable<std::tuple<error_code, notification>> wait_notification() {
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
      if (!notes_.empty()) {
        notification n = std::move(notes_.front());
        notes_.pop_front();
        co_return std::tuple{error_code{}, std::move(n)};
      }
      if (!conn_ || PQstatus(conn_) != CONNECTION_OK)
        co_return std::tuple{make_error_code(errc::not_connected), notification{}};
      if (!PQconsumeInput(conn_)) co_return std::tuple{lost(), notification{}};
      take_notifications();
      if (!notes_.empty()) continue;
      if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
        co_return std::tuple{make_error_code(asio::error::operation_aborted), notification{}};
      if (const error_code ec = co_await wait(socket_t::wait_read)) co_return std::tuple{ec, notification{}};
    }
  }

 private:
  using socket_t = asio::posix::stream_descriptor;

  asio::awaitable<error_code> wait(socket_t::wait_type w) {
    auto [ec] = co_await sock_.async_wait(w, asio::as_tuple(asio::use_awaitable));
    co_return ec;
  }

  // The descriptor libpq uses now (it may change while connecting), registered with Asio.
  bool track_socket() {
    const int fd = PQsocket(conn_);
    if (fd < 0) return false;
    if (sock_.is_open() && sock_.native_handle() == fd) return true;
    if (sock_.is_open()) (void)sock_.release();
    error_code ec;
    sock_.assign(fd, ec);
    return !ec;
  }

  error_code fail_connect() {
    set_error(trimmed(PQerrorMessage(conn_)), "");
    close();
    return make_error_code(errc::connect_failed);
  }
  error_code lost() {
    set_error(trimmed(PQerrorMessage(conn_)), "");
    close();
    return make_error_code(errc::connection_lost);
  }
  // A statement's wait ended early: cancelled by the caller (the server stops the statement,
  // PQcancel; the connection is closed rather than drained) or the socket failed.
  error_code aborted(error_code ec) {
    if (ec == asio::error::operation_aborted) {
      if (PGcancel* c = PQgetCancel(conn_)) {
        char buf[256];
        (void)PQcancel(c, buf, sizeof buf);  // a short blocking exchange with the server
        PQfreeCancel(c);
      }
      close();
      return ec;
    }
    return lost();
  }

  void take_notifications() {
    while (PGnotify* n = PQnotifies(conn_)) {
      notes_.push_back(notification{n->relname, n->extra ? n->extra : "", n->be_pid});
      PQfreemem(n);
    }
  }

  void set_error(std::string e, std::string state) {
    std::lock_guard lk(mu_);
    error_ = std::move(e);
    sqlstate_ = std::move(state);
  }

  const std::string conninfo_;
  PGconn* conn_ = nullptr;
  socket_t sock_;
  asio::steady_timer timer_;
  bool timed_out_ = false;
  std::deque<notification> notes_;

  mutable std::mutex mu_;  // what other threads may read
  bool open_ = false;
  std::string error_, sqlstate_;
};

namespace detail {

namespace {
// Runs `op` on the connection's strand; the caller's cancellation slot reaches it (co_spawn
// forwards it as terminal), and its result goes to the handler on the handler's executor.
template <class Handler, class Awaitable, class Fallback>
void spawn(const std::shared_ptr<connection_impl>& c, Awaitable op, Handler h, Fallback fallback) {
  auto slot = asio::get_associated_cancellation_slot(h);
  asio::co_spawn(c->strand_, std::move(op),
                 asio::bind_cancellation_slot(
                     slot, [h = std::move(h), c, fallback](std::exception_ptr e, auto r) mutable {
                       if (e) r = fallback;  // (std::bad_alloc inside the coroutine)
                       if (auto s = asio::get_associated_cancellation_slot(h); s.is_connected()) s.clear();
                       std::apply(
                           [&](auto&&... a) { asio::dispatch(asio::append(std::move(h), std::move(a)...)); },
                           std::move(r));
                     }));
}
}  // namespace

void initiate_connect(const std::shared_ptr<connection_impl>& c, std::chrono::nanoseconds timeout,
                      connect_handler h) {
  auto op = [](std::shared_ptr<connection_impl> c,
               std::chrono::nanoseconds t) -> asio::awaitable<std::tuple<error_code>> {
    co_return std::tuple{co_await c->connect(t)};
  };
  spawn(c, op(c, timeout), std::move(h),
        std::tuple<error_code>{make_error_code(boost::system::errc::not_enough_memory)});
}

void initiate_exec(const std::shared_ptr<connection_impl>& c, std::string sql, std::vector<param> params,
                   exec_handler h) {
  auto op = [](std::shared_ptr<connection_impl> c, std::string s,
               std::vector<param> p) -> asio::awaitable<std::tuple<error_code, result>> {
    co_return co_await c->exec(std::move(s), std::move(p));
  };
  spawn(c, op(c, std::move(sql), std::move(params)), std::move(h),
        std::tuple<error_code, result>{make_error_code(boost::system::errc::not_enough_memory), result{}});
}

void initiate_wait_notification(const std::shared_ptr<connection_impl>& c, notify_handler h) {
  auto op = [](std::shared_ptr<connection_impl> c) -> asio::awaitable<std::tuple<error_code, notification>> {
    co_return co_await c->wait_notification();
  };
  spawn(c, op(c), std::move(h),
        std::tuple<error_code, notification>{make_error_code(boost::system::errc::not_enough_memory),
                                             notification{}});
}

}  // namespace detail

connection::connection(asio::any_io_executor ex, std::string conninfo)
    : impl_(std::make_shared<connection_impl>(std::move(ex), std::move(conninfo))) {}

connection::~connection() {
  // Closed on the strand (an operation in flight keeps the impl, and ends with the close).
  asio::dispatch(impl_->strand_, [impl = impl_] { impl->close(); });
}

bool connection::is_open() const { return impl_->is_open(); }
void connection::close() {
  asio::dispatch(impl_->strand_, [impl = impl_] { impl->close(); });
}
std::string connection::error_message() const { return impl_->error_message(); }
std::string connection::sqlstate() const { return impl_->sqlstate(); }

}  // namespace jobs::pg
