// PyTorch checkpoints (`pytorch_model.bin`, `*.pt`, `*.pth` as torch.save
// writes them since 1.6: a zip holding `<name>/data.pkl` and one file per
// storage): the tensor names, shapes and dtypes, read from the zip's
// central directory and the pickle's opcodes without executing the pickle.
//
// The pickle is walked by a small stack machine that knows only the data
// opcodes (tuples, lists, dicts, strings, numbers, memo) and treats a
// global as a name, never a callable: torch's `_rebuild_tensor_v2` and a
// persistent storage id become a tensor record; anything else stays an
// opaque value. An opcode outside that set, a compressed pickle larger than
// 64 MiB once inflated, or a zip that lies about its offsets is an error
// naming the byte offset.
//
// Pure functions: thread-safe.
#ifndef HANGAR_CHECKPOINT_PYTORCH_H_
#define HANGAR_CHECKPOINT_PYTORCH_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::checkpoint {

struct PytorchTensor {
  std::string name;
  std::string dtype;            // "F32", "F16", "BF16", ... (from the storage class)
  std::vector<uint64_t> shape;  // outermost first
  std::string storage;          // the storage's key: data/<key> in the zip
};

struct PytorchCheckpoint {
  std::vector<PytorchTensor> tensors;  // in the pickle's order
  uint64_t parameter_count() const;
};

// The tensors of a pickle's bytes (the state dict: a dict of tensors).
Result<PytorchCheckpoint> ParsePytorchPickle(std::string_view pickle);
// The same from a torch.save zip file on disk.
Result<PytorchCheckpoint> ReadPytorchCheckpoint(const std::filesystem::path& path);

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_PYTORCH_H_
