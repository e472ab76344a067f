// A small Hugging Face checkpoint for the end-to-end tests: random weights
// (tests/convert/make_checkpoint.py) and a SentencePiece tokenizer trained on
// the README, made with Debian's python3, numpy and sentencepiece.
#ifndef HANGAR_TESTS_CHECKPOINT_FIXTURE_H_
#define HANGAR_TESTS_CHECKPOINT_FIXTURE_H_

#include <filesystem>
#include <string>

namespace hangar::testing {

// Writes the checkpoint of architecture `arch` into `dir` (created); an
// empty string on success, else what failed.
std::string MakeTinyCheckpoint(const std::filesystem::path& dir, const std::string& arch = "llama");

}  // namespace hangar::testing

#endif  // HANGAR_TESTS_CHECKPOINT_FIXTURE_H_
