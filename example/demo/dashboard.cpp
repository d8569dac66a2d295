// The demo's view of its jobs (see dashboard.hpp).
//
// Each job has one watcher coroutine looping on `co_await job.async_watch(seen)`: it wakes up only
// when the job has changed, with the latest snapshot (fast progress updates are coalesced) and,
// in order, the terminal snapshot of every run that ended. On a terminal the watchers only mark
// the table dirty; a redraw loop draws it at most once per frame. Off a terminal they print
// each change of state as a line.
#include "dashboard.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace demo {

namespace {

using namespace std::chrono_literals;

constexpr auto frame_interval = 80ms;  // at most ~12 redraws a second, however fast jobs change
constexpr std::size_t max_events = 6;  // event lines under the table

// ---- text helpers (UTF-8 aware enough: one column per code point) -----------------------------

// Concatenation by appending (GCC 12 warns falsely on `"literal" + std::string&&`).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

std::size_t columns(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The first `n` columns of `s`.
std::string_view cut(std::string_view s, std::size_t n) {
  std::size_t cols = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && cols++ == n) break;
  }
  return s.substr(0, i);
}

// `s` cut or padded to exactly `n` columns; `right` aligns it right.
std::string pad(std::string_view s, std::size_t n, bool right = false) {
  std::string out(cut(s, n));
  const std::string fill(n - columns(out), ' ');
  return right ? fill + out : out + fill;
}

std::string seconds(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
  return buf;
}

std::string percent(double p) {
  if (p < 0) return "   -";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%3d%%", static_cast<int>(std::floor(p * 100 + 1e-9)));
  return buf;
}

std::string bar(double p, std::size_t n) {
  const auto full = p < 0 ? 0 : static_cast<std::size_t>(std::floor(std::min(p, 1.0) * n + 1e-9));
  return cat("[", std::string(full, '#'), std::string(n - full, '-'), "]");
}

std::string labels_text(const jobs::labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += cat(out.empty() ? "" : " ", k, "=", v);
  return out;
}

const char* color_of(jobs::state s) {
  switch (s) {
    case jobs::state::created: return "2";     // dim
    case jobs::state::running: return "36";    // cyan
    case jobs::state::canceling: return "33";  // yellow
    case jobs::state::succeeded: return "32";  // green
    case jobs::state::failed: return "31";     // red
    case jobs::state::canceled: return "35";   // magenta
  }
  return "0";
}

// A line made of pieces, each with an optional SGR color, rendered into at most `width` columns.
struct piece {
  std::string text;
  const char* sgr = nullptr;
};

std::string render(const std::vector<piece>& pieces, std::size_t width) {
  std::string out;
  for (const auto& p : pieces) {
    if (width == 0) break;
    const auto text = cut(p.text, width);
    width -= columns(text);
    if (p.sgr && !text.empty()) {
      out += "\x1b[";
      out += p.sgr;
      out += "m";
      out += text;
      out += "\x1b[0m";
    } else {
      out += text;
    }
  }
  return out;
}

std::pair<std::size_t, std::size_t> terminal_size() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0)
    return {ws.ws_col, ws.ws_row};
  return {120, 40};
}

// Column widths of the table.
constexpr std::size_t w_name = 11, w_labels = 21, w_state = 10, w_bar = 10, w_retries = 7, w_time = 6;

}  // namespace

dashboard::dashboard(asio::io_context& io, bool live, std::string title)
    : io_(io), live_(live), title_(std::move(title)), t0_(std::chrono::steady_clock::now()), wake_(io) {}

void dashboard::add(jobs::job j, std::optional<jobs::executor> exec, bool collapsible) {
  auto snapshot = j.stats();
  rows_.push_back(row{std::move(j), std::move(exec), collapsible, {}, std::move(snapshot), {}});
}

void dashboard::start() {
  for (auto& r : rows_) {
    // Cancelling through this signal cancels only the watch, never the job.
    auto& signal = watches_.emplace_back();
    asio::co_spawn(io_, watch(r), asio::bind_cancellation_slot(signal.slot(), asio::detached));
  }
  if (live_) {
    asio::co_spawn(io_, redraw_loop(), asio::detached);
  } else {
    std::cout << title_ << "\n(plain output: one line per change; on a terminal the table is redrawn live)"
              << std::endl;
  }
}

double dashboard::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

row& dashboard::find(const jobs::job& j) {
  for (auto& r : rows_)
    if (r.job == j) return r;
  throw std::invalid_argument("no row for job " + j.id());
}

void dashboard::note(const jobs::job& j, std::string text, bool log) {
  auto& r = find(j);
  if (log) event(cat(j.id(), ": ", text));
  r.note = std::move(text);
  if (live_) changed();
}

void dashboard::event(std::string text) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%7.2fs  ", elapsed());
  if (!live_) {
    std::cout << "[" << std::string_view(stamp).substr(0, 8) << "] " << text << std::endl;
    return;
  }
  events_.push_back(cat(stamp, text));
  if (events_.size() > max_events) events_.pop_front();
  changed();
}

void dashboard::stop() {
  // Posted: the watch completions already queued (e.g. the end of the run that just finished
  // the scenario) are shown first.
  asio::post(io_, [this] {
    stopping_ = true;
    for (auto& signal : watches_) signal.emit(asio::cancellation_type::terminal);
    if (live_) wake_.cancel();
  });
}

// ---- one watcher per job ------------------------------------------------------------------------

asio::awaitable<void> dashboard::watch(row& r) {
  for (std::uint64_t seen = 0; !stopping_;) {
    // Completes at once if the job changed since `seen`, else at its next change.
    auto [ec, s] = co_await r.job.async_watch(seen, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // stop() cancelled the watch
    seen = s.version;
    const bool run_ended = jobs::is_done(s.state);  // every run's end is delivered, once
    if (run_ended) r.ends.push_back(s);
    if (!live_ && s.state != jobs::state::created && (run_ended || s.state != r.last.state))
      print_change(r, s);
    r.last = std::move(s);
    if (live_) changed();
  }
}

void dashboard::print_change(const row& r, const jobs::stats& s) const {
  std::string detail;
  const std::size_t run = r.ends.size() + (jobs::is_done(s.state) ? 0 : 1);
  if (run > 1) detail = cat("run ", std::to_string(run));
  if (jobs::is_done(s.state)) {
    detail += cat(detail.empty() ? "" : ", ", "after ", seconds(s.execution_time));
    if (!s.error.empty()) detail += cat(": ", s.error);
  }
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "[%7.2fs] ", elapsed());
  std::string line = cat(stamp, pad(s.id, w_name), " ", pad(jobs::to_string(s.state), w_state), " ",
                         s.progress < 0 ? "" : percent(s.progress), "  ", detail);
  line.erase(line.find_last_not_of(' ') + 1);
  std::cout << line << std::endl;
}

// ---- the live table -------------------------------------------------------------------------------

void dashboard::changed() {
  dirty_ = true;
  wake_.cancel();  // wakes the redraw loop if it is idle; else it sees dirty_ after its frame
}

asio::awaitable<void> dashboard::redraw_loop() {
  asio::steady_timer frame_timer(io_);
  for (;;) {
    if (!dirty_ && !stopping_) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));  // until changed() or stop()
      continue;
    }
    dirty_ = false;
    draw();
    if (stopping_) co_return;
    frame_timer.expires_after(frame_interval);  // changes during the frame are drawn together
    co_await frame_timer.async_wait(asio::use_awaitable);
  }
}

void dashboard::draw() {
  const auto [width, height] = terminal_size();
  const auto lines = frame(width, height);
  std::string out;
  if (drawn_ > 0) out += cat("\x1b[", std::to_string(drawn_), "F");  // to the first line of the last frame
  for (const auto& l : lines) out += cat(l, "\x1b[K\n");             // each line, clearing what was there
  out += "\x1b[J";                                                   // and anything below
  drawn_ = lines.size();
  std::cout << out << std::flush;
}

std::vector<std::string> dashboard::frame(std::size_t width, std::size_t height) const {
  std::vector<std::string> lines;
  char clock[32];
  std::snprintf(clock, sizeof clock, "   %.1fs", elapsed());
  lines.push_back(render({{title_, "1"}, {clock, "2"}}, width));
  lines.emplace_back();
  lines.push_back(render({{cat(pad("JOB", w_name), " ", pad("LABELS", w_labels), " ", pad("STATE", w_state),
                               " ", pad("PROGRESS", w_bar + 7), " ", pad("RETRIES", w_retries, true), " ",
                               pad("TIME", w_time, true), "  NOTE"),
                           "1"}},
                         width));

  // Room for the rows: the events shrink to 3 lines, then uploads fold into one line.
  const std::size_t avail = height > 5 ? height - 1 - lines.size() : 1;
  std::size_t n_events = events_.size();
  auto rows_room = [&] { return avail > n_events + 1 ? avail - n_events - (n_events ? 1 : 0) : 0; };
  while (n_events > std::min<std::size_t>(3, events_.size()) && rows_room() < rows_.size()) --n_events;
  const std::size_t room = rows_room();
  const auto fixed = static_cast<std::size_t>(
      std::count_if(rows_.begin(), rows_.end(), [](const row& r) { return !r.collapsible; }));
  const std::size_t foldable = rows_.size() - fixed;
  const std::size_t shown = rows_.size() <= room ? foldable : (room > fixed + 1 ? room - fixed - 1 : 0);

  const auto now = std::chrono::system_clock::now();
  std::size_t seen_foldable = 0;
  std::map<jobs::state, std::size_t> folded;
  for (const auto& r : rows_) {
    if (r.collapsible && seen_foldable++ >= shown) {
      ++folded[r.last.state];
      continue;
    }
    const auto& s = r.last;
    std::string time = "-";
    if (jobs::is_pending(s.state))
      time = seconds(now - s.started_at);
    else if (s.state != jobs::state::created)
      time = seconds(s.execution_time);
    const std::string retries = r.exec ? std::to_string(r.exec->stats().retries) : "-";
    lines.push_back(render({{cat(pad(s.id, w_name), " ", pad(labels_text(s.labels), w_labels), " ")},
                            {pad(jobs::to_string(s.state), w_state), color_of(s.state)},
                            {cat(" ", bar(s.progress, w_bar), " ", percent(s.progress), " ",
                                 pad(retries, w_retries, true), " ", pad(time, w_time, true), "  ")},
                            {r.note, "2"}},
                           width));
  }
  if (!folded.empty()) {
    std::string text = cat("+ ", std::to_string(foldable - shown), " more:");
    for (const auto& [state, n] : folded)
      text += cat(text.back() == ':' ? " " : ", ", std::to_string(n), " ", jobs::to_string(state));
    lines.push_back(render({{text, "2"}}, width));
  }

  if (n_events > 0) {
    lines.emplace_back();
    for (auto it = events_.end() - static_cast<std::ptrdiff_t>(n_events); it != events_.end(); ++it)
      lines.push_back(render({{*it, "2"}}, width));
  }
  if (height > 1 && lines.size() > height - 1) lines.resize(height - 1);  // never scroll the frame
  return lines;
}

}  // namespace demo
