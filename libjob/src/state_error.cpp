// States and the "jobs" error category.
#include <jobs/error.hpp>
#include <jobs/state.hpp>

#include <ostream>

namespace jobs {

std::string_view to_string(state s) noexcept {
  switch (s) {
    case state::created: return "created";
    case state::running: return "running";
    case state::canceling: return "canceling";
    case state::succeeded: return "succeeded";
    case state::failed: return "failed";
    case state::canceled: return "canceled";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, state s) { return os << to_string(s); }

namespace {

class category final : public boost::system::error_category {
 public:
  // A fixed id keeps the category unique across shared libraries.
  constexpr category() noexcept : error_category(0x6a6f62735f657272ULL) {}

  const char* name() const noexcept override { return "jobs"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::still_pending: return "job is still pending";
      case errc::once: return "job can only start once";
      case errc::cooldown: return "job is still in cooldown";
      case errc::timeout: return "job timed out";
      case errc::canceled: return "job canceled";
      case errc::shutting_down: return "job is shutting down";
      case errc::duplicate_id: return "duplicate job id";
      case errc::lease_lost: return "job lease lost";
    }
    return "unknown jobs error " + std::to_string(ev);
  }

  boost::system::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::canceled:
      case errc::lease_lost: return boost::system::errc::operation_canceled;
      case errc::timeout: return boost::system::errc::timed_out;
      default: return {ev, *this};
    }
  }
};

}  // namespace

const boost::system::error_category& jobs_category() noexcept {
  static constexpr category instance;
  return instance;
}

error::error(errc e, std::string message)
    : boost::system::system_error(make_error_code(e)), message_(std::move(message)) {}

const char* error::what() const noexcept { return message_.c_str(); }

}  // namespace jobs
