// jobs/pg/lease_coordinator.hpp — jobs::coordinator on PostgreSQL: one lease row per job name
// in a table created if missing (jobs_lease), acquire/renew/release each one statement on the
// database's clock, an epoch per acquisition as the fencing token, no advisory locks (they break
// behind PgBouncer's transaction pooling), and NOTIFY on release for replicas that wait.
#pragma once

#include <jobs/coordination.hpp>
#include <jobs/pg/connection.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace jobs::pg {

struct coordinator_options {
  std::chrono::nanoseconds connect_timeout{std::chrono::seconds(5)};
  /// Reconnection backoff: the first retry after `backoff_initial`, doubling up to `backoff_max`.
  std::chrono::nanoseconds backoff_initial{std::chrono::milliseconds(50)};
  std::chrono::nanoseconds backoff_max{std::chrono::seconds(2)};
};

class coordinator_impl;

namespace detail {
using wait_handler = asio::any_completion_handler<void(boost::system::error_code)>;
void initiate_wait_release(const std::shared_ptr<coordinator_impl>& c, std::string name,
                           std::chrono::nanoseconds max_wait, wait_handler h);
using exec_handler = asio::any_completion_handler<void(boost::system::error_code, result)>;
void initiate_coordinator_exec(const std::shared_ptr<coordinator_impl>& c, std::string sql,
                               std::vector<param> params, exec_handler h);
}  // namespace detail

/// Statements go out one at a time on one connection, in order; NOTIFY arrives on a second one
/// (opened by the first async_wait_release). A lost connection is reopened with backoff at the
/// next statement; a statement that finds no connection fails with the reason (no hang: the
/// connect timeout bounds it).
///
/// \par Thread safety  every member, from any thread.
class lease_coordinator final : public coordinator {
 public:
  /// `conninfo`: a libpq connection string ("host=/tmp/pg dbname=app", or a URI). Nothing is
  /// contacted until the first operation.
  lease_coordinator(asio::any_io_executor ex, std::string conninfo, coordinator_options o = {});
  ~lease_coordinator() override;

  void async_acquire(const std::string& name, std::chrono::nanoseconds lease, acquire_handler h) override;
  void async_renew(const std::string& name, std::uint64_t epoch, std::chrono::nanoseconds lease,
                   done_handler h) override;
  void async_release(const std::string& name, std::uint64_t epoch, lease_outcome outcome,
                     done_handler h) override;
  std::string last_error() const override;

  /// Waits until the lease `name` is released by a replica (NOTIFY), or `max_wait` passed (the
  /// fallback: a replica that waits should pass the lease length, then try again). void(error_code):
  /// success either way; operation_aborted when cancelled; a connection failure otherwise.
  template <class Token = asio::deferred_t>
  auto async_wait_release(std::string name, std::chrono::nanoseconds max_wait, Token&& token = {}) {
    return asio::async_initiate<Token, void(boost::system::error_code)>(
        [impl = impl_, max_wait](auto h, std::string n) {
          detail::initiate_wait_release(impl, std::move(n), max_wait, detail::wait_handler(std::move(h)));
        },
        token, std::move(name));
  }

  /// A statement of the application's on the coordinator's connection, queued behind the
  /// lease statements (e.g. a write guarded by ctx.fencing_token()). void(error_code, result).
  template <class Token = asio::deferred_t>
  auto async_exec(std::string sql, std::vector<param> params, Token&& token = {}) {
    return asio::async_initiate<Token, void(boost::system::error_code, result)>(
        [impl = impl_](auto h, std::string s, std::vector<param> p) {
          detail::initiate_coordinator_exec(impl, std::move(s), std::move(p),
                                            detail::exec_handler(std::move(h)));
        },
        token, std::move(sql), std::move(params));
  }

  /// This replica's holder id (host:pid:random), as stored in the lease row.
  const std::string& holder() const noexcept;

  /// The name of the lease table.
  static constexpr const char* table = "jobs_lease";

 private:
  std::shared_ptr<coordinator_impl> impl_;
};

}  // namespace jobs::pg
