#pragma once
// Registration entry points of the ai.onnx.ml kernel families, called by
// RegisterMlKernels (ml_kernels.cc). Internal to runtimes/onnx/ml.
//
// Thread-safety: called once while the registry is built.

#include "ferry/common/status.h"
#include "ferry/serving/runtimes/onnx/kernel.h"

namespace ferry::serving::onnx::ml {

inline constexpr const char* kMlDomain = "ai.onnx.ml";

// TreeEnsembleRegressor, TreeEnsembleClassifier (tree_ensemble.cc).
Status RegisterTreeKernels(KernelRegistry& registry);
// LinearRegressor, LinearClassifier, SVMRegressor, SVMClassifier (linear_svm.cc).
Status RegisterLinearAndSvmKernels(KernelRegistry& registry);
// Scaler, Normalizer, Imputer, Binarizer, OneHotEncoder, LabelEncoder,
// ArrayFeatureExtractor, FeatureVectorizer, ZipMap (transforms.cc).
Status RegisterTransformKernels(KernelRegistry& registry);

}  // namespace ferry::serving::onnx::ml
