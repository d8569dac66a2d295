// jobs/pg/connection.hpp — one PostgreSQL connection on Asio, over libpq's non-blocking API
// (PQconnectStart/PQconnectPoll, PQsendQueryParams/PQflush, PQconsumeInput/PQgetResult), its
// socket waited on with asio::posix::stream_descriptor::async_wait. Only as wide as the lease
// coordinator needs: connect, one parameterised statement at a time, LISTEN/NOTIFY.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace jobs::pg {

namespace asio = boost::asio;

/// The connection's own failures (category "jobs.pg"); the server's text is in error_message().
enum class errc : int {
  connect_failed = 1,  ///< the connection string is wrong, or the server refused or is not there
  connect_timeout,     ///< no connection within the connect timeout
  not_connected,       ///< an operation on a connection that is not open
  connection_lost,     ///< the connection broke during the operation
  query_failed,        ///< the server rejected the statement (error_message(), sqlstate())
};
const boost::system::error_category& pg_category() noexcept;
inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), pg_category()};
}

/// One bound parameter: text, or binary bytes (for bytea: any bytes, NUL included), or NULL.
/// Parameters are always bound, never spliced into the SQL text.
struct param {
  std::optional<std::string> value;
  bool binary = false;
};
inline param text(std::string s) { return {std::move(s), false}; }
inline param bytes(std::string s) { return {std::move(s), true}; }

/// The rows of a statement, in text format (NULL → nullopt), and its command tag.
struct result {
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::string command;  ///< e.g. "UPDATE 1"
  std::size_t affected = 0;
};

struct notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;
};

class connection_impl;

namespace detail {
using connect_handler = asio::any_completion_handler<void(boost::system::error_code)>;
using exec_handler = asio::any_completion_handler<void(boost::system::error_code, result)>;
using notify_handler = asio::any_completion_handler<void(boost::system::error_code, notification)>;
void initiate_connect(const std::shared_ptr<connection_impl>& c, std::chrono::nanoseconds timeout,
                      connect_handler h);
void initiate_exec(const std::shared_ptr<connection_impl>& c, std::string sql, std::vector<param> params,
                   exec_handler h);
void initiate_wait_notification(const std::shared_ptr<connection_impl>& c, notify_handler h);
}  // namespace detail

/// \par Thread safety  Distinct objects: safe. Shared: not; one operation at a time (as for
///      Boost.MySQL's connection). Its operations run on a strand of the given executor.
/// \par Per-operation cancellation  terminal: connect → closed, operation_aborted; a running
///      statement → PQcancel on the server, the connection closed (reopen with async_connect),
///      operation_aborted; a notification wait → operation_aborted, the connection stays open.
/// \par Object lifetimes  operations in flight keep what they need alive; destroying the
///      connection closes it.
class connection {
 public:
  connection(asio::any_io_executor ex, std::string conninfo);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Opens (or reopens) the connection. void(error_code): errc::connect_failed (error_message()
  /// says why), errc::connect_timeout after `timeout`.
  template <class Token = asio::deferred_t>
  auto async_connect(std::chrono::nanoseconds timeout, Token&& token = {}) {
    return asio::async_initiate<Token, void(boost::system::error_code)>(
        [impl = impl_, timeout](auto h) {
          detail::initiate_connect(impl, timeout, detail::connect_handler(std::move(h)));
        },
        token);
  }

  /// One statement with bound parameters ($1, $2, ...). void(error_code, result).
  template <class Token = asio::deferred_t>
  auto async_exec(std::string sql, std::vector<param> params, Token&& token = {}) {
    return asio::async_initiate<Token, void(boost::system::error_code, result)>(
        [impl = impl_](auto h, std::string s, std::vector<param> p) {
          detail::initiate_exec(impl, std::move(s), std::move(p), detail::exec_handler(std::move(h)));
        },
        token, std::move(sql), std::move(params));
  }

  /// The next NOTIFY on a channel this connection LISTENs to (async_exec("LISTEN name")), also
  /// one that arrived during an earlier statement. void(error_code, notification).
  template <class Token = asio::deferred_t>
  auto async_wait_notification(Token&& token = {}) {
    return asio::async_initiate<Token, void(boost::system::error_code, notification)>(
        [impl = impl_](auto h) {
          detail::initiate_wait_notification(impl, detail::notify_handler(std::move(h)));
        },
        token);
  }

  bool is_open() const;
  /// Closes the connection (the socket is released from Asio before PQfinish closes it).
  void close();
  /// The server's or libpq's message of the last failure ("" if none), trimmed.
  std::string error_message() const;
  /// The SQLSTATE of the last failed statement ("" if none).
  std::string sqlstate() const;

 private:
  std::shared_ptr<connection_impl> impl_;
};

}  // namespace jobs::pg

template <>
struct boost::system::is_error_code_enum<jobs::pg::errc> : std::true_type {};
