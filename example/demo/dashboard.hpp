// The demo's view of its jobs: one row per job, kept up to date by one watcher coroutine per job
// (`co_await job.async_watch(version)`, no polling). On a terminal it redraws the table in place,
// at most once per frame; otherwise it prints every change of state as a line.
#pragma once

#include <jobs/jobs.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <vector>

namespace demo {

namespace asio = boost::asio;

/// One job on the dashboard.
struct row {
  jobs::job job;
  std::optional<jobs::executor> exec;  ///< the executor that starts it, if any (for RETRIES)
  bool collapsible = false;            ///< may be folded into one line when the terminal is short
  std::string note;                    ///< what the scenario last said about it
  jobs::stats last;                    ///< the latest snapshot its watcher received
  std::vector<jobs::stats> ends;       ///< the terminal snapshot of each of its runs, in order
};

class dashboard {
 public:
  /// `live`: redraw in place with ANSI escapes (stdout is a terminal); else print lines.
  dashboard(asio::io_context& io, bool live, std::string title);

  /// Adds a row (before start()).
  void add(jobs::job j, std::optional<jobs::executor> exec = {}, bool collapsible = false);

  /// Spawns one watcher per row and, when live, the redraw loop.
  void start();

  /// Sets the row's note; with `log`, also adds it to the event log as "<id>: <text>".
  void note(const jobs::job& j, std::string text, bool log = true);

  /// Adds a line to the event log (printed at once in plain mode).
  void event(std::string text);

  /// Once every change already delivered has been shown: cancels the watches (only the watches:
  /// the jobs are not affected) and draws the last frame.
  void stop();

  const std::deque<row>& rows() const { return rows_; }
  /// Seconds since the dashboard was created.
  double elapsed() const;

 private:
  asio::awaitable<void> watch(row& r);
  asio::awaitable<void> redraw_loop();
  void changed();
  void draw();
  std::vector<std::string> frame(std::size_t width, std::size_t height) const;
  void print_change(const row& r, const jobs::stats& s) const;
  row& find(const jobs::job& j);

  asio::io_context& io_;
  bool live_;
  std::string title_;
  std::chrono::steady_clock::time_point t0_;
  std::deque<row> rows_;
  std::list<asio::cancellation_signal> watches_;  // one per watcher; stop() emits them
  std::deque<std::string> events_;                // the last few, shown under the table
  asio::steady_timer wake_;                       // cancelled by changed() to wake the redraw loop
  bool dirty_ = false;
  bool stopping_ = false;
  std::size_t drawn_ = 0;  // lines of the last frame, to move back over them
};

}  // namespace demo
