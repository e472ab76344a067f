#include "runtime/text_assembler.h"

#include <algorithm>

namespace hangar::runtime {

size_t IncompleteUtf8Tail(std::string_view s) {
  // Walk back over at most three continuation bytes to the lead byte.
  const size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t want = 1;
    if ((c & 0xE0) == 0xC0) {
      want = 2;
    } else if ((c & 0xF0) == 0xE0) {
      want = 3;
    } else if ((c & 0xF8) == 0xF0) {
      want = 4;
    }
    return want > back ? back : 0;
  }
  return 0;  // only continuation bytes: invalid, shown as they are
}

TextAssembler::TextAssembler(std::vector<std::string> stop) : stop_(std::move(stop)) {
  std::erase_if(stop_, [](const std::string& s) { return s.empty(); });
}

std::string TextAssembler::Emit(std::string s) {
  text_ += s;
  return s;
}

std::string TextAssembler::Push(std::string_view piece) {
  if (stopped_) return {};
  pending_.append(piece);
  // A complete stop string ends the text before it (the earliest one wins).
  size_t cut = std::string::npos;
  for (const std::string& s : stop_) cut = std::min(cut, pending_.find(s));
  if (cut != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, cut);
    pending_.clear();
    return Emit(std::move(out));
  }
  // Hold back the longest tail that could still grow into a stop string.
  size_t hold = 0;
  for (const std::string& s : stop_) {
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len) {
      if (std::string_view(pending_).substr(pending_.size() - len) ==
          std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  size_t ready = pending_.size() - hold;
  ready -= IncompleteUtf8Tail(std::string_view(pending_).substr(0, ready));
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return Emit(std::move(out));
}

std::string TextAssembler::Finish() {
  if (stopped_) return {};
  std::string out = std::move(pending_);
  pending_.clear();
  return Emit(std::move(out));
}

}  // namespace hangar::runtime
