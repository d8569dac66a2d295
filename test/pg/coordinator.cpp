// with_coordinator on jobs::pg::lease_coordinator, in one process (replicas as separate
// coordinators, each with its own connections and holder id): refusals, fencing epochs, a
// stolen lease, hostile names, a wrong connection string, a start cancelled while it acquires.
// The multi-process cases are in test/pg_multi.
#include "pg_env.hpp"

#include <jobs/executor.hpp>
#include <jobs/pg/lease_coordinator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <random>
#include <set>
#include <tuple>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

namespace {

std::string unique(std::string base) {
  static std::mt19937_64 rng{std::random_device{}()};
  return base + "-" + std::to_string(rng());
}

std::shared_ptr<jobs::pg::lease_coordinator> replica(asio::io_context& io,
                                                     std::string conninfo = pg_test::conninfo()) {
  return std::make_shared<jobs::pg::lease_coordinator>(io.get_executor(), std::move(conninfo));
}

// Starts `e` and runs `io` until the start completes (30 s at most); its error (null: success).
std::exception_ptr start_and_wait(asio::io_context& io, jobs::executor& e) {
  std::optional<std::exception_ptr> got;
  e.async_start([&](std::exception_ptr x) { got = x; });
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (!got && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(10ms);
  }
  BOOST_TEST_REQUIRE(got.has_value());
  return *got;
}

boost::system::error_code code_of(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const boost::system::system_error& x) {
    return x.code();
  } catch (...) {
  }
  return {};
}
std::string what_of(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
  return "";
}

// Runs `io` until `done()`, at most `limit`; whether it became true.
template <class F>
bool run_until(asio::io_context& io, F done, std::chrono::nanoseconds limit = 30s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(5ms);
  }
  return done();
}

// A session of the test's own on the cluster, beside the coordinators': one statement at a time,
// each run to its end.
class session {
 public:
  explicit session(asio::io_context& io) : io_(io), c_(io.get_executor(), pg_test::conninfo()) {
    std::optional<error_code> ec;
    c_.async_connect(5s, [&](error_code e) { ec = e; });
    BOOST_TEST_REQUIRE(run_until(io_, [&] { return ec.has_value(); }));
    BOOST_TEST_REQUIRE(!*ec, c_.error_message());
  }
  jobs::pg::result exec(std::string sql, std::vector<jobs::pg::param> params = {}) {
    std::optional<std::tuple<error_code, jobs::pg::result>> got;
    c_.async_exec(std::move(sql), std::move(params),
                  [&](error_code ec, jobs::pg::result r) { got.emplace(ec, std::move(r)); });
    BOOST_TEST_REQUIRE(run_until(io_, [&] { return got.has_value(); }));
    BOOST_TEST_REQUIRE(!std::get<0>(*got), c_.error_message());
    return std::move(std::get<1>(*got));
  }

 private:
  asio::io_context& io_;
  jobs::pg::connection c_;
};
}  // namespace

BOOST_AUTO_TEST_SUITE(pg_coordinator)

BOOST_AUTO_TEST_CASE(bad_options_are_refused_with_a_clear_error) {
  asio::io_context io;
  BOOST_CHECK_EXCEPTION(jobs::with_coordinator(nullptr, "x"), std::invalid_argument, [](const auto& e) {
    return std::string(e.what()).find("coordinator is null") != std::string::npos;
  });
  BOOST_CHECK_EXCEPTION(
      jobs::with_coordinator(replica(io), "x", {.lease = 1ms}), std::invalid_argument,
      [](const auto& e) { return std::string(e.what()).find("at least 30ms") != std::string::npos; });
}

BOOST_AUTO_TEST_CASE(once_fleet_wide_with_a_fencing_token_and_growing_epochs) {
  asio::io_context io;
  const std::string name = unique("once");
  std::vector<std::optional<std::uint64_t>> tokens;
  auto body = [&](jobs::context& ctx) -> asio::awaitable<void> {
    tokens.push_back(ctx.fencing_token());
    co_return;
  };
  jobs::job ja(io, "a", body), jb(io, "b", body), jc(io, "c", body);
  // A fails first (no once latch), then succeeds; B is refused with errc::once.
  bool fail = true;
  jobs::job jf(io, "f", [&](jobs::context& ctx) -> asio::awaitable<void> {
    tokens.push_back(ctx.fencing_token());
    if (fail) throw std::runtime_error("first try fails");
    co_return;
  });
  jobs::executor a(jf, jobs::once(), jobs::with_coordinator(replica(io), name, {.lease = 5s}));
  jobs::executor b(jb, jobs::once(), jobs::with_coordinator(replica(io), name, {.lease = 5s}));
  BOOST_TEST(what_of(start_and_wait(io, a)) == "first try fails");
  fail = false;
  BOOST_TEST(!start_and_wait(io, a));
  const auto refused = start_and_wait(io, b);
  BOOST_TEST(code_of(refused) == jobs::errc::once);
  BOOST_TEST(what_of(refused).find("only start once") != std::string::npos, what_of(refused));
  BOOST_TEST_REQUIRE(tokens.size() == 2u);
  BOOST_TEST_REQUIRE(tokens[0].has_value());
  BOOST_TEST_REQUIRE(tokens[1].has_value());
  BOOST_TEST(*tokens[1] > *tokens[0]);

  // A start without a coordinator has no token.
  jobs::executor plain(jc);
  BOOST_TEST(!start_and_wait(io, plain));
  BOOST_TEST_REQUIRE(tokens.size() == 3u);
  BOOST_TEST(!tokens[2].has_value());
  (void)ja;
}

BOOST_AUTO_TEST_CASE(another_replica_running_is_still_pending_then_cooldown_with_time_left) {
  asio::io_context io;
  const std::string name = unique("pending");
  asio::steady_timer gate(io, asio::steady_timer::time_point::max());
  std::atomic<int> entered = 0;
  jobs::job ja(io, "a", [&](jobs::context&) -> asio::awaitable<void> {
    ++entered;
    co_await gate.async_wait(asio::as_tuple(asio::deferred));
  });
  jobs::job jb(io, "b", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  jobs::executor a(ja, jobs::with_cooldown(30s), jobs::with_coordinator(replica(io), name, {.lease = 5s}));
  jobs::executor b(jb, jobs::with_cooldown(30s), jobs::with_coordinator(replica(io), name, {.lease = 5s}));
  std::optional<std::exception_ptr> a_done;
  a.async_start([&](std::exception_ptr e) { a_done = e; });
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (entered == 0 && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(10ms);
  }
  BOOST_TEST_REQUIRE(entered == 1);
  const auto pending = start_and_wait(io, b);
  BOOST_TEST(code_of(pending) == jobs::errc::still_pending);
  BOOST_TEST(what_of(pending).find("held by another replica") != std::string::npos, what_of(pending));
  gate.cancel();
  while (!a_done && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(10ms);
  }
  BOOST_TEST_REQUIRE(a_done.has_value());
  BOOST_TEST(!*a_done);
  const auto cooling = start_and_wait(io, b);
  BOOST_TEST(code_of(cooling) == jobs::errc::cooldown);
  BOOST_TEST(what_of(cooling).find("job is still in cooldown, ") == 0u, what_of(cooling));
  BOOST_TEST(what_of(cooling).find(" left") != std::string::npos);
  BOOST_TEST(b.stats().starts == 0u);  // a refused start records nothing
}

BOOST_AUTO_TEST_CASE(a_lease_taken_over_cancels_the_run_with_lease_lost) {
  asio::io_context io;
  const std::string name = unique("stolen");
  auto store = replica(io);
  std::optional<std::uint64_t> token;
  std::optional<error_code> reason;
  jobs::job j(io, "holder", [&](jobs::context& ctx) -> asio::awaitable<void> {
    token = ctx.fencing_token();
    asio::steady_timer t(co_await asio::this_coro::executor, 60s);
    co_await t.async_wait(asio::as_tuple(asio::deferred));
    reason = ctx.cancel_reason();
  });
  jobs::executor e(j, jobs::with_retry(3, 0ms), jobs::with_coordinator(store, name, {.lease = 600ms}));
  std::optional<std::exception_ptr> done;
  e.async_start([&](std::exception_ptr x) { done = x; });
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (!token && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(10ms);
  }
  BOOST_TEST_REQUIRE(token.has_value());
  // Another holder takes the row over (as a replica would after the lease lapsed).
  std::optional<error_code> stolen;
  store->async_exec("UPDATE jobs_lease SET holder = 'thief', epoch = epoch + 1 WHERE name = $1",
                    {jobs::pg::bytes(name)}, [&](error_code ec, jobs::pg::result) { stolen = ec; });
  while (!done && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(10ms);
  }
  BOOST_TEST_REQUIRE(done.has_value());
  BOOST_TEST(!*stolen);
  BOOST_TEST(code_of(*done) == jobs::errc::lease_lost, what_of(*done));
  BOOST_TEST(what_of(*done).find("lease lost") != std::string::npos);
  BOOST_TEST_REQUIRE(reason.has_value());
  BOOST_TEST(*reason == jobs::errc::lease_lost);
  BOOST_TEST(j.state() == jobs::state::canceled);
  BOOST_TEST(code_of(j.error()) == jobs::errc::lease_lost);
  BOOST_TEST(e.stats().attempts.size() == 1u);  // no retry without the lease
}

BOOST_AUTO_TEST_CASE(hostile_names_are_stored_intact) {
  asio::io_context io;
  auto store = replica(io);
  const std::string tag = unique("");
  const std::vector<std::string> names = {
      std::string(10000, 'x') + tag,
      "'); DROP TABLE jobs_lease; --" + tag,
      "quote\"double\" and 'single' and \\ backslash" + tag,
      std::string("nul\0inside", 10) + tag,
      std::string("nul", 3) + tag,  // distinct from the one with the NUL
      "ジョブ ✓ 🙂 émigré" + tag,
      std::string("\xff\xfe not utf-8", 13) + tag,
  };
  for (const auto& n : names) {
    jobs::job j(io, "hostile", [](jobs::context&) -> asio::awaitable<void> { co_return; });
    jobs::executor e(j, jobs::once(), jobs::with_coordinator(store, n, {.lease = 5s}));
    BOOST_TEST(!start_and_wait(io, e));
    // A second replica sees the once latch of exactly that name.
    jobs::executor again(j, jobs::once(), jobs::with_coordinator(replica(io), n, {.lease = 5s}));
    BOOST_TEST(code_of(start_and_wait(io, again)) == jobs::errc::once);
  }
  std::optional<jobs::pg::result> rows;
  store->async_exec(
      "SELECT encode(name, 'hex'), once_done FROM jobs_lease WHERE position($1::bytea in name) > 0",
      {jobs::pg::bytes(tag)}, [&](error_code ec, jobs::pg::result r) {
        BOOST_TEST(!ec);
        rows = std::move(r);
      });
  while (!rows) {
    io.restart();
    io.run_for(10ms);
  }
  BOOST_TEST_REQUIRE(rows->rows.size() == names.size());
  std::set<std::string> stored;
  for (auto& r : rows->rows) {
    stored.insert(*r[0]);
    BOOST_TEST(*r[1] == "t");
  }
  for (const auto& n : names) BOOST_TEST(stored.count(pg_test::hex(n)) == 1u);
}

BOOST_AUTO_TEST_CASE(a_wrong_connection_string_refuses_the_start_with_the_reason) {
  asio::io_context io;
  jobs::job j(io, "nowhere", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  jobs::executor e(j, jobs::with_coordinator(replica(io, "host=/nonexistent/socket/dir user=nobody"), "x"));
  const auto t0 = std::chrono::steady_clock::now();
  const auto err = start_and_wait(io, e);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 10s));
  BOOST_TEST(code_of(err) == jobs::pg::errc::connect_failed);
  BOOST_TEST(what_of(err).find("cannot acquire the lease \"x\"") != std::string::npos, what_of(err));
  BOOST_TEST(what_of(err).find("/nonexistent/socket/dir") != std::string::npos, what_of(err));
  BOOST_TEST(j.stats().state == jobs::state::created);  // the body never ran
  BOOST_TEST(e.stats().starts == 0u);
}

// A job that counts its runs and keeps the fencing token its last run saw, started through an
// executor coordinated on the lease `name` (5 s leases): the cancellation tests' setup.
struct counted_coordinated_job {
  counted_coordinated_job(asio::io_context& io, std::string lease_name)
      : name(std::move(lease_name)),
        j(io, "acquiring",
          [this](jobs::context& ctx) -> asio::awaitable<void> {
            ++runs;
            token = ctx.fencing_token();
            co_return;
          }),
        e(j, jobs::with_coordinator(replica(io), name, {.lease = 5s})) {}
  auto parts() { return std::tie(name, runs, token, e); }

  std::string name;
  int runs = 0;
  std::optional<std::uint64_t> token;
  jobs::job j;
  jobs::executor e;
};

// The caller cancels a start while its acquisition waits on the server: a second session holds
// the lease row's lock (SELECT ... FOR UPDATE in an open transaction), so the acquire statement
// is blocked on the server when the cancellation arrives. The start ends with errc::canceled,
// its body never runs, the server stops the statement (PQcancel: nothing is left waiting on the
// lock), the row is as it was, and the next start acquires it.
void cancel_while_the_acquire_waits_on_the_row_lock(asio::cancellation_type type) {
  asio::io_context io;
  counted_coordinated_job c(io, unique("cancel-acquire"));
  auto [name, runs, token, e] = c.parts();
  // A first start makes the row (and the table), and releases it.
  BOOST_TEST_REQUIRE(!start_and_wait(io, e));
  BOOST_TEST_REQUIRE(token.has_value());
  const std::uint64_t first_epoch = *token;

  session blocker(io), watcher(io);
  const std::string blocker_pid = *blocker.exec("SELECT pg_backend_pid()").rows.at(0).at(0);
  blocker.exec("BEGIN");
  const auto locked =
      blocker.exec("SELECT epoch FROM jobs_lease WHERE name = $1 FOR UPDATE", {jobs::pg::bytes(name)});
  BOOST_TEST_REQUIRE(locked.rows.size() == 1u);
  BOOST_TEST(*locked.rows[0][0] == std::to_string(first_epoch));

  asio::cancellation_signal cancel;
  std::optional<std::exception_ptr> done;
  e.async_start(asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr x) { done = x; }));
  // The server says when the acquire is blocked: a backend waiting on the blocker's lock.
  const std::string blocked_sql =
      "SELECT pid, query FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))";
  jobs::pg::result blocked;
  BOOST_TEST_REQUIRE(run_until(io, [&] {
    blocked = watcher.exec(blocked_sql, {jobs::pg::text(blocker_pid)});
    return !blocked.rows.empty();
  }));
  BOOST_TEST_REQUIRE(blocked.rows.size() == 1u);
  BOOST_TEST(blocked.rows[0][1]->find("INSERT INTO jobs_lease") != std::string::npos, *blocked.rows[0][1]);
  BOOST_TEST_REQUIRE(!done.has_value());

  cancel.emit(type);
  BOOST_TEST_REQUIRE(run_until(
      io, [&] { return done.has_value(); }, 10s));
  BOOST_TEST(code_of(*done) == jobs::errc::canceled, what_of(*done));
  BOOST_TEST(code_of(*done) == boost::system::errc::operation_canceled);
  BOOST_TEST(runs == 1);               // the body never ran
  BOOST_TEST(e.stats().starts == 1u);  // nor was the start admitted
  // The statement was stopped on the server, with the blocker's lock still held: nothing waits
  // on it any more (a statement left running would take the lease once the lock is released).
  BOOST_TEST(run_until(io, [&] {
    blocked = watcher.exec(blocked_sql, {jobs::pg::text(blocker_pid)});
    return blocked.rows.empty();
  }));
  blocker.exec("ROLLBACK");

  // The row is as the first start left it: released, same epoch.
  const auto row = watcher.exec(
      "SELECT epoch, holder, expires_at IS NOT NULL AND expires_at > now() FROM jobs_lease WHERE name = $1",
      {jobs::pg::bytes(name)});
  BOOST_TEST_REQUIRE(row.rows.size() == 1u);
  BOOST_TEST(*row.rows[0][0] == std::to_string(first_epoch));
  BOOST_TEST(*row.rows[0][1] == "");
  BOOST_TEST(*row.rows[0][2] == "f");

  // The next start acquires at once, under the next epoch.
  BOOST_TEST(!start_and_wait(io, e));
  BOOST_TEST(runs == 2);
  BOOST_TEST_REQUIRE(token.has_value());
  BOOST_TEST(*token == first_epoch + 1);
}

BOOST_AUTO_TEST_CASE(a_start_cancelled_while_its_acquire_waits_on_the_server_ends_canceled) {
  cancel_while_the_acquire_waits_on_the_row_lock(asio::cancellation_type::terminal);
}

BOOST_AUTO_TEST_CASE(a_partial_cancellation_of_the_acquire_is_honoured_too) {
  cancel_while_the_acquire_waits_on_the_row_lock(asio::cancellation_type::partial);
}

// A cancellation emitted right after async_start, before the store has even taken the acquire
// (its statement then runs and is granted): the grant is given back, the body never runs, and the
// start ends with errc::canceled once the lease is free again.
BOOST_AUTO_TEST_CASE(a_start_cancelled_at_once_gives_a_grant_back_and_never_runs_the_body) {
  asio::io_context io;
  counted_coordinated_job c(io, unique("cancel-at-once"));
  auto [name, runs, token, e] = c.parts();
  asio::cancellation_signal cancel;
  std::optional<std::exception_ptr> done;
  e.async_start(asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr x) { done = x; }));
  cancel.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(
      io, [&] { return done.has_value(); }, 10s));
  BOOST_TEST(code_of(*done) == jobs::errc::canceled, what_of(*done));
  BOOST_TEST(runs == 0);
  BOOST_TEST(e.stats().starts == 0u);

  session watcher(io);
  const auto row = watcher.exec(
      "SELECT holder, expires_at IS NOT NULL AND expires_at > now() FROM jobs_lease WHERE name = $1",
      {jobs::pg::bytes(name)});
  for (const auto& r : row.rows) {  // no row: the acquire never reached the server
    BOOST_TEST(*r[0] == "");
    BOOST_TEST(*r[1] == "f");
  }
  BOOST_TEST(!start_and_wait(io, e));
  BOOST_TEST(runs == 1);
  BOOST_TEST(token.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
