// End-to-end tests of the store commands (discover, import, share, rm,
// cache, export, list --installed): the real binary in a private HOME whose
// Hugging Face cache, Ollama store and LM Studio folder hold generated models.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "core/sha256.h"
#include "process.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ProcessResult;

ino_t Inode(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_ino;
}

class StoreCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() /
            ("hangar-store-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_);
  }
  void TearDown() override { fs::remove_all(home_); }

  ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), HANGAR_BIN);
    return testing::RunProcess(args, {{"HOME", home_.string()}, {"PATH", "/usr/bin:/bin"}});
  }
  nlohmann::json Json(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out.empty() ? "null" : r.out);
  }
  // A small random-weight model that llama.cpp loads.
  fs::path MakeModel(const fs::path& path, const std::string& arch = "llama", int seed = 1) {
    fs::create_directories(path.parent_path());
    ProcessResult made =
        testing::RunProcess({HANGAR_MKMODEL_BIN, "--arch", arch, "--type", "q8_0", "--seed",
                             std::to_string(seed), "--out", path.string()},
                            {{"HOME", home_.string()}});
    EXPECT_EQ(made.exit_code, 0) << made.err;
    return path;
  }
  // Puts `model` into the HF cache as ORG/REPO's FILE at a commit, as
  // huggingface_hub leaves it.
  fs::path IntoHfCache(const fs::path& model, const std::string& repo, const std::string& file) {
    const fs::path dir =
        home_ / ".cache/huggingface/hub" /
        ("models--" + repo.substr(0, repo.find('/')) + "--" + repo.substr(repo.find('/') + 1));
    const std::string sha = Sha256File(model).value();
    fs::create_directories(dir / "blobs");
    fs::rename(model, dir / "blobs" / sha);
    const std::string commit(40, 'e');
    fs::create_directories(dir / "snapshots" / commit);
    fs::create_symlink(fs::path("../../blobs") / sha, dir / "snapshots" / commit / file);
    fs::create_directories(dir / "refs");
    std::ofstream(dir / "refs/main") << commit;
    return dir / "blobs" / sha;
  }

  fs::path home_;
};

TEST_F(StoreCliTest, DiscoverRegistersOtherToolsModelsInPlace) {
  const fs::path hf_blob =
      IntoHfCache(MakeModel(home_ / "tmp/a.gguf"), "bartowski/Qwen2.5-Coder-3B-Instruct-GGUF",
                  "Qwen2.5-Coder-3B-Instruct-Q4_K_M.gguf");
  MakeModel(home_ / ".lmstudio/models/someone/tiny/tiny-Q8_0.gguf", "qwen3");
  EXPECT_THAT(Run({"list"}).out, HasSubstr("No models installed"));

  nlohmann::json found = Json(Run({"discover", "--json"}));
  ASSERT_EQ(found["found"].size(), 2u);
  EXPECT_EQ(found["added"], 2);
  // Nothing was copied: the HF blob is still the only copy of its bytes.
  EXPECT_EQ(fs::hard_link_count(hf_blob), 1u);

  nlohmann::json list = Json(Run({"list", "--json"}));
  ASSERT_EQ(list.size(), 2u);
  std::map<std::string, nlohmann::json> by_source;
  for (const auto& m : list) by_source[m["store"]["source"]] = m;
  ASSERT_TRUE(by_source.contains("hf"));
  ASSERT_TRUE(by_source.contains("lmstudio"));
  // The HF file is the catalog's qwen2.5-coder-3b-q4: that entry is installed now.
  EXPECT_EQ(by_source["hf"]["id"], "qwen2.5-coder-3b-q4");
  EXPECT_FALSE(by_source["hf"]["store"]["managed"].get<bool>());
  EXPECT_EQ(by_source["lmstudio"]["family"], "qwen3");
  // A second discover finds nothing new.
  nlohmann::json again = Json(Run({"discover", "--json"}));
  EXPECT_EQ(again["added"], 0);
  EXPECT_EQ(again["already_known"], 2);
  // The table shows source, size and last use.
  ProcessResult table = Run({"list"});
  EXPECT_THAT(table.out, HasSubstr("SOURCE"));
  EXPECT_THAT(table.out, HasSubstr("lmstudio"));
  EXPECT_THAT(table.out, HasSubstr("never"));
  // Installed models validate against the digest the store knows (the size
  // check fails: this stand-in is far smaller than the real 3B model).
  ProcessResult validate = Run({"validate", "qwen2.5-coder-3b-q4", "--json"});
  EXPECT_EQ(validate.exit_code, 1);
  nlohmann::json checks = nlohmann::json::parse(validate.out)["checks"];
  std::map<std::string, bool> ok;
  for (const auto& c : checks) ok[c["name"]] = c["ok"];
  EXPECT_TRUE(ok["sha256"]);
  EXPECT_TRUE(ok["gguf header"]);
  EXPECT_FALSE(ok["size"]);
}

// hangar quantize writes what llama.cpp's own llama-quantize writes, byte for
// byte, for each common type and from F16, BF16 and F32; the result is
// installed and runs; the types and sources it must refuse are refused.
TEST_F(StoreCliTest, QuantizeEqualsLlamaQuantizeByteForByte) {
  for (const std::string source : {"f16", "bf16", "f32"}) {
    const fs::path model = home_ / ("src-" + source + ".gguf");
    ProcessResult made = testing::RunProcess(
        {HANGAR_MKMODEL_BIN, "--arch", "qwen3", "--type", source, "--layers", "2", "--embd", "256",
         "--vocab", "llama-spm", "--seed", "9", "--out", model.string()},
        {{"HOME", home_.string()}});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    ASSERT_EQ(Run({"import", model.string()}).exit_code, 0);
    for (const std::string type : {"Q4_K_M", "Q8_0", "Q6_K", "Q5_K_M", "Q4_0", "Q3_K_M", "IQ4_XS"}) {
      SCOPED_TRACE(source + " to " + type);
      nlohmann::json q = Json(Run({"quantize", "src-" + source, type, "--json"}));
      const fs::path ours = q["path"].get<std::string>();
      const fs::path theirs = home_ / ("ref-" + source + "-" + type + ".gguf");
      ProcessResult ref = testing::RunProcess(
          {HANGAR_REF_QUANTIZE_BIN, model.string(), theirs.string(), type}, {{"HOME", home_.string()}});
      ASSERT_EQ(ref.exit_code, 0) << ref.err;
      const std::string a = ReadFile(ours).value(), b = ReadFile(theirs).value();
      EXPECT_EQ(a.size(), b.size());
      EXPECT_TRUE(a == b) << ours << " differs from llama-quantize's " << theirs;
      EXPECT_LT(q["size_bytes"].get<uint64_t>(), fs::file_size(model));
      fs::remove(theirs);
    }
  }
  // Installed, listed with its type, and it runs.
  nlohmann::json list = Json(Run({"list", "--json"}));
  bool listed = false;
  for (const auto& m : list) listed = listed || m["id"] == "src-f16-q4_k_m";
  EXPECT_TRUE(listed) << list.dump();
  ProcessResult ran = Run({"run", "src-f16-q4_k_m", "--max-tokens", "4", "--raw", "Hello"});
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  // Refused: a type that needs an importance matrix, an unknown type, a
  // quantized source, a model that is not here; nothing is left behind.
  ProcessResult imatrix = Run({"quantize", "src-f16", "IQ2_XS"});
  EXPECT_EQ(imatrix.exit_code, 1);
  EXPECT_THAT(imatrix.err, HasSubstr("importance matrix"));
  EXPECT_THAT(Run({"quantize", "src-f16", "Q9_K"}).err, HasSubstr("unknown quantization type"));
  ProcessResult again = Run({"quantize", "src-f16-q4_k_m", "Q8_0"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("--allow-requantize"));
  EXPECT_THAT(Run({"quantize", "qwen2.5-coder-3b-q4", "Q8_0"}).err, HasSubstr("hangar pull"));
  EXPECT_THAT(Run({"quantize", "src-f16", "Q4_K_M"}).err, HasSubstr("exists already"));
  for (const auto& e : fs::recursive_directory_iterator(home_)) {
    EXPECT_NE(e.path().extension(), ".partial") << "left behind: " << e.path();
  }
}

TEST_F(StoreCliTest, ImportNamesTheIdToRunItBy) {
  const fs::path src = MakeModel(home_ / "downloads/Tiny-Chat-Q8_0.gguf");
  ProcessResult r = Run({"import", src.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json listed = Json(Run({"list", "--installed", "--json"}));
  ASSERT_EQ(listed.size(), 1u);
  const std::string id = listed[0]["id"];
  EXPECT_EQ(id.find('/'), std::string::npos) << id;  // a short id, not a path or URI
  EXPECT_THAT(r.out, HasSubstr("Imported " + id + " ("));
  EXPECT_THAT(r.out, HasSubstr("run it: hangar run " + id));
  EXPECT_EQ(Run({"info", id}).exit_code, 0);
}

TEST_F(StoreCliTest, ImportShareRemoveAndExport) {
  const fs::path src = MakeModel(home_ / "downloads/my-model-Q8_0.gguf");
  const std::string sha = Sha256File(src).value();
  nlohmann::json copied = Json(Run({"import", src.string(), "--copy", "--json"}));
  EXPECT_EQ(copied["id"], "blob://sha256-" + sha);
  EXPECT_EQ(copied["checksum"], "sha256:" + sha);
  const fs::path blob = copied["path"].get<std::string>();
  EXPECT_TRUE(fs::exists(src));  // --copy keeps the original
  EXPECT_EQ(Sha256File(blob).value(), sha);
  // The same bytes again are refused, not stored twice.
  ProcessResult twice = Run({"import", blob.string()});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_THAT(twice.err, HasSubstr("installed already"));
  const fs::path same = home_ / "elsewhere/copy.gguf";
  fs::create_directories(same.parent_path());
  fs::copy_file(src, same);
  ProcessResult same_bytes = Run({"import", same.string(), "--move"});
  EXPECT_EQ(same_bytes.exit_code, 1);
  EXPECT_THAT(same_bytes.err, HasSubstr("same bytes"));
  EXPECT_TRUE(fs::exists(same));  // a refused --move leaves the file alone

  // Shared with Ollama: a hard link and a manifest, no second copy.
  nlohmann::json shared =
      Json(Run({"share", copied["id"], "--to", "ollama", "--name", "mine:q8", "--json"}));
  EXPECT_EQ(shared["name"], "mine:q8");
  const fs::path ollama_blob = home_ / ".ollama/models/blobs" / ("sha256-" + sha);
  EXPECT_EQ(Inode(ollama_blob), Inode(blob));
  EXPECT_TRUE(fs::exists(home_ / ".ollama/models/manifests/registry.ollama.ai/library/mine/q8"));
  // ... and Hangar's discovery sees the Ollama model as the same bytes.
  nlohmann::json d = Json(Run({"discover", "--json"}));
  EXPECT_EQ(d["added"], 0);
  // Shared with LM Studio.
  nlohmann::json lms = Json(Run({"share", copied["id"], "--to", "lmstudio", "--json"}));
  EXPECT_EQ(lms["files"][0]["link"], "hardlink");

  // Export: the manifest of the specification.
  const fs::path out = home_ / "export.json";
  ASSERT_EQ(Run({"export", out.string()}).exit_code, 0);
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(out));
  // Version 1.1: the specification's manifest (1.0) with the settings,
  // the user's profiles and the default model.
  EXPECT_EQ(doc["version"], "1.1");
  EXPECT_TRUE(doc["settings"].contains("limits.max_ram_usage")) << doc.dump();
  EXPECT_TRUE(doc["profiles"].is_array());
  EXPECT_TRUE(doc.contains("default_model"));
  ASSERT_EQ(doc["models"].size(), 1u);
  for (const char* key :
       {"id", "path", "size_bytes", "checksum", "downloaded_at", "last_used", "use_count"}) {
    EXPECT_TRUE(doc["models"][0].contains(key)) << key;
  }

  // The default model is not removed without --force.
  ASSERT_EQ(Run({"default", copied["id"]}).exit_code, 0);
  ProcessResult refused = Run({"rm", copied["id"]});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("default model"));
  nlohmann::json rm = Json(Run({"rm", copied["id"], "--force", "--json"}));
  EXPECT_GT(rm["removed"][0]["freed_bytes"].get<uint64_t>(), 0u);
  EXPECT_FALSE(fs::exists(blob));
  // Ollama's and LM Studio's links keep the bytes alive for those tools.
  EXPECT_EQ(Sha256File(ollama_blob).value(), sha);
  EXPECT_THAT(Run({"rm", copied["id"]}).err, HasSubstr("not installed"));
}

TEST_F(StoreCliTest, CacheReportAndPrune) {
  int seed = 1;
  for (const char* name : {"one", "two", "three"}) {
    const fs::path src = MakeModel(home_ / "dl" / (std::string(name) + ".gguf"), "llama", seed++);
    ASSERT_EQ(Run({"import", src.string(), "--move"}).exit_code, 0);
  }
  // A stale partial download and an orphan blob.
  const fs::path blobs = home_ / ".local/share/hangar/blobs";
  std::ofstream(blobs / ("sha256-" + std::string(64, 'f') + "-partial")) << "partial";
  std::ofstream(blobs / ("sha256-" + std::string(64, 'e'))) << "orphan";
  nlohmann::json cache = Json(Run({"cache", "--json"}));
  EXPECT_EQ(cache["models"].size(), 3u);
  EXPECT_EQ(cache["sources"]["import"]["models"], 3);
  EXPECT_EQ(cache["orphan_blobs"].size(), 1u);
  EXPECT_EQ(cache["partials"].size(), 1u);
  const uint64_t total = cache["total_bytes"];
  EXPECT_GT(total, 0u);

  nlohmann::json dry = Json(Run({"cache", "prune", "--max-size", "1B", "--dry-run", "--json"}));
  EXPECT_TRUE(dry["dry_run"].get<bool>());
  EXPECT_EQ(dry["removed"].size(), 3u);
  EXPECT_EQ(Json(Run({"list", "--json"})).size(), 3u);  // nothing removed
  nlohmann::json age = Json(Run({"cache", "prune", "--older-than", "30d", "--json"}));
  EXPECT_EQ(age["removed"].size(), 0u);  // all were installed just now
  nlohmann::json pruned = Json(Run({"cache", "prune", "--max-size", "1B", "--json"}));
  EXPECT_EQ(pruned["removed"].size(), 3u);
  EXPECT_EQ(pruned["freed_bytes"], total);
  EXPECT_EQ(Json(Run({"list", "--json"})).size(), 0u);
  EXPECT_EQ(Run({"cache", "prune"}).exit_code, 2);
}

TEST_F(StoreCliTest, ReconcilesAfterFilesVanish) {
  const fs::path model = MakeModel(home_ / "models/m.gguf");
  ASSERT_EQ(Run({"import", model.string()}).exit_code, 0);
  EXPECT_EQ(Json(Run({"list", "--json"})).size(), 1u);
  fs::remove(model);  // deleted behind Hangar's back
  EXPECT_EQ(Json(Run({"list", "--json"})).size(), 0u);
  nlohmann::json doc = Json(Run({"export"}));
  EXPECT_TRUE(doc["models"].empty());
}

}  // namespace
}  // namespace hangar
