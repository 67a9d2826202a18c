// N-API entry points of graph modules (nn/graph.h): creating one with its children and
// parameters, installing a traced graph (checked node by node), running it with several inputs,
// module holders (ModuleList, ModuleDict), and what the tracer needs: inputs drawn from a private
// generator (so tracing never moves the user's random stream) and each module's train/eval mode,
// saved and restored around a trace.
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <napi.h>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "nn/graph.h"
#include "nn/in_use.h"

namespace skipnorm {

namespace {

constexpr int kMaxArgDepth = 16;
constexpr uint32_t kMaxNodes = 1u << 20;

std::shared_ptr<nn::Layer> moduleArgAt(const Napi::CallbackInfo& info, size_t index) {
  return nn::moduleByHandle(info.Env(), numberArg(info, index));
}

// [[name, handle], ...] with string names and numeric handles.
std::vector<std::pair<std::string, double>> namedHandles(Napi::Env env, Napi::Value v, const char* what) {
  std::vector<std::pair<std::string, double>> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throwTypeError(env, std::string(what) + " must be an array of [name, handle] pairs");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsArray() || e.As<Napi::Array>().Length() != 2) throwTypeError(env, std::string(what) + " must be an array of [name, handle] pairs");
    Napi::Array pair = e.As<Napi::Array>();
    if (!pair.Get(0u).IsString() || !pair.Get(1u).IsNumber()) throwTypeError(env, std::string(what) + " must be an array of [name, handle] pairs");
    std::string name = pair.Get(0u).As<Napi::String>().Utf8Value();
    if (name.empty() || name.find('.') != std::string::npos) throwTypeError(env, std::string(what) + ": name '" + name + "' must be non-empty and contain no '.'");
    out.emplace_back(name, pair.Get(1u).As<Napi::Number>().DoubleValue());
  }
  return out;
}

at::Tensor tensorByHandle(Napi::Env env, double handle) {
  at::Tensor* t = addonOf(env).tensors.find(handle);
  if (t == nullptr) throw makeTorchError(env, opName(), "a tensor was disposed");
  return *t;
}

// createGraphModule(kind, children, parameters, buffers) -> handle
Napi::Value CreateGraphModule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto module = std::make_shared<nn::GraphModule>(stringArg(info, 0));
  for (const auto& [name, h] : namedHandles(env, info[1], "children")) {
    module->addChild(name, nn::moduleByHandle(env, h, "child module", /*refuseInUse=*/false));
  }
  for (const auto& [name, h] : namedHandles(env, info[2], "parameters")) module->addParameter(name, tensorByHandle(env, h));
  for (const auto& [name, h] : namedHandles(env, info[3], "buffers")) module->addBuffer(name, tensorByHandle(env, h));
  return nn::newModuleHandle(env, module);
}

// createModuleHolder(kind, children) -> handle; kind is 'ModuleList' or 'ModuleDict'.
Napi::Value CreateModuleHolder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = stringArg(info, 0);
  if (kind != "ModuleList" && kind != "ModuleDict") throwTypeError(env, "a module holder is a ModuleList or a ModuleDict");
  auto holder = std::make_shared<nn::ModuleHolder>(kind);
  for (const auto& [name, h] : namedHandles(env, info[1], "children")) holder->add(name, nn::moduleByHandle(env, h, "child module", false));
  return nn::newModuleHandle(env, holder);
}

// holderAdd(holder, name, child)
Napi::Value HolderAdd(const Napi::CallbackInfo& info) {
  auto holder = std::dynamic_pointer_cast<nn::ModuleHolder>(moduleArgAt(info, 0));
  if (!holder) throwTypeError(info.Env(), "not a ModuleList or ModuleDict");
  std::string name = stringArg(info, 1);
  TORCH_CHECK(!holder->child(name), holder->name(), " already holds a module named '", name, "'");
  holder->add(name, nn::moduleByHandle(info.Env(), numberArg(info, 2), "child module", false));
  return info.Env().Undefined();
}

nn::GraphArg argFrom(Napi::Env env, Napi::Value v, int depth) {
  if (depth > kMaxArgDepth) throwTypeError(env, "graph: arguments are nested too deeply");
  nn::GraphArg a;
  if (v.IsNull() || v.IsUndefined()) return a;
  if (v.IsNumber()) a.value = v.As<Napi::Number>().DoubleValue();
  else if (v.IsBoolean()) a.value = v.As<Napi::Boolean>().Value();
  else if (v.IsString()) a.value = v.As<Napi::String>().Utf8Value();
  else if (v.IsArray()) {
    Napi::Array list = v.As<Napi::Array>();
    if (list.Length() > kMaxNodes) throwTypeError(env, "graph: an argument list is too long");
    nn::GraphArgs items;
    for (uint32_t i = 0; i < list.Length(); ++i) items.push_back(argFrom(env, list.Get(i), depth + 1));
    a.value = std::move(items);
  } else if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    if (o.Has("ref")) {
      Napi::Value r = o.Get("ref");
      if (!r.IsArray() || r.As<Napi::Array>().Length() != 2) throwTypeError(env, "graph: a reference is {ref: [node, output]}");
      Napi::Array pair = r.As<Napi::Array>();
      if (!pair.Get(0u).IsNumber() || !pair.Get(1u).IsNumber()) throwTypeError(env, "graph: a reference is {ref: [node, output]}");
      nn::NodeRef ref;
      const double node = pair.Get(0u).As<Napi::Number>().DoubleValue(), output = pair.Get(1u).As<Napi::Number>().DoubleValue();
      if (node != std::trunc(node) || output != std::trunc(output) || node < 0 || output < 0 || node > kMaxNodes || output > kMaxNodes) {
        throwTypeError(env, "graph: a reference's node and output are non-negative integers");
      }
      ref.node = static_cast<int64_t>(node);
      ref.output = static_cast<int64_t>(output);
      a.value = ref;
    } else if (o.Has("batch")) {
      Napi::Value f = o.Get("batch");
      if (!f.IsNumber() || f.As<Napi::Number>().DoubleValue() != std::trunc(f.As<Napi::Number>().DoubleValue())) throwTypeError(env, "graph: {batch: k} needs an integer k");
      a.value = nn::BatchInt{static_cast<int64_t>(f.As<Napi::Number>().DoubleValue())};
    } else {
      throwTypeError(env, "graph: an argument object is {ref: [node, output]} or {batch: k}");
    }
  } else {
    throwTypeError(env, "graph: unsupported argument");
  }
  return a;
}

std::vector<int64_t> shapeFrom(Napi::Env env, Napi::Value v) {
  if (!v.IsArray()) throwTypeError(env, "graph: an example shape is an array of sizes");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    if (!d.IsNumber() || d.As<Napi::Number>().DoubleValue() < 0 || d.As<Napi::Number>().DoubleValue() != std::trunc(d.As<Napi::Number>().DoubleValue())) {
      throwTypeError(env, "graph: an example shape is an array of non-negative integers");
    }
    out.push_back(static_cast<int64_t>(d.As<Napi::Number>().DoubleValue()));
  }
  if (out.size() > 16) throwTypeError(env, "graph: an example has at most 16 dimensions");
  return out;
}

// setGraph(module, { inputs, exampleShapes, nodes: [{kind, name, args, outputs}], output: [node, output] })
Napi::Value SetGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto module = std::dynamic_pointer_cast<nn::GraphModule>(moduleArgAt(info, 0));
  if (!module) throwTypeError(env, "setGraph: the module is not a traced module");
  if (!info[1].IsObject()) throwTypeError(env, "setGraph: the graph must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  nn::Graph graph;
  Napi::Value inputs = o.Get("inputs");
  if (!inputs.IsNumber() || inputs.As<Napi::Number>().DoubleValue() < 1 || inputs.As<Napi::Number>().DoubleValue() > 64) throwTypeError(env, "graph: inputs must be a count from 1 to 64");
  graph.inputs = static_cast<int64_t>(inputs.As<Napi::Number>().DoubleValue());
  Napi::Value shapes = o.Get("exampleShapes");
  if (!shapes.IsArray()) throwTypeError(env, "graph: exampleShapes must be an array");
  for (uint32_t i = 0; i < shapes.As<Napi::Array>().Length() && i < 64; ++i) graph.exampleShapes.push_back(shapeFrom(env, shapes.As<Napi::Array>().Get(i)));
  Napi::Value nodes = o.Get("nodes");
  if (!nodes.IsArray() || nodes.As<Napi::Array>().Length() > kMaxNodes) throwTypeError(env, "graph: nodes must be an array");
  Napi::Array list = nodes.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value n = list.Get(i);
    if (!n.IsObject()) throwTypeError(env, "graph: node " + std::to_string(i) + " is not an object");
    Napi::Object node = n.As<Napi::Object>();
    nn::GraphNode out;
    Napi::Value kind = node.Get("kind"), name = node.Get("name"), args = node.Get("args"), outputs = node.Get("outputs");
    if (!kind.IsString() || !name.IsString() || !args.IsArray()) throwTypeError(env, "graph: node " + std::to_string(i) + " needs a kind, a name and args");
    std::string k = kind.As<Napi::String>().Utf8Value();
    if (k == "input") out.kind = nn::GraphNode::Kind::Input;
    else if (k == "param") out.kind = nn::GraphNode::Kind::Parameter;
    else if (k == "call") out.kind = nn::GraphNode::Kind::Call;
    else if (k == "op") out.kind = nn::GraphNode::Kind::Op;
    else throwTypeError(env, "graph: node " + std::to_string(i) + " has an unknown kind '" + k + "' (input, param, call or op)");
    out.op = name.As<Napi::String>().Utf8Value();
    out.args = std::get<nn::GraphArgs>(argFrom(env, args, 0).value);
    if (!outputs.IsUndefined()) {
      if (!outputs.IsNumber() || outputs.As<Napi::Number>().DoubleValue() != std::trunc(outputs.As<Napi::Number>().DoubleValue())) {
        throwTypeError(env, "graph: node " + std::to_string(i) + ": outputs must be an integer");
      }
      out.outputs = static_cast<int64_t>(outputs.As<Napi::Number>().DoubleValue());
    }
    graph.nodes.push_back(std::move(out));
  }
  Napi::Object outputRef = Napi::Object::New(env);
  outputRef.Set("ref", o.Get("output"));
  graph.output = std::get<nn::NodeRef>(argFrom(env, outputRef, 0).value);
  module->setGraph(std::move(graph));
  return env.Undefined();
}

// forwardMany(module, [tensor, ...]) -> tensor
Napi::Value ForwardMany(const Napi::CallbackInfo& info) {
  auto layer = moduleArgAt(info, 0);
  std::vector<at::Tensor> inputs = tensorListArg(info, 1);
  TORCH_CHECK(!inputs.empty(), "forward needs at least one input");
  if (inputs.size() == 1) return wrapTensor(info.Env(), (*layer)(inputs[0]));
  auto graph = std::dynamic_pointer_cast<nn::GraphModule>(layer);
  TORCH_CHECK(graph, layer->name(), " takes one input, got ", inputs.size());
  return wrapTensor(info.Env(), graph->forwardMany(inputs));
}

// isTraced(module) -> boolean | null (null: not a traced module)
Napi::Value IsTraced(const Napi::CallbackInfo& info) {
  auto graph = std::dynamic_pointer_cast<nn::GraphModule>(moduleArgAt(info, 0));
  if (!graph) return info.Env().Null();
  return Napi::Boolean::New(info.Env(), graph->traced());
}

// traceInput(shape, dtype, device) -> tensor: standard normal values from a private generator
// (integers: zeros, a valid index for embeddings), for tracing without touching the user's
// random stream.
Napi::Value TraceInput(const Napi::CallbackInfo& info) {
  c10::NoGradGuard noGrad;
  std::vector<int64_t> shape = intListArg(info, 0);
  at::ScalarType dtype = dtypeArg(info, 1);
  at::Device device = deviceArg(info, 2);
  if (!at::isFloatingType(dtype)) return wrapTensor(info.Env(), at::zeros(shape, at::TensorOptions().dtype(dtype).device(device)));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(20231210);
  return wrapTensor(info.Env(), at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)).to(at::TensorOptions().dtype(dtype).device(device)));
}

// moduleModes(module) -> [training of each module, in named_modules order]
Napi::Value ModuleModes(const Napi::CallbackInfo& info) {
  auto layer = moduleArgAt(info, 0);
  auto modules = layer->modules(/*include_self=*/true);
  Napi::Array out = Napi::Array::New(info.Env(), modules.size());
  for (size_t i = 0; i < modules.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Boolean::New(info.Env(), modules[i]->is_training()));
  return out;
}

// setModuleModes(module, modes): puts back what moduleModes read (each module's own flag).
Napi::Value SetModuleModes(const Napi::CallbackInfo& info) {
  auto layer = moduleArgAt(info, 0);
  auto modules = layer->modules(/*include_self=*/true);
  if (!info[1].IsArray() || info[1].As<Napi::Array>().Length() != modules.size()) throwTypeError(info.Env(), "setModuleModes: one mode per module");
  Napi::Array modes = info[1].As<Napi::Array>();
  // modules() lists parents before their children, and train() recurses: set in that order,
  // each module ends with its own flag.
  for (size_t i = 0; i < modules.size(); ++i) modules[i]->train(modes.Get(static_cast<uint32_t>(i)).ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value GraphOps(const Napi::CallbackInfo& info) {
  auto names = nn::graphOpNames();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), names[i]));
  return out;
}

}  // namespace

void registerGraphs(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "createGraphModule", CreateGraphModule);
  exportFunction(env, exports, "createModuleHolder", CreateModuleHolder);
  exportFunction(env, exports, "holderAdd", HolderAdd);
  exportFunction(env, exports, "setGraph", SetGraph);
  exportFunction(env, exports, "forwardMany", ForwardMany);
  exportFunction(env, exports, "isTraced", IsTraced);
  exportFunction(env, exports, "traceInput", TraceInput);
  exportFunction(env, exports, "moduleModes", ModuleModes);
  exportFunction(env, exports, "setModuleModes", SetModuleModes);
  exportFunction(env, exports, "graphOps", GraphOps);
}

}  // namespace skipnorm
