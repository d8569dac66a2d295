// jobs::pg::connection against a real server: connect, bound parameters, errors that name the
// problem, cancellation of a running statement (PQcancel), LISTEN/NOTIFY.
#include "pg_env.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using jobs::pg::connection;

namespace {
// Runs `io` until `done`, at most 30 s; true if done.
template <class F>
bool run_until(asio::io_context& io, F done) {
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(20ms);
  }
  return done();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(pg_connection)

BOOST_AUTO_TEST_CASE(connects_and_binds_parameters_never_splicing_them) {
  asio::io_context io;
  connection c(io.get_executor(), pg_test::conninfo());
  std::optional<error_code> connected;
  c.async_connect(5s, [&](error_code ec) { connected = ec; });
  BOOST_TEST_REQUIRE(run_until(io, [&] { return connected.has_value(); }));
  BOOST_TEST_REQUIRE(!*connected, connected->message() << ": " << c.error_message());
  BOOST_TEST(c.is_open());

  // A hostile text and raw bytes with NUL go in as parameters and come back intact.
  const std::string hostile = "'); DROP TABLE x; --\" \\ ジョブ";
  const std::string raw("a\0b\xff", 4);
  std::optional<std::tuple<error_code, jobs::pg::result>> got;
  c.async_exec("SELECT $1::text, encode($2::bytea, 'hex'), length($2::bytea), NULL::text",
               {jobs::pg::text(hostile), jobs::pg::bytes(raw)},
               [&](error_code ec, jobs::pg::result r) { got.emplace(ec, std::move(r)); });
  BOOST_TEST_REQUIRE(run_until(io, [&] { return got.has_value(); }));
  auto& [ec, r] = *got;
  BOOST_TEST_REQUIRE(!ec, c.error_message());
  BOOST_TEST_REQUIRE(r.rows.size() == 1u);
  BOOST_TEST(*r.rows[0][0] == hostile);
  BOOST_TEST(*r.rows[0][1] == pg_test::hex(raw));
  BOOST_TEST(*r.rows[0][2] == "4");
  BOOST_TEST(!r.rows[0][3].has_value());
}

BOOST_AUTO_TEST_CASE(a_rejected_statement_names_the_problem_and_the_connection_goes_on) {
  asio::io_context io;
  connection c(io.get_executor(), pg_test::conninfo());
  std::optional<error_code> ec1, ec2;
  c.async_connect(5s, [&](error_code ec) {
    BOOST_TEST_REQUIRE(!ec);
    c.async_exec("SELECT * FROM no_such_table", {}, [&](error_code ec, jobs::pg::result) {
      ec1 = ec;
      c.async_exec("SELECT 1", {}, [&](error_code ec, jobs::pg::result) { ec2 = ec; });
    });
  });
  BOOST_TEST_REQUIRE(run_until(io, [&] { return ec2.has_value(); }));
  BOOST_TEST(*ec1 == jobs::pg::errc::query_failed);
  BOOST_TEST(!*ec2);
}

BOOST_AUTO_TEST_CASE(a_wrong_connection_string_fails_fast_with_the_reason) {
  asio::io_context io;
  // A "server" that accepts connections and never says a word.
  const std::string silent_dir = pg_test::cluster_dir() + "/silent";
  std::filesystem::create_directories(silent_dir);
  ::unlink((silent_dir + "/.s.PGSQL.5999").c_str());
  asio::local::stream_protocol::acceptor silent(
      io, asio::local::stream_protocol::endpoint(silent_dir + "/.s.PGSQL.5999"));
  std::vector<asio::local::stream_protocol::socket> accepted;
  std::function<void()> accept_more = [&] {
    silent.async_accept([&](error_code ec, asio::local::stream_protocol::socket s) {
      if (ec) return;
      accepted.push_back(std::move(s));
      accept_more();
    });
  };
  accept_more();
  struct bad_case {
    std::string conninfo;
    jobs::pg::errc want;
    std::string says;
  };
  const bad_case cases[] = {
      {"host=/nonexistent/dir user=postgres", jobs::pg::errc::connect_failed, "/nonexistent/dir"},
      {"this is not a connection string", jobs::pg::errc::connect_failed, "missing \"=\""},
      {"host=" + pg_test::cluster_dir() + " user=postgres dbname=no_such_db", jobs::pg::errc::connect_failed,
       "no_such_db"},
      // A socket that accepts and never answers (below): the connect timeout ends it, not a hang.
      {"host=" + silent_dir + " port=5999 user=postgres", jobs::pg::errc::connect_timeout, "timeout"},
  };
  for (const auto& bc : cases) {
    connection c(io.get_executor(), bc.conninfo);
    std::optional<error_code> got;
    const auto t0 = std::chrono::steady_clock::now();
    c.async_connect(1s, [&](error_code ec) { got = ec; });
    BOOST_TEST_REQUIRE(run_until(io, [&] { return got.has_value(); }));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 10s));
    BOOST_TEST(*got == bc.want, bc.conninfo << ": " << got->message());
    BOOST_TEST(c.error_message().find(bc.says) != std::string::npos, c.error_message());
    BOOST_TEST(!c.is_open());
  }
}

BOOST_AUTO_TEST_CASE(cancelling_a_running_statement_stops_it_on_the_server) {
  asio::io_context io;
  connection c(io.get_executor(), pg_test::conninfo()), watcher(io.get_executor(), pg_test::conninfo());
  std::optional<error_code> ended;
  asio::cancellation_signal sig;
  std::string pid;
  c.async_connect(5s, [&](error_code ec) {
    BOOST_TEST_REQUIRE(!ec);
    c.async_exec("SELECT pg_backend_pid()", {}, [&](error_code ec, jobs::pg::result r) {
      BOOST_TEST_REQUIRE(!ec);
      pid = *r.rows[0][0];
      c.async_exec(
          "SELECT pg_sleep(60)", {},
          asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, jobs::pg::result) { ended = ec; }));
    });
  });
  // Cancel once the server shows the statement running.
  watcher.async_connect(5s, [&](error_code) {});
  BOOST_TEST_REQUIRE(run_until(io, [&] { return !pid.empty() && watcher.is_open(); }));
  // What the server says that backend runs now ("" when idle), polled: the server's own view.
  auto activity = [&] {
    std::optional<std::string> q;
    watcher.async_exec(
        "SELECT coalesce((SELECT query FROM pg_stat_activity WHERE pid = $1::int "
        "AND state = 'active'), '')",
        {jobs::pg::text(pid)},
        [&](error_code ec, jobs::pg::result r) { q = ec ? "error" : r.rows.at(0).at(0).value_or(""); });
    run_until(io, [&] { return q.has_value(); });
    return *q;
  };
  auto poll_activity = [&](bool sleeping) {
    for (int i = 0; i < 1000; ++i) {
      if ((activity().find("pg_sleep") != std::string::npos) == sleeping) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  BOOST_TEST_REQUIRE(poll_activity(true));
  const auto t0 = std::chrono::steady_clock::now();
  sig.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(io, [&] { return ended.has_value(); }));
  BOOST_TEST(*ended == asio::error::operation_aborted);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 10s));
  // The server no longer runs it.
  BOOST_TEST(poll_activity(false));
}

BOOST_AUTO_TEST_CASE(listen_notify_as_an_async_operation_and_its_cancellation) {
  asio::io_context io;
  connection listener(io.get_executor(), pg_test::conninfo()), sender(io.get_executor(), pg_test::conninfo());
  int ready = 0;
  listener.async_connect(5s, [&](error_code ec) {
    BOOST_TEST_REQUIRE(!ec);
    listener.async_exec("LISTEN jobs_test_channel", {}, [&](error_code ec, jobs::pg::result) {
      BOOST_TEST_REQUIRE(!ec);
      ++ready;
    });
  });
  sender.async_connect(5s, [&](error_code ec) {
    BOOST_TEST_REQUIRE(!ec);
    ++ready;
  });
  BOOST_TEST_REQUIRE(run_until(io, [&] { return ready == 2; }));

  // A wait cancelled: operation_aborted, and the connection stays usable.
  asio::cancellation_signal sig;
  std::optional<error_code> aborted;
  listener.async_wait_notification(
      asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, jobs::pg::notification) { aborted = ec; }));
  io.poll();
  sig.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(io, [&] { return aborted.has_value(); }));
  BOOST_TEST(*aborted == asio::error::operation_aborted);
  BOOST_TEST(listener.is_open());

  std::optional<jobs::pg::notification> got;
  listener.async_wait_notification([&](error_code ec, jobs::pg::notification n) {
    BOOST_TEST(!ec);
    got = std::move(n);
  });
  sender.async_exec("SELECT pg_notify('jobs_test_channel', $1)", {jobs::pg::text("payload 'x'")},
                    [&](error_code ec, jobs::pg::result) { BOOST_TEST(!ec); });
  BOOST_TEST_REQUIRE(run_until(io, [&] { return got.has_value(); }));
  BOOST_TEST(got->channel == "jobs_test_channel");
  BOOST_TEST(got->payload == "payload 'x'");
}

BOOST_AUTO_TEST_SUITE_END()
