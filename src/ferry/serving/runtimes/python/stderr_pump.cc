#include "ferry/serving/runtimes/python/stderr_pump.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "ferry/common/logging.h"
#include "ferry/common/strings.h"

namespace ferry::serving::python {
namespace {

constexpr std::size_t kMaxLineBytes = 16 * 1024;  // longer lines are cut
constexpr std::size_t kTailLines = 40;

}  // namespace

StderrPump::StderrPump(std::string model_name) : model_name_(std::move(model_name)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ >= 0) thread_ = std::thread([this] { Run(); });
}

StderrPump::~StderrPump() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  for (auto& [id, stream] : streams_) ::close(stream.fd);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

int StderrPump::Add(int fd, int worker) {
  if (wake_fd_ < 0) {
    ::close(fd);
    return -1;
  }
  int id;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
    streams_[id] = Stream{fd, worker, {}};
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  return id;
}

void StderrPump::WaitClosed(int id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  closed_cv_.wait_for(lock, timeout, [&] { return stop_ || streams_.count(id) == 0; });
}

std::string StderrPump::Tail(int worker, std::size_t lines) const {
  std::lock_guard lock(mu_);
  auto it = tails_.find(worker);
  if (it == tails_.end()) return {};
  std::string text;
  const std::size_t start = it->second.size() > lines ? it->second.size() - lines : 0;
  for (std::size_t i = start; i < it->second.size(); ++i) {
    if (!text.empty()) text += '\n';
    text += it->second[i];
  }
  return text;
}

void StderrPump::Line(int worker, std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  line = SanitizeForMessage(line, kMaxLineBytes);
  LogEvent(spdlog::level::info, "python worker stderr",
           {{"model", model_name_}, {"worker", worker}, {"line", line}});
  std::lock_guard lock(mu_);
  auto& tail = tails_[worker];
  tail.push_back(std::move(line));
  while (tail.size() > kTailLines) tail.pop_front();
}

void StderrPump::Run() {
  std::vector<pollfd> fds;
  std::vector<int> ids;
  char buffer[8192];
  for (;;) {
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    ids.assign(1, -1);
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      for (const auto& [id, stream] : streams_) {
        fds.push_back(pollfd{stream.fd, POLLIN, 0});
        ids.push_back(id);
      }
    }
    const int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0 && errno != EINTR) return;
    if (n <= 0) continue;
    if (fds[0].revents != 0) {
      uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      std::vector<std::pair<int, std::string>> lines;
      bool closed = false;
      {
        std::lock_guard lock(mu_);
        Stream& stream = streams_[ids[i]];
        if (got > 0) {
          stream.partial.append(buffer, static_cast<std::size_t>(got));
        } else {
          closed = true;
        }
        std::size_t start = 0, nl;
        while ((nl = stream.partial.find('\n', start)) != std::string::npos) {
          lines.emplace_back(stream.worker, stream.partial.substr(start, nl - start));
          start = nl + 1;
        }
        stream.partial.erase(0, start);
        if (stream.partial.size() > kMaxLineBytes) {
          lines.emplace_back(stream.worker, stream.partial);
          stream.partial.clear();
        }
        if (closed && !stream.partial.empty()) lines.emplace_back(stream.worker, stream.partial);
      }
      for (auto& [worker, line] : lines) Line(worker, std::move(line));
      if (closed) {
        {
          std::lock_guard lock(mu_);
          ::close(streams_[ids[i]].fd);
          streams_.erase(ids[i]);
        }
        closed_cv_.notify_all();
      }
    }
  }
}

}  // namespace ferry::serving::python
