// A job's shared state: its construction, destruction and place in its execution context.
#include "job_impl.hpp"

#include "run_errors.hpp"

#include <jobs/detail/completion.hpp>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <stdexcept>

namespace jobs::detail {

using std::chrono::system_clock;

// The jobs of one execution context, so that its shutdown can release the asynchronous waiters
// and watchers of idle jobs: they sit in no Asio queue, and a handler that holds a handle to
// its own job would otherwise keep both alive for ever. (Those of a pending run are released
// when the run's frame is destroyed: see abandon.)
class job_service final : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;

  explicit job_service(asio::execution_context& ctx) : service(ctx) {}

  // The list is intrusive (each job holds its own links): adding a job allocates nothing.
  void add(job_impl* j) noexcept {
    std::lock_guard lk(mu_);
    j->registry_prev_ = nullptr;
    j->registry_next_ = head_;
    if (head_) head_->registry_prev_ = j;
    head_ = j;
  }
  void remove(job_impl* j) noexcept {
    std::lock_guard lk(mu_);
    // Linked unless the context's shutdown unlinked it (then head_, null, is not j either).
    if (j->registry_prev_ || head_ == j) {
      if (j->registry_prev_)
        j->registry_prev_->registry_next_ = j->registry_next_;
      else
        head_ = j->registry_next_;
      if (j->registry_next_) j->registry_next_->registry_prev_ = j->registry_prev_;
      j->registry_prev_ = j->registry_next_ = nullptr;
    }
  }

 private:
  // Called by the context's shutdown (possibly more than once: io_context::shutdown(), then
  // again by the destructor). Every job is detached and forgotten: a detached job never calls
  // remove() once it has seen its registry pointer cleared.
  void shutdown() override {
    std::list<pending_wait> waits;
    std::list<pending_watch> watches;
    {
      std::lock_guard lk(mu_);
      for (job_impl* j = head_; j;) {
        // Unlinked before detach(): once detach() has cleared its registry pointer, another
        // thread may drop the job's last handle and ~job_impl (which then skips remove()) frees
        // it, so nothing of j is touched after detach() returns.
        job_impl* next = j->registry_next_;
        j->registry_prev_ = j->registry_next_ = nullptr;
        j->detach(waits, watches);
        j = next;
      }
      head_ = nullptr;
    }
    // Destroyed here, outside the lock: a handler's destructor may destroy a job.
  }

  std::mutex mu_;
  job_impl* head_ = nullptr;  // the jobs, linked through registry_prev_ / registry_next_
};

asio::execution_context::id job_service::id;

job_impl::job_impl(asio::any_io_executor e, std::string i, body f, job_config config)
    : ex(e),
      strand_ex(make_job_strand(e)),
      id(i.empty() ? boost::uuids::to_string(boost::uuids::random_generator()()) : std::move(i)),
      labels(config.labels.empty() ? nullptr
                                   : std::make_unique<const jobs::labels>(std::move(config.labels))),
      fn(std::move(f)),
      created(system_clock::now()),
      user_logger(config.logger ? std::make_unique<jobs::logger>(std::move(*config.logger)) : nullptr),
      registry_(&asio::use_service<job_service>(asio::query(e, asio::execution::context))) {
  // Made now, where a failure can throw: the noexcept paths use them.
  (void)fallback_logger();
  (void)library_error_text(run_error::none);
  registry_->add(this);
}

job_impl::~job_impl() {
  // No body runs any more (a run keeps its job alive), so none is using the context's logger.
  delete context_logger_.load(std::memory_order_acquire);
  job_service* r;
  std::list<pending_watch> orphaned;
  {
    std::lock_guard lk(mu);
    r = registry_;  // null once the context has shut down (it may be gone by now)
    if (room) orphaned.swap(room->watches);
  }
  if (r) r->remove(this);
  // The last handle is gone while watchers still wait (no run is pending: a run keeps its job
  // alive), for a change that can no longer come. They complete with operation_aborted, as the
  // pending operations of a destroyed Asio I/O object do, instead of being dropped unseen. Only
  // while the context is alive (r non-null): at its shutdown detach() has taken every watcher.
  if (!r) return;
  for (auto& w : orphaned) {
    try {
      post_completion(ex.get(), std::move(w.handler), std::move(w.work),
                      boost::system::error_code(asio::error::operation_aborted), jobs::stats{});
    } catch (...) {
      // (bad_alloc from the post: the handler is destroyed, as at shutdown)
    }
  }
}

void job_impl::detach(std::list<pending_wait>& waits_out, std::list<pending_watch>& watches_out) noexcept {
  asio::any_io_executor released_ex;
  {
    std::lock_guard lk(mu);
    take_waiters_locked(waits_out, watches_out);
    std::swap(released_ex, strand_ex);
    registry_ = nullptr;
  }
  // The strand is released here, while its service still exists.
}

waiting_room& job_impl::room_locked() {
  if (!room) room = std::make_unique<waiting_room>();
  return *room;
}

const jobs::labels& no_labels() noexcept {
  // Never destroyed: a body may still read ctx.labels() while static objects are destroyed at
  // exit (a global thread_pool's).
  static const jobs::labels* const none = new jobs::labels();
  return *none;
}

void job_impl::check_attached_locked() const {
  if (!strand_ex)
    throw std::logic_error("jobs::job: the job's execution context has been shut down or destroyed");
}

}  // namespace jobs::detail
