#include "service_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace quote_test {

namespace {

reply exchange(unsigned short port, const std::function<void(tcp::socket&)>& send) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  send(s);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(16 * 1024 * 1024);
  http::read(s, buf, p);
  auto res = p.release();
  reply r{res.result_int(), std::move(res.body()), {}};
  for (const auto& f : res) r.headers.insert(f.name_string(), f.value());
  return r;
}

}  // namespace

reply request(unsigned short port, http::verb verb, const std::string& target, std::string body,
              const std::vector<std::pair<std::string, std::string>>& headers) {
  return exchange(port, [&](tcp::socket& s) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.keep_alive(false);
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(s, req);
  });
}

boost::json::object get_object(unsigned short port, const std::string& target) {
  auto r = get(port, target);
  if (r.status != 200)
    throw std::runtime_error("GET " + target + " answered " + std::to_string(r.status) + ": " + r.body);
  return r.json().as_object();
}

reply raw_request(unsigned short port, const std::string& raw) {
  return exchange(port, [&](tcp::socket& s) { asio::write(s, asio::buffer(raw)); });
}

service_process::service_process(const std::vector<std::string>& flags) {
  const char* bin = std::getenv("QUOTE_SERVICE");
  if (!bin || !*bin) throw std::runtime_error("set QUOTE_SERVICE to the quote_service program");
  std::vector<std::string> args{bin, "--port", "0"};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);  // a refusal's message too
    ::execv(bin, argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  pid_ = pid;
  out_ = fds[0];
  ::fcntl(out_, F_SETFL, ::fcntl(out_, F_GETFL) | O_NONBLOCK);

  // "quote_service listening on http://127.0.0.1:<port> upstream 127.0.0.1:<port>\n"
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string line;
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{out_, POLLIN, 0};
    ::poll(&pfd, 1, 100);
    char buf[512];
    const auto n = ::read(out_, buf, sizeof buf);
    if (n == 0) break;
    if (n > 0) line.append(buf, static_cast<std::size_t>(n));
  }
  const auto nl = line.find('\n');
  output_ = nl == std::string::npos ? "" : line.substr(nl + 1);
  const auto at = line.find("http://127.0.0.1:");
  const auto up = line.find("upstream 127.0.0.1:");
  if (nl == std::string::npos || at == std::string::npos || up == std::string::npos) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    throw std::runtime_error("quote_service did not start: \"" + line + "\"");
  }
  port_ = static_cast<unsigned short>(std::atoi(line.c_str() + at + 17));
  upstream_port_ = static_cast<unsigned short>(std::atoi(line.c_str() + up + 19));
}

service_process::~service_process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0) ::close(out_);
}

void service_process::signal(int signo) const { ::kill(pid_, signo); }

bool service_process::running() {
  if (status_ || pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

std::optional<int> service_process::wait_exit(std::chrono::milliseconds timeout) {
  eventually([&] { return !running(); }, timeout);
  return status_;
}

std::string service_process::output() {
  char buf[4096];
  for (;;) {
    const auto n = ::read(out_, buf, sizeof buf);
    if (n <= 0) break;
    output_.append(buf, static_cast<std::size_t>(n));
  }
  return output_;
}

}  // namespace quote_test
