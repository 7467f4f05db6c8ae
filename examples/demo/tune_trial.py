"""One trial of the demo's tuning experiment (examples/demo/tune.yaml).

Scores the demo pipeline's model — a StandardScaler and an SGDClassifier on
scikit-learn's bundled wine data — by 5-fold cross-validated accuracy for
the given hyperparameters, and prints it the way Katib's StdOut metrics
collector reads it (`accuracy=0.97`).

    python examples/demo/tune_trial.py --alpha 0.001 --epochs 20
"""

import argparse
import warnings

from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, required=True, help="L2 regularisation strength")
    parser.add_argument("--epochs", type=int, required=True, help="passes over the training data")
    args = parser.parse_args()

    x, y = load_wine(return_X_y=True)
    model = make_pipeline(StandardScaler(),
                          SGDClassifier(loss="log_loss", alpha=args.alpha, max_iter=args.epochs, tol=None,
                                        random_state=7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(model, x, y, cv=5)
    print(f"alpha={args.alpha} epochs={args.epochs}")
    print(f"accuracy={scores.mean():.6f}")


if __name__ == "__main__":
    main()
