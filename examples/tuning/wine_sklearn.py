#!/usr/bin/env python3
"""A scikit-learn model as a Katib trial: an RBF support-vector classifier on the wine data set.

`python3 wine_sklearn.py --C=10 --gamma=0.01 --kernel=rbf` prints the
5-fold cross-validated accuracy and log loss as `accuracy=<v>` and
`loss=<v>` (Katib's StdOut collector), or with --log-path writes them to a
file as `{metricName: accuracy, metricValue: 0.97}` lines (Katib's File
collector, the format of Katib's mnist examples).

The data set ships with scikit-learn (load_wine, or load_breast_cancer with
--dataset=breast_cancer): nothing is downloaded. Features are standardised
inside each fold. Good settings reach about 0.98; a large gamma overfits
(about 0.4), so the search space has a real optimum.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings


def main(argv: list) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    p.add_argument("--gamma", type=float, default=0.1, help="RBF kernel width")
    p.add_argument("--kernel", choices=("rbf", "linear", "poly", "sigmoid"), default="rbf")
    p.add_argument("--dataset", choices=("wine", "breast_cancer"), default="wine")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-path", default="", help="write metrics to this file instead of stdout")
    args = p.parse_args(argv)

    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = (load_wine if args.dataset == "wine" else load_breast_cancer)(return_X_y=True)
    model = make_pipeline(StandardScaler(),
                          SVC(C=args.C, gamma=args.gamma, kernel=args.kernel, probability=True,
                              random_state=args.seed))
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_validate(model, x, y, cv=folds, scoring={"accuracy": "accuracy", "loss": "neg_log_loss"})
    metrics = {"accuracy": float(scores["test_accuracy"].mean()), "loss": float(-scores["test_loss"].mean())}

    print(f"{args.dataset}: C={args.C:g} gamma={args.gamma:g} kernel={args.kernel} folds={args.folds}",
          file=sys.stderr)
    if args.log_path:
        os.makedirs(os.path.dirname(os.path.abspath(args.log_path)), exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(args.log_path, "a") as log:
            for name, value in metrics.items():
                log.write(f"{stamp} INFO     {{metricName: {name}, metricValue: {value:.4f}}}\n")
    else:
        for name, value in metrics.items():
            print(f"{name}={value:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
