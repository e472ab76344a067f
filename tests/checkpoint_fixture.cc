#include "checkpoint_fixture.h"

#include "process.h"

namespace hangar::testing {

std::string MakeTinyCheckpoint(const std::filesystem::path& dir, const std::string& arch) {
  const std::string source = HANGAR_SOURCE_DIR;
  const std::filesystem::path spm = dir.parent_path() / (dir.filename().string() + "-spm");
  std::filesystem::create_directories(dir.parent_path());
  ProcessResult made = RunProcess(
      {"/usr/bin/python3", "-c",
       "import sentencepiece as s, sys; open(sys.argv[1] + '.txt', 'w').write(open(sys.argv[2]).read() * 3); "
       "s.SentencePieceTrainer.train(input=sys.argv[1] + '.txt', model_prefix=sys.argv[1], vocab_size=600, "
       "model_type='bpe', byte_fallback=True, minloglevel=2)",
       spm.string(), source + "/README.md"},
      {{"PATH", "/usr/bin:/bin"}});
  if (made.exit_code != 0) return "training the tokenizer failed: " + made.err;
  made = RunProcess({"/usr/bin/python3", source + "/tests/convert/make_checkpoint.py", arch, dir.string(), "--spm",
                     spm.string() + ".model"},
                    {{"PATH", "/usr/bin:/bin"}});
  if (made.exit_code != 0) return "make_checkpoint.py failed: " + made.err;
  return "";
}

}  // namespace hangar::testing
