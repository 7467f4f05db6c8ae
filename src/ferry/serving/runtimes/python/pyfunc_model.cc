#include "ferry/serving/runtimes/python/pyfunc_model.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "ferry/common/logging.h"
#include "ferry/common/spawn.h"
#include "ferry/common/strings.h"
#include "ferry/serving/protocol/datatype.h"
#include "ferry/serving/runtimes/python/pyfunc_worker_script.h"
#include "ferry/serving/runtimes/python/stderr_pump.h"
#include "ferry/serving/runtimes/python/worker_io.h"

extern char** environ;

namespace ferry::serving::python {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using protocol::DataType;
using protocol::Tensor;
using protocol::TensorSpec;

constexpr std::size_t kMaxHeaderBytes = std::size_t{1} << 20;
constexpr uint64_t kMaxBodyBytes = uint64_t{1} << 32;
constexpr std::size_t kStderrTailLines = 12;

// A string member of a JSON object a worker sent, or `fallback`: never
// throws on a missing member or another type.
std::string StringField(const Json& object, const char* key, const char* fallback = "") {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

// ---- Signature: MLmodel -> V2 --------------------------------------------

Result<std::pair<DataType, std::string>> ColumnType(const std::string& type, const std::string& who) {
  // MLServer's _MLflowToContentType; the second member tells the worker how
  // to turn BYTES elements into Python values.
  if (type == "boolean") return std::pair{DataType::kBool, std::string()};
  if (type == "integer") return std::pair{DataType::kInt32, std::string()};
  if (type == "long") return std::pair{DataType::kInt64, std::string()};
  if (type == "float") return std::pair{DataType::kFp32, std::string()};
  if (type == "double") return std::pair{DataType::kFp64, std::string()};
  if (type == "string") return std::pair{DataType::kBytes, std::string("string")};
  if (type == "binary") return std::pair{DataType::kBytes, std::string("binary")};
  if (type == "datetime") return std::pair{DataType::kBytes, std::string("datetime")};
  return InvalidArgument(who + ": MLflow column type " + QuoteForMessage(type) +
                         " has no V2 tensor form (supported: boolean, integer, long, float, double, "
                         "string, binary, datetime)");
}

Result<std::pair<DataType, std::string>> TensorType(const std::string& dtype, const std::string& who) {
  static const std::pair<const char*, DataType> kNumeric[] = {
      {"bool", DataType::kBool},     {"int8", DataType::kInt8},     {"int16", DataType::kInt16},
      {"int32", DataType::kInt32},   {"int64", DataType::kInt64},   {"uint8", DataType::kUint8},
      {"uint16", DataType::kUint16}, {"uint32", DataType::kUint32}, {"uint64", DataType::kUint64},
      {"float16", DataType::kFp16},  {"float32", DataType::kFp32},  {"float64", DataType::kFp64}};
  for (const auto& [name, type] : kNumeric)
    if (dtype == name) return std::pair{type, std::string()};
  // numpy spells text "str", "object" or "<U8"; raw bytes "bytes" or "|S8".
  if (dtype == "str" || dtype == "object" || dtype.starts_with("<U") || dtype.starts_with(">U"))
    return std::pair{DataType::kBytes, std::string("string")};
  if (dtype == "bytes" || dtype.starts_with("|S")) return std::pair{DataType::kBytes, std::string("binary")};
  return InvalidArgument(who + ": numpy dtype " + QuoteForMessage(dtype) + " has no V2 tensor form");
}

// One side (inputs or outputs) of an MLflow schema, as its JSON text.
struct SchemaEntry {
  TensorSpec spec;
  std::string kind;  // for BYTES: string, binary or datetime
  Json column;       // the DataFrame column / dict key; null when unnamed
};

Result<std::vector<SchemaEntry>> ParseSchema(const Json& text, std::string_view side, bool* tensor_based) {
  const std::string where = "MLmodel signature." + std::string(side);
  if (!text.is_string())
    return InvalidArgument(where + " must be a JSON string, got " + std::string(JsonTypeName(text)));
  Result<Json> parsed = ParseJson(text.get<std::string>());
  if (!parsed.ok()) return parsed.status().WithContext(where);
  const Json& schema = *parsed;
  if (!schema.is_array() || schema.empty()) return InvalidArgument(where + " must be a non-empty JSON array");
  std::vector<SchemaEntry> entries;
  int tensors = 0;
  for (std::size_t i = 0; i < schema.size(); ++i) {
    const Json& item = schema[i];
    const std::string who = where + "[" + std::to_string(i) + "]";
    if (!item.is_object() || !item.contains("type") || !item["type"].is_string())
      return InvalidArgument(who + " must be an object with a string \"type\"");
    SchemaEntry entry;
    if (item.contains("name") && item["name"].is_string() && !item["name"].get<std::string>().empty()) {
      entry.spec.name = item["name"].get<std::string>();
      entry.column = entry.spec.name;
    }
    const std::string type = item["type"].get<std::string>();
    if (type == "tensor") {
      ++tensors;
      const Json* ts = item.contains("tensor-spec") ? &item["tensor-spec"] : nullptr;
      if (ts == nullptr || !ts->is_object() || !ts->contains("dtype") || !(*ts)["dtype"].is_string() ||
          !ts->contains("shape") || !(*ts)["shape"].is_array())
        return InvalidArgument(who + ": a tensor spec needs \"tensor-spec\": {\"dtype\", \"shape\"}");
      ASSIGN_OR_RETURN(auto type_kind, TensorType((*ts)["dtype"].get<std::string>(), who));
      entry.spec.datatype = type_kind.first;
      entry.kind = type_kind.second;
      for (const Json& d : (*ts)["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < -1)
          return InvalidArgument(who + ": tensor shape dimensions must be integers >= -1");
        entry.spec.shape.push_back(d.get<int64_t>());
      }
    } else {
      ASSIGN_OR_RETURN(auto type_kind, ColumnType(type, who));
      entry.spec.datatype = type_kind.first;
      entry.kind = type_kind.second;
    }
    entries.push_back(std::move(entry));
  }
  if (tensors != 0 && tensors != static_cast<int>(entries.size()))
    return InvalidArgument(where + " mixes tensor and column specs");
  *tensor_based = tensors != 0;
  return entries;
}

Json WorkerSpec(const SchemaEntry& entry) {
  Json spec = {{"name", entry.spec.name},
               {"datatype", std::string(protocol::DataTypeName(entry.spec.datatype))},
               {"column", entry.column}};
  if (!entry.kind.empty()) spec["kind"] = entry.kind;
  return spec;
}

// ---- Worker processes ------------------------------------------------------

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by " + SignalName(WTERMSIG(status));
  return "status " + std::to_string(status);
}

struct Worker {
  int index = 0;
  pid_t pid = -1;
  int sock = -1;       // our end of its stdin/stdout
  bool ready = false;  // its "ready" frame has been read
  int stderr_id = -1;  // its stream in the StderrPump
};

class PyfuncModel : public Model {
 public:
  PyfuncModel(std::string name, std::string model_dir, PythonRuntimeOptions options,
              PyfuncSignature signature)
      : name_(std::move(name)),
        model_dir_(std::move(model_dir)),
        options_(std::move(options)),
        signature_(std::move(signature.signature)),
        pump_(name_) {
    Json config = std::move(signature.worker_config);
    config["type"] = "config";
    config_ = config.dump();
  }

  ~PyfuncModel() override {
    StopAll();
    if (!script_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(script_dir_, ec);
    }
  }

  const ModelSignature& signature() const override { return signature_; }

  // Writes the script, starts every worker and waits for all to be ready.
  Status Start() {
    RETURN_IF_ERROR(WriteScript());
    workers_.resize(static_cast<std::size_t>(options_.workers));
    for (int i = 0; i < options_.workers; ++i) {
      workers_[i] = std::make_unique<Worker>();
      workers_[i]->index = i;
      RETURN_IF_ERROR(Spawn(*workers_[i], Clock::now() + options_.load_timeout));
    }
    const auto deadline = Clock::now() + options_.load_timeout;
    for (auto& worker : workers_) {
      Status st = AwaitReady(*worker, deadline);
      if (!st.ok()) return FailedPrecondition(st.message());
      idle_.push_back(worker.get());
    }
    LogEvent(spdlog::level::info, "python model loaded",
             {{"model", name_}, {"dir", model_dir_}, {"workers", options_.workers}});
    return Status::OK();
  }

  Result<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs,
                                    const std::vector<std::string>& outputs) const override {
    RETURN_IF_ERROR(CheckOutputs(signature_, outputs));
    ASSIGN_OR_RETURN(Worker * worker, Acquire());
    Result<std::vector<Tensor>> all = RunOn(*worker, inputs);
    Release(worker);
    if (!all.ok() || outputs.empty()) return all;
    std::vector<Tensor> picked;
    for (const std::string& name : outputs)
      for (Tensor& t : *all)
        if (t.name == name) picked.push_back(t);
    return picked;
  }

 private:
  std::string Who(const Worker& w) const { return "python worker " + std::to_string(w.index); }

  Status WriteScript() {
    std::error_code ec;
    const fs::path base =
        options_.work_dir.empty() ? fs::temp_directory_path(ec) : fs::path(options_.work_dir);
    if (ec) return FailedPrecondition("no temporary directory for the python worker script: " + ec.message());
    fs::create_directories(base, ec);
    std::string pattern = (base / "ferry-pyfunc-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      return FailedPrecondition("cannot create a folder in " + QuoteForMessage(base.string()) +
                                " for the python worker script: " + std::strerror(errno));
    script_dir_ = pattern;
    script_ = (fs::path(script_dir_) / "pyfunc_worker.py").string();
    std::ofstream out(script_, std::ios::binary);
    out.write(embedded::kPyfuncWorkerScript.data(),
              static_cast<std::streamsize>(embedded::kPyfuncWorkerScript.size()));
    out.close();
    if (!out) return FailedPrecondition("cannot write " + QuoteForMessage(script_));
    return Status::OK();
  }

  // Starts the process of `w` and queues its config frame.
  Status Spawn(Worker& w, Clock::time_point deadline) const {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return Unavailable("cannot create a socket for " + Who(w) + ": " + std::strerror(errno));
    int err[2];
    if (::pipe2(err, O_CLOEXEC) != 0) {
      const int e = errno;
      ::close(pair[0]);
      ::close(pair[1]);
      return Unavailable("cannot create a pipe for " + Who(w) + ": " + std::strerror(e));
    }
    std::vector<std::string> args = {options_.python, "-u", script_, model_dir_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pair[1], 0);
    posix_spawn_file_actions_adddup2(&actions, pair[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    // Its own process group, so that stopping it stops what it started.
    const SpawnAttributes attr(/*own_process_group=*/true);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &actions, attr.get(), argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pair[1]);
    ::close(err[1]);
    if (rc != 0) {
      ::close(pair[0]);
      ::close(err[0]);
      return FailedPrecondition("cannot start python " + QuoteForMessage(options_.python) + " for " + Who(w) +
                                ": " + std::strerror(rc));
    }
    ::fcntl(pair[0], F_SETFL, ::fcntl(pair[0], F_GETFL) | O_NONBLOCK);
    w.pid = pid;
    w.sock = pair[0];
    w.ready = false;
    w.stderr_id = pump_.Add(err[0], w.index);
    IoResult sent = SendFrame(w.sock, config_, {}, deadline);
    if (sent != IoResult::kOk) {
      // Reported when the ready frame does not come.
      LogEvent(spdlog::level::warn, "cannot send the config to a python worker",
               {{"model", name_}, {"worker", w.index}, {"error", std::string(IoResultText(sent))}});
    }
    return Status::OK();
  }

  // Ends the process of `w`: waits up to `grace` for it to exit by itself,
  // then kills its process group. Returns how it ended ("exit code 3",
  // "killed by SIGKILL").
  std::string Reap(Worker& w, std::chrono::milliseconds grace) const {
    if (w.sock >= 0) ::close(w.sock);
    w.sock = -1;
    w.ready = false;
    if (w.pid <= 0) return "not running";
    int status = 0;
    pid_t done = 0;
    const auto until = Clock::now() + grace;
    while ((done = ::waitpid(w.pid, &status, WNOHANG)) == 0 && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (done == 0) {
      ::kill(-w.pid, SIGKILL);
      ::kill(w.pid, SIGKILL);
      while ((done = ::waitpid(w.pid, &status, 0)) < 0 && errno == EINTR) {
      }
    } else {
      ::kill(-w.pid, SIGKILL);  // whatever it left behind in its group
    }
    w.pid = -1;
    pump_.WaitClosed(w.stderr_id, std::chrono::milliseconds(500));
    return done > 0 ? DescribeWaitStatus(status) : "status unknown";
  }

  // Reads the worker's first frame: "ready", or the reason it cannot load.
  Status AwaitReady(Worker& w, Clock::time_point deadline) const {
    Frame frame;
    IoResult io = ReadFrame(w.sock, kMaxHeaderBytes, kMaxBodyBytes, deadline, &frame);
    if (io == IoResult::kOk && StringField(frame.header, "type") == "ready") {
      w.ready = true;
      return Status::OK();
    }
    std::string why;
    if (io == IoResult::kOk && StringField(frame.header, "type") == "error") {
      why = StringField(frame.header, "message", "no message");
    } else if (io == IoResult::kOk) {
      why = "sent " + QuoteForMessage(StringField(frame.header, "type")) + " before \"ready\"";
    } else if (io == IoResult::kTimeout) {
      why = "did not load the model within " + std::to_string(options_.load_timeout.count()) + " ms";
    }
    const std::string ended = Reap(w, std::chrono::milliseconds(io == IoResult::kTimeout ? 0 : 1000));
    if (why.empty()) why = "exited (" + ended + ") before loading the model";
    std::string message =
        Who(w) + " for model " + QuoteForMessage(name_) + " (" + options_.python + "): " + why;
    const std::string tail = pump_.Tail(w.index, kStderrTailLines);
    if (!tail.empty()) message += "; its stderr ended with:\n" + tail;
    return Unavailable(message);
  }

  Result<Worker*> Acquire() const {
    std::unique_lock lock(mu_);
    if (idle_.empty()) {
      if (waiting_ >= options_.max_queued_requests)
        return ResourceExhausted("model " + QuoteForMessage(name_) + " queue is full (all " +
                                 std::to_string(options_.workers) + " python workers busy, " +
                                 std::to_string(waiting_) + " requests waiting); retry later");
      ++waiting_;
      const bool got = cv_.wait_for(lock, options_.request_timeout, [this] { return !idle_.empty(); });
      --waiting_;
      if (!got)
        return Unavailable("model " + QuoteForMessage(name_) + ": no python worker became free within " +
                           std::to_string(options_.request_timeout.count()) + " ms");
    }
    // A ready worker first: a restarted one is still importing mlflow and
    // loading the model, which takes seconds.
    auto it = std::find_if(idle_.begin(), idle_.end(), [](const Worker* w) { return w->ready; });
    if (it == idle_.end()) it = idle_.begin();
    Worker* worker = *it;
    idle_.erase(it);
    return worker;
  }

  void Release(Worker* worker) const {
    {
      std::lock_guard lock(mu_);
      idle_.push_back(worker);
    }
    cv_.notify_one();
  }

  // Replaces a failed process of `w` with a new one; the text to append to
  // the error of the request it held.
  std::string Restart(Worker& w) const {
    Status st = Spawn(w, Clock::now() + options_.request_timeout);
    if (!st.ok()) return "; restarting it failed: " + st.message();
    return "; restarted";
  }

  Status Crashed(Worker& w, std::string_view what, IoResult io) const {
    const bool died = io == IoResult::kEof || io == IoResult::kError;
    std::string ended = Reap(w, std::chrono::milliseconds(died ? 1000 : 0));
    std::string message;
    if (died)
      message = Who(w) + " exited (" + ended + ") " + std::string(what);
    else
      message = Who(w) + " " + std::string(what) + "; killed (" + ended + ")";
    LogEvent(spdlog::level::warn, "python worker failed",
             {{"model", name_}, {"worker", w.index}, {"error", message}});
    message += Restart(w);
    return Unavailable(message);
  }

  Result<std::vector<Tensor>> RunOn(Worker& w, const std::vector<Tensor>& inputs) const {
    if (w.pid < 0) {
      Status st = Spawn(w, Clock::now() + options_.load_timeout);
      if (!st.ok()) return Unavailable(Who(w) + " is down and cannot be restarted: " + st.message());
    }
    if (!w.ready) {
      // A restarted worker gets the load timeout to load the model; the
      // request's own timeout starts once it has.
      Status st = AwaitReady(w, Clock::now() + options_.load_timeout);
      if (!st.ok()) return Unavailable(st.message() + Restart(w));
    }
    const auto deadline = Clock::now() + options_.request_timeout;

    Json metas = Json::array();
    std::vector<std::string_view> body;
    for (const Tensor& t : inputs) {
      metas.push_back({{"name", t.name},
                       {"datatype", std::string(protocol::DataTypeName(t.datatype))},
                       {"shape", t.shape},
                       {"size", t.data.size()}});
      body.push_back(t.data);
    }
    const std::string header = Json{{"type", "infer"}, {"inputs", std::move(metas)}}.dump();
    IoResult io = SendFrame(w.sock, header, body, deadline);
    if (io == IoResult::kTimeout) return TimedOut(w);
    if (io != IoResult::kOk) return Crashed(w, "before taking the request", io);

    Frame frame;
    io = ReadFrame(w.sock, kMaxHeaderBytes, kMaxBodyBytes, deadline, &frame);
    if (io == IoResult::kTimeout) return TimedOut(w);
    if (io == IoResult::kBadFrame)
      return Crashed(w, "sent a bad frame (" + frame.error + ") while running the request", io);
    if (io != IoResult::kOk) return Crashed(w, "while running the request", io);

    const std::string type = StringField(frame.header, "type");
    if (type == "error") {
      const std::string code = StringField(frame.header, "code", "Internal");
      const std::string message =
          "model " + QuoteForMessage(name_) + ": " + StringField(frame.header, "message");
      if (code == "InvalidArgument") return InvalidArgument(message);
      return Internal(message);
    }
    Result<std::vector<Tensor>> outputs = DecodeResult(frame);
    if (!outputs.ok())
      return Crashed(w, "sent a bad frame (" + outputs.status().message() + ") while running the request",
                     IoResult::kBadFrame);
    return outputs;
  }

  Status TimedOut(Worker& w) const {
    const std::string ended = Reap(w, std::chrono::milliseconds(0));
    std::string message = Who(w) + " did not answer within " +
                          std::to_string(options_.request_timeout.count()) + " ms; killed (" + ended + ")";
    LogEvent(spdlog::level::warn, "python worker timed out", {{"model", name_}, {"worker", w.index}});
    message += Restart(w);
    return Status(StatusCode::kDeadlineExceeded, message);
  }

  // The outputs of a "result" frame, checked against the signature.
  Result<std::vector<Tensor>> DecodeResult(const Frame& frame) const {
    if (StringField(frame.header, "type") != "result") return Internal("unexpected frame type");
    const Json& metas = frame.header.contains("outputs") ? frame.header["outputs"] : Json();
    if (!metas.is_array() || metas.size() != signature_.outputs.size())
      return Internal("expected " + std::to_string(signature_.outputs.size()) + " outputs");
    std::vector<Tensor> outputs;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < metas.size(); ++i) {
      const Json& meta = metas[i];
      const TensorSpec& spec = signature_.outputs[i];
      if (!meta.is_object() || StringField(meta, "name") != spec.name ||
          StringField(meta, "datatype") != protocol::DataTypeName(spec.datatype) || !meta.contains("shape") ||
          !meta["shape"].is_array() || !meta.contains("size") || !meta["size"].is_number_unsigned())
        return Internal("output " + std::to_string(i) + " does not describe " + QuoteForMessage(spec.name));
      Tensor t;
      t.name = spec.name;
      t.datatype = spec.datatype;
      for (const Json& d : meta["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) return Internal("a bad output shape");
        t.shape.push_back(d.get<int64_t>());
      }
      const uint64_t size = meta["size"].get<uint64_t>();
      if (size > frame.body.size() - pos) return Internal("output sizes exceed the body");
      t.data.assign(frame.body, pos, size);
      pos += size;
      RETURN_IF_ERROR(protocol::CheckTensorData(t));
      outputs.push_back(std::move(t));
    }
    if (pos != frame.body.size()) return Internal("the body is longer than its outputs");
    return outputs;
  }

  void StopAll() {
    // Closing the socket ends a worker's read loop; SIGTERM ends one that is
    // busy; SIGKILL after a grace period ends the rest.
    for (auto& w : workers_) {
      if (!w) continue;
      if (w->sock >= 0) ::close(w->sock);
      w->sock = -1;
      if (w->pid > 0) ::kill(-w->pid, SIGTERM);
    }
    for (auto& w : workers_)
      if (w) Reap(*w, std::chrono::milliseconds(2000));
  }

  std::string name_;
  std::string model_dir_;
  PythonRuntimeOptions options_;
  ModelSignature signature_;
  std::string config_;
  std::string script_dir_;
  std::string script_;
  mutable StderrPump pump_;

  // The workers are fixed at Start; a Worker is touched only by the request
  // that took it from idle_ (or by the destructor, when none is running).
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable std::vector<Worker*> idle_;
  mutable int waiting_ = 0;
};

}  // namespace

bool IsPyfuncModelDir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "MLmodel", ec);
}

Result<PyfuncSignature> ParsePyfuncSignature(std::string_view mlmodel) {
  Result<Json> parsed = ParseYaml(mlmodel);
  if (!parsed.ok()) return parsed.status().WithContext("MLmodel");
  const Json& root = *parsed;
  if (!root.is_object()) return InvalidArgument("MLmodel must be a YAML mapping");
  const Json* flavors = root.contains("flavors") ? &root["flavors"] : nullptr;
  if (flavors == nullptr || !flavors->is_object() || !flavors->contains("python_function"))
    return InvalidArgument("MLmodel has no python_function flavor, so it is not an MLflow pyfunc model");
  const Json* signature = root.contains("signature") ? &root["signature"] : nullptr;
  if (signature == nullptr || !signature->is_object() || !signature->contains("inputs") ||
      (*signature)["inputs"].is_null())
    return InvalidArgument(
        "MLmodel has no signature, so the model's V2 inputs and outputs are unknown; log the model with "
        "signature= or input_example= (mlflow.models.infer_signature)");

  PyfuncSignature result;
  result.signature.platform = "python";
  bool tensor_inputs = false;
  ASSIGN_OR_RETURN(std::vector<SchemaEntry> inputs,
                   ParseSchema((*signature)["inputs"], "inputs", &tensor_inputs));
  bool named = true;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SchemaEntry& entry = inputs[i];
    named = named && !entry.column.is_null();
    if (entry.spec.name.empty()) entry.spec.name = "input-" + std::to_string(i);
    // A DataFrame column arrives as a [rows, 1] tensor, as MLServer declares it.
    if (!tensor_inputs) entry.spec.shape = {-1, 1};
    if (entry.column.is_null()) entry.column = static_cast<int64_t>(i);
  }
  std::string input_format = "dataframe";
  if (tensor_inputs) {
    if (named) {
      input_format = "dict";
    } else if (inputs.size() == 1) {
      input_format = "ndarray";
    } else {
      return InvalidArgument("MLmodel signature.inputs has " + std::to_string(inputs.size()) +
                             " unnamed tensors; a pyfunc model takes several tensors only by name");
    }
  }

  std::vector<SchemaEntry> outputs;
  const Json& output_text = signature->contains("outputs") ? (*signature)["outputs"] : Json();
  if (output_text.is_null()) {
    // No output schema: one output of the model's numbers.
    SchemaEntry entry;
    entry.spec = {"predict", DataType::kFp64, {-1}};
    outputs.push_back(std::move(entry));
  } else {
    bool tensor_outputs = false;
    ASSIGN_OR_RETURN(outputs, ParseSchema(output_text, "outputs", &tensor_outputs));
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      SchemaEntry& entry = outputs[i];
      if (entry.spec.name.empty())
        entry.spec.name = outputs.size() == 1 ? "predict" : "output-" + std::to_string(i);
      if (!tensor_outputs) entry.spec.shape = {-1};
      if (entry.column.is_null()) entry.column = entry.spec.name;
    }
  }
  for (std::size_t i = 0; i < outputs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (outputs[i].spec.name == outputs[j].spec.name)
        return InvalidArgument("MLmodel signature.outputs names " + QuoteForMessage(outputs[i].spec.name) +
                               " twice");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (inputs[i].spec.name == inputs[j].spec.name)
        return InvalidArgument("MLmodel signature.inputs names " + QuoteForMessage(inputs[i].spec.name) +
                               " twice");

  Json worker_inputs = Json::array();
  for (const SchemaEntry& entry : inputs) {
    worker_inputs.push_back(WorkerSpec(entry));
    result.signature.inputs.push_back(entry.spec);
  }
  Json worker_outputs = Json::array();
  for (const SchemaEntry& entry : outputs) {
    worker_outputs.push_back(WorkerSpec(entry));
    result.signature.outputs.push_back(entry.spec);
  }
  result.worker_config = {
      {"input_format", input_format}, {"inputs", worker_inputs}, {"outputs", worker_outputs}};
  return result;
}

Result<std::shared_ptr<const Model>> LoadPyfuncModel(const std::string& model_dir, std::string_view name,
                                                     const PythonRuntimeOptions& options) {
  const std::string who = "pyfunc model " + QuoteForMessage(model_dir);
  if (options.workers < 1 || options.workers > 256)
    return InvalidArgument("python workers must be between 1 and 256, got " +
                           std::to_string(options.workers));
  if (options.max_queued_requests < 0)
    return InvalidArgument("python max queued requests must not be negative");
  if (options.python.empty()) return InvalidArgument("the python interpreter must not be empty");
  if (options.request_timeout.count() <= 0 || options.load_timeout.count() <= 0)
    return InvalidArgument("python request and load timeouts must be positive");
  if (!IsPyfuncModelDir(model_dir)) return InvalidArgument(who + " is not a folder with an MLmodel file");
  std::ifstream in(fs::path(model_dir) / "MLmodel", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return FailedPrecondition("cannot read " + who + "/MLmodel");
  Result<PyfuncSignature> signature = ParsePyfuncSignature(text);
  if (!signature.ok()) return signature.status().WithContext(who);
  std::error_code ec;
  fs::path absolute = fs::absolute(model_dir, ec);
  auto model = std::make_shared<PyfuncModel>(std::string(name), ec ? model_dir : absolute.string(), options,
                                             std::move(signature).value());
  Status st = model->Start();
  if (!st.ok()) return st.WithContext("loading " + who);
  return std::shared_ptr<const Model>(std::move(model));
}

}  // namespace ferry::serving::python
