// A body can throw anything: the run fails with that very exception, and the thread running the
// execution context never sees it.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/test/unit_test.hpp>

#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobs::state;

namespace {

struct coded_error : std::runtime_error {
  explicit coded_error(const std::string& s, int c) : std::runtime_error(s), code(c) {}
  int code;
};

struct not_an_exception {
  int value;
};

// Runs a job whose body throws `make()` (after one suspension if `late`), captures the thrown
// object as the body saw it, and returns it. The io_context thread must never see it.
template <class Make>
struct thrower {
  thrower(Make m, bool l) : make(std::move(m)), late(l) {}
  Make make;
  bool late;

  std::exception_ptr thrown;
  jobs::body body() {
    return [this](jobs::context& ctx) -> asio::awaitable<void> {
      if (late) {
        asio::steady_timer t(ctx.get_executor(), 1ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      try {
        make();
      } catch (...) {
        thrown = std::current_exception();
        throw;
      }
    };
  }
};

template <class Make>
void run_and_check_the_same_object(thrower<Make>& t, jobs::job& j, asio::io_context& io) {
  BOOST_TEST(j.run());
  BOOST_CHECK_NO_THROW(io.run());
  BOOST_TEST(j.state() == state::failed);
  BOOST_TEST_REQUIRE(bool(t.thrown));
  BOOST_TEST((j.error() == t.thrown));  // the same exception object, not a copy
}

}  // namespace

BOOST_AUTO_TEST_SUITE(exceptions)

BOOST_AUTO_TEST_CASE(a_std_exception_subclass) {
  for (bool late : {false, true}) {
    asio::io_context io;
    thrower t{[] { throw coded_error("broken pipe dream", 7); }, late};
    jobs::job j(io, "std", t.body());
    run_and_check_the_same_object(t, j, io);
    try {
      std::rethrow_exception(j.error());
    } catch (const coded_error& e) {
      BOOST_TEST(std::string(e.what()) == "broken pipe dream");
      BOOST_TEST(e.code == 7);
      BOOST_TEST((typeid(e) == typeid(coded_error)));
    } catch (...) {
      BOOST_FAIL("wrong dynamic type");
    }
    BOOST_TEST(j.stats().error == "broken pipe dream");
  }
}

BOOST_AUTO_TEST_CASE(a_boost_system_error) {
  asio::io_context io;
  thrower t{[] { throw boost::system::system_error(make_error_code(boost::system::errc::io_error), "disk"); },
            true};
  jobs::job j(io, "sys", t.body());
  run_and_check_the_same_object(t, j, io);
  const auto code = jobs_test::code_of(j.error());
  BOOST_TEST(code == boost::system::errc::io_error);
  BOOST_TEST(j.stats().error == jobs_test::what_of(t.thrown));
  BOOST_TEST(j.stats().error.find("disk") != std::string::npos);
}

// Without a cancellation request, a body that throws operation_aborted has simply failed.
BOOST_AUTO_TEST_CASE(operation_aborted_without_cancel_is_a_failure) {
  asio::io_context io;
  thrower t{[] { throw boost::system::system_error(asio::error::operation_aborted); }, true};
  jobs::job j(io, "aborted", t.body());
  run_and_check_the_same_object(t, j, io);
  BOOST_TEST(jobs_test::code_of(j.error()) == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(an_int) {
  asio::io_context io;
  thrower t{[] { throw 42; }, false};
  jobs::job j(io, "int", t.body());
  run_and_check_the_same_object(t, j, io);
  try {
    std::rethrow_exception(j.error());
  } catch (int v) {
    BOOST_TEST(v == 42);
  } catch (...) {
    BOOST_FAIL("wrong dynamic type");
  }
  BOOST_TEST(j.stats().error == "unknown exception");
}

BOOST_AUTO_TEST_CASE(a_type_not_derived_from_std_exception) {
  asio::io_context io;
  thrower t{[] { throw not_an_exception{5}; }, true};
  jobs::job j(io, "odd", t.body());
  run_and_check_the_same_object(t, j, io);
  try {
    std::rethrow_exception(j.error());
  } catch (const not_an_exception& e) {
    BOOST_TEST(e.value == 5);
  } catch (...) {
    BOOST_FAIL("wrong dynamic type");
  }
  BOOST_TEST(j.stats().error == "unknown exception");
}

BOOST_AUTO_TEST_CASE(a_c_string) {
  asio::io_context io;
  thrower t{[] { throw "string panic"; }, false};
  jobs::job j(io, "cstr", t.body());
  run_and_check_the_same_object(t, j, io);
  BOOST_CHECK_THROW(std::rethrow_exception(j.error()), const char*);
  BOOST_TEST(j.stats().error == "unknown exception");
}

// The body function itself (not its coroutine) throws before returning an awaitable.
BOOST_AUTO_TEST_CASE(a_body_function_that_throws_before_returning_its_awaitable) {
  asio::io_context io;
  jobs::job j(io, "eager", [](jobs::context&) -> asio::awaitable<void> { throw coded_error("eager", 1); });
  BOOST_TEST(j.run());
  BOOST_CHECK_NO_THROW(io.run());
  BOOST_TEST(j.state() == state::failed);
  BOOST_CHECK_THROW(std::rethrow_exception(j.error()), coded_error);
  BOOST_TEST(j.stats().error == "eager");
}

BOOST_AUTO_TEST_CASE(an_exception_from_a_nested_coroutine) {
  asio::io_context io;
  std::exception_ptr thrown;
  auto inner = [&](asio::any_io_executor ex) -> asio::awaitable<void> {
    asio::steady_timer t(ex, 1ms);
    co_await t.async_wait(asio::use_awaitable);
    try {
      throw coded_error("deep", 3);
    } catch (...) {
      thrown = std::current_exception();
      throw;
    }
  };
  jobs::job j(io, "nested",
              [&](jobs::context& ctx) -> asio::awaitable<void> { co_await inner(ctx.get_executor()); });
  BOOST_TEST(j.run());
  BOOST_CHECK_NO_THROW(io.run());
  BOOST_TEST(j.state() == state::failed);
  BOOST_TEST((j.error() == thrown));
}

BOOST_AUTO_TEST_CASE(progress_and_result_survive_a_failure) {
  asio::io_context io;
  jobs::job j(io, "partial", [](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(0.4);
    ctx.set_result(std::string("half"));
    throw coded_error("midway", 2);
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(j.state() == state::failed);
  BOOST_TEST(j.progress() == 0.4);
  BOOST_TEST(j.result<std::string>() == "half");
}

BOOST_AUTO_TEST_CASE(every_delivery_path_carries_the_same_object) {
  asio::io_context io;
  std::exception_ptr thrown, from_handler, from_awaitable;
  jobs::job j(io, "paths", [&](jobs::context&) -> asio::awaitable<void> {
    try {
      throw coded_error("same", 9);
    } catch (...) {
      thrown = std::current_exception();
      throw;
    }
    co_return;
  });
  j.async_run([&](std::exception_ptr e) { from_handler = e; });
  io.run();
  BOOST_TEST((from_handler == thrown));
  BOOST_TEST((j.error() == thrown));
  io.restart();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await j.async_run();
        } catch (...) {
          from_awaitable = std::current_exception();
        }
      },
      asio::detached);
  io.run();
  BOOST_TEST((from_awaitable == thrown));  // `thrown` was replaced by the second run's object
}

BOOST_AUTO_TEST_CASE(a_thread_pool_never_sees_it) {
  asio::thread_pool pool(4);
  std::vector<jobs::job> all;
  for (int i = 0; i < 16; ++i)
    all.emplace_back(pool, "", [i](jobs::context&) -> asio::awaitable<void> {
      if (i % 2) throw i;
      throw coded_error("pool", i);
      co_return;
    });
  for (auto& j : all) BOOST_TEST(j.run());
  for (auto& j : all) j.wait();
  for (auto& j : all) BOOST_TEST(j.state() == state::failed);
  pool.join();  // would terminate (or rethrow) had a pool thread seen an exception
}

BOOST_AUTO_TEST_CASE(a_what_that_reads_the_job_runs_outside_its_mutex) {
  // what() is user code: the job takes the text of the body's exception once, without its
  // mutex held, so that a what() that reads the job (here its state and progress) cannot
  // deadlock, neither at the run's end nor while a watcher is handed a snapshot.
  struct reads_the_job : std::exception {
    const jobs::job* j;
    explicit reads_the_job(const jobs::job* jj) : j(jj) {}
    const char* what() const noexcept override {
      (void)j->state();
      (void)j->progress();
      return "what() read the job";
    }
  };
  asio::io_context io;
  std::optional<jobs::job> self;
  self.emplace(io, "what-reads", [&](jobs::context&) -> asio::awaitable<void> {
    throw reads_the_job(&*self);
    co_return;
  });
  jobs::stats seen;
  int calls = 0;
  self->async_watch(self->stats().version + 1, [&](boost::system::error_code, jobs::stats s) {
    ++calls;
    seen = std::move(s);
  });  // armed past the run's start: completes with the run's end
  BOOST_TEST(self->run());
  // Run on a thread with a bounded wait: a what() under the mutex would deadlock it, and the
  // test must fail then, not hang.
  std::promise<void> ran;
  std::thread runner([&] {
    io.run();
    ran.set_value();
  });
  const bool finished = ran.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  if (!finished) {
    runner.detach();  // deadlocked: nothing to join
    BOOST_FAIL("the end of the run deadlocked in what()");
  }
  runner.join();
  BOOST_TEST(self->state() == state::failed);
  BOOST_TEST(self->stats().error == "what() read the job");
  BOOST_TEST_REQUIRE(calls == 1);
  BOOST_TEST(seen.state == state::failed);
  BOOST_TEST(seen.error == "what() read the job");
}

BOOST_AUTO_TEST_SUITE_END()
