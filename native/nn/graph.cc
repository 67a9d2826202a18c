#include "nn/graph.h"

#include <cmath>
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
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& node = g.nodes[i];
    switch (node.kind) {
      case GraphNode::Kind::Input:
        values[i] = {inputs[static_cast<size_t>(std::get<double>(node.args[0].value))]};
        break;
      case GraphNode::Kind::Parameter:
        values[i] = {node.parameter};
        break;
      case GraphNode::Kind::Call: {
        OpArgs args(node.args, values, batch, *this);
        if (node.args.size() == 1) {
          values[i] = {(*node.child)(args.tensor(0))};
        } else {
          auto graphChild = std::dynamic_pointer_cast<GraphModule>(node.child);
          TORCH_CHECK(graphChild, name(), ": '", node.op, "' is called with ", node.args.size(), " inputs, but only traced modules take more than one");
          std::vector<at::Tensor> xs;
          for (size_t k = 0; k < node.args.size(); ++k) xs.push_back(args.tensor(k));
          values[i] = {OutputHook::apply(*graphChild, graphChild->forwardMany(xs))};
        }
        break;
      }
      case GraphNode::Kind::Op: {
        values[i] = node.fn(OpArgs(node.args, values, batch, *this));
        TORCH_CHECK(static_cast<int64_t>(values[i].size()) == node.outputs, name(), ": operation '", node.op, "' gave ", values[i].size(),
                    " outputs where the graph expects ", node.outputs);
        break;
      }
    }
    // What no later node reads could be freed here; graphs are small and autograd keeps what
    // backward needs anyway, so values simply live to the end of the pass.
  }
  return values[static_cast<size_t>(g.output.node)][static_cast<size_t>(g.output.output)];
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
