#pragma once
// StderrPump: one thread that reads the stderr pipes of a model's Python
// workers and logs each line, tagged with the model name and the worker's
// index, keeping the last lines of each worker for error messages (a worker
// that cannot load the model says why on stderr).
//
// Thread-safety: thread-safe. The destructor stops the thread and closes
// the pipes still open.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace ferry::serving::python {

class StderrPump {
 public:
  explicit StderrPump(std::string model_name);
  ~StderrPump();
  StderrPump(const StderrPump&) = delete;
  StderrPump& operator=(const StderrPump&) = delete;

  // Takes ownership of `fd` (the read end of worker `worker`'s stderr);
  // returns an id for WaitClosed. -1 when the pump could not start (the
  // stream is then closed, and the worker's stderr lost).
  int Add(int fd, int worker);
  // Waits until stream `id` reached its end (its writers exited), at most
  // `timeout`, so that a crashed worker's last words are in Tail.
  void WaitClosed(int id, std::chrono::milliseconds timeout);
  // The last `lines` lines worker `worker` wrote, joined by '\n'.
  std::string Tail(int worker, std::size_t lines) const;

 private:
  struct Stream {
    int fd = -1;
    int worker = 0;
    std::string partial;
  };
  void Run();
  void Line(int worker, std::string line);

  const std::string model_name_;
  int wake_fd_ = -1;  // eventfd that interrupts poll when streams change
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable closed_cv_;
  std::map<int, Stream> streams_;                 // by id
  std::map<int, std::deque<std::string>> tails_;  // by worker
  int next_id_ = 0;
  bool stop_ = false;
};

}  // namespace ferry::serving::python
