// The exact memory probe: llama.cpp's own allocator, asked without loading a
// single weight. The model is opened with `no_alloc` (metadata and tensor
// table only, no tensor data read, nothing mapped), a context is created with
// the request's settings, and llama.cpp reports what each buffer type would
// hold (`llama_get_memory_breakdown`: model, context = KV cache, compute).
// Host buffer types (ggml_backend_buft_is_host) go to the host entry, the
// others to the GPU they belong to, in llama.cpp's device order. The output
// buffer (logits, which llama.cpp allocates even without weights but does not
// report) is added to the host as n_vocab × n_seq × 4 bytes.
//
// A remote model can be probed before it is downloaded: its header bytes in a
// sparse file of the remote file's full size are all llama.cpp reads
// (WriteSparseModelFile). Split models: write each part under its own split
// name ("-00001-of-00003.gguf", ...) in one folder and probe the first.
//
// Thread-safety: probes may run from any thread, several at once, beside
// models loading elsewhere in the process. llama.cpp is reached through the
// llamacpp/ adapter: its log goes to Hangar's log, and a probe's failure
// message holds only the error lines llama.cpp logged on the probe's own
// thread (llamacpp/log_capture.h).
// A probe takes 50-250 ms, mostly llama.cpp reading the vocabulary, and about
// the memory of the vocabulary and the tensor table.
#ifndef HANGAR_FIT_PROBE_H_
#define HANGAR_FIT_PROBE_H_

#include <cstdint>
#include <filesystem>
#include <span>

#include "core/status.h"
#include "fit/memory.h"

namespace hangar::fit {

// The memory `request` needs with the model at `model` (a .gguf file, or the
// first part of a split model). method is "probe"; n_ctx is the context
// llama.cpp settles on (padded to 256; 0 in the request means the model's
// trained context); n_gpu_layers the layers it really offloads (0 without a
// GPU backend); flash_attn what it resolved `auto` to.
// Errors: NotFound when the file does not exist; InvalidArgument when the
// request is malformed (an unknown cache type, a quantized V cache with flash
// attention off, zero batch sizes or sequences), when llama.cpp cannot load
// the model (with its reason) or refuses the settings (with its reason).
Result<MemoryBreakdown> Probe(const std::filesystem::path& model, const MemoryRequest& request);

// Writes `path` as a sparse file of `file_size` bytes whose beginning is
// `header_prefix` (the first bytes of the real file, at least up to the end
// of its tensor table), the rest holes that read as zeros and take no disk
// space. Replaces an existing file. InvalidArgument when the prefix is not
// the start of a GGUF header, does not hold the whole header, or is longer
// than file_size, or when the header's tensors do not fit in file_size;
// Unavailable when the file cannot be written (with the errno text).
Status WriteSparseModelFile(const std::filesystem::path& path,
                            std::span<const uint8_t> header_prefix, uint64_t file_size);

}  // namespace hangar::fit

#endif  // HANGAR_FIT_PROBE_H_
