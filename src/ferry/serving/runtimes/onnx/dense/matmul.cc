// Gemm and MatMul: Eigen's products for float and double (the row-major maps
// read the tensors in place), plain loops with wrapping arithmetic for the
// integer types.
#include <Eigen/Core>
#include <cmath>

#include "ferry/serving/runtimes/onnx/dense/dense_internal.h"

namespace ferry::serving::onnx::dense {

namespace {

// y[m x n] = alpha * op(a) * op(b), op transposing when asked; a is stored
// [m x k] (or [k x m] transposed), b [k x n] (or [n x k]).
template <typename T>
void MatrixProduct(const T* a, bool trans_a, const T* b, bool trans_b, T* y, int64_t m, int64_t n, int64_t k,
                   T alpha) {
  if (m == 0 || n == 0) return;
  if constexpr (kIsFloating<T>) {
    using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<RowMajor> out(y, m, n);
    if (k == 0) {
      out.setZero();
      return;
    }
    Eigen::Map<const RowMajor> ma(a, trans_a ? k : m, trans_a ? m : k);
    Eigen::Map<const RowMajor> mb(b, trans_b ? n : k, trans_b ? k : n);
    if (!trans_a && !trans_b) {
      out.noalias() = ma * mb;
    } else if (trans_a && !trans_b) {
      out.noalias() = ma.transpose() * mb;
    } else if (!trans_a && trans_b) {
      out.noalias() = ma * mb.transpose();
    } else {
      out.noalias() = ma.transpose() * mb.transpose();
    }
    if (alpha != T{1}) out *= alpha;
  } else {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        T acc = 0;
        for (int64_t p = 0; p < k; ++p) {
          const T av = trans_a ? a[p * m + i] : a[i * k + p];
          const T bv = trans_b ? b[j * k + p] : b[p * n + j];
          acc = WrapAdd(acc, WrapMul(av, bv));
        }
        y[i * n + j] = WrapMul(acc, alpha);
      }
    }
  }
}

class GemmKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, node.opset() >= 11 ? 2 : 3, 3));
    auto k = std::unique_ptr<GemmKernel>(new GemmKernel(node));
    ASSIGN_OR_RETURN(k->alpha_, node.Has("alpha") ? node.Float("alpha") : Result<float>(1.0f));
    ASSIGN_OR_RETURN(k->beta_, node.Has("beta") ? node.Float("beta") : Result<float>(1.0f));
    ASSIGN_OR_RETURN(int64_t ta, node.Has("transA") ? node.Int("transA") : Result<int64_t>(0));
    ASSIGN_OR_RETURN(int64_t tb, node.Has("transB") ? node.Int("transB") : Result<int64_t>(0));
    k->trans_a_ = ta != 0;
    k->trans_b_ = tb != 0;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* a, In(inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* b, In(inputs, 1));
    ASSIGN_OR_RETURN(const Tensor* c, OptionalIn(inputs, 2));
    if (a->rank() != 2 || b->rank() != 2) {
      return Error("A and B must be matrices, got " + ShapeString(a->shape()) + " and " +
                   ShapeString(b->shape()));
    }
    if (a->type() != b->type() || (c != nullptr && c->type() != a->type())) {
      return Error("A, B and C must have one type, got " + std::string(ElemTypeName(a->type())) + " and " +
                   std::string(ElemTypeName(b->type())) +
                   (c != nullptr ? " and " + std::string(ElemTypeName(c->type())) : std::string()));
    }
    const int64_t m = trans_a_ ? a->dim(1) : a->dim(0);
    const int64_t k = trans_a_ ? a->dim(0) : a->dim(1);
    const int64_t kb = trans_b_ ? b->dim(1) : b->dim(0);
    const int64_t n = trans_b_ ? b->dim(0) : b->dim(1);
    if (k != kb) {
      return Error("A " + ShapeString(a->shape()) + (trans_a_ ? " (transposed)" : "") + " and B " +
                   ShapeString(b->shape()) + (trans_b_ ? " (transposed)" : "") + " do not multiply");
    }
    const Shape out_shape = {m, n};
    if (c != nullptr) {
      Shape s;
      if (!Broadcast(c->shape(), out_shape, &s) || s != out_shape) {
        return Error("C " + ShapeString(c->shape()) + " does not broadcast to " + ShapeString(out_shape));
      }
    }
    return VisitType(a->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T>) {
        return TypeError("A", a->type(), "float, double, int64 or int32");
      } else {
        ASSIGN_OR_RETURN(Tensor y, NewTensor(a->type(), out_shape));
        T* py = y.mutable_data<T>().data();
        MatrixProduct<T>(a->data<T>().data(), trans_a_, b->data<T>().data(), trans_b_, py, m, n, k,
                         static_cast<T>(alpha_));
        if (c != nullptr && beta_ != 0.0f) {
          const T beta = static_cast<T>(beta_);
          const T* pc = c->data<T>().data();
          const Shape st = BroadcastStrides(c->shape(), out_shape);
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              const T cv = pc[i * st[0] + j * st[1]];
              if constexpr (kIsFloating<T>) {
                py[i * n + j] += beta * cv;
              } else {
                py[i * n + j] = WrapAdd(py[i * n + j], WrapMul(beta, cv));
              }
            }
          }
        }
        outputs[0] = std::move(y);
        return Status::OK();
      }
    });
  }

 private:
  using DenseKernel::DenseKernel;
  float alpha_ = 1.0f;
  float beta_ = 1.0f;
  bool trans_a_ = false;
  bool trans_b_ = false;
};

// MatMul with numpy's semantics: 1-D operands are promoted (and the
// promoted dimension dropped from the result), leading batch dimensions
// broadcast.
class MatMulKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 2, 2));
    return std::unique_ptr<Kernel>(new MatMulKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(auto pair, SameTypePair(inputs));
    const auto [a, b] = pair;
    if (a->rank() == 0 || b->rank() == 0) return Error("inputs must have rank 1 or more");
    Shape sa = a->shape();
    Shape sb = b->shape();
    const bool vec_a = sa.size() == 1;
    const bool vec_b = sb.size() == 1;
    if (vec_a) sa.insert(sa.begin(), 1);
    if (vec_b) sb.push_back(1);
    const int64_t m = sa[sa.size() - 2];
    const int64_t k = sa[sa.size() - 1];
    const int64_t n = sb[sb.size() - 1];
    if (sb[sb.size() - 2] != k) {
      return Error("shapes " + ShapeString(a->shape()) + " and " + ShapeString(b->shape()) +
                   " do not multiply");
    }
    const Shape batch_a(sa.begin(), sa.end() - 2);
    const Shape batch_b(sb.begin(), sb.end() - 2);
    Shape batch;
    if (!Broadcast(batch_a, batch_b, &batch)) {
      return Error("batch dimensions of " + ShapeString(a->shape()) + " and " + ShapeString(b->shape()) +
                   " do not broadcast");
    }
    Shape out_shape = batch;
    if (!vec_a) out_shape.push_back(m);
    if (!vec_b) out_shape.push_back(n);

    return VisitType(a->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T>) {
        return TypeError("input 0", a->type(), "float, double, int64 or int32");
      } else {
        ASSIGN_OR_RETURN(Tensor y, NewTensor(a->type(), out_shape));
        const T* pa = a->data<T>().data();
        const T* pb = b->data<T>().data();
        T* py = y.mutable_data<T>().data();
        int64_t batches = 1;
        for (int64_t d : batch) batches *= d;
        if (batch_b.empty() || batches == 1) {
          // One product: A's batch rows stack into one [batches*m, k] matrix.
          int64_t rows_a = 1;
          for (int64_t d : batch_a) rows_a *= d;
          MatrixProduct<T>(pa, false, pb, false, py, rows_a * m, n, k, T{1});
        } else {
          const Shape st_a = BroadcastStrides(batch_a, batch);
          const Shape st_b = BroadcastStrides(batch_b, batch);
          for (int64_t i = 0; i < batches; ++i) {
            int64_t rem = i;
            int64_t off_a = 0;
            int64_t off_b = 0;
            for (size_t d = batch.size(); d-- > 0;) {
              const int64_t idx = rem % batch[d];
              rem /= batch[d];
              off_a += idx * st_a[d];
              off_b += idx * st_b[d];
            }
            MatrixProduct<T>(pa + off_a * m * k, false, pb + off_b * k * n, false, py + i * m * n, m, n, k,
                             T{1});
          }
        }
        outputs[0] = std::move(y);
        return Status::OK();
      }
    });
  }

 private:
  using DenseKernel::DenseKernel;
};

// com.microsoft CDist, onnxruntime's contrib operator that skl2onnx emits
// for nearest neighbours with options {'optim': 'cdist'} (its default
// conversion uses Scan, a subgraph the runtime refuses): distances between
// the rows of A [n, k] and B [m, k] as [n, m].
class CDistKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 2, 2));
    auto k = std::unique_ptr<CDistKernel>(new CDistKernel(node));
    ASSIGN_OR_RETURN(std::string metric,
                     node.Has("metric") ? node.String("metric") : Result<std::string>("sqeuclidean"));
    if (metric == "euclidean") {
      k->sqrt_ = true;
    } else if (metric != "sqeuclidean") {
      return node.Error("metric '" + metric.substr(0, 40) + "' is not supported (euclidean, sqeuclidean)");
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* a, In(inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* b, In(inputs, 1));
    if (a->rank() != 2 || b->rank() != 2 || a->dim(1) != b->dim(1)) {
      return Error("A and B must be matrices with the same columns, got " + ShapeString(a->shape()) +
                   " and " + ShapeString(b->shape()));
    }
    if (a->type() != b->type()) return Error("A and B must have one type");
    return VisitType(a->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsFloating<T>) {
        return TypeError("A", a->type(), "float or double");
      } else {
        const int64_t n = a->dim(0), m = b->dim(0), k = a->dim(1);
        ASSIGN_OR_RETURN(Tensor y, NewTensor(a->type(), {n, m}));
        const T* pa = a->data<T>().data();
        const T* pb = b->data<T>().data();
        T* py = y.mutable_data<T>().data();
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t j = 0; j < m; ++j) {
            T acc = 0;
            for (int64_t p = 0; p < k; ++p) {
              const T d = pa[i * k + p] - pb[j * k + p];
              acc += d * d;
            }
            py[i * m + j] = sqrt_ ? std::sqrt(acc) : acc;
          }
        }
        outputs[0] = std::move(y);
        return Status::OK();
      }
    });
  }

 private:
  using DenseKernel::DenseKernel;
  bool sqrt_ = false;
};

}  // namespace

Status RegisterMatmulKernels(KernelRegistry& r) {
  RETURN_IF_ERROR(r.Register("", "Gemm", Factory<GemmKernel>()));
  RETURN_IF_ERROR(r.Register("", "MatMul", Factory<MatMulKernel>()));
  RETURN_IF_ERROR(r.Register("com.microsoft", "CDist", Factory<CDistKernel>()));
  return Status::OK();
}

}  // namespace ferry::serving::onnx::dense
