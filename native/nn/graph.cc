#include "nn/graph.h"

#include "nn/fused_batch_norm.h"
#include "nn/layers.h"

#include <cmath>
#include <map>
#include <sstream>

namespace skipnorm::nn {

// ---- arguments ---------------------------------------------------------------------------------

const GraphArg& OpArgs::at(size_t i) const {
  TORCH_CHECK(i < args_.size(), "the graph's operation has too few arguments (", args_.size(), ", wanted argument ", i + 1, ")");
  return args_[i];
}

bool OpArgs::isNull(size_t i) const { return i >= args_.size() || std::holds_alternative<std::monostate>(args_[i].value); }
bool OpArgs::isList(size_t i) const { return std::holds_alternative<GraphArgs>(at(i).value); }
bool OpArgs::isString(size_t i) const { return std::holds_alternative<std::string>(at(i).value); }

at::Tensor OpArgs::resolve(const GraphArg& a) const {
  const auto* ref = std::get_if<NodeRef>(&a.value);
  TORCH_CHECK(ref, "the graph's operation expected a tensor argument");
  return values_[static_cast<size_t>(ref->node)][static_cast<size_t>(ref->output)];
}

at::Tensor OpArgs::tensor(size_t i) const { return resolve(at(i)); }

std::optional<at::Tensor> OpArgs::optionalTensor(size_t i) const {
  if (isNull(i)) return std::nullopt;
  return tensor(i);
}

std::vector<at::Tensor> OpArgs::tensors(size_t i) const {
  const auto* list = std::get_if<GraphArgs>(&at(i).value);
  TORCH_CHECK(list, "the graph's operation expected a list of tensors");
  std::vector<at::Tensor> out;
  for (const auto& a : *list) out.push_back(resolve(a));
  return out;
}

double OpArgs::number(size_t i) const {
  const auto& a = at(i);
  if (const auto* d = std::get_if<double>(&a.value)) return *d;
  if (const auto* b = std::get_if<BatchInt>(&a.value)) return static_cast<double>(b->factor * batch_);
  TORCH_CHECK(false, "the graph's operation expected a number");
}

std::optional<double> OpArgs::optionalNumber(size_t i) const {
  if (isNull(i)) return std::nullopt;
  return number(i);
}

int64_t OpArgs::toInteger(const GraphArg& a) const {
  if (const auto* b = std::get_if<BatchInt>(&a.value)) return b->factor * batch_;
  const auto* d = std::get_if<double>(&a.value);
  TORCH_CHECK(d && std::isfinite(*d) && std::trunc(*d) == *d && std::fabs(*d) < 9007199254740992.0, "the graph's operation expected an integer");
  return static_cast<int64_t>(*d);
}

int64_t OpArgs::integer(size_t i) const { return toInteger(at(i)); }

std::optional<int64_t> OpArgs::optionalInteger(size_t i) const {
  if (isNull(i)) return std::nullopt;
  return integer(i);
}

std::vector<int64_t> OpArgs::integers(size_t i) const {
  const auto* list = std::get_if<GraphArgs>(&at(i).value);
  TORCH_CHECK(list, "the graph's operation expected a list of integers");
  std::vector<int64_t> out;
  for (const auto& a : *list) out.push_back(toInteger(a));
  return out;
}

std::optional<std::vector<int64_t>> OpArgs::optionalIntegers(size_t i) const {
  if (isNull(i)) return std::nullopt;
  return integers(i);
}

at::Scalar OpArgs::scalar(size_t i) const {
  const auto& a = at(i);
  if (const auto* b = std::get_if<bool>(&a.value)) return at::Scalar(*b);
  if (std::holds_alternative<BatchInt>(a.value)) return at::Scalar(toInteger(a));
  const double v = number(i);
  if (std::isfinite(v) && std::trunc(v) == v && std::fabs(v) < 9007199254740992.0) return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

std::optional<at::Scalar> OpArgs::optionalScalar(size_t i) const {
  if (isNull(i)) return std::nullopt;
  return scalar(i);
}

bool OpArgs::boolean(size_t i) const {
  const auto* b = std::get_if<bool>(&at(i).value);
  TORCH_CHECK(b, "the graph's operation expected a boolean");
  return *b;
}

const std::string& OpArgs::string(size_t i) const {
  const auto* s = std::get_if<std::string>(&at(i).value);
  TORCH_CHECK(s, "the graph's operation expected a string");
  return *s;
}

// ---- the graph module --------------------------------------------------------------------------

void GraphModule::addChild(const std::string& name, std::shared_ptr<Layer> child) {
  register_module(name, child);
  children_.emplace_back(name, std::move(child));
}

void GraphModule::addParameter(const std::string& name, const at::Tensor& value) {
  register_parameter(name, value, /*requires_grad=*/value.requires_grad() || at::isFloatingType(value.scalar_type()));
}

void GraphModule::addBuffer(const std::string& name, const at::Tensor& value) { register_buffer(name, value); }

std::shared_ptr<Layer> GraphModule::childNamed(const std::string& name) const {
  for (const auto& [n, child] : children_) {
    if (n == name) return child;
  }
  // A dotted name reaches into a holder (ModuleList / ModuleDict): blocks.0
  const auto dot = name.find('.');
  if (dot != std::string::npos) {
    for (const auto& [n, child] : children_) {
      if (n != name.substr(0, dot)) continue;
      if (auto holder = std::dynamic_pointer_cast<ModuleHolder>(child)) {
        std::string rest = name.substr(dot + 1);
        // Holders nest (a list of lists): walk them.
        std::shared_ptr<Layer> at = holder;
        while (auto h = std::dynamic_pointer_cast<ModuleHolder>(at)) {
          const auto next = rest.find('.');
          at = h->child(rest.substr(0, next));
          if (!at || next == std::string::npos) return at;
          rest = rest.substr(next + 1);
        }
      }
    }
  }
  return nullptr;
}

at::Tensor GraphModule::tensorNamed(const std::string& name) const {
  if (const auto* p = named_parameters(false).find(name)) return *p;
  if (const auto* b = named_buffers(false).find(name)) return *b;
  return at::Tensor();
}

void GraphModule::setGraph(Graph graph) {
  TORCH_CHECK(graph.inputs >= 1, name(), ": a graph needs at least one input");
  TORCH_CHECK(static_cast<int64_t>(graph.exampleShapes.size()) == graph.inputs, name(), ": the graph gives ", graph.exampleShapes.size(),
              " example shapes for ", graph.inputs, " inputs");
  auto checkRefs = [&](const GraphArgs& args, size_t at, auto&& self) -> void {
    for (const auto& a : args) {
      if (const auto* ref = std::get_if<NodeRef>(&a.value)) {
        TORCH_CHECK(ref->node >= 0 && static_cast<size_t>(ref->node) < at, name(), ": node ", at, " refers to node ", ref->node,
                    ", which does not come before it (a graph's references point backwards)");
        TORCH_CHECK(ref->output >= 0 && ref->output < graph.nodes[static_cast<size_t>(ref->node)].outputs, name(), ": node ", at,
                    " refers to output ", ref->output, " of node ", ref->node, ", which has ", graph.nodes[static_cast<size_t>(ref->node)].outputs);
      } else if (const auto* list = std::get_if<GraphArgs>(&a.value)) {
        self(*list, at, self);
      }
    }
  };
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    GraphNode& node = graph.nodes[i];
    checkRefs(node.args, i, checkRefs);
    TORCH_CHECK(node.outputs >= 1 && node.outputs <= 4096, name(), ": node ", i, " has ", node.outputs, " outputs");
    switch (node.kind) {
      case GraphNode::Kind::Input: {
        TORCH_CHECK(node.args.size() == 1, name(), ": an input node names its index");
        const auto* index = std::get_if<double>(&node.args[0].value);
        TORCH_CHECK(index && *index >= 0 && *index < static_cast<double>(graph.inputs) && std::trunc(*index) == *index, name(), ": node ", i,
                    " reads an input the graph does not have");
        break;
      }
      case GraphNode::Kind::Parameter:
        node.parameter = tensorNamed(node.op);
        TORCH_CHECK(node.parameter.defined(), name(), ": the graph reads '", node.op, "', which is not a parameter or buffer of this module");
        break;
      case GraphNode::Kind::Call:
        node.child = childNamed(node.op);
        TORCH_CHECK(node.child, name(), ": the graph calls '", node.op, "', which is not a child of this module");
        TORCH_CHECK(!std::dynamic_pointer_cast<ModuleHolder>(node.child), name(), ": the graph calls '", node.op,
                    "', a ModuleList or ModuleDict, which holds modules but is not called itself");
        TORCH_CHECK(!node.args.empty(), name(), ": node ", i, " calls '", node.op, "' with no input");
        break;
      case GraphNode::Kind::Op: {
        int64_t arity = -1;
        node.fn = graphOp(node.op, &arity);
        TORCH_CHECK(node.fn, name(), ": unknown operation '", node.op, "' in node ", i);
        TORCH_CHECK(arity < 0 || static_cast<int64_t>(node.args.size()) <= arity, name(), ": operation '", node.op, "' (node ", i, ") takes at most ",
                    arity, " arguments, the graph gives ", node.args.size());
        break;
      }
    }
  }
  TORCH_CHECK(graph.output.node >= 0 && static_cast<size_t>(graph.output.node) < graph.nodes.size() &&
                  graph.output.output >= 0 && graph.output.output < graph.nodes[static_cast<size_t>(graph.output.node)].outputs,
              name(), ": the graph's output is not one of its nodes");
  graph_ = std::move(graph);
  planFusions();
}

void GraphModule::planFusions() {
  const Graph& g = *graph_;
  const size_t n = g.nodes.size();
  fusions_.assign(n, Fusion{});
  fusedAway_.assign(n, false);
  // How many times each node's first output is read (the graph's output counts as a read).
  std::vector<int64_t> reads(n, 0);
  auto count = [&](const GraphArgs& args, auto&& self) -> void {
    for (const auto& a : args) {
      if (const auto* ref = std::get_if<NodeRef>(&a.value); ref && ref->output == 0) ++reads[static_cast<size_t>(ref->node)];
      else if (const auto* list = std::get_if<GraphArgs>(&a.value)) self(*list, self);
    }
  };
  for (const auto& node : g.nodes) count(node.args, count);
  if (g.output.output == 0) ++reads[static_cast<size_t>(g.output.node)];
  // A reference to the single-use first output of an earlier node, or -1.
  auto soleUse = [&](const GraphArg& a) -> int64_t {
    const auto* ref = std::get_if<NodeRef>(&a.value);
    return ref && ref->output == 0 && reads[static_cast<size_t>(ref->node)] == 1 ? ref->node : -1;
  };
  // How many call nodes each child has: a batch norm called more than once stays unfused, since a
  // deferred call could update its running statistics in another order than the graph's.
  std::map<const Layer*, int64_t> calls;
  for (const auto& node : g.nodes)
    if (node.kind == GraphNode::Kind::Call) ++calls[node.child.get()];
  auto isNorm = [&](int64_t i) {
    if (i < 0) return false;
    const GraphNode& node = g.nodes[static_cast<size_t>(i)];
    return node.kind == GraphNode::Kind::Call && node.args.size() == 1 && dynamic_cast<BatchNorm*>(node.child.get()) != nullptr &&
           node.child->kind() == "BatchNorm2d" && calls[node.child.get()] == 1;
  };
  // Element-wise operations are recorded as ("unary"|"binary", name, operands..., flags).
  auto isOp = [](const GraphNode& node, const char* kind, const char* name) {
    const auto* op = node.args.empty() ? nullptr : std::get_if<std::string>(&node.args[0].value);
    return node.kind == GraphNode::Kind::Op && node.op == kind && op != nullptr && *op == name;
  };
  for (size_t j = 0; j < n; ++j) {
    const GraphNode& node = g.nodes[j];
    const auto* act = node.kind == GraphNode::Kind::Call ? dynamic_cast<const Activation*>(node.child.get()) : nullptr;
    const GraphArg* reluInput = nullptr;
    if (act != nullptr && act->isReLU() && node.args.size() == 1) reluInput = &node.args[0];
    else if (isOp(node, "unary", "relu") && node.args.size() == 2) reluInput = &node.args[1];
    if (reluInput == nullptr) continue;
    const int64_t input = soleUse(*reluInput);
    if (isNorm(input)) {
      fusions_[j].norm = input;
    } else if (input >= 0) {
      // A tensor + tensor addition (no scalar operand: the flag after the operands is false).
      const GraphNode& add = g.nodes[static_cast<size_t>(input)];
      if (!isOp(add, "binary", "add") || add.args.size() < 3) continue;
      const bool scalarOperand = add.args.size() > 3 && std::holds_alternative<bool>(add.args[3].value) && std::get<bool>(add.args[3].value);
      const auto* lhs = std::get_if<NodeRef>(&add.args[1].value);
      const auto* rhs = std::get_if<NodeRef>(&add.args[2].value);
      if (scalarOperand || !lhs || !rhs) continue;
      for (int side = 0; side < 2 && fusions_[j].norm < 0; ++side) {
        const int64_t norm = soleUse(add.args[static_cast<size_t>(side + 1)]);
        if (!isNorm(norm)) continue;
        fusions_[j] = Fusion{norm, input, side == 0 ? *rhs : *lhs};
      }
    }
    if (fusions_[j].norm >= 0) {
      fusedAway_[static_cast<size_t>(fusions_[j].norm)] = true;
      if (fusions_[j].add >= 0) fusedAway_[static_cast<size_t>(fusions_[j].add)] = true;
    }
  }
}

at::Tensor GraphModule::forward(const at::Tensor& x) { return forwardMany({x}); }

at::Tensor GraphModule::forwardMany(const std::vector<at::Tensor>& inputs) {
  TORCH_CHECK(graph_, name(), ": its forward has not been traced yet (call it once on an input, or trace it with model.trace(input))");
  const Graph& g = *graph_;
  TORCH_CHECK(static_cast<int64_t>(inputs.size()) == g.inputs, name(), ": expected ", g.inputs, " input(s), got ", inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& x = inputs[i];
    const auto& example = g.exampleShapes[i];
    const bool fits = x.dim() == static_cast<int64_t>(example.size()) + 1 && std::equal(example.begin(), example.end(), x.sizes().begin() + 1);
    if (!fits) {
      std::ostringstream want;
      want << "[*";
      for (int64_t d : example) want << ", " << d;
      want << "]";
      TORCH_CHECK(false, name(), " was traced for input", inputs.size() > 1 ? " " + std::to_string(i) : "", " of shape ", want.str(), " (a batch of ",
                  example.size(), "-d examples), got ", x.sizes(), ": call the model on an input of the new shape (or model.trace(input)) to trace it again");
    }
  }
  const int64_t batch = inputs[0].size(0);
  std::vector<std::vector<at::Tensor>> values(g.nodes.size());
  const bool fusing = fusionEnabledHere();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& node = g.nodes[i];
    if (node.kind == GraphNode::Kind::Input) {
      values[i] = {inputs[static_cast<size_t>(std::get<double>(node.args[0].value))]};
      continue;
    }
    // Nodes a later ReLU computes with it: left for it (nothing else reads them).
    if (fusing && fusedAway_[i]) continue;
    const Fusion& fusion = fusions_[i];
    if (fusing && fusion.norm >= 0) {
      const GraphNode& normNode = g.nodes[static_cast<size_t>(fusion.norm)];
      const at::Tensor x = OpArgs(normNode.args, values, batch, *this).tensor(0);
      const at::Tensor z = fusion.add >= 0 ? values[static_cast<size_t>(fusion.residual.node)][static_cast<size_t>(fusion.residual.output)] : at::Tensor();
      if (at::Tensor fused = static_cast<BatchNorm&>(*normNode.child).fusedWithReLU(x, z); fused.defined()) {
        values[i] = {std::move(fused)};
        continue;
      }
      // Not taken for these tensors: the left nodes run now, in order, then the ReLU.
      values[static_cast<size_t>(fusion.norm)] = {runNode(static_cast<size_t>(fusion.norm), values, batch)};
      if (fusion.add >= 0) values[static_cast<size_t>(fusion.add)] = {runNode(static_cast<size_t>(fusion.add), values, batch)};
    }
    if (node.kind == GraphNode::Kind::Op) {
      values[i] = node.fn(OpArgs(node.args, values, batch, *this));
      TORCH_CHECK(static_cast<int64_t>(values[i].size()) == node.outputs, name(), ": operation '", node.op, "' gave ", values[i].size(),
                  " outputs where the graph expects ", node.outputs);
    } else {
      values[i] = {runNode(i, values, batch)};
    }
    // What no later node reads could be freed here; graphs are small and autograd keeps what
    // backward needs anyway, so values simply live to the end of the pass.
  }
  return values[static_cast<size_t>(g.output.node)][static_cast<size_t>(g.output.output)];
}

// One node's single output: a parameter, a child's call or a one-output operation.
at::Tensor GraphModule::runNode(size_t i, std::vector<std::vector<at::Tensor>>& values, int64_t batch) const {
  const GraphNode& node = graph_->nodes[i];
  OpArgs args(node.args, values, batch, *this);
  switch (node.kind) {
    case GraphNode::Kind::Parameter:
      return node.parameter;
    case GraphNode::Kind::Call: {
      if (node.args.size() == 1) return (*node.child)(args.tensor(0));
      auto graphChild = std::dynamic_pointer_cast<GraphModule>(node.child);
      TORCH_CHECK(graphChild, name(), ": '", node.op, "' is called with ", node.args.size(), " inputs, but only traced modules take more than one");
      std::vector<at::Tensor> xs;
      for (size_t k = 0; k < node.args.size(); ++k) xs.push_back(args.tensor(k));
      return OutputHook::apply(*graphChild, graphChild->forwardMany(xs));
    }
    default: {
      std::vector<at::Tensor> out = node.fn(args);
      TORCH_CHECK(out.size() == 1, name(), ": operation '", node.op, "' gave ", out.size(), " outputs where the graph expects 1");
      return out[0];
    }
  }
}

std::string GraphModule::describe() const {
  if (!graph_) return "not traced";
  std::ostringstream s;
  s << graph_->nodes.size() << " nodes";
  return s.str();
}

// ---- holders -----------------------------------------------------------------------------------

void ModuleHolder::add(const std::string& name, std::shared_ptr<Layer> child) {
  register_module(name, child);
  children_.emplace_back(name, std::move(child));
}

std::shared_ptr<Layer> ModuleHolder::child(const std::string& name) const {
  for (const auto& [n, c] : children_) {
    if (n == name) return c;
  }
  return nullptr;
}

at::Tensor ModuleHolder::forward(const at::Tensor&) {
  TORCH_CHECK(false, name(), " holds modules but has no forward of its own: call its modules");
}

}  // namespace skipnorm::nn
