"""Model serving helpers that run beside the Ferry server.

`convert.py` converts an MLflow scikit-learn, XGBoost or LightGBM model to
ONNX-ML and checks the result against the original; the server embeds the
script and runs it itself, so nothing here needs importing.
"""
