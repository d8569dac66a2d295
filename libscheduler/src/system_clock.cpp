// make_system_clock: the wall clock through one Linux timerfd on CLOCK_REALTIME, armed at an
// absolute time with TFD_TIMER_CANCEL_ON_SET, so that it fires at the wall-clock time whatever
// happens to the clock, and a read fails with ECANCELED when the clock is set (also on resume
// from a suspend, which CLOCK_BOOTTIME tells apart).
#include <jobs/scheduler_clock.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/system_error.hpp>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <utility>

#include <sys/timerfd.h>
#include <unistd.h>

namespace jobs {

namespace {

using std::chrono::nanoseconds;

nanoseconds read_clock(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return std::chrono::seconds(ts.tv_sec) + nanoseconds(ts.tv_nsec);
}

class system_clock_impl final : public scheduler_clock,
                                public std::enable_shared_from_this<system_clock_impl> {
 public:
  explicit system_clock_impl(asio::any_io_executor ex) : fd_(ex) {
    const int fd = ::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
      throw boost::system::system_error(errno, boost::system::system_category(),
                                        "jobs::make_system_clock: timerfd_create");
    fd_.assign(fd);
  }

  time_point now() const override { return std::chrono::system_clock::now(); }

  void arm(time_point at, wake_fn fn) override {
    std::lock_guard lk(mu_);
    fn_ = std::move(fn);
    auto ns = std::chrono::duration_cast<nanoseconds>(at.time_since_epoch()).count();
    if (ns < 1) ns = 1;  // 0 would disarm; the past fires at once
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    if (::timerfd_settime(fd_.native_handle(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec, nullptr) !=
        0)
      throw boost::system::system_error(errno, boost::system::system_category(),
                                        "jobs::scheduler_clock::arm: timerfd_settime");
    real0_ = read_clock(CLOCK_REALTIME);
    boot0_ = read_clock(CLOCK_BOOTTIME);
    if (!waiting_) wait_locked();
  }

  void disarm() noexcept override {
    std::lock_guard lk(mu_);
    fn_ = nullptr;
    itimerspec off{};
    ::timerfd_settime(fd_.native_handle(), 0, &off, nullptr);
  }

 private:
  void wait_locked() {
    waiting_ = true;
    fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                   [w = weak_from_this()](const boost::system::error_code& ec) {
                     if (auto s = w.lock()) s->on_ready(ec);
                   });
  }

  void on_ready(const boost::system::error_code& ec) {
    wake_fn f;
    wake why = wake::due;
    {
      std::lock_guard lk(mu_);
      waiting_ = false;
      if (ec) return;
      std::uint64_t expirations = 0;
      const auto n = ::read(fd_.native_handle(), &expirations, sizeof expirations);
      if (n < 0 && errno == ECANCELED) {
        // The clock was set. After a suspend, CLOCK_REALTIME and CLOCK_BOOTTIME moved alike.
        const auto real = read_clock(CLOCK_REALTIME) - real0_;
        const auto boot = read_clock(CLOCK_BOOTTIME) - boot0_;
        const auto diff = real > boot ? real - boot : boot - real;
        why = diff < std::chrono::seconds(1) ? wake::due : wake::jumped;
      } else if (n < 0) {  // EAGAIN: not yet
        if (fn_) wait_locked();
        return;
      }
      f = std::move(fn_);
      fn_ = nullptr;
    }
    if (f) f(why);
  }

  asio::posix::stream_descriptor fd_;
  std::mutex mu_;
  wake_fn fn_;
  bool waiting_ = false;
  nanoseconds real0_{0}, boot0_{0};
};

}  // namespace

std::shared_ptr<scheduler_clock> make_system_clock(asio::any_io_executor ex) {
  if (!ex) throw std::invalid_argument("jobs::make_system_clock: the executor is null");
  return std::make_shared<system_clock_impl>(std::move(ex));
}

}  // namespace jobs
