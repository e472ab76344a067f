#include "checkpoint/sentencepiece.h"

#include <fmt/format.h>

#include <bit>
#include <fstream>
#include <sstream>

#include "checkpoint/wire.h"

namespace hangar::checkpoint {

namespace {

constexpr uint64_t kMaxModelBytes = 256ull << 20;

}  // namespace

Result<SentencePieceModel> ParseSentencePiece(std::string_view bytes) {
  const WireReadAt read = [bytes](uint64_t offset, uint64_t size, std::string* out) {
    if (offset > bytes.size() || size > bytes.size() - offset) return false;
    out->assign(bytes.substr(offset, size));
    return true;
  };
  SentencePieceModel model;
  WireReader r(read, 0, bytes.size(), "SentencePiece model");
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireReader::Field f, r.Next());
    if (f.wire != 2) continue;
    WireReader sub = r.Sub(f);
    if (f.number == 1) {
      SentencePieceModel::Piece piece;
      while (!sub.done()) {
        ASSIGN_OR_RETURN(WireReader::Field p, sub.Next());
        if (p.number == 1 && p.wire == 2) {
          ASSIGN_OR_RETURN(piece.text, sub.Bytes(p));
        } else if (p.number == 2 && p.wire == 5) {
          piece.score = std::bit_cast<float>(static_cast<uint32_t>(p.value));
        } else if (p.number == 3 && p.wire == 0) {
          if (p.value < 1 || p.value > 6) {
            return InvalidArgumentError(fmt::format("SentencePiece model at byte {}: piece {} has type {}",
                                                    f.begin, model.pieces.size(), p.value));
          }
          piece.type = static_cast<PieceType>(p.value);
        }
      }
      model.pieces.push_back(std::move(piece));
    } else if (f.number == 2) {
      while (!sub.done()) {
        ASSIGN_OR_RETURN(WireReader::Field t, sub.Next());
        if (t.number == 3 && t.wire == 0) model.model_type = static_cast<int>(t.value);
      }
    } else if (f.number == 3) {
      while (!sub.done()) {
        ASSIGN_OR_RETURN(WireReader::Field n, sub.Next());
        if (n.number == 3 && n.wire == 0) model.add_dummy_prefix = n.value != 0;
      }
    }
  }
  if (model.pieces.empty()) return InvalidArgumentError("SentencePiece model: no pieces");
  return model;
}

Result<SentencePieceModel> ReadSentencePiece(const std::filesystem::path& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFoundError(fmt::format("cannot read {}: {}", path.string(), ec.message()));
  if (size > kMaxModelBytes) {
    return InvalidArgumentError(fmt::format("{}: {} bytes is not a tokenizer model", path.string(), size));
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return DataLossError(fmt::format("cannot read {}", path.string()));
  }
  Result<SentencePieceModel> m = ParseSentencePiece(bytes);
  if (!m.ok()) return Status(m.status().code(), path.filename().string() + ": " + m.status().message());
  return m;
}

}  // namespace hangar::checkpoint
