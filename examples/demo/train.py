"""The demo's training step: an ordinary MLflow training script, unchanged
from what a team runs against an MLflow server, pointed at Ferry.

It trains a classifier on scikit-learn's bundled wine dataset, logs params,
per-epoch metrics, the dataset and the model through the stock `mlflow`
client, registers the model, gives the new version the alias `champion`, and
loads `models:/NAME@champion` back to check its predictions.

    MLFLOW_TRACKING_URI=http://127.0.0.1:8080 python examples/demo/train.py
"""

from __future__ import annotations

import argparse
import os

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.datasets import load_wine
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="wine-quality")
    parser.add_argument("--model-name", default="wine-classifier")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=1e-3)
    args = parser.parse_args()

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:8080"))
    mlflow.set_experiment(args.experiment)

    frame = load_wine(as_frame=True).frame
    x = frame.drop(columns="target").astype("float64")
    y = frame["target"]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=7, stratify=y)

    with mlflow.start_run(run_name="train-sgd") as run:
        mlflow.log_params({"alpha": args.alpha, "epochs": args.epochs, "model": "SGDClassifier"})
        mlflow.log_input(mlflow.data.from_pandas(frame, name="wine", targets="target"), context="training")

        scaler = StandardScaler().fit(x_train)
        clf = SGDClassifier(loss="log_loss", alpha=args.alpha, random_state=7)
        classes = np.unique(y_train)
        for epoch in range(args.epochs):
            clf.partial_fit(scaler.transform(x_train), y_train, classes=classes)
            mlflow.log_metrics(
                {
                    "train_accuracy": clf.score(scaler.transform(x_train), y_train),
                    "test_accuracy": clf.score(scaler.transform(x_test), y_test),
                },
                step=epoch,
            )

        model = make_pipeline(scaler, clf)
        info = mlflow.sklearn.log_model(model, name="model", input_example=x_test.head(3))
        version = mlflow.register_model(info.model_uri, args.model_name)
        MlflowClient().set_registered_model_alias(args.model_name, "champion", version.version)

    champion = mlflow.pyfunc.load_model(f"models:/{args.model_name}@champion")
    predicted = champion.predict(x_test)
    accuracy = float((np.asarray(predicted) == y_test.to_numpy()).mean())
    print(f"run {run.info.run_id}: test accuracy {accuracy:.3f}")
    print(f"registered {args.model_name} version {version.version} as @champion")


if __name__ == "__main__":
    main()
