// Helpers shared by the test suites: bounded waits on real events, a gate a job body can await,
// and a Boost.Log sink that captures records.
#pragma once

#include <jobs/context.hpp>
#include <jobs/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/core/null_deleter.hpp>
#include <boost/log/attributes/value_extraction.hpp>
#include <boost/log/core/core.hpp>
#include <boost/log/core/record_view.hpp>
#include <boost/log/expressions/message.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/trivial.hpp>
#include <boost/make_shared.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace jobs {
// Lets BOOST_TEST print a jobs::errc operand.
inline std::ostream& boost_test_print_type(std::ostream& os, errc e) { return os << make_error_code(e); }
}  // namespace jobs

namespace jobs_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Whether `part` occurs in `s`.
inline bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

/// The hard cap on every wait in the tests: far beyond what any wait needs on a loaded machine,
/// short enough that a broken implementation fails instead of hanging the suite.
inline constexpr std::chrono::seconds cap{20};

/// Runs `io` on this thread until `pred()` holds or `limit` has passed; returns `pred()`.
/// Handlers are run one at a time, so the predicate is checked after each of them.
template <class Pred>
bool poll_until(asio::io_context& io, Pred pred, std::chrono::steady_clock::duration limit = cap) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_one_for(5ms) == 0 && io.stopped()) {
      // Out of work: what we wait for must come from another thread.
      std::this_thread::yield();
    }
  }
  return true;
}

/// Waits (without running any io_context) until `pred()` holds or `limit` has passed.
template <class Pred>
bool spin_until(Pred pred, std::chrono::steady_clock::duration limit = cap) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

/// A one-shot event usable from any thread.
class event {
 public:
  void set() {
    {
      std::lock_guard lk(mu_);
      set_ = true;
    }
    cv_.notify_all();
  }
  bool is_set() const {
    std::lock_guard lk(mu_);
    return set_;
  }
  /// True if the event was set within `limit`.
  bool wait(std::chrono::steady_clock::duration limit = cap) const {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return set_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool set_ = false;
};

/// Something a body running on a single-threaded io_context can await until the test opens it.
/// `wait()` returns once `open()` was called, and throws `operation_aborted` if the awaiting
/// coroutine is cancelled first (e.g. by `job::cancel()`). Use it only from the io_context's
/// thread (timers are not thread-safe).
class gate {
 public:
  explicit gate(asio::any_io_executor ex) : timer_(std::move(ex), asio::steady_timer::time_point::max()) {}

  asio::awaitable<void> wait() {
    ++waiting_;
    struct leave {
      int& n;
      ~leave() { --n; }
    } l{waiting_};
    if (open_) co_return;
    try {
      co_await timer_.async_wait(asio::use_awaitable);
    } catch (const boost::system::system_error&) {
      if (!open_) throw;
    }
  }
  void open() {
    open_ = true;
    timer_.cancel();
  }
  /// How many coroutines are suspended in wait().
  int waiting() const { return waiting_; }

 private:
  asio::steady_timer timer_;
  bool open_ = false;
  int waiting_ = 0;
};

/// An awaitable that never completes unless the awaiting coroutine is cancelled (then it throws
/// operation_aborted).
inline asio::awaitable<void> forever(asio::any_io_executor ex) {
  asio::steady_timer t(std::move(ex), asio::steady_timer::time_point::max());
  co_await t.async_wait(asio::use_awaitable);
}

/// Like forever(), but returns the error code instead of throwing it.
inline asio::awaitable<boost::system::error_code> forever_ec(asio::any_io_executor ex) {
  asio::steady_timer t(std::move(ex), asio::steady_timer::time_point::max());
  auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

/// The dynamic type name and what() of an exception_ptr, for comparisons.
inline std::string what_of(const std::exception_ptr& e) {
  if (!e) return "<null>";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "<not a std::exception>";
  }
}

/// The error_code of an exception_ptr holding a boost::system::system_error, else empty.
inline boost::system::error_code code_of(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& x) {
    return x.code();
  } catch (...) {
    return {};
  }
}

// ---- log capture -------------------------------------------------------------------------------

struct captured_record {
  std::optional<boost::log::trivial::severity_level> severity;
  std::optional<std::string> channel;
  std::string message;
  /// Every attribute whose value is a std::string (e.g. "Job", "Channel").
  std::map<std::string, std::string> strings;
  /// Every attribute name present on the record.
  std::vector<std::string> names;

  std::optional<std::string> get(const std::string& name) const {
    auto it = strings.find(name);
    if (it == strings.end()) return std::nullopt;
    return it->second;
  }
};

class capture_backend
    : public boost::log::sinks::basic_sink_backend<boost::log::sinks::synchronized_feeding> {
 public:
  void consume(const boost::log::record_view& rec) {
    captured_record r;
    if (auto s = boost::log::extract<boost::log::trivial::severity_level>("Severity", rec)) r.severity = *s;
    if (auto m = rec[boost::log::expressions::smessage]) r.message = *m;
    for (const auto& [name, value] : rec.attribute_values()) {
      r.names.push_back(name.string());
      if (auto v = value.extract<std::string>()) r.strings[name.string()] = *v;
    }
    r.channel = r.get("Channel");
    records.push_back(std::move(r));
  }
  std::vector<captured_record> records;
};

/// Adds a sink that captures every record to the Boost.Log core for its lifetime.
class log_capture {
 public:
  using sink_t = boost::log::sinks::synchronous_sink<capture_backend>;

  /// Captures every record; the library's own records are turned on (from `level` up) while it
  /// lives, as an application does with jobs::set_log_level.
  explicit log_capture(std::optional<boost::log::trivial::severity_level> level = boost::log::trivial::trace)
      : sink_(boost::make_shared<sink_t>()), previous_(jobs::log_level()) {
    boost::log::core::get()->add_sink(sink_);
    jobs::set_log_level(level);
  }
  ~log_capture() {
    jobs::set_log_level(previous_);
    boost::log::core::get()->remove_sink(sink_);
    sink_->flush();
  }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  std::vector<captured_record> records() const { return sink_->locked_backend()->records; }

  /// The records that carry the attribute "Job" == id.
  std::vector<captured_record> for_job(const std::string& id) const {
    std::vector<captured_record> out;
    for (auto& r : records())
      if (r.get("Job") == id) out.push_back(r);
    return out;
  }

 private:
  boost::shared_ptr<sink_t> sink_;
  std::optional<boost::log::trivial::severity_level> previous_;
};

}  // namespace jobs_test
