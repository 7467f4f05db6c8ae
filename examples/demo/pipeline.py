"""The demo's ML pipeline: an ordinary Kubeflow Pipelines (KFP v2) pipeline,
compiled with the stock `kfp` SDK and run on Ferry unchanged.

    load-data -> preprocess -> train -> evaluate

- load-data writes scikit-learn's bundled wine dataset (a Dataset artifact);
- preprocess splits it, fits a StandardScaler on the training part and writes
  the scaled train and test sets (Datasets) and the scaler (a Model);
- train fits an SGDClassifier epoch by epoch and logs params, per-epoch
  metrics, the dataset and the model (scaler + classifier) to MLflow, then
  registers the model; it outputs the classifier (a Model) and the version;
- evaluate loads that registered version back from the registry, measures
  its accuracy on the held-out set (KFP Metrics and an MLflow metric) and,
  when it clears `min_accuracy`, gives it the alias `champion`.

The components hold no tracking configuration: Ferry starts each task with
MLFLOW_TRACKING_URI pointing at itself, and the Ferry SDK tags each MLflow
run with the pipeline run and task (`ferry.pipeline_run_id`,
`ferry.pipeline_task`), so `ferry describe model wine-classifier` traces the
version to its pipeline run and the artifacts the training task consumed.

The components import scikit-learn, pandas and mlflow from the Python
environment Ferry runs tasks in (`ferry server --task-python`); on a
Kubeflow cluster, give them a `base_image` that has those packages.

    python examples/demo/pipeline.py wine_pipeline.yaml               # compile
    ferry run wine_pipeline.yaml --watch                               # run on Ferry
    python examples/demo/pipeline.py wine_pipeline.yaml --run URL      # or through kfp.Client
"""

import argparse
import sys

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

# Recorded in the compiled pipeline; Ferry runs tasks in --task-python instead.
# (No `from __future__ import annotations` here: kfp reads the real types.)
BASE_IMAGE = "python:3.11"


@dsl.component(base_image=BASE_IMAGE)
def load_data(raw: Output[Dataset]):
    """scikit-learn's bundled wine dataset as CSV (13 features, 3 classes)."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame.to_csv(raw.path, index=False)
    raw.metadata.update({"rows": len(frame), "source": "sklearn.datasets.load_wine"})


@dsl.component(base_image=BASE_IMAGE)
def preprocess(raw: Input[Dataset], test_size: float, train_data: Output[Dataset], test_data: Output[Dataset],
               scaler: Output[Model]):
    """A stratified train/test split, standardised with a scaler fitted on the training part."""
    import pickle

    import pandas as pd
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(raw.path)
    x = frame.drop(columns="target").astype("float64")
    train, test = train_test_split(frame, test_size=test_size, random_state=7, stratify=frame["target"])
    fitted = StandardScaler().fit(x.loc[train.index])
    for part, out in ((train, train_data), (test, test_data)):
        scaled = pd.DataFrame(fitted.transform(part[x.columns]), columns=x.columns)
        scaled["target"] = part["target"].to_numpy()
        scaled.to_csv(out.path, index=False)
        out.metadata["rows"] = len(scaled)
    with open(scaler.path, "wb") as f:
        pickle.dump(fitted, f)


@dsl.component(base_image=BASE_IMAGE)
def train(train_data: Input[Dataset], test_data: Input[Dataset], scaler: Input[Model], epochs: int, alpha: float,
          experiment: str, model_name: str, model: Output[Model]) -> str:
    """Trains, logs to MLflow and registers the model (scaler + classifier); returns the new version."""
    import pickle

    import mlflow
    import numpy as np
    import pandas as pd
    import sklearn
    from sklearn.linear_model import SGDClassifier
    from mlflow.models import infer_signature
    from sklearn.pipeline import make_pipeline

    train_frame, test_frame = pd.read_csv(train_data.path), pd.read_csv(test_data.path)
    features = [c for c in train_frame.columns if c != "target"]
    # The classifier sees scaled arrays (as inside the pipeline below), the scaler named columns.
    x_train, y_train = train_frame[features].to_numpy(), train_frame["target"]
    x_test, y_test = test_frame[features].to_numpy(), test_frame["target"]
    with open(scaler.path, "rb") as f:
        fitted_scaler = pickle.load(f)

    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="train-sgd"):
        mlflow.log_params({"alpha": alpha, "epochs": epochs, "model": "SGDClassifier"})
        mlflow.log_input(mlflow.data.from_pandas(train_frame, name="wine-train", targets="target"),
                         context="training")
        clf = SGDClassifier(loss="log_loss", alpha=alpha, random_state=7)
        classes = np.unique(y_train)
        for epoch in range(epochs):
            clf.partial_fit(x_train, y_train, classes=classes)
            mlflow.log_metrics({"train_accuracy": clf.score(x_train, y_train),
                                "test_accuracy": clf.score(x_test, y_test)}, step=epoch)

        # The registered model takes raw features: the scaler goes in front.
        # An explicit signature and requirements spare mlflow re-loading the
        # model to infer them (seconds per task).
        pipeline = make_pipeline(fitted_scaler, clf)
        raw_example = pd.DataFrame(fitted_scaler.inverse_transform(x_test[:3]), columns=features)
        info = mlflow.sklearn.log_model(pipeline, name="model",
                                        signature=infer_signature(raw_example, pipeline.predict(raw_example)),
                                        pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
        version = mlflow.register_model(info.model_uri, model_name)

    with open(model.path, "wb") as f:
        pickle.dump(clf, f)
    model.metadata.update({"framework": "scikit-learn", "registered_model": model_name,
                           "version": version.version})
    return str(version.version)


@dsl.component(base_image=BASE_IMAGE)
def evaluate(test_data: Input[Dataset], scaler: Input[Model], model_name: str, version: str, min_accuracy: float,
             metrics: Output[Metrics]) -> float:
    """Loads the registered version back, scores it on the held-out set and promotes it to @champion."""
    import pickle

    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient

    test_frame = pd.read_csv(test_data.path)
    with open(scaler.path, "rb") as f:
        fitted_scaler = pickle.load(f)
    x_scaled = test_frame.drop(columns="target")
    x_raw = pd.DataFrame(fitted_scaler.inverse_transform(x_scaled.to_numpy()), columns=x_scaled.columns)

    client = MlflowClient()
    registered = client.get_model_version(model_name, version)
    predicted = mlflow.sklearn.load_model(f"models:/{model_name}/{version}").predict(x_raw)
    accuracy = float((np.asarray(predicted) == test_frame["target"].to_numpy()).mean())
    metrics.log_metric("accuracy", accuracy)
    client.log_metric(registered.run_id, "holdout_accuracy", accuracy)
    if accuracy >= min_accuracy:
        client.set_registered_model_alias(model_name, "champion", version)
        print(f"{model_name} version {version}: accuracy {accuracy:.3f}, now @champion")
    else:
        print(f"{model_name} version {version}: accuracy {accuracy:.3f} < {min_accuracy}, not promoted")
    return accuracy


@dsl.pipeline(name="wine-pipeline", description="load wine -> preprocess -> train -> evaluate")
def wine_pipeline(epochs: int = 20, alpha: float = 1e-3, test_size: float = 0.3, min_accuracy: float = 0.8,
                  experiment: str = "wine-quality", model_name: str = "wine-classifier"):
    data = load_data()
    prep = preprocess(raw=data.outputs["raw"], test_size=test_size)
    # Training and evaluation write to the registry, so they always run;
    # loading and preprocessing are cached (KFP's cache key: the component
    # and its inputs).
    trained = train(train_data=prep.outputs["train_data"], test_data=prep.outputs["test_data"],
                    scaler=prep.outputs["scaler"], epochs=epochs, alpha=alpha, experiment=experiment,
                    model_name=model_name).set_caching_options(False)
    evaluate(test_data=prep.outputs["test_data"], scaler=prep.outputs["scaler"], model_name=model_name,
             version=trained.outputs["Output"], min_accuracy=min_accuracy).set_caching_options(False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="where to write the compiled pipeline (YAML)")
    parser.add_argument("--run", metavar="URL", help="also run it on the Ferry server at URL through kfp.Client")
    args = parser.parse_args()

    compiler.Compiler().compile(wine_pipeline, args.output)
    print(f"compiled {args.output}")
    if not args.run:
        return 0
    import kfp

    client = kfp.Client(host=args.run)
    run = client.create_run_from_pipeline_package(args.output, arguments={}, run_name="wine-pipeline",
                                                  experiment_name="demo")
    print(f"run {run.run_id} submitted")
    final = client.wait_for_run_completion(run.run_id, timeout=600, sleep_duration=1)
    print(f"run {run.run_id}: {final.state}")
    return 0 if final.state == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
