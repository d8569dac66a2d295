// jobs::job, the public handle, and the internal interface the layers above use
// (jobs/detail/job_access.hpp). The run itself is in run.cpp, waits and watches in waiters.cpp.
#include "job_impl.hpp"

#include <stdexcept>

namespace jobs {
namespace detail {

// ---- the internal interface ------------------------------------------------------------------

std::shared_ptr<job_impl> make_job(asio::any_io_executor ex, std::string id, body fn, job_config config) {
  if (!ex) throw std::invalid_argument("jobs::job: the executor is null");
  if (!fn) throw std::invalid_argument("jobs::job: the body is empty");
  return std::make_shared<job_impl>(std::move(ex), std::move(id), std::move(fn), std::move(config));
}

// The job of a handle, which must not have been moved from: a moved-from handle holds no job,
// and using it is a clear error rather than a null dereference.
namespace {
job_impl& checked(const std::shared_ptr<job_impl>& j) {
  if (!j) throw std::logic_error("jobs::job: the handle was moved from (it holds no job)");
  return *j;
}
}  // namespace

void initiate_run(const std::shared_ptr<job_impl>& j, std::any params, run_handler h) {
  checked(j).start(j, std::move(params), std::move(h), nullptr);
}

void initiate_run(const std::shared_ptr<job_impl>& j, std::any params, run_handler h, run_ticket* ticket,
                  run_result* result) {
  checked(j).start(j, std::move(params), std::move(h), ticket, result);
}

void initiate_run(const std::shared_ptr<job_impl>& j, std::any params, run_continuation then,
                  run_ticket* ticket, run_result* result) {
  checked(j).start(j, std::move(params), run_handler{}, ticket, result, std::move(then));
}

jobs::logger* user_logger_of(const job_impl& j) noexcept { return j.lifecycle_logger(); }

std::uint64_t run_generation(const job_impl& j) {
  std::lock_guard lk(j.mu);
  return is_pending(j.st_locked()) ? j.generation : 0;
}

std::uint64_t runs_of(const job_impl& j) {
  std::lock_guard lk(j.mu);
  return j.generation;
}

void wait_for_run(job_impl& m, std::uint64_t generation) {
  if (generation == 0) return;
  std::unique_lock lk(m.mu);
  if (m.finished >= generation) return;
  auto& cv = m.blocking_cv_locked();
  ++m.blocked;
  cv.wait(lk, [&] { return m.finished >= generation; });
  --m.blocked;
}

void initiate_wait(const std::shared_ptr<job_impl>& j, wait_handler h) {
  checked(j).async_wait(j, std::move(h));
}

void initiate_watch(const std::shared_ptr<job_impl>& j, std::uint64_t last_version, watch_handler h) {
  checked(j).async_watch(j, last_version, std::move(h));
}

bool cancel_run(const run_ticket& t, cancel_reason why) {
  auto rs = t.lock();
  return rs && rs->job->cancel_run(rs, why);
}

asio::any_io_executor strand_of(const job_impl& j) {
  std::lock_guard lk(j.mu);
  j.check_attached_locked();
  return j.strand_ex;
}

void set_closed(job_impl& j, bool closed) noexcept {
  std::lock_guard lk(j.mu);
  j.closed = closed;
}

bool is_attached(const job_impl& j) noexcept {
  std::lock_guard lk(j.mu);
  return static_cast<bool>(j.strand_ex);
}

bool on_job_strand(const job_impl& j) noexcept {
  std::lock_guard lk(j.mu);
  return running_in(j.strand_ex);
}

namespace {
thread_local const job_impl* in_callback_of = nullptr;
}

blocking_guard::blocking_guard(const job_impl* j) noexcept : previous_(in_callback_of) { in_callback_of = j; }
blocking_guard::~blocking_guard() { in_callback_of = previous_; }
bool blocking_guard::active(const job_impl* j) noexcept { return in_callback_of == j; }

void apply(job_config& c, label_option o) { c.labels.insert_or_assign(std::move(o.key), std::move(o.value)); }
void apply(job_config& c, labels_option o) { c.labels = std::move(o.all); }
void apply(job_config& c, logger_option o) { c.logger.emplace(std::move(o.logger)); }

}  // namespace detail

// ---- job -------------------------------------------------------------------------------------

body wrap(std::function<asio::awaitable<void>()> fn) {
  if (!fn) throw std::invalid_argument("jobs::wrap: the function is empty");
  return [fn = std::move(fn)](context&) { return fn(); };
}

// Every member but the two noexcept ones throws std::logic_error on a moved-from handle.
bool job::run(std::any params) {
  return detail::checked(impl_).start(impl_, std::move(params), nullptr, nullptr);
}
void job::wait() { detail::checked(impl_).wait(); }
bool job::cancel() { return detail::checked(impl_).cancel_current(detail::cancel_reason::canceled); }
asio::any_io_executor job::get_executor() const noexcept {
  return impl_ ? impl_->ex.get() : asio::any_io_executor();
}

jobs::state job::state() const {
  // Without the job's mutex: the state is written under it, by one release store per change.
  return detail::checked(impl_).st.load(std::memory_order_acquire);
}
bool job::is_state(jobs::state s) const { return state() == s; }
bool job::is_done() const { return jobs::is_done(state()); }
bool job::is_executing() const { return is_pending(state()); }

const std::string& job::id() const noexcept {
  static const std::string none;  // a moved-from handle's
  return impl_ ? impl_->id : none;
}
jobs::labels job::labels() const { return detail::checked(impl_).label_set(); }
std::any job::result() const {
  auto& j = detail::checked(impl_);
  std::shared_ptr<std::any> box;
  {
    std::lock_guard lk(j.mu);
    box = j.result;
  }
  return box ? *box : std::any{};  // the copy outside the lock: it is user code
}
std::exception_ptr job::error() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.error;
}
double job::progress() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.progress;
}
std::chrono::system_clock::time_point job::created_at() const { return detail::checked(impl_).created; }
std::chrono::system_clock::time_point job::started_at() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.started;
}
std::chrono::system_clock::time_point job::ended_at() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.ended_locked();
}
std::chrono::nanoseconds job::execution_time() const {
  auto& j = detail::checked(impl_);
  std::lock_guard lk(j.mu);
  return j.execution_time_locked();
}
jobs::stats job::stats() const { return detail::checked(impl_).snapshot(); }

}  // namespace jobs
