// End-to-end tests of `hangar pull`, `outdated` and `update`: the real binary
// in a private HOME against a fake Hugging Face hub + CDN and Ollama registry
// (fake_hub.h) started on 127.0.0.1, and a real nginx for plain URLs.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/test_seed.h"
#include "checkpoint_fixture.h"
#include "fake_hub.h"
#include "nginx_server.h"
#include "process.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using testing::FakeFile;
using testing::FakeHub;
using testing::Fault;
using testing::FileOptions;
using ::testing::HasSubstr;
using testing::ProcessResult;
using testing::TestBlob;

constexpr uint64_t kMiB = 1 << 20;
const std::string kRepo = "tester/Tiny-GGUF";
const std::string kCommit1 = std::string(40, '1');
const std::string kCommit2 = std::string(40, '2');

// Generated models, made once per test process.
fs::path ModelFile(int seed, const std::string& arch = "llama") {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("hangar-pull-models-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  const fs::path p = dir / (arch + "-" + std::to_string(seed) + ".gguf");
  if (!fs::exists(p)) {
    ProcessResult made = testing::RunProcess({HANGAR_MKMODEL_BIN, "--arch", arch, "--type", "q8_0",
                                              "--seed", std::to_string(seed), "--out", p.string()},
                                             {{"HOME", dir.string()}});
    EXPECT_EQ(made.exit_code, 0) << made.err;
  }
  return p;
}

std::string Sha(const fs::path& p) { return Sha256File(p).value(); }

FileOptions Rate(uint64_t bytes_per_second) {
  FileOptions o;
  o.bytes_per_second = bytes_per_second;
  return o;
}

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() /
            ("hangar-pull-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_);
    q8_ = ModelFile(1);
    q4_ = ModelFile(2);
    hub_.AddRepo(kRepo, kCommit1,
                 {{"README.md", TestBlob::FromString("# Tiny\n"), false},
                  {"tiny-Q4_K_M.gguf", TestBlob::FromFile(q4_)},
                  {"tiny-Q8_0.gguf", TestBlob::FromFile(q8_)}});
  }
  void TearDown() override { fs::remove_all(home_); }

  std::map<std::string, std::string> Env(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env = {{"HOME", home_.string()},
                                              {"PATH", "/usr/bin:/bin"},
                                              {"HF_ENDPOINT", hub_.Endpoint()},
                                              {"OLLAMA_REGISTRY", hub_.Endpoint()}};
    for (auto& [k, v] : extra) env[k] = v;
    return env;
  }
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), HANGAR_BIN);
    return args;
  }
  ProcessResult Run(std::vector<std::string> args, std::map<std::string, std::string> extra = {}) {
    return testing::RunProcess(Args(std::move(args)), Env(std::move(extra)));
  }
  nlohmann::json Json(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out.empty() ? "null" : r.out);
  }
  // The last NDJSON line of `hangar pull --json`.
  nlohmann::json Last(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::istringstream in(r.out);
    std::string line, last;
    while (std::getline(in, line)) {
      if (!line.empty()) last = line;
    }
    return nlohmann::json::parse(last.empty() ? "null" : last);
  }
  fs::path RepoDir() const { return home_ / ".cache/huggingface/hub/models--tester--Tiny-GGUF"; }
  uint64_t CdnBytes() { return hub_.cdn().BodyBytesSent(); }

  fs::path home_;
  FakeHub hub_;
  fs::path q8_, q4_;
};

TEST_F(PullTest, QuantTagIntoTheHfCacheLayout) {
  nlohmann::json r = Last(Run({"pull", kRepo + ":Q8_0", "--json"}));
  EXPECT_EQ(r["status"], "success");
  EXPECT_EQ(r["checksum"], "sha256:" + Sha(q8_));
  const fs::path blob = RepoDir() / "blobs" / Sha(q8_);
  const fs::path entry = RepoDir() / "snapshots" / kCommit1 / "tiny-Q8_0.gguf";
  ASSERT_TRUE(fs::is_symlink(entry));
  EXPECT_EQ(fs::read_symlink(entry), fs::path("../../blobs") / Sha(q8_));
  EXPECT_EQ(Sha(blob), Sha(q8_));
  EXPECT_EQ(ReadFile(RepoDir() / "refs/main").value_or(""), kCommit1);
  EXPECT_FALSE(fs::exists(RepoDir() / "blobs" / Sha(q4_)));  // only the asked quantization
  // The fit was checked from the remote header before downloading.
  EXPECT_TRUE(r["fit"]["fits"].get<bool>());
  EXPECT_TRUE(r["fit"]["probed"].get<bool>());
  // Installed, under its name.
  nlohmann::json list = Json(Run({"list", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["store"]["source"], "hf");
  EXPECT_EQ(list[0]["store"]["revision"], kCommit1);
  EXPECT_EQ(list[0]["aliases"][1], kRepo + ":Q8_0");
  // A second pull fetches nothing.
  const uint64_t sent = CdnBytes();
  nlohmann::json again = Last(Run({"pull", kRepo + ":q8_0", "--json"}));
  EXPECT_TRUE(again["already_present"].get<bool>());
  EXPECT_EQ(CdnBytes(), sent);
}

TEST_F(PullTest, InspectReadsTheHeaderOfAModelNotDownloaded) {
  nlohmann::json j = Json(Run({"inspect", kRepo + ":Q8_0", "--json"}));
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["file_type"]["tag"], "Q8_0");
  ASSERT_TRUE(j.contains("remote"));
  EXPECT_LE(j["remote"]["range_requests"].get<int>(), 3);
  EXPECT_LT(CdnBytes(), fs::file_size(q8_) / 2);
  EXPECT_FALSE(fs::exists(RepoDir() / "blobs" / Sha(q8_)));
  // The same for hf:// and ollama:// references.
  nlohmann::json by_path = Json(Run({"inspect", "hf://" + kRepo + "/tiny-Q4_K_M.gguf", "--json"}));
  EXPECT_EQ(by_path["parameters"], j["parameters"]);
}

// A safetensors repository read before any weights are downloaded: the
// shards' headers by Range, config.json whole; then what each quantization
// would need here.
TEST_F(PullTest, InspectAndFitASafetensorsRepositoryByRange) {
  auto shard = [](const std::vector<std::pair<std::string, std::vector<uint64_t>>>& tensors) {
    nlohmann::json header = nlohmann::json::object();
    uint64_t offset = 0;
    for (const auto& [name, shape] : tensors) {
      uint64_t n = 2;
      for (uint64_t d : shape) n *= d;
      header[name] = {{"dtype", "BF16"}, {"shape", shape}, {"data_offsets", {offset, offset + n}}};
      offset += n;
    }
    const std::string text = header.dump();
    std::string file(8, '\0');
    for (int b = 0; b < 8; ++b) file[b] = static_cast<char>((text.size() >> (8 * b)) & 0xff);
    return file + text + std::string(offset, '\x3c');
  };
  // Two layers of 512 (a Qwen3-shaped model): about 2.6 MB of weights.
  std::vector<std::pair<std::string, std::vector<uint64_t>>> a = {{"model.embed_tokens.weight", {1000, 512}},
                                                                  {"model.norm.weight", {512}}};
  std::vector<std::pair<std::string, std::vector<uint64_t>>> b;
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    b.push_back({p + "self_attn.q_proj.weight", {512, 512}});
    b.push_back({p + "self_attn.k_proj.weight", {128, 512}});
    b.push_back({p + "self_attn.v_proj.weight", {128, 512}});
    b.push_back({p + "self_attn.o_proj.weight", {512, 512}});
    b.push_back({p + "mlp.up_proj.weight", {1024, 512}});
  }
  const std::string first = shard(a), second = shard(b);
  hub_.AddRepo("tester/Tiny-Qwen3", kCommit1,
               {{"config.json", TestBlob::FromString(nlohmann::json{{"architectures", {"Qwen3ForCausalLM"}},
                                                                     {"hidden_size", 512},
                                                                     {"intermediate_size", 1024},
                                                                     {"num_hidden_layers", 2},
                                                                     {"num_attention_heads", 8},
                                                                     {"num_key_value_heads", 2},
                                                                     {"head_dim", 64},
                                                                     {"vocab_size", 1000},
                                                                     {"max_position_embeddings", 4096}}
                                                        .dump()),
                 false},
                {"tokenizer.json", TestBlob::FromString("{}"), false},
                {"model-00001-of-00002.safetensors", TestBlob::FromString(first)},
                {"model-00002-of-00002.safetensors", TestBlob::FromString(second)}});
  const uint64_t before = CdnBytes();
  nlohmann::json j = Json(Run({"inspect", "tester/Tiny-Qwen3", "--json"}));
  EXPECT_EQ(j["architecture"], "qwen3");
  EXPECT_EQ(j["architecture_class"], "Qwen3ForCausalLM");
  EXPECT_EQ(j["parameters"], 1000 * 512 + 512 + 2 * (512 * 512 * 2 + 128 * 512 * 2 + 1024 * 512));
  EXPECT_EQ(j["files"].size(), 2u);
  EXPECT_TRUE(j["tokenizer"]["tokenizer_json"].get<bool>());
  nlohmann::json fit = Json(Run({"fit", "tester/Tiny-Qwen3", "--json"}));
  ASSERT_EQ(fit["quants"].size(), 5u) << fit.dump();
  EXPECT_TRUE(fit["quants"][4]["requested"]["fits"].get<bool>());
  // Only headers crossed the network: far less than the weights.
  EXPECT_LT(CdnBytes() - before, (first.size() + second.size()) / 4);
  EXPECT_FALSE(fs::exists(home_ / ".cache/huggingface/hub/models--tester--Tiny-Qwen3/blobs"));
}

// `pull --convert`: a safetensors repository (random weights, a SentencePiece
// tokenizer trained here) pulled, converted and quantized into a GGUF that
// runs; the checkpoint and the GGUF name each other: `run` of the checkpoint
// points at its conversion (or offers one, with its size and time), and `rm`
// of either says what happens to the other.
TEST_F(PullTest, PullConvertLeavesARunnableGgufLinkedToItsCheckpoint) {
  const fs::path work = home_ / "made";
  const std::string failed = testing::MakeTinyCheckpoint(work / "Tiny-Llama");
  ASSERT_EQ(failed, "");
  std::vector<FakeFile> files;
  for (const auto& e : fs::directory_iterator(work / "Tiny-Llama")) {
    const std::string name = e.path().filename().string();
    files.push_back({name, TestBlob::FromFile(e.path()), name.ends_with(".safetensors") || name.ends_with(".model")});
  }
  hub_.AddRepo("tester/Tiny-Llama", kCommit1, files);

  nlohmann::json pulled = Last(Run({"pull", "tester/Tiny-Llama", "--convert", "--quant", "Q8_0", "--json"}));
  // The checkpoint itself: listed and validated with what it needs.
  EXPECT_NE(Run({"list", "--installed"}).out.find("checkpoint: hangar convert"), std::string::npos);
  ProcessResult validated = Run({"validate", "tester/Tiny-Llama", "--json"});
  EXPECT_EQ(validated.exit_code, 0) << validated.out;
  nlohmann::json valid = nlohmann::json::parse(validated.out);
  bool header_checked = false;
  for (const auto& c : valid["checks"]) {
    if (c["name"] != "safetensors header") continue;
    header_checked = true;
    EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();
    EXPECT_NE(c["detail"].get<std::string>().find("LlamaForCausalLM; cannot run here: convert it"), std::string::npos);
  }
  EXPECT_TRUE(header_checked) << valid.dump();
  ASSERT_TRUE(pulled.contains("converted")) << pulled.dump();
  const std::string gguf = pulled["converted"]["model"];
  EXPECT_EQ(pulled["converted"]["quantized"], "Q8_0");
  EXPECT_EQ(pulled["format"], "safetensors");
  nlohmann::json ran = Json(Run({"run", gguf, "Hello", "--max-tokens", "3", "--json"}));
  EXPECT_EQ(ran["timings"]["gen_tokens"], 3);

  ProcessResult r = Run({"run", "tester/Tiny-Llama", "Hello"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("it was converted: run `hangar run " + gguf + "`"), std::string::npos) << r.err;

  const std::string gguf_path = pulled["converted"]["files"][0]["path"];
  ASSERT_TRUE(fs::exists(gguf_path));
  nlohmann::json removed = Json(Run({"rm", gguf, "--json"}));
  ASSERT_EQ(removed["removed"][0]["notes"].size(), 1u) << removed.dump();
  EXPECT_FALSE(fs::exists(gguf_path));  // made in Hangar's store: rm frees it
  EXPECT_NE(removed["removed"][0]["notes"][0].get<std::string>().find("stays installed"), std::string::npos);
  r = Run({"run", "tester/Tiny-Llama", "Hello"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("convert it first: `hangar convert"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GGUF in about"), std::string::npos) << r.err;

  nlohmann::json converted = Json(Run({"convert", "tester/Tiny-Llama", "--json"}));
  EXPECT_EQ(converted["conversion"]["architecture"], "llama");
  removed = Json(Run({"rm", "tester/Tiny-Llama", "--json"}));
  ASSERT_EQ(removed["removed"][0]["notes"].size(), 1u) << removed.dump();
  EXPECT_NE(removed["removed"][0]["notes"][0].get<std::string>().find("converted from it, stays installed"),
            std::string::npos);
  ran = Json(Run({"run", converted["model"], "Hello", "--max-tokens", "2", "--json"}));
  EXPECT_EQ(ran["timings"]["gen_tokens"], 2);
}

// ONNX and PyTorch files pulled like any repository: listed and validated
// with "cannot run here", and `run` says why.
TEST_F(PullTest, OnnxAndPytorchRepositoriesArePulledListedAndValidated) {
  const std::string source = HANGAR_SOURCE_DIR;
  fs::create_directories(home_ / "made");
  const fs::path onnx = home_ / "made" / "model.onnx", torch = home_ / "made" / "pytorch_model.bin";
  ASSERT_EQ(testing::RunProcess({"/usr/bin/python3", source + "/tests/fixtures/onnx/make_onnx.py", onnx.string()},
                                {{"PATH", "/usr/bin:/bin"}}).exit_code, 0);
  ASSERT_EQ(testing::RunProcess({"/usr/bin/python3", source + "/tests/fixtures/pytorch/make_torch_zip.py", torch.string()},
                                {{"PATH", "/usr/bin:/bin"}}).exit_code, 0);
  hub_.AddRepo("tester/Tiny-Onnx", kCommit1, {{"model.onnx", TestBlob::FromFile(onnx)}});
  hub_.AddRepo("tester/Tiny-Torch", kCommit1, {{"pytorch_model.bin", TestBlob::FromFile(torch)}});
  for (const auto& [repo, check, words] :
       {std::tuple<std::string, std::string, std::string>{"tester/Tiny-Onnx", "onnx header", "IR v8, 22 parameters"},
        {"tester/Tiny-Torch", "pytorch index", "3 tensors, 784 parameters (never unpickled)"}}) {
    nlohmann::json pulled = Last(Run({"pull", repo, "--json"}));
    EXPECT_EQ(pulled["status"], "success") << pulled.dump();
    nlohmann::json valid = Json(Run({"validate", repo, "--json"}));
    bool seen = false;
    for (const auto& c : valid["checks"]) {
      if (c["name"] != check) continue;
      seen = true;
      EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();
      EXPECT_NE(c["detail"].get<std::string>().find(words), std::string::npos) << c.dump();
      EXPECT_NE(c["detail"].get<std::string>().find("cannot run here"), std::string::npos) << c.dump();
    }
    EXPECT_TRUE(seen) << valid.dump();
    ProcessResult r = Run({"run", repo, "Hello"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("llama.cpp runs GGUF files only"), std::string::npos) << r.err;
  }
  const std::string listed = Run({"list", "--installed"}).out;
  EXPECT_NE(listed.find("ONNX: cannot run here"), std::string::npos) << listed;
  EXPECT_NE(listed.find("PyTorch: cannot run here"), std::string::npos) << listed;
}

TEST_F(PullTest, DefaultQuantIsQ4KMAndProgressIsNdjsonLikeOllama) {
  ProcessResult r = Run({"pull", kRepo, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::vector<nlohmann::json> events;
  while (std::getline(in, line)) events.push_back(nlohmann::json::parse(line));
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front()["status"], "pulling manifest");
  bool saw_progress = false, saw_verify = false;
  for (const auto& e : events) {
    const std::string s = e["status"];
    if (s.starts_with("pulling ") && e.contains("total")) {
      saw_progress = true;
      EXPECT_EQ(e["digest"], "sha256:" + Sha(q4_));
      EXPECT_EQ(e["total"], fs::file_size(q4_));
      EXPECT_LE(e["completed"].get<uint64_t>(), e["total"].get<uint64_t>());
    }
    saw_verify = saw_verify || s == "verifying sha256 digest";
  }
  EXPECT_TRUE(saw_progress);
  EXPECT_TRUE(saw_verify);
  EXPECT_EQ(events.back()["status"], "success");
  EXPECT_EQ(events.back()["checksum"], "sha256:" + Sha(q4_));
}

TEST_F(PullTest, CatalogIdPullsItsHuggingFaceFile) {
  // A catalog entry whose Hugging Face file has no known digest: served by
  // the fake hub with a stand-in model.
  nlohmann::json all = Json(Run({"list", "--all", "--json"}));
  std::string id, repo, file;
  for (const auto& e : all) {
    if (e["format"] != "gguf" || e["sources"].empty()) continue;
    const auto& s = e["sources"][0];
    if (s["kind"] == "huggingface" && s["sha256"] == "" && s["split_count"] == 1) {
      id = e["id"], repo = s["repo"], file = s["file"];
      break;
    }
  }
  ASSERT_FALSE(id.empty());
  hub_.AddRepo(repo, kCommit2, {{file, TestBlob::FromFile(q4_)}});
  nlohmann::json r = Last(Run({"pull", id, "--json", "--no-fit-check"}));
  EXPECT_EQ(r["checksum"], "sha256:" + Sha(q4_));
  nlohmann::json info = Json(Run({"info", id, "--json"}));
  EXPECT_TRUE(info["installed"].get<bool>());
  EXPECT_EQ(info["store"]["source"], "hf");
  // Discovery sees the same bytes, not a second model.
  EXPECT_EQ(Json(Run({"discover", "--json"}))["added"], 0);
}

TEST_F(PullTest, CatalogDigestIsEnforced) {
  // qwen2.5-coder-3b-q4's file has a known SHA-256 in the catalog: other
  // bytes under that name are refused.
  hub_.AddRepo("Qwen/Qwen2.5-Coder-3B-Instruct-GGUF", kCommit2,
               {{"qwen2.5-coder-3b-instruct-q4_k_m.gguf", TestBlob::FromFile(q4_)}});
  ProcessResult r = Run({"pull", "qwen2.5-coder-3b-q4", "--no-fit-check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("724fb256bec1ff062b2f65e4569e871ad2e95ab2a3989723d1769c54294730b7"));
  EXPECT_TRUE(Json(Run({"list", "--json"})).empty());
}

TEST_F(PullTest, SplitModelPartsComeTogether) {
  const std::string whole = ReadFile(q8_).value();
  const size_t half = whole.size() / 2;
  hub_.AddRepo("tester/Split-GGUF", kCommit1,
               {{"Q8_0/big-Q8_0-00001-of-00002.gguf", TestBlob::FromString(whole.substr(0, half))},
                {"Q8_0/big-Q8_0-00002-of-00002.gguf", TestBlob::FromString(whole.substr(half))}});
  nlohmann::json r = Last(Run({"pull", "tester/Split-GGUF:Q8_0", "--json", "--no-fit-check"}));
  EXPECT_EQ(r["status"], "success");
  const fs::path snap =
      home_ / ".cache/huggingface/hub/models--tester--Split-GGUF/snapshots" / kCommit1 / "Q8_0";
  EXPECT_TRUE(fs::exists(snap / "big-Q8_0-00001-of-00002.gguf"));
  EXPECT_TRUE(fs::exists(snap / "big-Q8_0-00002-of-00002.gguf"));
  EXPECT_EQ(r["size_bytes"], whole.size());
  EXPECT_EQ(r["files"].size(), 2u);
}

TEST_F(PullTest, NonGgufRepositoryComesWhole) {
  hub_.AddRepo("tester/Tiny-Safetensors", kCommit1,
               {{"config.json", TestBlob::FromString(R"({"model_type":"llama"})"), false},
                {"model.safetensors", TestBlob::FromString(std::string(3 * kMiB, 'w'))},
                {"tokenizer/tokenizer.json", TestBlob::FromString("{}"), false}});
  nlohmann::json r = Last(Run({"pull", "hf://tester/Tiny-Safetensors", "--json"}));
  EXPECT_EQ(r["id"], "hf://tester/Tiny-Safetensors");
  EXPECT_EQ(r["files"].size(), 3u);
  EXPECT_EQ(r["format"], "safetensors");
  const fs::path snap =
      home_ / ".cache/huggingface/hub/models--tester--Tiny-Safetensors/snapshots" / kCommit1;
  EXPECT_EQ(ReadFile(snap / "config.json").value_or(""), R"({"model_type":"llama"})");
  EXPECT_EQ(fs::file_size(snap / "model.safetensors"), 3 * kMiB);
  EXPECT_TRUE(fs::exists(snap / "tokenizer/tokenizer.json"));
  // One file of a repository by its path.
  nlohmann::json one = Last(Run({"pull", "hf://tester/Tiny-Safetensors/config.json", "--json"}));
  EXPECT_EQ(one["files"].size(), 1u);
}

TEST_F(PullTest, FaultsAreRetriedAndTheFileVerified) {
  const std::string blob = FakeHub::BlobPath(Sha(q8_));
  hub_.cdn().AddFault(blob, Fault::CutAt(3 * kMiB + 11));
  hub_.cdn().AddFault(blob, Fault::Status(503, "1"));
  hub_.cdn().AddFault(blob, Fault::StallAt(7 * kMiB, 5000));
  nlohmann::json r = Last(Run({"pull", kRepo + ":Q8_0", "--json"}));
  EXPECT_EQ(r["checksum"], "sha256:" + Sha(q8_));
  EXPECT_EQ(Sha(RepoDir() / "blobs" / Sha(q8_)), Sha(q8_));
}

TEST_F(PullTest, OneCorruptedByteIsDownloadedAgain) {
  hub_.cdn().AddFault(FakeHub::BlobPath(Sha(q8_)), Fault::CorruptAt(5 * kMiB + 3));
  nlohmann::json r = Last(Run({"pull", kRepo + ":Q8_0", "--json"}));
  EXPECT_EQ(r["checksum"], "sha256:" + Sha(q8_));
  EXPECT_EQ(Sha(RepoDir() / "blobs" / Sha(q8_)), Sha(q8_));
}

TEST_F(PullTest, PersistentCorruptionIsDataLossNamingBothDigests) {
  hub_.cdn().AddFault(FakeHub::BlobPath(Sha(q8_)), Fault::CorruptAt(5 * kMiB + 3, -1));
  ProcessResult r = Run({"pull", kRepo + ":Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(Sha(q8_)));
  EXPECT_THAT(r.err, HasSubstr("expected"));
  EXPECT_FALSE(fs::exists(RepoDir() / "blobs" / Sha(q8_)));
  EXPECT_FALSE(fs::exists(RepoDir() / "blobs" / (Sha(q8_) + ".incomplete")));
  EXPECT_TRUE(Json(Run({"list", "--json"})).empty());
}

TEST_F(PullTest, GatedRepositoryNeedsTheTokenWhichNeverReachesTheCdn) {
  hub_.SetToken(kRepo, "hf_secret");
  ProcessResult denied = Run({"pull", kRepo + ":Q8_0"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, HasSubstr("HF_TOKEN"));
  nlohmann::json r = Last(Run({"pull", kRepo + ":Q8_0", "--json"}, {{"HF_TOKEN", "hf_secret"}}));
  EXPECT_EQ(r["status"], "success");
  bool hub_saw_token = false;
  for (const auto& req : hub_.hub().Requests()) {
    hub_saw_token = hub_saw_token || req.headers.Get("Authorization").has_value();
  }
  EXPECT_TRUE(hub_saw_token);
  ASSERT_GT(hub_.cdn().Requests().size(), 0u);
  for (const auto& req : hub_.cdn().Requests()) {
    EXPECT_FALSE(req.headers.Get("Authorization").has_value()) << req.target;
  }
}

TEST_F(PullTest, HostileListingIsRefused) {
  hub_.AddListingPath(kRepo, "../../evil.gguf");
  ProcessResult r = Run({"pull", kRepo + ":Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("evil.gguf"));
  EXPECT_EQ(CdnBytes(), 0u);
  EXPECT_FALSE(fs::exists(home_ / ".cache/evil.gguf"));
  EXPECT_FALSE(fs::exists(home_ / ".cache/huggingface/evil.gguf"));
}

TEST_F(PullTest, NotFoundErrorsNameWhatIsMissing) {
  ProcessResult repo = Run({"pull", "nobody/Nothing-GGUF"});
  EXPECT_EQ(repo.exit_code, 1);
  EXPECT_THAT(repo.err, HasSubstr("nobody/Nothing-GGUF"));
  ProcessResult rev = Run({"pull", kRepo, "--revision", "v9"});
  EXPECT_EQ(rev.exit_code, 1);
  EXPECT_THAT(rev.err, HasSubstr("no revision 'v9'"));
  ProcessResult quant = Run({"pull", kRepo + ":IQ2_XXS"});
  EXPECT_EQ(quant.exit_code, 1);
  EXPECT_THAT(quant.err, HasSubstr("tiny-Q8_0.gguf"));  // the files it has
}

TEST_F(PullTest, ModelThatCannotFitIsRefusedBeforeDownloading) {
  fs::create_directories(home_ / ".config/hangar");
  std::ofstream(home_ / ".config/hangar/config.toml")
      << "[limits]\nmax_ram_usage = \"1MB\"\nos_reserve = \"0B\"\n";
  ProcessResult r = Run({"pull", kRepo + ":Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("does not fit"));
  EXPECT_THAT(r.err, HasSubstr("--force"));
  // Only the header was read (7.8 MB of vocabulary in three Range requests).
  EXPECT_LT(CdnBytes(), fs::file_size(q8_) / 2);
  EXPECT_LE(hub_.cdn().Requests().size(), 3u);
  EXPECT_FALSE(fs::exists(RepoDir() / "blobs" / Sha(q8_)));
  nlohmann::json forced = Last(Run({"pull", kRepo + ":Q8_0", "--force", "--json"}));
  EXPECT_EQ(forced["status"], "success");
  EXPECT_FALSE(forced["fit"]["fits"].get<bool>());
}

TEST_F(PullTest, OfflineUsesOnlyTheCache) {
  ProcessResult missing = Run({"pull", kRepo + ":Q8_0"}, {{"HF_HUB_OFFLINE", "1"}});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("offline"));
  EXPECT_EQ(hub_.hub().Requests().size(), 0u);
  ASSERT_EQ(Run({"pull", kRepo + ":Q8_0"}).exit_code, 0);
  const size_t before = hub_.hub().Requests().size();
  nlohmann::json r = Last(Run({"pull", kRepo + ":Q8_0", "--offline", "--json"}));
  EXPECT_TRUE(r["already_present"].get<bool>());
  EXPECT_EQ(hub_.hub().Requests().size(), before);  // no request at all
  ProcessResult other = Run({"pull", kRepo + ":Q4_K_M", "--offline"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err, HasSubstr("offline"));
}

TEST_F(PullTest, AModelAnotherToolPutInTheHfCacheIsNotDownloadedAgain) {
  // As huggingface_hub leaves it: the blob by its sha256, no Hangar record.
  fs::create_directories(RepoDir() / "blobs");
  fs::copy_file(q8_, RepoDir() / "blobs" / Sha(q8_));
  nlohmann::json r = Last(Run({"pull", kRepo + ":Q8_0", "--json"}));
  EXPECT_TRUE(r["already_present"].get<bool>());
  EXPECT_EQ(CdnBytes(), 0u);
  EXPECT_TRUE(fs::exists(RepoDir() / "snapshots" / kCommit1 / "tiny-Q8_0.gguf"));
}

TEST_F(PullTest, OllamaRegistryModelWithItsLayers) {
  const std::string gguf = ReadFile(q8_).value();
  const std::string tmpl = "{{ .System }} {{ .Prompt }}";
  const std::string params = R"({"temperature":0.6})";
  const std::string digest = hub_.AddOllamaModel("library", "tiny", "q8",
                                                 {{"application/vnd.ollama.image.model", gguf},
                                                  {"application/vnd.ollama.image.template", tmpl},
                                                  {"application/vnd.ollama.image.params", params}});
  nlohmann::json r = Last(Run({"pull", "ollama://tiny:q8", "--json"}));
  EXPECT_EQ(r["status"], "success");
  EXPECT_EQ(r["id"], "ollama://tiny:q8");
  EXPECT_EQ(r["revision"], digest);
  const fs::path blobs = home_ / ".local/share/hangar/blobs";
  EXPECT_EQ(Sha(blobs / ("sha256-" + Sha(q8_))), Sha(q8_));
  EXPECT_EQ(ReadFile(blobs / ("sha256-" + FakeHub::Sha256Of(tmpl))).value_or(""), tmpl);
  EXPECT_TRUE(
      fs::exists(home_ / ".local/share/hangar/manifests/registry.ollama.ai/library/tiny/q8"));
  std::vector<std::string> roles;
  for (const auto& f : r["files"]) roles.push_back(f["role"]);
  EXPECT_THAT(roles, ::testing::ElementsAre("weights", "template", "params"));
  // A missing tag says so.
  ProcessResult nope = Run({"pull", "ollama://tiny:q2"});
  EXPECT_EQ(nope.exit_code, 1);
  EXPECT_THAT(nope.err, HasSubstr("tiny:q2"));
  // Removing it frees its blobs and manifest.
  ASSERT_EQ(Run({"rm", "ollama://tiny:q8"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(blobs / ("sha256-" + Sha(q8_))));
}

TEST_F(PullTest, TwoProcessesPullingTheSameFileDownloadItOnce) {
  hub_.cdn().SetFileOptions(FakeHub::BlobPath(Sha(q8_)), Rate(4 * kMiB));
  const fs::path out1 = home_ / "one.out", out2 = home_ / "two.out";
  const fs::path err1 = home_ / "one.err", err2 = home_ / "two.err";
  const std::vector<std::string> pull = {"pull", kRepo + ":Q8_0", "--json", "--no-fit-check"};
  int a = testing::SpawnProcess(Args(pull), Env(), out1.string(), err1.string());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int b = testing::SpawnProcess(Args(pull), Env(), out2.string(), err2.string());
  EXPECT_EQ(testing::WaitProcess(a), 0) << ReadFile(err1).value_or("");
  EXPECT_EQ(testing::WaitProcess(b), 0) << ReadFile(err2).value_or("");
  EXPECT_EQ(Sha(RepoDir() / "blobs" / Sha(q8_)), Sha(q8_));
  EXPECT_LT(CdnBytes(), fs::file_size(q8_) * 3 / 2);  // once
  EXPECT_EQ(Json(Run({"list", "--json"})).size(), 1u);
}

// SIGKILL `hangar pull` at random moments, 20 times; every run resumes what
// the one before it wrote, and the end is a verified, byte-identical file.
TEST_F(PullTest, SurvivesTwentyRandomKills) {
  // Slow enough that twenty runs, each resuming all the one before wrote,
  // do not finish the file before the twentieth kill.
  hub_.cdn().SetFileOptions(FakeHub::BlobPath(Sha(q8_)), Rate(kMiB));
  const fs::path partial = RepoDir() / "blobs" / (Sha(q8_) + ".incomplete");
  const fs::path blob = RepoDir() / "blobs" / Sha(q8_);
  const uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  SCOPED_TRACE("kill-moment " + TestSeedNote(seed));
  auto size_of = [](const fs::path& p) -> uint64_t {
    std::error_code ec;
    const uint64_t n = fs::file_size(p, ec);
    return ec ? 0 : n;
  };
  int kills = 0;
  for (int k = 0; k < 40 && kills < 20; ++k) {
    const uint64_t before = size_of(partial);
    const int pid = testing::SpawnProcess(
        Args({"pull", kRepo + ":Q8_0", "--connections", "4", "--no-fit-check"}), Env());
    ASSERT_GT(pid, 0);
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 4000 && size_of(partial) == before; ++i) {
      if ((exited = ::waitpid(pid, &status, WNOHANG) == pid)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (exited) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    ::kill(pid, SIGKILL);
    if (testing::WaitProcess(pid) == 0) break;
    ++kills;
    EXPECT_FALSE(fs::exists(blob)) << "an unverified file appeared after kill " << kills;
  }
  EXPECT_GE(kills, 20);
  nlohmann::json r = Last(Run({"pull", kRepo + ":Q8_0", "--json"}));
  EXPECT_EQ(r["checksum"], "sha256:" + Sha(q8_));
  EXPECT_EQ(ReadFile(blob).value(), ReadFile(q8_).value());
  EXPECT_FALSE(fs::exists(partial));
}

TEST_F(PullTest, InterruptKeepsThePartialAndSaysHowToResume) {
  hub_.cdn().SetFileOptions(FakeHub::BlobPath(Sha(q8_)), Rate(2 * kMiB));
  const fs::path err = home_ / "err.txt";
  // One connection: the bytes before the interruption are one prefix.
  const int pid =
      testing::SpawnProcess(Args({"pull", kRepo + ":Q8_0", "--no-fit-check", "--connections", "1"}),
                            Env(), "", err.string());
  const fs::path partial = RepoDir() / "blobs" / (Sha(q8_) + ".incomplete");
  for (int i = 0; i < 2000; ++i) {
    std::error_code ec;
    if (fs::file_size(partial, ec) > 2 * kMiB && !ec) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGINT);
  EXPECT_EQ(testing::WaitProcess(pid), 1);
  EXPECT_THAT(ReadFile(err).value_or(""), HasSubstr("run `hangar pull"));
  EXPECT_TRUE(fs::exists(partial));
  const uint64_t sent = CdnBytes();
  hub_.cdn().SetFileOptions(FakeHub::BlobPath(Sha(q8_)), FileOptions{});
  nlohmann::json r =
      Last(Run({"pull", kRepo + ":Q8_0", "--json", "--no-fit-check", "--connections", "1"}));
  EXPECT_EQ(r["checksum"], "sha256:" + Sha(q8_));
  EXPECT_GT(r["resumed_bytes"].get<uint64_t>(), 2 * kMiB);
  EXPECT_EQ(r["resumed_bytes"].get<uint64_t>() + r["fetched_bytes"].get<uint64_t>(),
            fs::file_size(q8_));
  EXPECT_LT(CdnBytes() - sent, fs::file_size(q8_));  // the kept prefix was not fetched again
}

// On a terminal the progress is one line rewritten in place, with the
// percentage, bytes, speed, ETA and connections; the verdict follows it.
TEST_F(PullTest, TerminalProgressIsOneLineRewrittenInPlace) {
  hub_.cdn().SetFileOptions(FakeHub::BlobPath(Sha(q8_)), Rate(4 * kMiB));
  int master = -1;
  int slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  std::vector<std::string> argv = Args({"pull", kRepo + ":Q8_0", "--no-fit-check"});
  std::vector<std::string> env;
  for (const auto& [k, v] : Env()) env.push_back(k + "=" + v);
  std::vector<char*> argv_c, env_c;
  for (std::string& a : argv) argv_c.push_back(a.data());
  for (std::string& e : env) env_c.push_back(e.data());
  argv_c.push_back(nullptr);
  env_c.push_back(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(slave, STDERR_FILENO);
    ::close(master);
    ::close(slave);
    ::execve(argv_c[0], argv_c.data(), env_c.data());
    ::_exit(127);
  }
  ::close(slave);
  std::string err;
  char buf[4096];
  ssize_t n;
  // The read fails (EIO) once the child has closed the terminal.
  while ((n = ::read(master, buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(n));
  ::close(master);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 0) << err;
  const std::string redraw = "\r\033[Kpulling tiny-Q8_0.gguf";
  size_t redraws = 0;
  for (size_t at = err.find(redraw); at != std::string::npos; at = err.find(redraw, at + 1)) {
    ++redraws;
  }
  EXPECT_GE(redraws, 3u) << err;  // over a second of download at 4 MiB/s per connection
  EXPECT_THAT(err, ::testing::ContainsRegex("[0-9]+\\.[0-9]%"));
  EXPECT_THAT(err, ::testing::ContainsRegex("[0-9.]+ [kMG]B/s"));
  EXPECT_THAT(err, HasSubstr("ETA "));
  EXPECT_THAT(err, HasSubstr("conn)"));
  EXPECT_THAT(err, HasSubstr("verified tiny-Q8_0.gguf"));
}

TEST_F(PullTest, OutdatedAndUpdateFollowTheBranch) {
  ASSERT_EQ(Run({"pull", kRepo + ":Q8_0"}).exit_code, 0);
  nlohmann::json fresh = Json(Run({"outdated", "--json"}));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_FALSE(fresh[0]["outdated"].get<bool>());
  // The branch moves to a commit with new bytes for the file.
  const fs::path q8_new = ModelFile(3);
  hub_.AddRepo(kRepo, kCommit2, {{"tiny-Q8_0.gguf", TestBlob::FromFile(q8_new)}});
  nlohmann::json stale = Json(Run({"outdated", "--json"}));
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_TRUE(stale[0]["outdated"].get<bool>());
  EXPECT_EQ(stale[0]["latest_revision"], kCommit2);
  EXPECT_EQ(stale[0]["download_bytes"], fs::file_size(q8_new));
  ProcessResult up = Run({"update", "--all"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_EQ(ReadFile(RepoDir() / "refs/main").value_or(""), kCommit2);
  nlohmann::json list = Json(Run({"list", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["store"]["revision"], kCommit2);
  EXPECT_EQ(list[0]["store"]["digest"], Sha(q8_new));
  EXPECT_FALSE(Json(Run({"outdated", "--json"}))[0]["outdated"].get<bool>());
}

TEST_F(PullTest, OutdatedAndUpdateFollowTheOllamaManifest) {
  const std::string old_digest = hub_.AddOllamaModel(
      "library", "tiny", "q8", {{"application/vnd.ollama.image.model", ReadFile(q8_).value()}});
  ASSERT_EQ(Run({"pull", "ollama://tiny:q8"}).exit_code, 0);
  EXPECT_FALSE(Json(Run({"outdated", "--json"}))[0]["outdated"].get<bool>());
  // The tag is pushed again with other weights: its manifest digest changes.
  const fs::path q8_new = ModelFile(3);
  const std::string new_digest = hub_.AddOllamaModel(
      "library", "tiny", "q8", {{"application/vnd.ollama.image.model", ReadFile(q8_new).value()}});
  ASSERT_NE(new_digest, old_digest);
  nlohmann::json stale = Json(Run({"outdated", "--json"}));
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_TRUE(stale[0]["outdated"].get<bool>()) << stale.dump();
  EXPECT_EQ(stale[0]["latest_revision"], new_digest);
  ProcessResult up = Run({"update", "ollama://tiny:q8"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  nlohmann::json list = Json(Run({"list", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["store"]["revision"], new_digest);
  EXPECT_EQ(list[0]["store"]["digest"], Sha(q8_new));
  EXPECT_FALSE(Json(Run({"outdated", "--json"}))[0]["outdated"].get<bool>());
}

class PullUrlTest : public PullTest {
 protected:
  void SetUp() override {
    PullTest::SetUp();
    if (testing::NginxServer::Binary().empty()) GTEST_SKIP() << "nginx is not installed";
    fs::create_directories(home_ / "www");
    fs::copy_file(q8_, home_ / "www/model-Q8_0.gguf");
    std::string error;
    nginx_ = testing::NginxServer::Start(home_ / "nginx", home_ / "www", "2m", &error);
    ASSERT_NE(nginx_, nullptr) << error;
  }
  std::unique_ptr<testing::NginxServer> nginx_;
};

TEST_F(PullUrlTest, PlainUrlFromNginxIntoTheBlobStore) {
  nlohmann::json r = Last(Run({"pull", nginx_->Url("/model-Q8_0.gguf"), "--json"}));
  EXPECT_EQ(r["checksum"], "sha256:" + Sha(q8_));
  const fs::path blob = home_ / ".local/share/hangar/blobs" / ("sha256-" + Sha(q8_));
  EXPECT_EQ(Sha(blob), Sha(q8_));
  EXPECT_EQ(r["path"], blob.string());
  nlohmann::json list = Json(Run({"list", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], "model-q8_0");
  // Without Range support: one stream, same bytes.
  ASSERT_EQ(Run({"rm", "model-q8_0"}).exit_code, 0);
  nlohmann::json one = Last(Run({"pull", nginx_->Url("/norange/model-Q8_0.gguf"), "--json"}));
  EXPECT_EQ(one["checksum"], "sha256:" + Sha(q8_));
  // A wrong --sha256 is DataLoss, nothing installed.
  ASSERT_EQ(Run({"rm", "model-q8_0"}).exit_code, 0);
  ProcessResult bad =
      Run({"pull", nginx_->Url("/model-Q8_0.gguf"), "--sha256", std::string(64, 'a')});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr(Sha(q8_)));
  EXPECT_TRUE(Json(Run({"list", "--json"})).empty());
}

TEST_F(PullUrlTest, AFileThatIsNotGgufIsFetchedWithANote) {
  std::string junk = "GGUF\x03";
  junk.append(3, '\0');
  for (int i = 0; i < 300000; ++i) junk += static_cast<char>((i * 2654435761u) >> 13);
  ASSERT_TRUE(WriteFileAtomic(home_ / "www/junk.gguf", junk).ok());
  nlohmann::json r = Last(Run({"pull", nginx_->Url("/junk.gguf"), "--json"}));
  EXPECT_EQ(r["status"], "success");
  EXPECT_EQ(r["checksum"], "sha256:" + FakeHub::Sha256Of(junk));
  EXPECT_THAT(r["fit_note"].get<std::string>(), HasSubstr("fit not checked"));
}

}  // namespace
}  // namespace hangar
