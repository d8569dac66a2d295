// The tests' handle on a running quote_service: started with fork/exec on port 0 (its port and
// its upstream's read from the line it prints), HTTP/1.1 GETs with Beast, and its exit.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace quote_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct reply {
  unsigned status = 0;
  std::string body;
  http::fields headers;
  boost::json::value json() const { return boost::json::parse(body); }
};

/// One request on a new connection (Connection: close). Throws boost::system::system_error.
reply request(unsigned short port, http::verb verb, const std::string& target, std::string body = {},
              const std::vector<std::pair<std::string, std::string>>& headers = {});
inline reply get(unsigned short port, const std::string& target) {
  return request(port, http::verb::get, target);
}
/// get(...).json(), checking the status is 200.
boost::json::object get_object(unsigned short port, const std::string& target);

/// Sends `raw` bytes and reads one response (for malformed requests).
reply raw_request(unsigned short port, const std::string& raw);

class service_process {
 public:
  /// Starts the quote_service named by the environment variable QUOTE_SERVICE with `flags`
  /// (plus --port 0) and waits for its "listening" line. Throws std::runtime_error.
  explicit service_process(const std::vector<std::string>& flags);
  ~service_process();
  service_process(const service_process&) = delete;
  service_process& operator=(const service_process&) = delete;

  unsigned short port() const noexcept { return port_; }
  unsigned short upstream_port() const noexcept { return upstream_port_; }
  pid_t pid() const noexcept { return pid_; }

  void signal(int signo) const;
  /// Whether the process is still running (not yet reaped).
  bool running();
  /// Waits up to `timeout` for it to exit: its exit status, or nothing (still running).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  /// What it printed so far (after the listening line), read without blocking.
  std::string output();

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  unsigned short port_ = 0;
  unsigned short upstream_port_ = 0;
  std::string output_;
  std::optional<int> status_;
};

/// Polls `pred` every 20 ms until it holds or `timeout` passes; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace quote_test
