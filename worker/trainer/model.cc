#include "worker/trainer/model.h"

#include <sys/stat.h>
#include <torch/script.h>

#include <memory>
#include <set>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/spec_limits.h"

namespace hypersweep {
namespace {

void AddActivation(Net& net, Activation a) {
  switch (a) {
    case Activation::kRelu:
      // In place is safe: the layers before it (linear, conv, batch norm) do not keep their output
      // for the backward pass, and relu's backward only needs its result.
      net->AddStep([](const torch::Tensor& x) { return x.relu_(); });
      break;
    case Activation::kSelu:
      net->AddStep([](const torch::Tensor& x) { return torch::selu(x); });
      break;
    case Activation::kElu:
      net->AddStep([](const torch::Tensor& x) { return torch::elu(x); });
      break;
    case Activation::kTanh:
      net->AddStep([](const torch::Tensor& x) { return torch::tanh(x); });
      break;
    case Activation::kSilu:
      net->AddStep([](const torch::Tensor& x) { return torch::silu(x); });
      break;
  }
}

// He (Kaiming normal, fan_in) or Glorot (Xavier uniform) weights, zero biases.
template <typename Layer>
void InitLayer(Layer& layer, Init init, Activation a) {
  torch::NoGradGuard no_grad;
  if (init == Init::kHe) {
    const bool relu_like =
        a == Activation::kRelu || a == Activation::kElu || a == Activation::kSilu;
    torch::nn::init::kaiming_normal_(layer->weight, 0.0, torch::kFanIn,
                                     relu_like ? torch::nn::init::NonlinearityType(torch::kReLU)
                                               : torch::nn::init::NonlinearityType(torch::kLinear));
  } else {
    torch::nn::init::xavier_uniform_(layer->weight);
  }
  if (layer->bias.defined()) layer->bias.zero_();
}

void AddDense(Net& net, int64_t in, const ModelSpec& spec, const std::vector<int64_t>& hidden,
              int64_t outputs) {
  for (int64_t h : hidden) {
    torch::nn::Linear lin(in, h);
    InitLayer(lin, spec.init, spec.activation);
    net->AddLayer(lin);
    if (spec.batch_norm) net->AddLayer(torch::nn::BatchNorm1d(h));
    AddActivation(net, spec.activation);
    if (spec.dropout > 0) net->AddLayer(torch::nn::Dropout(spec.dropout));
    in = h;
  }
  torch::nn::Linear out(in, outputs);
  InitLayer(out, Init::kGlorot, spec.activation);
  net->AddLayer(out);
}

absl::Status ScriptError(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("model.torchscript: ", what));
}

// The last non-empty line of a LibTorch error: for an error inside a TorchScript forward it is
// the operator's own message ("mat1 and mat2 shapes cannot be multiplied (2x784 and 100x64)")
// after the interpreter's traceback. Bounded, as it may echo the module's code.
std::string LastLine(const std::string& msg) {
  size_t end = msg.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) return "";
  size_t start = msg.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return msg.substr(start, std::min<size_t>(end + 1 - start, 200));
}

std::string ShapeOf(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

// register_parameter/register_buffer refuse '.', so "block.fc.weight" becomes "block_fc_weight";
// a name taken already gets a numeric suffix.
std::string UniqueName(const std::string& name, std::set<std::string>* used) {
  std::string base = name;
  for (char& c : base) {
    if (c == '.') c = '_';
  }
  if (base.empty()) base = "_";
  std::string n = base;
  for (int i = 1; !used->insert(n).second; ++i) n = absl::StrCat(base, "_", i);
  return n;
}

// Draws every parameter of dim >= 2 again from the global RNG; zeroes those named "bias"; leaves
// the others (e.g. a batch norm's scale) as the file has them.
void Reinitialise(torch::jit::Module& module, ScriptInit init) {
  torch::NoGradGuard no_grad;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    torch::Tensor t = p.value;
    if (t.dim() >= 2) {
      if (init == ScriptInit::kHe) {
        torch::nn::init::kaiming_normal_(t, 0.0, torch::kFanIn, torch::kReLU);
      } else {
        torch::nn::init::xavier_uniform_(t);
      }
    } else {
      const size_t dot = p.name.rfind('.');
      if (p.name.substr(dot == std::string::npos ? 0 : dot + 1) == "bias") t.zero_();
    }
  }
}

absl::StatusOr<Net> LoadScriptModel(const ModelSpec& spec, const std::vector<int64_t>& input_shape,
                                    int64_t outputs, const DataLimits& limits) {
  const std::string& path = spec.script_path;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.torchscript.path: '", path, "' is not a readable regular file"));
  }
  if (st.st_size > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model.torchscript.path: '", path, "' is ", st.st_size,
        " bytes, above the worker's limit of ", limits.max_bytes, " bytes (--max-data-bytes)"));
  }
  auto module = std::make_shared<torch::jit::Module>();
  try {
    *module = torch::jit::load(path, torch::Device(torch::kCPU));
  } catch (const std::exception&) {
    // The message may quote the file; say only what failed.
    return absl::InvalidArgumentError(absl::StrCat(
        "model.torchscript.path: '", path,
        "' is not a TorchScript module (save one with torch.jit.script(m).save(path) or "
        "torch.jit.trace(m, x).save(path))"));
  }
  try {
    module->train(true);
  } catch (const std::exception&) {
    return ScriptError(
        "the module cannot switch between train and eval mode (a frozen module cannot be "
        "trained)");
  }
  if (spec.script_init != ScriptInit::kFile) Reinitialise(*module, spec.script_init);

  Net net;
  std::set<std::string> used;
  std::unordered_set<const void*> seen;  // a tensor shared by two submodules is registered once
  int64_t trainable = 0;
  for (const auto& p : module->named_parameters(/*recurse=*/true)) {
    if (!seen.insert(p.value.unsafeGetTensorImpl()).second) continue;
    net->register_parameter(UniqueName(p.name, &used), p.value, p.value.requires_grad());
    if (p.value.requires_grad()) trainable += p.value.numel();
  }
  for (const auto& b : module->named_buffers(/*recurse=*/true)) {
    if (!seen.insert(b.value.unsafeGetTensorImpl()).second) continue;
    net->register_buffer(UniqueName(b.name, &used), b.value);
  }
  if (trainable == 0) return ScriptError("the module has no trainable parameters");
  if (trainable > kMaxModelParams) {
    return ScriptError(absl::StrCat("the module has ", trainable,
                                    " parameters, above the limit of ", kMaxModelParams));
  }
  net->AddStep([module](const torch::Tensor& x) {
    torch::Tensor y = module->forward({x}).toTensor();
    return y.dim() == 1 ? y.unsqueeze(1) : y;
  });
  net->SetTrainHook([module](bool on) { module->train(on); });

  // One small forward in eval mode: the module must take this dataset's rows and give logits of
  // the task's shape.
  std::vector<int64_t> batch_shape = {2};
  batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
  const torch::Tensor probe = torch::zeros(batch_shape);
  const std::string expected = outputs == 1
                                   ? "[batch] or [batch, 1] (one logit: the task is binary)"
                                   : absl::StrCat("[batch, ", outputs, "] (one logit per class)");
  net->eval();
  {
    torch::NoGradGuard no_grad;
    c10::IValue out;
    try {
      out = module->forward({probe});
    } catch (const std::exception& e) {
      return ScriptError(
          absl::StrCat("forward of a float ", ShapeOf(probe),
                       " batch failed (the rows of this dataset): ", LastLine(e.what())));
    }
    if (!out.isTensor()) {
      return ScriptError(absl::StrCat("forward must return one tensor of logits ", expected,
                                      ", not a ", out.tagKind()));
    }
    const torch::Tensor y = out.toTensor();
    const bool fits = y.dim() == 2 ? y.size(0) == 2 && y.size(1) == outputs
                                   : y.dim() == 1 && outputs == 1 && y.size(0) == 2;
    if (!fits) {
      return ScriptError(absl::StrCat("forward returns ", ShapeOf(y),
                                      " for a batch of 2; this task needs ", expected));
    }
    if (!y.is_floating_point()) {
      return ScriptError(absl::StrCat("forward returns ", std::string(y.dtype().name()),
                                      " values; logits must be floating point"));
    }
  }
  net->train();
  return net;
}

}  // namespace

torch::Tensor NetImpl::forward(torch::Tensor x) {
  for (auto& step : steps_) x = step(x);
  return x;
}

void NetImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (train_hook_) train_hook_(on);
}

absl::StatusOr<Net> BuildModel(const ModelSpec& spec, const std::vector<int64_t>& input_shape,
                               int64_t outputs, const DataLimits& limits) {
  if (spec.kind == ModelSpec::Kind::kTorchScript) {
    return LoadScriptModel(spec, input_shape, outputs, limits);
  }
  Net net;
  if (spec.kind == ModelSpec::Kind::kMlp) {
    int64_t in = 1;
    for (int64_t d : input_shape) in *= d;
    if (input_shape.size() > 1) net->AddStep([](const torch::Tensor& x) { return x.flatten(1); });
    AddDense(net, in, spec, spec.hidden, outputs);
    return net;
  }
  if (input_shape.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.cnn: needs image inputs [channels, height, width]; this dataset has ",
                     input_shape.size(), "-d rows (use model.mlp)"));
  }
  int64_t c = input_shape[0], h = input_shape[1], w = input_shape[2];
  for (int64_t ch : spec.channels) {
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(c, ch, spec.kernel).padding(spec.kernel / 2));
    InitLayer(conv, spec.init, spec.activation);
    net->AddLayer(conv);
    if (spec.batch_norm) net->AddLayer(torch::nn::BatchNorm2d(ch));
    AddActivation(net, spec.activation);
    if (spec.pool > 1) {
      if (h / spec.pool < 1 || w / spec.pool < 1) {
        return absl::InvalidArgumentError("model.cnn: too many pooling layers for the image size");
      }
      net->AddLayer(torch::nn::MaxPool2d(spec.pool));
      h /= spec.pool;
      w /= spec.pool;
    }
    c = ch;
  }
  net->AddStep([](const torch::Tensor& x) { return x.flatten(1); });
  AddDense(net, c * h * w, spec, spec.hidden, outputs);
  return net;
}

}  // namespace hypersweep
