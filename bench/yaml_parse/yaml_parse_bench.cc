// Throughput of ferry::ParseYaml on resource-like block YAML, and the time it
// takes to reject hostile inputs (alias bomb, tiny stalling stream, deep flow
// nesting). See README.md for how to build and run it.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"

namespace {

using Clock = std::chrono::steady_clock;

// One list item shaped like a Training Operator job, as `ferry apply -f`
// receives them: labels, annotations, container command, args, env,
// resources and a literal-block script, with plain, quoted and numeric
// scalars. @N is the item's number, @T its namespace's, @S its shard's.
constexpr std::string_view kItem = R"(- apiVersion: kubeflow.org/v1
  kind: PyTorchJob
  metadata:
    name: train-@N
    namespace: team-@T
    labels:
      app.kubernetes.io/name: trainer
      app.kubernetes.io/part-of: ferry
      ferry.dev/run-id: 3f2a9c1e-@N
    annotations:
      description: "Fine-tune run @N on shard @S"
      owner: 'ml-platform@example.com'
  spec:
    runPolicy:
      cleanPodPolicy: None
      backoffLimit: 3
      activeDeadlineSeconds: 86400
    pytorchReplicaSpecs:
      Worker:
        replicas: 4
        restartPolicy: OnFailure
        template:
          spec:
            containers:
            - name: pytorch
              image: registry.example.com/ml/trainer:1.4.2
              command: ["python", "-m", "train"]
              args:
              - --epochs=10
              - --learning-rate=0.0003
              - --batch-size=256
              env:
              - name: SHARD
                value: "@S"
              - name: WANDB_MODE
                value: offline
              resources:
                limits:
                  cpu: 4
                  memory: 16Gi
                  nvidia.com/gpu: 1
                requests:
                  cpu: 2.5
                  memory: 8Gi
              workingDir: /workspace
              script: |
                set -euo pipefail
                python train.py --data /data/shard-@N --checkpoint-every 500
                echo done
            tolerations:
            - key: nvidia.com/gpu
              operator: Exists
              effect: NoSchedule
    enabled: true
    priority: null
)";

void ReplaceAll(std::string& text, std::string_view from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

std::string ResourceItem(int i) {
  std::string item(kItem);
  ReplaceAll(item, "@N", std::to_string(i));
  ReplaceAll(item, "@T", std::to_string(i % 17));
  ReplaceAll(item, "@S", std::to_string(i % 64));
  return item;
}

// A "kind: List" document of at least `bytes` bytes.
std::string ResourceList(std::size_t bytes) {
  std::string text = "apiVersion: v1\nkind: List\nitems:\n";
  for (int i = 0; text.size() < bytes; ++i) text += ResourceItem(i);
  return text;
}

std::string AliasBomb() {
  std::string bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + std::string(1, c) + " [";
    for (int k = 0; k < 9; ++k) bomb += (k ? ", *" : "*") + prev;
    bomb += "]\n";
  }
  return bomb;
}

// Best wall time of `reps` parses, in seconds; exits if the outcome is not `expect_ok`.
double TimeParse(const std::string& text, const ferry::ParseLimits& limits, int reps, bool expect_ok) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    auto start = Clock::now();
    auto parsed = ferry::ParseYaml(text, limits);
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (parsed.ok() != expect_ok) {
      std::fprintf(stderr, "unexpected outcome: %s\n",
                   parsed.ok() ? "parsed" : parsed.status().ToString().c_str());
      std::exit(1);
    }
    if (secs < best) best = secs;
  }
  return best;
}

}  // namespace

int main() {
  // Throughput is measured without the node limit: a 32 MB list holds more
  // than the default million nodes, and the limit is not what is measured.
  ferry::ParseLimits unlimited;
  unlimited.max_nodes = static_cast<std::size_t>(-1);

  std::printf("%-34s %10s %10s %10s\n", "input", "bytes", "best ms", "MB/s");
  struct Size {
    std::size_t mb;
    int reps;
  };
  for (Size size : std::vector<Size>{{1, 5}, {8, 3}, {32, 2}}) {
    std::string text = ResourceList(size.mb << 20);
    double secs = TimeParse(text, unlimited, size.reps, true);
    std::printf("%-34s %10zu %10.1f %10.1f\n", ("resource list " + std::to_string(size.mb) + " MB").c_str(),
                text.size(), secs * 1e3, static_cast<double>(text.size()) / secs / 1e6);
  }

  struct Hostile {
    const char* name;
    std::string text;
  };
  for (const Hostile& h : std::vector<Hostile>{
           {"alias bomb (9^9, default limits)", AliasBomb()},
           {"\",\\n|\\n|.\" (yaml-cpp#1319)", ",\n|\n|."},
           {"1 MB of '[' (default limits)", std::string(1 << 20, '[')},
       }) {
    double secs = TimeParse(h.text, ferry::ParseLimits{}, 5, false);
    std::printf("%-34s %10zu %10.3f %10s\n", h.name, h.text.size(), secs * 1e3, "rejected");
  }
  return 0;
}
