#include "worker/trainer/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "worker/trainer/metrics.h"

namespace hypersweep {

absl::Status Checkpointer::Save(Net& model, Optimizer& opt, const Progress& p) {
  if (!enabled()) return absl::OkStatus();
  torch::serialize::OutputArchive root, m, o;
  model->save(m);
  opt.Save(o);
  root.write("model", m);
  root.write("optimizer", o);
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& e : p.epochs) epochs.push_back(ToJson(e));
  nlohmann::json meta = {{"format", 1},
                         {"spec", spec_json_},
                         {"epoch", p.epoch},
                         {"batch", p.batch},
                         {"step", p.step},
                         {"elapsed", p.elapsed},
                         {"epoch_seconds", p.epoch_seconds},
                         {"loss_sum", p.loss_sum},
                         {"samples", p.samples},
                         {"first_loss", p.first_loss},
                         {"epochs", epochs}};
  root.write("meta", c10::IValue(meta.dump()));
  root.write("rng", at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path().empty()
                                          ? std::filesystem::path(".")
                                          : std::filesystem::path(path_).parent_path());
  const std::string tmp = absl::StrCat(path_, ".tmp.", getpid());
  root.save_to(tmp);
  if (int fd = open(tmp.c_str(), O_RDONLY); fd >= 0) {
    fsync(fd);
    close(fd);
  }
  std::filesystem::rename(tmp, path_);
  return absl::OkStatus();
}

absl::Status Checkpointer::Load(const std::string& path, Net& model, Optimizer& opt, Progress& p,
                                const torch::Device& device) {
  if (path.empty() || !std::filesystem::exists(path)) return absl::NotFoundError("no checkpoint");
  try {
    torch::serialize::InputArchive root, m, o;
    root.load_from(path, device);
    c10::IValue meta_v;
    root.read("meta", meta_v);
    auto meta = nlohmann::json::parse(meta_v.toStringRef());
    if (meta.at("spec").get<std::string>() != spec_json_) {
      return absl::DataLossError("checkpoint belongs to a different trial spec");
    }
    root.read("model", m);
    root.read("optimizer", o);
    model->load(m);
    opt.Load(o);
    torch::Tensor rng;
    root.read("rng", rng, /*is_buffer=*/true);
    at::Generator gen = at::detail::getDefaultCPUGenerator();  // shares the default generator
    gen.set_state(rng.to(torch::kCPU));
    p.epoch = meta.at("epoch");
    p.batch = meta.at("batch");
    p.step = meta.at("step");
    p.elapsed = meta.at("elapsed");
    p.epoch_seconds = meta.at("epoch_seconds");
    p.loss_sum = meta.at("loss_sum");
    p.samples = meta.at("samples");
    p.first_loss = meta.at("first_loss");
    p.epochs.clear();
    for (const auto& e : meta.at("epochs")) p.epochs.push_back(EpochFromJson(e));
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path, " is unreadable: ", std::string(e.what()).substr(0, 200)));
  }
}

}  // namespace hypersweep
