#include "ferry/serving/runtimes/onnx/graph.h"

#include <functional>
#include <map>
#include <queue>
#include <span>
#include <unordered_map>
#include <utility>

#include "ferry/common/strings.h"
#include "onnx/onnx_pb.h"

namespace ferry::serving::onnx {

namespace {

std::string Quote(std::string_view name) { return "'" + SanitizeForMessage(name, 120) + "'"; }

std::string NodeLabel(const ::onnx::NodeProto& node, int index) {
  const std::string name = node.name().empty() ? node.op_type() + "#" + std::to_string(index) : node.name();
  return "node " + Quote(name) + " (" + SanitizeForMessage(node.op_type(), 60) + ")";
}

Result<ElemType> ElemTypeFromOnnx(int elem_type, std::string_view what) {
  switch (elem_type) {
    case ::onnx::TensorProto::FLOAT:
      return ElemType::kFloat;
    case ::onnx::TensorProto::DOUBLE:
      return ElemType::kDouble;
    case ::onnx::TensorProto::INT64:
      return ElemType::kInt64;
    case ::onnx::TensorProto::INT32:
      return ElemType::kInt32;
    case ::onnx::TensorProto::STRING:
      return ElemType::kString;
    case ::onnx::TensorProto::BOOL:
      return ElemType::kBool;
    default: {
      const std::string type_name = ::onnx::TensorProto::DataType_IsValid(elem_type)
                                        ? ::onnx::TensorProto::DataType_Name(elem_type)
                                        : "data type " + std::to_string(elem_type);
      return Unimplemented(std::string(what) + " has element type " + type_name +
                           "; the native runtime serves float, double, int64, int32, string and bool");
    }
  }
}

Shape ShapeFromOnnx(const ::onnx::TensorShapeProto& shape) {
  Shape out;
  out.reserve(static_cast<size_t>(shape.dim_size()));
  for (const auto& d : shape.dim()) {
    out.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : -1);
  }
  return out;
}

// A graph input or output's declared type. `producer` is the node making an
// output (null for inputs), read for ZipMap's key count.
Result<ValueDecl> DeclFromValueInfo(const ::onnx::ValueInfoProto& info, bool is_input,
                                    const ::onnx::NodeProto* producer) {
  const std::string what = std::string(is_input ? "input " : "output ") + Quote(info.name());
  ValueDecl decl;
  decl.name = info.name();
  if (!info.has_type()) return InvalidArgument(what + " declares no type");
  const ::onnx::TypeProto& type = info.type();
  if (type.has_tensor_type()) {
    ASSIGN_OR_RETURN(decl.type, ElemTypeFromOnnx(type.tensor_type().elem_type(), what));
    if (type.tensor_type().has_shape()) {
      decl.shape = ShapeFromOnnx(type.tensor_type().shape());
    } else if (is_input) {
      return InvalidArgument(what + " declares no shape; serving needs at least its rank");
    } else {
      decl.shape = {-1};
    }
    return decl;
  }
  // ZipMap's sequence(map(int64|string, float)), served as [rows, keys].
  if (!is_input && type.has_sequence_type() && type.sequence_type().elem_type().has_map_type()) {
    const auto& map = type.sequence_type().elem_type().map_type();
    const bool float_values = map.value_type().has_tensor_type() &&
                              map.value_type().tensor_type().elem_type() == ::onnx::TensorProto::FLOAT;
    if (float_values &&
        (map.key_type() == ::onnx::TensorProto::INT64 || map.key_type() == ::onnx::TensorProto::STRING)) {
      decl.kind = ValueDecl::Kind::kMapSequence;
      decl.type = ElemType::kFloat;
      int64_t keys = -1;
      if (producer != nullptr && producer->op_type() == "ZipMap") {
        for (const auto& a : producer->attribute()) {
          if (a.name() == "classlabels_int64s") keys = a.ints_size();
          if (a.name() == "classlabels_strings") keys = a.strings_size();
        }
      }
      decl.shape = {-1, keys};
      return decl;
    }
  }
  return Unimplemented(what + " is not a tensor" +
                       (is_input ? std::string() : std::string(" or a sequence of maps to float")) +
                       "; the native runtime serves tensors");
}

Status CheckSubgraphs(const ::onnx::NodeProto& node, int index) {
  for (const auto& a : node.attribute()) {
    if (a.type() == ::onnx::AttributeProto::GRAPH || a.type() == ::onnx::AttributeProto::GRAPHS ||
        a.has_g() || a.graphs_size() > 0) {
      return Unimplemented(
          NodeLabel(node, index) + ": attribute " + Quote(a.name()) +
          " is a subgraph; control flow (If, Loop, Scan) is not supported by the native runtime");
    }
    if (!a.ref_attr_name().empty()) {
      return Unimplemented(NodeLabel(node, index) + ": attribute " + Quote(a.name()) +
                           " refers to a function attribute, which is not supported");
    }
  }
  return Status::OK();
}

// A kernel's output must be a consistent value before anything reads it; a
// kernel that left one unassigned or malformed is a runtime bug reported as
// Internal rather than a read past a buffer.
bool Consistent(const Value& v) {
  if (const auto* m = std::get_if<MapSequence>(&v)) {
    const size_t keys = m->int64_keys.empty() ? m->string_keys.size() : m->int64_keys.size();
    return m->rows >= 0 && m->values.size() == static_cast<size_t>(m->rows) * keys;
  }
  const Tensor& t = std::get<Tensor>(v);
  for (int64_t d : t.shape()) {
    if (d < 0) return false;
  }
  const auto n = static_cast<size_t>(t.size());
  switch (t.type()) {
    case ElemType::kFloat:
      return t.data<float>().size() == n;
    case ElemType::kDouble:
      return t.data<double>().size() == n;
    case ElemType::kInt64:
      return t.data<int64_t>().size() == n;
    case ElemType::kInt32:
      return t.data<int32_t>().size() == n;
    case ElemType::kString:
      return t.data<std::string>().size() == n;
    case ElemType::kBool:
      return t.data<uint8_t>().size() == n;
  }
  return false;
}

}  // namespace

Graph::~Graph() = default;

Result<std::unique_ptr<Graph>> Graph::Load(std::unique_ptr<::onnx::ModelProto> model,
                                           const KernelRegistry& registry) {
  std::unique_ptr<Graph> g(new Graph());
  const ::onnx::ModelProto& m = *model;
  if (!m.has_graph()) return InvalidArgument("the model has no graph");
  if (m.training_info_size() > 0) {
    return Unimplemented(
        "the model carries training information (training_info), which serving does not run");
  }
  if (m.functions_size() > 0) {
    return Unimplemented("the model defines local functions (" + Quote(m.functions(0).name()) +
                         "), which the native runtime does not support");
  }

  std::map<std::string, int64_t> opsets;
  for (const auto& op : m.opset_import()) {
    opsets[op.domain() == "ai.onnx" ? std::string() : op.domain()] = op.version();
  }
  if (opsets.empty()) return InvalidArgument("the model imports no operator set (opset_import is empty)");
  if (auto it = opsets.find(""); it != opsets.end() && (it->second < 1 || it->second > kMaxOnnxOpset)) {
    return Unimplemented("ai.onnx opset " + std::to_string(it->second) + " is not supported (1.." +
                         std::to_string(kMaxOnnxOpset) + ")");
  }
  if (auto it = opsets.find("ai.onnx.ml");
      it != opsets.end() && (it->second < 1 || it->second > kMaxOnnxMlOpset)) {
    return Unimplemented("ai.onnx.ml opset " + std::to_string(it->second) + " is not supported (1.." +
                         std::to_string(kMaxOnnxMlOpset) + ")");
  }

  const ::onnx::GraphProto& graph = m.graph();
  if (graph.sparse_initializer_size() > 0) {
    return Unimplemented("the graph has sparse initializers, which the native runtime does not support");
  }
  if (graph.output_size() == 0) return InvalidArgument("the graph has no outputs");

  // Every defined name: initializers and fed inputs now, node outputs as
  // they are planned.
  std::unordered_map<std::string, Ref> refs;
  for (const auto& init : graph.initializer()) {
    if (init.name().empty()) return InvalidArgument("an initializer has no name");
    if (refs.contains(init.name()))
      return InvalidArgument("initializer " + Quote(init.name()) + " is defined twice");
    auto t = TensorFromProto(init);
    if (!t.ok()) return t.status();
    g->constants_.emplace_back(std::move(t).value());
    refs[init.name()] = -static_cast<Ref>(g->constants_.size());
  }
  int32_t slots = 0;
  std::unordered_map<std::string, bool> graph_inputs;
  for (const auto& in : graph.input()) {
    if (in.name().empty()) return InvalidArgument("a graph input has no name");
    if (graph_inputs.contains(in.name()))
      return InvalidArgument("graph input " + Quote(in.name()) + " is declared twice");
    graph_inputs[in.name()] = true;
    // An input with an initializer is a constant with a default; serving
    // does not let requests override it.
    if (refs.contains(in.name())) continue;
    ASSIGN_OR_RETURN(ValueDecl decl, DeclFromValueInfo(in, /*is_input=*/true, nullptr));
    g->inputs_.push_back(std::move(decl));
    refs[in.name()] = slots++;
  }

  // Kernels, in graph order, and each output name's producer.
  const int n = graph.node_size();
  std::vector<std::unique_ptr<Kernel>> kernels(static_cast<size_t>(n));
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < n; ++i) {
    const ::onnx::NodeProto& node = graph.node(i);
    RETURN_IF_ERROR(CheckSubgraphs(node, i));
    const std::string domain = node.domain() == "ai.onnx" ? std::string() : node.domain();
    auto op = opsets.find(domain);
    if (op == opsets.end()) {
      return InvalidArgument(NodeLabel(node, i) + " uses domain " +
                             Quote(domain.empty() ? "ai.onnx" : domain) +
                             ", which the model does not import");
    }
    ASSIGN_OR_RETURN(kernels[static_cast<size_t>(i)], registry.Create(NodeInfo(node, op->second, i)));
    for (const std::string& out : node.output()) {
      if (out.empty()) continue;
      if (refs.contains(out) || graph_inputs.contains(out)) {
        return InvalidArgument(NodeLabel(node, i) + ": output " + Quote(out) +
                               " is already a graph input or an initializer");
      }
      if (!producer.emplace(out, i).second) {
        return InvalidArgument(NodeLabel(node, i) + ": output " + Quote(out) + " is also produced by " +
                               NodeLabel(graph.node(producer[out]), producer[out]));
      }
    }
  }

  // Topological order (Kahn's algorithm, ties by graph order so that a
  // sorted graph keeps its order).
  std::vector<int> pending(static_cast<size_t>(n), 0);
  std::vector<std::vector<int>> consumers(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const ::onnx::NodeProto& node = graph.node(i);
    for (const std::string& in : node.input()) {
      if (in.empty()) continue;
      if (auto p = producer.find(in); p != producer.end()) {
        consumers[static_cast<size_t>(p->second)].push_back(i);
        ++pending[static_cast<size_t>(i)];
      } else if (!refs.contains(in)) {
        return InvalidArgument(NodeLabel(node, i) + ": input " + Quote(in) +
                               " is not a graph input, an initializer or any node's output");
      }
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (int i = 0; i < n; ++i) {
    if (pending[static_cast<size_t>(i)] == 0) ready.push(i);
  }
  std::vector<int> order;
  order.reserve(static_cast<size_t>(n));
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int c : consumers[static_cast<size_t>(i)]) {
      if (--pending[static_cast<size_t>(c)] == 0) ready.push(c);
    }
  }
  if (static_cast<int>(order.size()) < n) {
    for (int i = 0; i < n; ++i) {
      if (pending[static_cast<size_t>(i)] > 0) {
        return InvalidArgument("the graph has a cycle through " + NodeLabel(graph.node(i), i));
      }
    }
  }

  // Nodes that contribute to an output; the others are checked but not run.
  std::vector<bool> needed(static_cast<size_t>(n), false);
  std::vector<int> stack;
  for (const auto& out : graph.output()) {
    if (auto p = producer.find(out.name()); p != producer.end()) {
      stack.push_back(p->second);
    } else if (!refs.contains(out.name())) {
      return InvalidArgument("graph output " + Quote(out.name()) +
                             " is not a graph input, an initializer or any node's output");
    }
  }
  while (!stack.empty()) {
    const int i = stack.back();
    stack.pop_back();
    if (needed[static_cast<size_t>(i)]) continue;
    needed[static_cast<size_t>(i)] = true;
    for (const std::string& in : graph.node(i).input()) {
      if (auto p = producer.find(in); p != producer.end()) stack.push_back(p->second);
    }
  }

  // Plan: fold what depends only on constants, give the rest slots.
  for (int i : order) {
    if (!needed[static_cast<size_t>(i)]) continue;
    const ::onnx::NodeProto& node = graph.node(i);
    Step step;
    bool constant = true;
    for (const std::string& in : node.input()) {
      const Ref r = in.empty() ? kOmitted : refs.at(in);
      constant = constant && r < 0;
      step.inputs.push_back(r);
    }
    step.output_count = node.output_size();
    if (constant) {
      std::vector<const Value*> ptrs;
      for (Ref r : step.inputs) {
        ptrs.push_back(r == kOmitted ? nullptr : &g->constants_[static_cast<size_t>(-1 - r)]);
      }
      std::vector<Value> outs(static_cast<size_t>(step.output_count));
      Status st = kernels[static_cast<size_t>(i)]->Run(ptrs, outs);
      if (!st.ok()) return st.WithContext("folding constants");
      for (int k = 0; k < step.output_count; ++k) {
        if (node.output(k).empty()) continue;
        if (!Consistent(outs[static_cast<size_t>(k)])) {
          return Internal(NodeLabel(node, i) + " left output " + Quote(node.output(k)) + " malformed");
        }
        g->constants_.push_back(std::move(outs[static_cast<size_t>(k)]));
        refs[node.output(k)] = -static_cast<Ref>(g->constants_.size());
      }
      continue;
    }
    step.kernel = std::move(kernels[static_cast<size_t>(i)]);
    step.first_output = slots;
    for (int k = 0; k < step.output_count; ++k) {
      step.named.push_back(!node.output(k).empty());
      if (!node.output(k).empty()) refs[node.output(k)] = slots + k;
    }
    slots += step.output_count;
    g->max_step_inputs_ = std::max(g->max_step_inputs_, step.inputs.size());
    g->steps_.push_back(std::move(step));
  }
  g->slot_count_ = slots;

  // Outputs: their declarations and where they are.
  std::vector<bool> is_output(static_cast<size_t>(slots), false);
  for (const auto& out : graph.output()) {
    auto p = producer.find(out.name());
    ASSIGN_OR_RETURN(
        ValueDecl decl,
        DeclFromValueInfo(out, /*is_input=*/false, p == producer.end() ? nullptr : &graph.node(p->second)));
    g->outputs_.push_back(std::move(decl));
    const Ref r = refs.at(out.name());
    g->output_refs_.push_back(r);
    if (r >= 0) is_output[static_cast<size_t>(r)] = true;
  }
  g->output_moves_.assign(g->output_refs_.size(), true);
  for (size_t i = 0; i < g->output_refs_.size(); ++i) {
    for (size_t j = i + 1; j < g->output_refs_.size(); ++j) {
      if (g->output_refs_[i] == g->output_refs_[j]) g->output_moves_[i] = false;
    }
  }

  // Each intermediate is released after the last step reading it (or the
  // step making it, when nothing reads it).
  std::vector<int> last(static_cast<size_t>(slots), -1);
  for (size_t s = 0; s < g->steps_.size(); ++s) {
    const Step& step = g->steps_[s];
    for (int k = 0; k < step.output_count; ++k)
      last[static_cast<size_t>(step.first_output + k)] = static_cast<int>(s);
    for (Ref r : step.inputs) {
      if (r >= 0) last[static_cast<size_t>(r)] = static_cast<int>(s);
    }
  }
  for (int32_t slot = 0; slot < slots; ++slot) {
    const int s = last[static_cast<size_t>(slot)];
    if (s >= 0 && !is_output[static_cast<size_t>(slot)])
      g->steps_[static_cast<size_t>(s)].release.push_back(slot);
  }

  // The kernels keep NodeInfo views of the nodes; the initializers' data
  // now live in constants_.
  model->mutable_graph()->mutable_initializer()->Clear();
  g->model_ = std::move(model);
  return g;
}

Result<std::vector<Value>> Graph::Run(std::vector<Value> inputs) const {
  if (inputs.size() != inputs_.size()) {
    return InvalidArgument("the graph takes " + std::to_string(inputs_.size()) + " inputs, got " +
                           std::to_string(inputs.size()));
  }
  std::vector<Value> slots(static_cast<size_t>(slot_count_));
  for (size_t i = 0; i < inputs.size(); ++i) slots[i] = std::move(inputs[i]);
  std::vector<const Value*> ptrs(max_step_inputs_);
  for (const Step& step : steps_) {
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      const Ref r = step.inputs[j];
      ptrs[j] = r == kOmitted ? nullptr
                : r >= 0      ? &slots[static_cast<size_t>(r)]
                              : &constants_[static_cast<size_t>(-1 - r)];
    }
    std::span<Value> outs(slots.data() + step.first_output, static_cast<size_t>(step.output_count));
    RETURN_IF_ERROR(step.kernel->Run(std::span<const Value* const>(ptrs.data(), step.inputs.size()), outs));
    for (size_t k = 0; k < outs.size(); ++k) {
      if (step.named[k] && !Consistent(outs[k])) {
        return Internal("a kernel of the native ONNX runtime produced a malformed value");
      }
    }
    for (int32_t s : step.release) slots[static_cast<size_t>(s)] = Value();
  }
  std::vector<Value> out;
  out.reserve(output_refs_.size());
  for (size_t i = 0; i < output_refs_.size(); ++i) {
    const Ref r = output_refs_[i];
    if (r < 0) {
      out.push_back(constants_[static_cast<size_t>(-1 - r)]);
    } else if (output_moves_[i]) {
      out.push_back(std::move(slots[static_cast<size_t>(r)]));
    } else {
      out.push_back(slots[static_cast<size_t>(r)]);
    }
  }
  return out;
}

}  // namespace ferry::serving::onnx
