"""The ONNX-ML correctness corpus: small, deterministic models converted from
scikit-learn (skl2onnx), XGBoost and LightGBM (onnxmltools), each with a test
input. test_onnx_corpus.py serves them with `ferry serve` and compares every
output with onnxruntime's.

Run as a script to write the corpus as a Triton-style repository:
    python tests/serving/onnx_corpus.py OUT_DIR
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import warnings
from typing import Callable

import numpy as np

# Opsets the converters are asked for: the ones the native runtime and
# onnxruntime both implement, and what converters emitted for years.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
ROWS = 24


@dataclasses.dataclass
class CorpusModel:
    name: str
    onnx_bytes: bytes
    inputs: dict[str, np.ndarray]


@dataclasses.dataclass
class Corpus:
    models: list[CorpusModel]
    # name -> the converter's error, for models that cannot be produced with
    # the installed converter versions.
    unconvertible: dict[str, str]


def _classification(n_classes: int, n_features: int = 6, seed: int = 0):
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=200,
        n_features=n_features,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return x.astype(np.float32), y


def _regression(n_features: int = 6, seed: int = 0):
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=200, n_features=n_features, noise=0.5, random_state=seed)
    return x.astype(np.float32), y.astype(np.float32)


def _with_nans(x: np.ndarray) -> np.ndarray:
    """Test rows with some missing values, for models with missing-value tracks."""
    rows = x[:ROWS].copy()
    rows[1, 0] = np.nan
    rows[4, 2] = np.nan
    rows[7, :] = np.nan
    return rows


def _skl(model, x_train, y_train, options=None, test=None, input_name="input"):
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    model.fit(x_train, y_train)
    onx = to_onnx(
        model,
        initial_types=[(input_name, FloatTensorType([None, x_train.shape[1]]))],
        options=options,
        target_opset=TARGET_OPSET,
    )
    rows = x_train[:ROWS] if test is None else test
    return onx.SerializeToString(), {input_name: rows}


def _skl_models() -> dict[str, Callable[[], tuple[bytes, dict[str, np.ndarray]]]]:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import Binarizer, MinMaxScaler, Normalizer, StandardScaler
    from sklearn.svm import SVC, SVR, LinearSVC
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    xb, yb = _classification(2)
    xm, ym = _classification(3, seed=1)
    xr, yr = _regression()
    no_zipmap = lambda m: {id(m): {"zipmap": False}}  # noqa: E731

    def lr_binary():
        m = LogisticRegression(max_iter=500)
        return _skl(m, xb, yb)

    def lr_binary_nozipmap():
        m = LogisticRegression(max_iter=500)
        return _skl(m, xb, yb, options=no_zipmap(m))

    def lr_multi():
        m = LogisticRegression(max_iter=500)
        return _skl(m, xm, ym)

    def lr_multi_nozipmap():
        m = LogisticRegression(max_iter=500)
        return _skl(m, xm, ym, options=no_zipmap(m))

    def lr_multi_strings():
        labels = np.array(["ant", "bee", "cat"])[ym]
        m = LogisticRegression(max_iter=500)
        return _skl(m, xm, labels)

    def svc():
        m = SVC(kernel="rbf", probability=True, random_state=0)
        return _skl(m, xm, ym)

    def svc_binary():
        m = SVC(kernel="rbf", probability=True, random_state=0)
        return _skl(m, xb, yb)

    def imputer():
        x = xr.copy()
        x[::7, 1] = np.nan
        m = SimpleImputer(strategy="mean")
        m.fit(x)
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        onx = to_onnx(m, initial_types=[("input", FloatTensorType([None, x.shape[1]]))], target_opset=TARGET_OPSET)
        return onx.SerializeToString(), {"input": x[:ROWS]}

    def pipeline_scaler_lr():
        m = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=500))])
        return _skl(m, xm, ym)

    def pipeline_column_transformer():
        import pandas as pd
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import OneHotEncoder

        rng = np.random.RandomState(3)
        frame = pd.DataFrame(
            {
                "color": rng.choice(["red", "green", "blue"], size=120),
                "size": rng.normal(size=120).astype(np.float32),
                "weight": rng.normal(size=120).astype(np.float32),
            }
        )
        target = (frame["color"] == "red").astype(int) ^ (frame["size"] > 0).astype(int)
        m = Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            ("onehot", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                            ("scale", StandardScaler(), ["size", "weight"]),
                        ]
                    ),
                ),
                ("lr", LogisticRegression(max_iter=500)),
            ]
        )
        m.fit(frame, target)
        onx = to_onnx(
            m,
            initial_types=[
                ("color", StringTensorType([None, 1])),
                ("size", FloatTensorType([None, 1])),
                ("weight", FloatTensorType([None, 1])),
            ],
            target_opset=TARGET_OPSET,
        )
        head = frame.iloc[:ROWS]
        inputs = {
            "color": head["color"].to_numpy().astype(object).reshape(-1, 1),
            "size": head["size"].to_numpy().astype(np.float32).reshape(-1, 1),
            "weight": head["weight"].to_numpy().astype(np.float32).reshape(-1, 1),
        }
        return onx.SerializeToString(), inputs

    def transformer(model, x):
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        model.fit(x)
        onx = to_onnx(model, initial_types=[("input", FloatTensorType([None, x.shape[1]]))], target_opset=TARGET_OPSET)
        return onx.SerializeToString(), {"input": x[:ROWS]}

    return {
        "skl_logreg_binary": lr_binary,
        "skl_logreg_binary_nozipmap": lr_binary_nozipmap,
        "skl_logreg_multi": lr_multi,
        "skl_logreg_multi_nozipmap": lr_multi_nozipmap,
        "skl_logreg_multi_string_labels": lr_multi_strings,
        "skl_linear_regression": lambda: _skl(LinearRegression(), xr, yr),
        "skl_ridge": lambda: _skl(Ridge(alpha=0.5), xr, yr),
        "skl_sgd_classifier": lambda: _skl(SGDClassifier(random_state=0), xm, ym),
        "skl_linear_svc": lambda: _skl(LinearSVC(random_state=0), xm, ym),
        "skl_linear_svc_binary": lambda: _skl(LinearSVC(random_state=0), xb, yb),
        "skl_svc_rbf_proba": svc,
        "skl_svc_rbf_proba_binary": svc_binary,
        "skl_svr": lambda: _skl(SVR(kernel="rbf", C=10.0), xr, yr),
        "skl_decision_tree_classifier": lambda: _skl(DecisionTreeClassifier(max_depth=6, random_state=0), xm, ym),
        "skl_decision_tree_classifier_binary": lambda: _skl(
            DecisionTreeClassifier(max_depth=6, random_state=0), xb, yb
        ),
        "skl_decision_tree_regressor": lambda: _skl(DecisionTreeRegressor(max_depth=6, random_state=0), xr, yr),
        "skl_random_forest_classifier": lambda: _skl(
            RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0), xm, ym
        ),
        "skl_random_forest_regressor": lambda: _skl(
            RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0), xr, yr
        ),
        "skl_extra_trees_classifier": lambda: _skl(
            ExtraTreesClassifier(n_estimators=20, max_depth=6, random_state=0), xb, yb
        ),
        "skl_gradient_boosting_classifier": lambda: _skl(
            GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0), xm, ym
        ),
        "skl_gradient_boosting_classifier_binary": lambda: _skl(
            GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0), xb, yb
        ),
        "skl_gradient_boosting_regressor": lambda: _skl(
            GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0), xr, yr
        ),
        "skl_hist_gradient_boosting_classifier": lambda: _skl(
            HistGradientBoostingClassifier(max_iter=30, random_state=0), xm, ym, test=_with_nans(xm)
        ),
        "skl_hist_gradient_boosting_regressor": lambda: _skl(
            HistGradientBoostingRegressor(max_iter=30, random_state=0), xr, yr, test=_with_nans(xr)
        ),
        "skl_mlp_classifier": lambda: _skl(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0), xm, ym),
        "skl_mlp_regressor": lambda: _skl(MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0), xr, yr),
        "skl_gaussian_nb": lambda: _skl(GaussianNB(), xm, ym),
        "skl_pipeline_scaler_logreg": pipeline_scaler_lr,
        "skl_pipeline_column_transformer": pipeline_column_transformer,
        "skl_binarizer": lambda: transformer(Binarizer(threshold=0.1), xr),
        "skl_normalizer_l2": lambda: transformer(Normalizer(norm="l2"), xr),
        "skl_normalizer_l1": lambda: transformer(Normalizer(norm="l1"), xr),
        "skl_normalizer_max": lambda: transformer(Normalizer(norm="max"), xr),
        "skl_simple_imputer": imputer,
        "skl_min_max_scaler": lambda: transformer(MinMaxScaler(), xr),
        "skl_standard_scaler": lambda: transformer(StandardScaler(), xr),
    }


def _xgb_models() -> dict[str, Callable[[], tuple[bytes, dict[str, np.ndarray]]]]:
    def convert(model, x, y):
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        model.fit(x, y)
        onx = onnxmltools.convert_xgboost(
            model, initial_types=[("input", FloatTensorType([None, x.shape[1]]))], target_opset=15
        )
        return onx.SerializeToString(), {"input": _with_nans(x)}

    def xgb_classifier_binary():
        from xgboost import XGBClassifier

        x, y = _classification(2)
        return convert(XGBClassifier(n_estimators=120, max_depth=4, random_state=0, n_jobs=1), x, y)

    def xgb_classifier_multi():
        from xgboost import XGBClassifier

        x, y = _classification(3, seed=1)
        return convert(XGBClassifier(n_estimators=40, max_depth=3, random_state=0, n_jobs=1), x, y)

    def xgb_regressor():
        from xgboost import XGBRegressor

        x, y = _regression()
        return convert(XGBRegressor(n_estimators=120, max_depth=4, random_state=0, n_jobs=1), x, y)

    return {
        "xgb_classifier_binary": xgb_classifier_binary,
        "xgb_classifier_multi": xgb_classifier_multi,
        "xgb_regressor": xgb_regressor,
    }


def _lgbm_models() -> dict[str, Callable[[], tuple[bytes, dict[str, np.ndarray]]]]:
    def convert(model, x, y):
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        model.fit(x, y)
        onx = onnxmltools.convert_lightgbm(
            model, initial_types=[("input", FloatTensorType([None, x.shape[1]]))], target_opset=15
        )
        return onx.SerializeToString(), {"input": _with_nans(x)}

    def params():
        return dict(n_estimators=40, num_leaves=15, random_state=0, n_jobs=1, verbose=-1)

    def lgbm_classifier_binary():
        from lightgbm import LGBMClassifier

        x, y = _classification(2)
        return convert(LGBMClassifier(**params()), x, y)

    def lgbm_classifier_multi():
        from lightgbm import LGBMClassifier

        x, y = _classification(3, seed=1)
        return convert(LGBMClassifier(**params()), x, y)

    def lgbm_regressor():
        from lightgbm import LGBMRegressor

        x, y = _regression()
        return convert(LGBMRegressor(**params()), x, y)

    return {
        "lgbm_classifier_binary": lgbm_classifier_binary,
        "lgbm_classifier_multi": lgbm_classifier_multi,
        "lgbm_regressor": lgbm_regressor,
    }


def model_builders() -> dict[str, Callable[[], tuple[bytes, dict[str, np.ndarray]]]]:
    builders = {}
    builders.update(_skl_models())
    builders.update(_xgb_models())
    builders.update(_lgbm_models())
    return builders


def build_corpus() -> Corpus:
    models, unconvertible = [], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, build in model_builders().items():
            try:
                onnx_bytes, inputs = build()
            except Exception as e:  # noqa: BLE001 - the converter's error is the record
                unconvertible[name] = f"{type(e).__name__}: {e}"
                continue
            models.append(CorpusModel(name, onnx_bytes, inputs))
    return Corpus(models, unconvertible)


def write_repository(corpus: Corpus, root: pathlib.Path) -> None:
    for m in corpus.models:
        d = root / m.name / "1"
        d.mkdir(parents=True, exist_ok=True)
        (d / "model.onnx").write_bytes(m.onnx_bytes)


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1])
    corpus = build_corpus()
    write_repository(corpus, out)
    print(f"{len(corpus.models)} models written to {out}")
    for name, err in corpus.unconvertible.items():
        print(f"unconvertible {name}: {err}")
