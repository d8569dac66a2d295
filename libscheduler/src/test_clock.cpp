// jobs::test_clock: virtual wall-clock time for tests; wake-ups are posted to its executor.
#include <jobs/scheduler_clock.hpp>

#include <boost/asio/post.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace jobs {

test_clock::test_clock(asio::any_io_executor ex, time_point start) : ex_(std::move(ex)), now_(start) {
  if (!ex_) throw std::invalid_argument("jobs::test_clock: the executor is null");
}

test_clock::time_point test_clock::default_start() noexcept {
  return time_point{std::chrono::seconds(1767225600)};  // 2026-01-01T00:00:00Z
}

test_clock::time_point test_clock::now() const {
  std::lock_guard lk(mu_);
  return now_;
}

void test_clock::arm(time_point at, wake_fn fn) {
  std::lock_guard lk(mu_);
  ++arms_;
  at_ = at;
  fn_ = std::move(fn);
  if (now_ >= at) fire_locked(wake::due);
}

void test_clock::disarm() noexcept {
  std::lock_guard lk(mu_);
  at_.reset();
  fn_ = nullptr;
}

void test_clock::fire_locked(wake w) {
  wake_fn f = std::move(fn_);
  fn_ = nullptr;
  at_.reset();
  if (f) asio::post(ex_, [f = std::move(f), w] { f(w); });
}

void test_clock::advance(std::chrono::nanoseconds d) {
  if (d.count() < 0)
    throw std::invalid_argument("jobs::test_clock::advance: negative duration (" + std::to_string(d.count()) +
                                " ns); use set() or jump() to set the clock back");
  std::lock_guard lk(mu_);
  now_ += d;
  if (at_ && now_ >= *at_) fire_locked(wake::due);
}

bool test_clock::advance_to_next() {
  std::lock_guard lk(mu_);
  if (!at_) return false;
  if (*at_ > now_) now_ = *at_;
  fire_locked(wake::due);
  return true;
}

void test_clock::set(time_point t) {
  std::lock_guard lk(mu_);
  now_ = t;
  fire_locked(wake::jumped);
}

void test_clock::jump(std::chrono::nanoseconds d) {
  std::lock_guard lk(mu_);
  now_ += d;
  fire_locked(wake::jumped);
}

std::optional<test_clock::time_point> test_clock::armed() const {
  std::lock_guard lk(mu_);
  return at_;
}

std::uint64_t test_clock::arms() const {
  std::lock_guard lk(mu_);
  return arms_;
}

}  // namespace jobs
