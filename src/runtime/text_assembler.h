// TextAssembler: turns the pieces a tokenizer produces, token by token, into
// text that is safe to show as it comes.
//
// Two things are held back until they are decided: an incomplete UTF-8
// character at the end (a token may carry only the first bytes of a
// character), and a tail that may be the beginning of a stop string. When a
// stop string is completed the text ends right before it and stopped() turns
// true; pieces pushed after that are ignored.
//
// Streaming and non-streaming generation both go through it, so they give the
// same text. A plain value; not thread-safe.
#ifndef HANGAR_RUNTIME_TEXT_ASSEMBLER_H_
#define HANGAR_RUNTIME_TEXT_ASSEMBLER_H_

#include <string>
#include <string_view>
#include <vector>

namespace hangar::runtime {

class TextAssembler {
 public:
  explicit TextAssembler(std::vector<std::string> stop = {});

  // Adds `piece`; returns the text that can be shown now (maybe empty).
  std::string Push(std::string_view piece);
  // Ends the text: returns what was held back (an incomplete character as its
  // bytes, a partial stop string as text). Nothing after a stop string.
  std::string Finish();

  bool stopped() const { return stopped_; }
  // Everything returned by Push and Finish so far.
  const std::string& text() const { return text_; }

 private:
  std::string Emit(std::string s);

  std::vector<std::string> stop_;
  std::string pending_;
  std::string text_;
  bool stopped_ = false;
};

// Bytes at the end of `s` that start a UTF-8 character not yet complete
// (0 to 3). Invalid bytes count as complete.
size_t IncompleteUtf8Tail(std::string_view s);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_TEXT_ASSEMBLER_H_
