#include "watch_set.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <atomic>

namespace jobs::http::detail {

namespace asio = boost::asio;

watch_set::watch_set(asio::any_io_executor ex, callback cb, std::shared_ptr<std::atomic<std::size_t>> counter)
    : strand_(asio::make_strand(std::move(ex))),
      cb_(std::move(cb)),
      count_(counter ? std::move(counter) : std::make_shared<std::atomic<std::size_t>>(0)) {}

std::shared_ptr<watch_set> watch_set::make(asio::any_io_executor ex, callback cb,
                                           std::shared_ptr<std::atomic<std::size_t>> counter) {
  return std::shared_ptr<watch_set>(new watch_set(std::move(ex), std::move(cb), std::move(counter)));
}

void watch_set::add(std::vector<jobs::job> jobs) {
  asio::dispatch(strand_, [self = shared_from_this(), jobs = std::move(jobs)] {
    if (self->closed_) return;
    for (const auto& j : jobs) {
      auto it = self->watches_.find(j.id());
      if (it != self->watches_.end()) {
        if (it->second.job == j) continue;
        it->second.signal->emit(asio::cancellation_type::terminal);  // replaced under its id
        self->watches_.erase(it);
      }
      self->watches_.emplace(j.id(), watch{j, std::make_shared<asio::cancellation_signal>()});
      self->start(j.id());
    }
  });
}

void watch_set::start(const std::string& id) {
  auto& w = watches_.at(id);
  auto sig = w.signal;
  ++*count_;
  // The snapshot version to wait beyond is kept in the handler (0: the current snapshot first).
  struct loop {
    std::shared_ptr<watch_set> self;
    std::string id;
    std::shared_ptr<asio::cancellation_signal> sig;
    void operator()(boost::system::error_code ec, jobs::stats s) {
      --*self->count_;
      self->on_snapshot(id, sig, ec, std::move(s));
    }
  };
  w.job.async_watch(0, asio::bind_cancellation_slot(
                           sig->slot(), asio::bind_executor(strand_, loop{shared_from_this(), id, sig})));
}

void watch_set::on_snapshot(const std::string& id, const std::shared_ptr<asio::cancellation_signal>& sig,
                            boost::system::error_code ec, jobs::stats s) {
  auto it = watches_.find(id);
  const bool current = it != watches_.end() && it->second.signal == sig;
  if (ec || closed_ || !current) {
    if (current) watches_.erase(it);
    return;
  }
  if (cb_) cb_(it->second.job, s);
  if (closed_) return;  // the callback closed the set
  if (keep_ && !keep_(it->second.job, s)) {
    watches_.erase(it);  // e.g. a job that has ended and left its registry: not held any longer
    return;
  }
  const auto version = s.version;
  ++*count_;
  it->second.job.async_watch(
      version, asio::bind_cancellation_slot(
                   sig->slot(),
                   asio::bind_executor(strand_, [self = shared_from_this(), id, sig](auto e, jobs::stats n) {
                     --*self->count_;
                     self->on_snapshot(id, sig, e, std::move(n));
                   })));
}

void watch_set::prune() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    if (self->closed_ || !self->keep_) return;
    for (auto it = self->watches_.begin(); it != self->watches_.end();) {
      if (self->keep_(it->second.job, it->second.job.stats())) {
        ++it;
        continue;
      }
      it->second.signal->emit(asio::cancellation_type::terminal);  // its handler leaves the job
      it = self->watches_.erase(it);
    }
  });
}

void watch_set::forget(std::string id) {
  asio::post(strand_, [self = shared_from_this(), id = std::move(id)] {
    auto it = self->watches_.find(id);
    if (it == self->watches_.end()) return;
    it->second.signal->emit(asio::cancellation_type::terminal);  // its handler leaves the job
    self->watches_.erase(it);
  });
}

void watch_set::close() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    self->closed_ = true;
    auto ws = std::move(self->watches_);
    self->watches_.clear();
    for (auto& [id, w] : ws) w.signal->emit(asio::cancellation_type::terminal);
  });
}

std::size_t watch_set::size() const { return count_->load(); }

}  // namespace jobs::http::detail
