#pragma once
// ExperimentController: runs Katib Experiments (kubeflow.org/v1beta1) kept
// in the ResourceStore, the way Katib's experiment, suggestion and trial
// controllers do together, in one reconcile loop.
//
// For each Experiment the controller keeps a study in the StudyService
// (named "katib-<uid>": the search space, the objective's direction, the
// algorithm and the early-stopping pruner). While the experiment runs it
// asks the study for trials up to parallelTrialCount at a time and
// maxTrialCount in all; each trial becomes a Trial object
// ("<experiment>-<number>", labelled katib.kubeflow.org/experiment) and a
// task of the Executor running the trial's primary container command
// locally. The trial's metrics are read from its output (StdOut), its
// metrics file (File) or the file ferry.tune.report_metrics writes (Push,
// env FERRY_TRIAL_METRICS_FILE), as Katib's collector reads them; with
// early stopping, each objective value the trial prints is reported to the
// study as it appears and the trial is stopped when the pruner says so.
// A finished trial is told to the study (COMPLETE with its objective value,
// FAILED, or PRUNED), and the Experiment's status follows Katib's: the
// Created/Running/Succeeded/Failed conditions with Katib's reasons,
// currentOptimalTrial, the trial lists and counts.
//
// Where a trial runs: cwd is the container's workingDir when it is set
// (it must be an existing local directory), else the trial's sandbox
// <data_dir>/tuning/<experiment uid>/<number>; the environment is the
// server's, then the container's env, then KATIB_TRIAL_NAME and
// FERRY_TRIAL_METRICS_FILE. A File collector's path is mapped into the
// sandbox: each occurrence of it in the command, args and env values is
// replaced by <sandbox>/<path>. The trial's output goes to
// <data_dir>/tuning/<experiment uid>/logs/<number>.log, which the Trial's
// annotation tuning.ferry.dev/log names.
//
// Durability: every step is in the store before the next one starts (the
// study's trial before its Trial object, the Trial object before its task
// is submitted), and task ids are fixed by (experiment uid, trial number),
// so a restarted controller re-attaches to the trials that were running
// (Executor::Reattach by id), submits those that never started, and never
// runs one twice.
//
// Spec edits: Katib's webhook allows only parallelTrialCount, maxTrialCount
// and maxFailedTrialCount to change (RegisterTuningTypes enforces it); a
// raised maxTrialCount restarts an experiment that succeeded by reaching
// the old one when its resumePolicy is LongRunning or FromVolume. Deleting
// an experiment cancels its running trials and deletes its Trial objects,
// its study and its files.
//
// Thread-safety: the controller works on its own thread; Shutdown() may be
// called from any thread, once.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/executors/executor.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/resource_types.h"
#include "ferry/tuning/study_service.h"

namespace ferry::tuning {

// The ResourceStore keys of the two kinds.
inline constexpr char kExperimentsKey[] = "experiments.kubeflow.org";
inline constexpr char kTrialsKey[] = "trials.kubeflow.org";
// The label every Trial carries: its experiment's name.
inline constexpr char kExperimentLabel[] = "katib.kubeflow.org/experiment";
// The annotation naming the file the trial's output goes to.
inline constexpr char kTrialLogAnnotation[] = "tuning.ferry.dev/log";

// Registers Experiment (validated by ValidateExperimentObject; only the
// trial counts may change in an update) and Trial (read-only through the
// API: only the controller writes trials).
Status RegisterTuningTypes(store::ResourceTypes& types);

struct ExperimentControllerOptions {
  std::string data_dir;  // trials' sandboxes and logs go under <data_dir>/tuning
  // The environment every trial starts from (the server's).
  std::map<std::string, std::string> base_env;
  // Called with an experiment's study name and the name its trials' MLflow
  // runs go under ("<name>" in the default namespace, else "<ns>/<name>")
  // before the study's first trial; the server points TrialRuns at it.
  std::function<void(const std::string& study, const std::string& tracking_experiment)> name_study;
  // How often the output of running trials is read for early stopping.
  std::chrono::milliseconds poll_interval{250};
};

class ExperimentController {
 public:
  // Starts the loop: takes up every Experiment in the store (resuming those
  // that were running) and then follows their changes. The pointers must
  // outlive the controller.
  static Result<std::unique_ptr<ExperimentController>> Start(store::ResourceStore* resources,
                                                             StudyService* studies,
                                                             executors::Executor* executor, Env* env,
                                                             ExperimentControllerOptions options);
  virtual ~ExperimentController() = default;
  // Stops the loop; running trials keep running (the next start re-attaches
  // them). Call before the executor shuts down.
  virtual void Shutdown() = 0;
};

}  // namespace ferry::tuning
