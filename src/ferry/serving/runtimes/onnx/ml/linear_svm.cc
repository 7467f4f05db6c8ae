// LinearRegressor, LinearClassifier, SVMRegressor and SVMClassifier of
// ai.onnx.ml, computed in float as onnxruntime does (its float GEMM), with
// its label and score conventions for the binary cases.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ferry/common/strings.h"
#include "ferry/serving/runtimes/onnx/ml/ml_common.h"
#include "ferry/serving/runtimes/onnx/ml/ml_kernels_internal.h"

namespace ferry::serving::onnx::ml {

namespace {

// Scores after onnxruntime's batched_update_scores_inplace for a row block
// laid out [rows, width] where width == 1 may expand to [rows, 2].
void UpdateScores(std::vector<float>& scores, int64_t rows, int64_t width, PostTransform transform,
                  int add_second_class) {
  if (width > 1) {
    for (int64_t r = 0; r < rows; ++r) {
      ApplyTransform(transform, std::span<float>(scores.data() + r * width, static_cast<size_t>(width)));
    }
    return;
  }
  if (transform == PostTransform::kProbit) {
    for (int64_t r = 0; r < rows; ++r) scores[static_cast<size_t>(r)] = ComputeProbit(scores[static_cast<size_t>(r)]);
    return;
  }
  if (add_second_class < 0) return;
  // Expand [rows] packed scores into [rows, 2], back to front.
  scores.resize(static_cast<size_t>(rows * 2));
  for (int64_t r = rows - 1; r >= 0; --r) {
    const float s = scores[static_cast<size_t>(r)];
    float* out = scores.data() + r * 2;
    if (add_second_class <= 1) {
      out[0] = 1.f - s;
      out[1] = s;
    } else if (transform == PostTransform::kLogistic) {
      out[0] = ComputeLogistic(-s);
      out[1] = ComputeLogistic(s);
    } else {
      out[0] = -s;
      out[1] = s;
    }
  }
}

Status NeedFeatures(const std::string& label, const Matrix& m, int64_t want) {
  if (m.cols == want) return Status::OK();
  return RunError(label, "input has " + std::to_string(m.cols) + " features, the model expects " +
                             std::to_string(want));
}

// y[r, t] = sum_k x[r, k] * w[t, k] + bias (float, like the GEMM onnxruntime uses).
void Dot(const float* x, const float* w, int64_t rows, int64_t targets, int64_t k, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * k;
    for (int64_t t = 0; t < targets; ++t) {
      const float* wt = w + t * k;
      float s = 0.f;
      for (int64_t j = 0; j < k; ++j) s += xr[j] * wt[j];
      out[r * targets + t] = s;
    }
  }
}

// ---------------------------------------------------------------------------

class LinearRegressorKernel final : public Kernel {
 public:
  LinearRegressorKernel(std::string label, std::vector<float> coef, std::vector<float> intercepts, int64_t targets,
                        PostTransform transform)
      : label_(std::move(label)),
        coef_(std::move(coef)),
        intercepts_(std::move(intercepts)),
        targets_(targets),
        transform_(transform) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    ASSIGN_OR_RETURN(Matrix m, AsMatrix(label_, *x));
    RETURN_IF_ERROR(NeedFeatures(label_, m, static_cast<int64_t>(coef_.size()) / targets_));
    ASSIGN_OR_RETURN(std::vector<float> xf, ToFloats(label_, *x));
    std::vector<float> scores(static_cast<size_t>(m.rows * targets_));
    Dot(xf.data(), coef_.data(), m.rows, targets_, m.cols, scores.data());
    if (!intercepts_.empty()) {
      for (int64_t r = 0; r < m.rows; ++r) {
        for (int64_t t = 0; t < targets_; ++t) scores[static_cast<size_t>(r * targets_ + t)] += intercepts_[t];
      }
    }
    if (transform_ != PostTransform::kNone) UpdateScores(scores, m.rows, targets_, transform_, -1);
    outputs[0] = Tensor::From<float>({m.rows, targets_}, std::move(scores));
    return Status::OK();
  }

 private:
  std::string label_;
  std::vector<float> coef_;
  std::vector<float> intercepts_;
  int64_t targets_;
  PostTransform transform_;
};

Result<std::unique_ptr<Kernel>> MakeLinearRegressor(const NodeInfo& node) {
  ASSIGN_OR_RETURN(std::vector<float> coef, node.Floats("coefficients"));
  ASSIGN_OR_RETURN(std::vector<float> intercepts, node.Floats("intercepts"));
  const int64_t targets = node.IntOr("targets", 1);
  ASSIGN_OR_RETURN(PostTransform transform, ReadPostTransform(node));
  if (targets <= 0) return node.Error("targets must be positive, got " + std::to_string(targets));
  if (coef.empty() || coef.size() % static_cast<size_t>(targets) != 0) {
    return node.Error("coefficients has " + std::to_string(coef.size()) + " values, not a positive multiple of " +
                      std::to_string(targets) + " targets");
  }
  if (!intercepts.empty() && intercepts.size() != static_cast<size_t>(targets)) {
    return node.Error("intercepts has " + std::to_string(intercepts.size()) + " values for " +
                      std::to_string(targets) + " targets");
  }
  return std::unique_ptr<Kernel>(
      new LinearRegressorKernel(NodeLabel(node), std::move(coef), std::move(intercepts), targets, transform));
}

// ---------------------------------------------------------------------------

// Class labels of a classifier: int64 or strings; a label is kept as an
// index into whichever list is set.
struct ClassLabels {
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  bool using_strings() const { return !strings.empty(); }
  size_t size() const { return using_strings() ? strings.size() : ints.size(); }

  // Builds the label output; `pick(r)` gives the label of row r as
  // (is_index, value): an index into the list, or a literal class (1/0)
  // that onnxruntime writes when it lacks two labels.
  template <typename F>
  Tensor Output(int64_t rows, F&& pick) const {
    if (using_strings()) {
      Tensor y(ElemType::kString, {rows});
      auto d = y.mutable_data<std::string>();
      for (int64_t r = 0; r < rows; ++r) {
        auto [is_index, v] = pick(r);
        d[static_cast<size_t>(r)] = is_index ? strings[static_cast<size_t>(v)] : std::to_string(v);
      }
      return y;
    }
    Tensor y(ElemType::kInt64, {rows});
    auto d = y.mutable_data<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
      auto [is_index, v] = pick(r);
      d[static_cast<size_t>(r)] = is_index ? ints[static_cast<size_t>(v)] : v;
    }
    return y;
  }
};

Result<ClassLabels> ReadLabels(const NodeInfo& node, std::string_view ints_name) {
  ClassLabels labels;
  ASSIGN_OR_RETURN(labels.ints, node.Ints(ints_name));
  ASSIGN_OR_RETURN(labels.strings, node.Strings("classlabels_strings"));
  if (!labels.ints.empty() && !labels.strings.empty()) {
    return node.Error("only one of " + std::string(ints_name) + " and classlabels_strings may be given");
  }
  return labels;
}

class LinearClassifierKernel final : public Kernel {
 public:
  LinearClassifierKernel(std::string label, std::vector<float> coef, std::vector<float> intercepts,
                         ClassLabels labels, PostTransform transform)
      : label_(std::move(label)),
        coef_(std::move(coef)),
        intercepts_(std::move(intercepts)),
        labels_(std::move(labels)),
        transform_(transform) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    const int64_t classes = static_cast<int64_t>(intercepts_.size());
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    ASSIGN_OR_RETURN(Matrix m, AsMatrix(label_, *x));
    RETURN_IF_ERROR(NeedFeatures(label_, m, static_cast<int64_t>(coef_.size()) / classes));
    ASSIGN_OR_RETURN(std::vector<float> xf, ToFloats(label_, *x));
    std::vector<float> scores(static_cast<size_t>(m.rows * classes));
    Dot(xf.data(), coef_.data(), m.rows, classes, m.cols, scores.data());
    for (int64_t r = 0; r < m.rows; ++r) {
      for (int64_t t = 0; t < classes; ++t) scores[static_cast<size_t>(r * classes + t)] += intercepts_[t];
    }
    const bool add_second_class = classes == 1 && labels_.size() == 2;
    std::vector<int64_t> picked(static_cast<size_t>(m.rows));
    if (classes == 1) {
      const bool use_labels = labels_.size() == 2;
      for (int64_t r = 0; r < m.rows; ++r) {
        const bool positive = scores[static_cast<size_t>(r)] > 0;
        picked[static_cast<size_t>(r)] = positive ? 1 : 0;
      }
      outputs[0] = labels_.Output(m.rows, [&](int64_t r) {
        return std::make_pair(use_labels, picked[static_cast<size_t>(r)]);
      });
    } else {
      for (int64_t r = 0; r < m.rows; ++r) {
        const float* row = scores.data() + r * classes;
        int64_t best = 0;
        for (int64_t j = 1; j < classes; ++j) {
          if (row[j] > row[best]) best = j;
        }
        picked[static_cast<size_t>(r)] = best;
      }
      if (static_cast<int64_t>(labels_.size()) < classes) {
        return RunError(label_, "the model has " + std::to_string(classes) + " classes but " +
                                    std::to_string(labels_.size()) + " class labels");
      }
      outputs[0] = labels_.Output(m.rows, [&](int64_t r) { return std::make_pair(true, picked[static_cast<size_t>(r)]); });
    }
    if (transform_ != PostTransform::kNone || add_second_class) {
      UpdateScores(scores, m.rows, classes, transform_, add_second_class ? 1 : -1);
    }
    const int64_t width = add_second_class ? 2 : classes;
    scores.resize(static_cast<size_t>(m.rows * width));
    if (outputs.size() > 1) outputs[1] = Tensor::From<float>({m.rows, width}, std::move(scores));
    return Status::OK();
  }

 private:
  std::string label_;
  std::vector<float> coef_;
  std::vector<float> intercepts_;
  ClassLabels labels_;
  PostTransform transform_;
};

Result<std::unique_ptr<Kernel>> MakeLinearClassifier(const NodeInfo& node) {
  ASSIGN_OR_RETURN(std::vector<float> coef, node.Floats("coefficients"));
  ASSIGN_OR_RETURN(std::vector<float> intercepts, node.Floats("intercepts"));
  ASSIGN_OR_RETURN(ClassLabels labels, ReadLabels(node, "classlabels_ints"));
  ASSIGN_OR_RETURN(PostTransform transform, ReadPostTransform(node));
  if (intercepts.empty()) return node.Error("intercepts is required (one per class)");
  if (coef.empty() || coef.size() % intercepts.size() != 0) {
    return node.Error("coefficients has " + std::to_string(coef.size()) + " values, not a positive multiple of " +
                      std::to_string(intercepts.size()) + " classes");
  }
  if (labels.size() == 0) return node.Error("classlabels_ints or classlabels_strings is required");
  if (intercepts.size() > 1 && labels.size() != intercepts.size()) {
    return node.Error(std::to_string(intercepts.size()) + " classes but " + std::to_string(labels.size()) +
                      " class labels");
  }
  return std::unique_ptr<Kernel>(new LinearClassifierKernel(NodeLabel(node), std::move(coef), std::move(intercepts),
                                                            std::move(labels), transform));
}

// ---------------------------------------------------------------------------
// SVM

enum class SvmKernelType { kLinear, kPoly, kRbf, kSigmoid };

struct SvmKernelParams {
  SvmKernelType type = SvmKernelType::kLinear;
  float gamma = 0.f;
  float coef0 = 0.f;
  float degree = 0.f;
};

Result<SvmKernelParams> ReadSvmKernel(const NodeInfo& node) {
  SvmKernelParams p;
  const std::string type = node.StringOr("kernel_type", "LINEAR");
  if (type == "LINEAR") {
    p.type = SvmKernelType::kLinear;
  } else if (type == "POLY") {
    p.type = SvmKernelType::kPoly;
  } else if (type == "RBF") {
    p.type = SvmKernelType::kRbf;
  } else if (type == "SIGMOID") {
    p.type = SvmKernelType::kSigmoid;
  } else {
    return node.Error("kernel_type " + QuoteForMessage(type) + " is not one of LINEAR, POLY, RBF, SIGMOID");
  }
  ASSIGN_OR_RETURN(std::vector<float> params, node.Floats("kernel_params"));
  if (!params.empty()) {
    if (params.size() != 3) return node.Error("kernel_params must hold gamma, coef0 and degree");
    p.gamma = params[0];
    p.coef0 = params[1];
    p.degree = params[2];
  }
  return p;
}

// onnxruntime's SVMCommon::batched_kernel_dot: out[r, v] = K(x_r, b_v).
void KernelDot(const SvmKernelParams& p, const float* x, const float* b, int64_t rows, int64_t n, int64_t k,
               float scalar_c, float* out) {
  if (p.type == SvmKernelType::kRbf) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t v = 0; v < n; ++v) {
        float sum = 0.f;
        const float* xr = x + r * k;
        const float* bv = b + v * k;
        for (int64_t j = 0; j < k; ++j) {
          const float d = xr[j] - bv[j];
          sum += d * d;
        }
        out[r * n + v] = std::exp(-p.gamma * sum);
      }
    }
    return;
  }
  float alpha = 1.f;
  float c = scalar_c;
  if (p.type != SvmKernelType::kLinear) {
    alpha = p.gamma;
    c = p.coef0;
  }
  Dot(x, b, rows, n, k, out);
  for (int64_t i = 0; i < rows * n; ++i) {
    float v = alpha * out[i] + c;
    if (p.type == SvmKernelType::kPoly) {
      v = p.degree == 2 ? v * v : p.degree == 3 ? v * v * v : std::pow(v, p.degree);
    } else if (p.type == SvmKernelType::kSigmoid) {
      v = std::tanh(v);
    }
    out[i] = v;
  }
}

class SvmRegressorKernel final : public Kernel {
 public:
  SvmRegressorKernel(std::string label, SvmKernelParams params, std::vector<float> support, std::vector<float> coef,
                     float rho, int64_t vectors, int64_t features, bool one_class)
      : label_(std::move(label)),
        params_(params),
        support_(std::move(support)),
        coef_(std::move(coef)),
        rho_(rho),
        vectors_(vectors),
        features_(features),
        one_class_(one_class) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    ASSIGN_OR_RETURN(Matrix m, AsMatrix(label_, *x));
    RETURN_IF_ERROR(NeedFeatures(label_, m, features_));
    ASSIGN_OR_RETURN(std::vector<float> xf, ToFloats(label_, *x));
    std::vector<float> y(static_cast<size_t>(m.rows));
    if (vectors_ > 0) {
      std::vector<float> k(static_cast<size_t>(m.rows * vectors_));
      KernelDot(params_, xf.data(), support_.data(), m.rows, vectors_, features_, 0.f, k.data());
      for (int64_t r = 0; r < m.rows; ++r) {
        float s = 0.f;
        for (int64_t v = 0; v < vectors_; ++v) s += k[static_cast<size_t>(r * vectors_ + v)] * coef_[v];
        y[static_cast<size_t>(r)] = s + rho_;
      }
    } else {
      SvmKernelParams linear;
      KernelDot(linear, xf.data(), coef_.data(), m.rows, 1, features_, rho_, y.data());
    }
    if (one_class_) {
      for (float& v : y) v = v > 0.f ? 1.f : -1.f;
    }
    outputs[0] = Tensor::From<float>({m.rows, 1}, std::move(y));
    return Status::OK();
  }

 private:
  std::string label_;
  SvmKernelParams params_;
  std::vector<float> support_;
  std::vector<float> coef_;
  float rho_;
  int64_t vectors_;
  int64_t features_;
  bool one_class_;
};

Result<std::unique_ptr<Kernel>> MakeSvmRegressor(const NodeInfo& node) {
  ASSIGN_OR_RETURN(SvmKernelParams params, ReadSvmKernel(node));
  ASSIGN_OR_RETURN(std::vector<float> support, node.Floats("support_vectors"));
  ASSIGN_OR_RETURN(std::vector<float> coef, node.Floats("coefficients"));
  ASSIGN_OR_RETURN(std::vector<float> rho, node.Floats("rho"));
  ASSIGN_OR_RETURN(int64_t vectors, node.Int("n_supports"));
  ASSIGN_OR_RETURN(PostTransform transform, ReadPostTransform(node));
  (void)transform;  // onnxruntime ignores it for the regressor
  if (coef.empty()) return node.Error("coefficients is required");
  if (rho.empty()) return node.Error("rho is required");
  if (vectors < 0) return node.Error("n_supports must not be negative");
  int64_t features;
  if (vectors > 0) {
    if (support.empty() || support.size() % static_cast<size_t>(vectors) != 0) {
      return node.Error("support_vectors has " + std::to_string(support.size()) + " values for " +
                        std::to_string(vectors) + " vectors");
    }
    if (coef.size() != static_cast<size_t>(vectors)) {
      return node.Error("coefficients has " + std::to_string(coef.size()) + " values for " +
                        std::to_string(vectors) + " support vectors");
    }
    features = static_cast<int64_t>(support.size()) / vectors;
  } else {
    features = static_cast<int64_t>(coef.size());
  }
  return std::unique_ptr<Kernel>(new SvmRegressorKernel(NodeLabel(node), params, std::move(support), std::move(coef),
                                                        rho[0], vectors, features, node.IntOr("one_class", 0) != 0));
}

// onnxruntime's multiclass_probability (Wu, Lin and Weng's pairwise coupling).
void MulticlassProbability(int64_t k, const std::vector<float>& r, float* p) {
  const size_t kk = static_cast<size_t>(k);
  std::vector<float> q(kk * kk, 0.f);
  std::vector<float> qp(kk, 0.f);
  const float eps = 0.005f / static_cast<float>(k);
  for (size_t i = 0; i < kk; i++) {
    p[i] = 1.0f / static_cast<float>(k);
    for (size_t j = 0; j < i; j++) {
      q[i * kk + i] += r[j * kk + i] * r[j * kk + i];
      q[i * kk + j] = q[j * kk + i];
    }
    for (size_t j = i + 1; j < kk; j++) {
      q[i * kk + i] += r[j * kk + i] * r[j * kk + i];
      q[i * kk + j] = -r[j * kk + i] * r[i * kk + j];
    }
  }
  for (int loop = 0; loop < 100; loop++) {
    float pqp = 0;
    for (size_t i = 0; i < kk; i++) {
      qp[i] = 0;
      for (size_t j = 0; j < kk; j++) qp[i] += q[i * kk + j] * p[j];
      pqp += p[i] * qp[i];
    }
    float max_error = 0;
    for (size_t i = 0; i < kk; i++) {
      const float error = std::fabs(qp[i] - pqp);
      if (error > max_error) max_error = error;
    }
    if (max_error < eps) break;
    for (size_t i = 0; i < kk; i++) {
      const float diff = (-qp[i] + pqp) / q[i * kk + i];
      p[i] += diff;
      pqp = (pqp + diff * (diff * q[i * kk + i] + 2 * qp[i])) / (1 + diff) / (1 + diff);
      for (size_t j = 0; j < kk; j++) {
        qp[j] = (qp[j] + diff * q[i * kk + j]) / (1 + diff);
        p[j] /= (1 + diff);
      }
    }
  }
}

class SvmClassifierKernel final : public Kernel {
 public:
  struct Params {
    SvmKernelParams kernel;
    std::vector<int64_t> vectors_per_class;
    std::vector<int64_t> starting_vector;
    std::vector<float> rho, proba, probb, coef, support;
    ClassLabels labels;
    PostTransform transform = PostTransform::kNone;
    int64_t classes = 0, vectors = 0, features = 0;
    bool svc = false;  // libsvm (support vectors) or liblinear mode
    bool weights_all_positive = true;
  };

  SvmClassifierKernel(std::string label, Params p) : label_(std::move(label)), p_(std::move(p)) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    ASSIGN_OR_RETURN(Matrix m, AsMatrix(label_, *x));
    RETURN_IF_ERROR(NeedFeatures(label_, m, p_.features));
    ASSIGN_OR_RETURN(std::vector<float> xf, ToFloats(label_, *x));
    const int64_t nc = p_.classes;
    const int64_t classifiers = nc * (nc - 1) / 2;
    const bool have_proba = !p_.proba.empty();
    int64_t final_width = nc;
    int64_t scores_width = nc;
    int write_additional = -1;
    if (p_.svc && !have_proba) {
      final_width = nc > 2 ? classifiers : 2;
      scores_width = classifiers;
      if (nc <= 2) write_additional = p_.transform == PostTransform::kNone ? 2 : 0;
    }
    std::vector<float> z(static_cast<size_t>(m.rows * final_width), 0.f);
    std::vector<float> classifier_scores;
    std::vector<int64_t> votes;
    if (!p_.svc) {
      KernelDot(p_.kernel, xf.data(), p_.coef.data(), m.rows, nc, p_.features, p_.rho[0], z.data());
    } else {
      std::vector<float> kernels(static_cast<size_t>(m.rows * p_.vectors));
      KernelDot(p_.kernel, xf.data(), p_.support.data(), m.rows, p_.vectors, p_.features, 0.f, kernels.data());
      votes.assign(static_cast<size_t>(m.rows * nc), 0);
      classifier_scores.assign(static_cast<size_t>(m.rows * classifiers), 0.f);
      for (int64_t r = 0; r < m.rows; ++r) {
        const float* k = kernels.data() + r * p_.vectors;
        float* scores = have_proba ? classifier_scores.data() + r * classifiers
                                   : z.data() + r * (write_additional >= 0 ? 2 : classifiers);
        int64_t* vote = votes.data() + r * nc;
        size_t idx = 0;
        for (int64_t i = 0; i < nc - 1; i++) {
          const int64_t si = p_.starting_vector[static_cast<size_t>(i)];
          const int64_t ci = p_.vectors_per_class[static_cast<size_t>(i)];
          for (int64_t j = i + 1; j < nc; j++) {
            const int64_t sj = p_.starting_vector[static_cast<size_t>(j)];
            const int64_t cj = p_.vectors_per_class[static_cast<size_t>(j)];
            double sum = 0;
            const float* c1 = p_.coef.data() + p_.vectors * (j - 1) + si;
            for (int64_t q = 0; q < ci; ++q) sum += c1[q] * k[si + q];
            const float* c2 = p_.coef.data() + p_.vectors * i + sj;
            for (int64_t q = 0; q < cj; ++q) sum += c2[q] * k[sj + q];
            sum += p_.rho[idx];
            scores[idx++] = static_cast<float>(sum);
            ++vote[sum > 0 ? i : j];
          }
        }
      }
    }
    std::vector<int64_t> picked(static_cast<size_t>(m.rows));
    std::vector<uint8_t> is_index(static_cast<size_t>(m.rows), 1);
    std::vector<float> probsp2;
    if (have_proba) probsp2.resize(static_cast<size_t>(nc * nc));
    for (int64_t r = 0; r < m.rows; ++r) {
      float* cur = z.data() + r * final_width;
      if (p_.svc && have_proba) {
        std::fill(probsp2.begin(), probsp2.end(), 0.f);
        const float* cs = classifier_scores.data() + r * classifiers;
        size_t index = 0;
        for (int64_t i = 0; i < nc - 1; ++i) {
          int64_t p1 = i * nc + i + 1;
          int64_t p2 = (i + 1) * nc + i;
          for (int64_t j = i + 1; j < nc; ++j, ++index) {
            const float val = 1 - ComputeLogistic(cs[index] * p_.proba[index] + p_.probb[index]);
            const float v2 = std::min(std::max(val, 1.0e-7f), 1 - 1.0e-7f);
            probsp2[static_cast<size_t>(p1)] = v2;
            probsp2[static_cast<size_t>(p2)] = 1 - v2;
            ++p1;
            p2 += nc;
          }
        }
        MulticlassProbability(nc, probsp2, cur);
      }
      float max_weight = 0;
      int64_t maxclass;
      if (!votes.empty()) {
        const int64_t* v = votes.data() + r * nc;
        maxclass = std::max_element(v, v + nc) - v;
      } else {
        maxclass = std::max_element(cur, cur + final_width) - cur;
        max_weight = cur[maxclass];
      }
      // onnxruntime's ChooseClass.
      if (classifiers == 1) {
        if (p_.labels.size() == 2) {
          if (!have_proba && ((p_.weights_all_positive && max_weight >= 0.5f) ||
                              (max_weight > 0 && !p_.weights_all_positive))) {
            picked[static_cast<size_t>(r)] = 1;
          } else {
            picked[static_cast<size_t>(r)] = maxclass;
          }
        } else {
          is_index[static_cast<size_t>(r)] = 0;
          picked[static_cast<size_t>(r)] = max_weight > 0 ? 1 : 0;
        }
      } else {
        picked[static_cast<size_t>(r)] = maxclass;
      }
      // onnxruntime's batched_update_scores_inplace over this row.
      if (scores_width > 1) {
        ApplyTransform(p_.transform, std::span<float>(cur, static_cast<size_t>(scores_width)));
      } else if (p_.transform == PostTransform::kProbit) {
        cur[0] = ComputeProbit(cur[0]);
      } else if (write_additional >= 0) {
        const float s = cur[0];
        if (write_additional <= 1) {
          cur[0] = 1.f - s;
          cur[1] = s;
        } else if (p_.transform == PostTransform::kLogistic) {
          cur[0] = ComputeLogistic(-s);
          cur[1] = ComputeLogistic(s);
        } else {
          cur[0] = -s;
          cur[1] = s;
        }
      }
    }
    outputs[0] = p_.labels.Output(m.rows, [&](int64_t r) {
      return std::make_pair(is_index[static_cast<size_t>(r)] != 0, picked[static_cast<size_t>(r)]);
    });
    if (outputs.size() > 1) outputs[1] = Tensor::From<float>({m.rows, final_width}, std::move(z));
    return Status::OK();
  }

 private:
  std::string label_;
  Params p_;
};

Result<std::unique_ptr<Kernel>> MakeSvmClassifier(const NodeInfo& node) {
  SvmClassifierKernel::Params p;
  ASSIGN_OR_RETURN(p.kernel, ReadSvmKernel(node));
  ASSIGN_OR_RETURN(p.vectors_per_class, node.Ints("vectors_per_class"));
  ASSIGN_OR_RETURN(p.proba, node.Floats("prob_a"));
  ASSIGN_OR_RETURN(p.probb, node.Floats("prob_b"));
  ASSIGN_OR_RETURN(p.support, node.Floats("support_vectors"));
  ASSIGN_OR_RETURN(p.rho, node.Floats("rho"));
  ASSIGN_OR_RETURN(p.coef, node.Floats("coefficients"));
  ASSIGN_OR_RETURN(p.labels, ReadLabels(node, "classlabels_ints"));
  ASSIGN_OR_RETURN(p.transform, ReadPostTransform(node));
  if (p.labels.size() < 2) return node.Error("classlabels_ints or classlabels_strings must name at least two classes");
  if (p.proba.size() != p.probb.size()) {
    return node.Error("prob_a has " + std::to_string(p.proba.size()) + " values, prob_b " +
                      std::to_string(p.probb.size()));
  }
  if (p.coef.empty()) return node.Error("coefficients is required");
  if (p.rho.empty()) return node.Error("rho is required");
  p.classes = static_cast<int64_t>(p.labels.size());
  const int64_t classifiers = p.classes * (p.classes - 1) / 2;
  for (int64_t v : p.vectors_per_class) {
    if (v < 0) return node.Error("vectors_per_class has a negative count");
    p.starting_vector.push_back(p.vectors);
    p.vectors += v;
  }
  if (p.vectors > 0) {
    p.svc = true;
    if (static_cast<int64_t>(p.vectors_per_class.size()) != p.classes) {
      return node.Error("vectors_per_class has " + std::to_string(p.vectors_per_class.size()) + " entries for " +
                        std::to_string(p.classes) + " classes");
    }
    if (p.support.empty() || p.support.size() % static_cast<size_t>(p.vectors) != 0) {
      return node.Error("support_vectors has " + std::to_string(p.support.size()) + " values for " +
                        std::to_string(p.vectors) + " vectors");
    }
    p.features = static_cast<int64_t>(p.support.size()) / p.vectors;
    if (p.coef.size() != static_cast<size_t>((p.classes - 1) * p.vectors)) {
      return node.Error("coefficients has " + std::to_string(p.coef.size()) + " values, expected (classes - 1) x " +
                        "vectors = " + std::to_string((p.classes - 1) * p.vectors));
    }
    if (static_cast<int64_t>(p.rho.size()) < classifiers) {
      return node.Error("rho has " + std::to_string(p.rho.size()) + " values for " + std::to_string(classifiers) +
                        " pairwise classifiers");
    }
    if (!p.proba.empty() && static_cast<int64_t>(p.proba.size()) < classifiers) {
      return node.Error("prob_a has " + std::to_string(p.proba.size()) + " values for " +
                        std::to_string(classifiers) + " pairwise classifiers");
    }
  } else {
    p.kernel.type = SvmKernelType::kLinear;
    if (p.coef.size() % static_cast<size_t>(p.classes) != 0) {
      return node.Error("coefficients has " + std::to_string(p.coef.size()) + " values, not a multiple of " +
                        std::to_string(p.classes) + " classes");
    }
    p.features = static_cast<int64_t>(p.coef.size()) / p.classes;
  }
  p.weights_all_positive = std::all_of(p.coef.begin(), p.coef.end(), [](float v) { return v >= 0.f; });
  return std::unique_ptr<Kernel>(new SvmClassifierKernel(NodeLabel(node), std::move(p)));
}

}  // namespace

Status RegisterLinearAndSvmKernels(KernelRegistry& registry) {
  RETURN_IF_ERROR(registry.Register(kMlDomain, "LinearRegressor", MakeLinearRegressor));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "LinearClassifier", MakeLinearClassifier));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "SVMRegressor", MakeSvmRegressor));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "SVMClassifier", MakeSvmClassifier));
  return Status::OK();
}

}  // namespace ferry::serving::onnx::ml
