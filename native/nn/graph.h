// A module whose forward is a graph: the recording of a TypeScript forward traced with symbolic
// tensors (src/nn/graph.ts), made of calls of its child modules and a closed set of tensor
// operations (nn/graph_ops.h). It is one more native module: fit, evaluate, spectra, CUDA graphs
// and data parallelism run it on their threads without calling back into JavaScript.
//
// The graph is plain data. Nodes come in order; a node's arguments are numbers, booleans,
// strings, null, lists, references to earlier nodes' outputs ([node, output]) and integers that
// scale with the batch size (`batch x factor`, found by tracing at two batch sizes). Every
// reference points backwards, so a graph has no cycles by construction, and a tampered one is
// refused when it is set, not when it runs.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "nn/layer.h"

namespace skipnorm::nn {

struct NodeRef {
  int64_t node = 0;
  int64_t output = 0;
};

// An integer that is `factor` times the batch size of the graph's first input.
struct BatchInt {
  int64_t factor = 1;
};

struct GraphArg;
using GraphArgs = std::vector<GraphArg>;

struct GraphArg {
  std::variant<std::monostate, double, bool, std::string, NodeRef, BatchInt, GraphArgs> value;
};

class GraphModule;

// What an operation sees: its arguments with references resolved against the values so far.
class OpArgs {
 public:
  OpArgs(const GraphArgs& args, const std::vector<std::vector<at::Tensor>>& values, int64_t batch, const GraphModule& module)
      : args_(args), values_(values), batch_(batch), module_(module) {}
  size_t size() const { return args_.size(); }
  bool isNull(size_t i) const;
  at::Tensor tensor(size_t i) const;
  std::optional<at::Tensor> optionalTensor(size_t i) const;
  std::vector<at::Tensor> tensors(size_t i) const;
  double number(size_t i) const;
  std::optional<double> optionalNumber(size_t i) const;
  int64_t integer(size_t i) const;
  std::optional<int64_t> optionalInteger(size_t i) const;
  std::vector<int64_t> integers(size_t i) const;
  std::optional<std::vector<int64_t>> optionalIntegers(size_t i) const;
  bool isList(size_t i) const;
  bool isString(size_t i) const;
  // A number as a Scalar: integral values become integer Scalars, as JavaScript numbers do.
  at::Scalar scalar(size_t i) const;
  std::optional<at::Scalar> optionalScalar(size_t i) const;
  bool boolean(size_t i) const;
  const std::string& string(size_t i) const;
  const GraphModule& module() const { return module_; }

 private:
  const GraphArg& at(size_t i) const;
  int64_t toInteger(const GraphArg& a) const;
  at::Tensor resolve(const GraphArg& a) const;
  const GraphArgs& args_;
  const std::vector<std::vector<at::Tensor>>& values_;
  int64_t batch_;
  const GraphModule& module_;
};

using OpFn = std::vector<at::Tensor> (*)(const OpArgs& args);

struct GraphNode {
  enum class Kind { Input, Parameter, Call, Op };
  Kind kind = Kind::Op;
  std::string op;  // the operation's name, the child's name, or the parameter's name
  GraphArgs args;
  int64_t outputs = 1;
  OpFn fn = nullptr;               // Op
  std::shared_ptr<Layer> child;    // Call
  at::Tensor parameter;            // Parameter (or buffer)
};

struct Graph {
  int64_t inputs = 1;
  std::vector<GraphNode> nodes;
  NodeRef output;
  // The shape of one example of each input (the batch dimension left out).
  std::vector<std::vector<int64_t>> exampleShapes;
};

class GraphModule : public Layer {
 public:
  // `kind` is the TypeScript class's name, shown in summaries.
  explicit GraphModule(const std::string& kind) : Layer(kind) {}
  void addChild(const std::string& name, std::shared_ptr<Layer> child);
  void addParameter(const std::string& name, const at::Tensor& value);
  void addBuffer(const std::string& name, const at::Tensor& value);
  // Checks every node (operations known, references backwards and in range, children and
  // parameters registered, argument counts) and installs the graph.
  void setGraph(Graph graph);
  bool traced() const { return graph_.has_value(); }
  const Graph* graph() const { return graph_ ? &*graph_ : nullptr; }
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor forwardMany(const std::vector<at::Tensor>& inputs);
  bool isContainer() const override { return true; }
  std::string describe() const override;

 private:
  std::shared_ptr<Layer> childNamed(const std::string& name) const;
  at::Tensor tensorNamed(const std::string& name) const;
  // Batch norm + ReLU fusion (nn/fused_batch_norm.h): a ReLU (node or ReLU child) whose input is a
  // BatchNorm2d call, or an addition of one and another value, that nothing else reads.
  struct Fusion {
    int64_t norm = -1, add = -1;  // the nodes the ReLU's node computes with it
    NodeRef residual;             // the addition's other operand
  };
  void planFusions();
  at::Tensor runNode(size_t i, std::vector<std::vector<at::Tensor>>& values, int64_t batch) const;
  std::vector<std::pair<std::string, std::shared_ptr<Layer>>> children_;
  std::optional<Graph> graph_;
  std::vector<Fusion> fusions_;      // per node: set on ReLU nodes that fuse
  std::vector<bool> fusedAway_;      // per node: computed by a later ReLU node when fusing
};

// Holds modules for a parent to call (PyTorch's ModuleList and ModuleDict): registered under
// their names, never called themselves.
class ModuleHolder : public Layer {
 public:
  explicit ModuleHolder(const std::string& kind) : Layer(kind) {}
  void add(const std::string& name, std::shared_ptr<Layer> child);
  std::shared_ptr<Layer> child(const std::string& name) const;
  at::Tensor forward(const at::Tensor& x) override;
  bool isContainer() const override { return true; }

 private:
  std::vector<std::pair<std::string, std::shared_ptr<Layer>>> children_;
};

// Looks an operation up by name (nullptr when unknown) and its argument count (-1: any).
OpFn graphOp(const std::string& name, int64_t* arity = nullptr);
std::vector<std::string> graphOpNames();

}  // namespace skipnorm::nn
