#include "fit/probe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "core/file_util.h"
#include "fit/estimator.h"
#include "ggml-backend.h"
#include "gguf/ggml_types.h"
#include "gguf/parser.h"
#include "llama-ext.h"
#include "llama.h"
#include "llamacpp/handles.h"
#include "llamacpp/log_capture.h"
#include "llamacpp/types.h"

namespace hangar::fit {
namespace {

Status CheckRequest(const MemoryRequest& r, uint32_t type_v) {
  if (r.n_batch == 0 || r.n_ubatch == 0 || r.n_seq == 0) {
    return InvalidArgumentError(fmt::format(
        "memory request with n_batch {}, n_ubatch {}, n_seq {}: each must be at least 1", r.n_batch,
        r.n_ubatch, r.n_seq));
  }
  const gguf::GgmlType* tv = gguf::FindGgmlType(type_v);
  if (r.flash_attn == FlashAttention::kOff && tv != nullptr && tv->quantized) {
    return InvalidArgumentError(
        fmt::format("a quantized V cache ({}) needs flash attention, which the request turns off; "
                    "use an f16 V cache or flash attention on/auto",
                    r.type_v.name));
  }
  return Status::Ok();
}

}  // namespace

Result<MemoryBreakdown> Probe(const std::filesystem::path& model, const MemoryRequest& request) {
  ASSIGN_OR_RETURN(const uint32_t type_k_id, CacheTypeId(request.type_k));
  ASSIGN_OR_RETURN(const uint32_t type_v_id, CacheTypeId(request.type_v));
  RETURN_IF_ERROR(CheckRequest(request, type_v_id));
  ASSIGN_OR_RETURN(const ggml_type type_k, llamacpp::ToGgmlType(type_k_id));
  ASSIGN_OR_RETURN(const ggml_type type_v, llamacpp::ToGgmlType(type_v_id));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model, ec)) {
    return NotFoundError(
        fmt::format("model file {} does not exist; check the path", model.string()));
  }

  // What `auto` flash attention resolved to, from llama.cpp's own lines
  // ("Flash Attention enabled" / "Flash Attention not supported").
  bool fa_enabled = false;
  bool fa_disabled = false;
  llamacpp::LogCapture capture([&](ggml_log_level, std::string_view line) {
    if (line.find("Flash Attention enabled") != std::string_view::npos) fa_enabled = true;
    if (line.find("Flash Attention not supported") != std::string_view::npos) fa_disabled = true;
  });

  llama_model_params mparams = llama_model_default_params();
  mparams.no_alloc = true;
  mparams.load_mode = LLAMA_LOAD_MODE_NONE;  // no_alloc maps nothing
  mparams.n_gpu_layers = request.n_gpu_layers;
  llamacpp::ModelPtr m = llamacpp::LoadModel(model, mparams);
  if (m == nullptr) {
    return InvalidArgumentError(fmt::format(
        "llama.cpp cannot load {}: {}; check that it is a GGUF model of an architecture this "
        "llama.cpp supports",
        model.filename().string(), capture.Reason()));
  }

  llama_context_params cparams = llama_context_default_params();
  cparams.n_ctx = request.n_ctx;
  cparams.n_batch = request.n_batch;
  cparams.n_ubatch = request.n_ubatch;
  cparams.n_seq_max = request.n_seq;
  cparams.type_k = type_k;
  cparams.type_v = type_v;
  cparams.flash_attn_type = llamacpp::FlashAttnType(FlashAttentionForced(request.flash_attn));
  cparams.swa_full = request.swa_full;
  cparams.kv_unified = false;
  llamacpp::ContextPtr ctx = llamacpp::NewContext(m.get(), cparams);
  if (ctx == nullptr) {
    return InvalidArgumentError(fmt::format(
        "llama.cpp refuses the settings for {} (context {}, batch {}/{}, {} sequences, K cache {}, "
        "V cache {}, flash attention {}): {}",
        model.filename().string(), request.n_ctx, request.n_batch, request.n_ubatch, request.n_seq,
        request.type_k.name, request.type_v.name, FlashAttentionName(request.flash_attn),
        capture.Reason()));
  }

  const int32_t n_devices = llama_model_n_devices(m.get());
  MemoryBreakdown out;
  out.method = "probe";
  out.devices.resize(1 + std::max(n_devices, 0));
  out.devices[0].device = "CPU";
  for (int32_t i = 0; i < n_devices; ++i) {
    out.devices[1 + i].device = ggml_backend_dev_name(llama_model_get_device(m.get(), i));
  }
  for (const auto& [buft, mb] : llama_get_memory_breakdown(ctx.get())) {
    size_t index = 0;
    if (!ggml_backend_buft_is_host(buft)) {
      ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
      for (int32_t i = 0; i < n_devices; ++i) {
        if (dev == llama_model_get_device(m.get(), i)) index = 1 + i;
      }
    }
    DeviceMemory& d = out.devices[index];
    d.weights += mb.model;
    d.kv_cache += mb.context;
    d.compute += mb.compute;
  }
  const llama_vocab* vocab = llama_model_get_vocab(m.get());
  const auto n_vocab = static_cast<uint32_t>(std::max(0, llama_vocab_n_tokens(vocab)));
  out.devices[0].other = RuntimeOverheadBytes(n_vocab);
  out.devices[0].output = uint64_t{n_vocab} * std::max<uint32_t>(1, request.n_seq) * sizeof(float);
  out.n_ctx = llama_n_ctx(ctx.get());
  const int32_t n_layer = llama_model_n_layer(m.get());
  out.n_gpu_layers = n_devices == 0             ? 0
                     : request.n_gpu_layers < 0 ? n_layer + 1
                                                : std::min(request.n_gpu_layers, n_layer + 1);
  if (fa_enabled || fa_disabled) {
    out.flash_attn = fa_enabled;
  } else {
    out.flash_attn = request.flash_attn != FlashAttention::kOff;
  }
  return out;
}

Status WriteSparseModelFile(const std::filesystem::path& path,
                            std::span<const uint8_t> header_prefix, uint64_t file_size) {
  if (header_prefix.size() > file_size) {
    return InvalidArgumentError(
        fmt::format("header prefix of {} bytes is longer than the file size {} given for {}",
                    header_prefix.size(), file_size, path.filename().string()));
  }
  gguf::ParseOptions options;
  options.name = path.filename().string();
  options.file_size = file_size;
  Result<gguf::ParseOutcome> parsed = gguf::ParseHeaderPrefix(header_prefix, options);
  if (!parsed.ok()) {
    return InvalidArgumentError(fmt::format("the bytes given for {} are not a GGUF header: {}",
                                            path.filename().string(), parsed.status().message()));
  }
  if (const auto* more = std::get_if<gguf::NeedMore>(&*parsed)) {
    return InvalidArgumentError(
        fmt::format("the {} bytes given for {} end inside the GGUF header; fetch at least {} bytes",
                    header_prefix.size(), path.filename().string(), more->bytes_needed_at_least));
  }

  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return UnavailableError(fmt::format("cannot create {}: {}", path.string(), ErrnoText(errno)));
  }
  Status status;
  if (::ftruncate(fd, static_cast<off_t>(file_size)) != 0) {
    status = UnavailableError(
        fmt::format("cannot size {} to {} bytes: {}", path.string(), file_size, ErrnoText(errno)));
  }
  size_t written = 0;
  while (status.ok() && written < header_prefix.size()) {
    const ssize_t n = ::pwrite(fd, header_prefix.data() + written, header_prefix.size() - written,
                               static_cast<off_t>(written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = UnavailableError(
          fmt::format("cannot write the header to {}: {}", path.string(), ErrnoText(errno)));
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 && status.ok()) {
    status = UnavailableError(fmt::format("cannot close {}: {}", path.string(), ErrnoText(errno)));
  }
  if (!status.ok()) std::filesystem::remove(path, ec);
  return status;
}

}  // namespace hangar::fit
