#include "worker/trainer/model.h"

#include "absl/strings/str_cat.h"

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

}  // namespace

torch::Tensor NetImpl::forward(torch::Tensor x) {
  for (auto& step : steps_) x = step(x);
  return x;
}

absl::StatusOr<Net> BuildModel(const ModelSpec& spec, const std::vector<int64_t>& input_shape,
                               int64_t outputs) {
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
