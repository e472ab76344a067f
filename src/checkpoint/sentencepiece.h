// SentencePiece models (`tokenizer.model`): the pieces, their scores and
// types, read from the protobuf (sentencepiece_model.proto, ModelProto) with
// the wire reader; nothing else of the model is needed to convert it.
//
//   ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//                NormalizerSpec normalizer_spec = 3; }
//   SentencePiece { string piece = 1; float score = 2; Type type = 3 [NORMAL]; }
//   TrainerSpec { ModelType model_type = 3 [UNIGRAM]; }
//   NormalizerSpec { bool add_dummy_prefix = 3 [true]; }
//
// Pure functions on bytes: thread-safe.
#ifndef HANGAR_CHECKPOINT_SENTENCEPIECE_H_
#define HANGAR_CHECKPOINT_SENTENCEPIECE_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::checkpoint {

// SentencePiece's piece types (and llama.cpp's token types, which equal them).
enum class PieceType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct SentencePieceModel {
  struct Piece {
    std::string text;
    float score = 0;
    PieceType type = PieceType::kNormal;
  };
  std::vector<Piece> pieces;
  int model_type = 1;           // 1 unigram, 2 BPE, 3 word, 4 char
  bool add_dummy_prefix = true;
};

// InvalidArgument naming the byte for a malformed model or a piece type
// outside 1..6; NotFound / DataLoss for a missing or short file.
Result<SentencePieceModel> ParseSentencePiece(std::string_view bytes);
Result<SentencePieceModel> ReadSentencePiece(const std::filesystem::path& path);

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_SENTENCEPIECE_H_
