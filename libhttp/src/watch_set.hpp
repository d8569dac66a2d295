// A set of async_watch loops, one per job, all cancelled together (the metrics' and each SSE
// client's). Everything runs on one strand; close() cancels every pending watch.
#pragma once

#include <jobs/job.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace jobs::http::detail {

class watch_set : public std::enable_shared_from_this<watch_set> {
 public:
  /// Called on the strand with every snapshot a watch delivers (the first one is the job's
  /// current snapshot, then every change; run ends are never skipped).
  using callback = std::function<void(const jobs::job&, const jobs::stats&)>;
  /// After each snapshot: false ends that job's watch (and drops the set's handle to the job).
  using keep_fn = std::function<bool(const jobs::job&, const jobs::stats&)>;

  /// `counter`: counts the pending watches (shared with other sets), or null for one of its own.
  static std::shared_ptr<watch_set> make(boost::asio::any_io_executor ex, callback cb,
                                         std::shared_ptr<std::atomic<std::size_t>> counter = nullptr);

  /// Watches each of `jobs` not watched yet (a job replaced under the same id is watched anew).
  void add(std::vector<jobs::job> jobs);
  /// Sets the keep predicate (before the first add()).
  void keep_while(keep_fn keep) { keep_ = std::move(keep); }
  /// Ends (on the strand) the watch of every job that the keep predicate, given the job's current
  /// snapshot, no longer keeps.
  void prune();
  /// Ends (on the strand, after the snapshots already queued there) the watch of job `id`.
  void forget(std::string id);
  /// Cancels every watch; nothing is called after the strand has run it.
  void close();
  /// How many watches are pending (for the tests).
  std::size_t size() const;

 private:
  struct watch {
    jobs::job job;
    std::shared_ptr<boost::asio::cancellation_signal> signal;
  };
  watch_set(boost::asio::any_io_executor ex, callback cb, std::shared_ptr<std::atomic<std::size_t>> counter);
  void start(const std::string& id);
  void on_snapshot(const std::string& id, const std::shared_ptr<boost::asio::cancellation_signal>& sig,
                   boost::system::error_code ec, jobs::stats s);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  callback cb_;
  keep_fn keep_;
  // On the strand only.
  std::map<std::string, watch, std::less<>> watches_;
  bool closed_ = false;
  std::shared_ptr<std::atomic<std::size_t>> count_;
};

}  // namespace jobs::http::detail
