// End-to-end tests of the `hangar` command: real binary, private HOME.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "process.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessResult;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() /
            ("hangar-cli-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_);
  }
  void TearDown() override { fs::remove_all(home_); }

  ProcessResult Run(std::vector<std::string> args, std::map<std::string, std::string> extra = {}) {
    args.insert(args.begin(), HANGAR_BIN);
    std::map<std::string, std::string> env = {{"HOME", home_.string()}, {"PATH", "/usr/bin:/bin"}};
    for (auto& [k, v] : extra) env[k] = v;
    return testing::RunProcess(args, env);
  }
  nlohmann::json Json(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  fs::path ConfigFile() const { return home_ / ".config/hangar/config.toml"; }
  void WriteConfig(const std::string& text) {
    fs::create_directories(ConfigFile().parent_path());
    std::ofstream(ConfigFile()) << text;
  }
  // A GGUF v3 file with one key, no tensors, `size` bytes long.
  fs::path WriteGguf(const std::string& name, size_t size) {
    std::string b = "GGUF";
    auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
    auto u64 = [&](uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); };
    u32(3);
    u64(0);
    u64(1);
    u64(20);
    b += "general.architecture";
    u32(8);
    u64(5);
    b += "llama";
    b.resize(std::max(size, b.size()), '\0');
    fs::path p = home_ / "models" / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << b;
    return p;
  }

  fs::path home_;
};

TEST_F(CliTest, HelpForEveryCommand) {
  ProcessResult top = Run({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char* cmd :
       {"list", "info", "validate", "default", "inspect", "fit", "recommend", "hw", "profile",
        "config"}) {
    EXPECT_THAT(top.out, HasSubstr(cmd));
    ProcessResult r = Run({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("Usage")) << cmd;
  }
  for (const char* sub : {"list", "info", "create", "update", "delete", "recommend"}) {
    ProcessResult r = Run({"profile", sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_THAT(r.out, HasSubstr("Usage")) << sub;
  }
}

TEST_F(CliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(Run({}).exit_code, 2);
  EXPECT_EQ(Run({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Run({"info"}).exit_code, 2);  // missing ID
  EXPECT_EQ(Run({"list", "--installed", "--all"}).exit_code, 2);
  ProcessResult bad_size = Run({"list", "--all", "--max-ram", "lots"});
  EXPECT_EQ(bad_size.exit_code, 2);
  EXPECT_THAT(bad_size.err, HasSubstr("--max-ram"));
  EXPECT_EQ(Run({"list", "--purpose", "fastest"}).exit_code, 2);
}

TEST_F(CliTest, FailuresExitWithOne) {
  ProcessResult r = Run({"info", "no-such-model"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no-such-model"));
  ProcessResult j = Run({"info", "no-such-model", "--json"});
  EXPECT_EQ(j.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(j.out)["error"]["code"], "NotFound");
}

TEST_F(CliTest, ListAllAsTableAndJson) {
  ProcessResult table = Run({"list", "--all"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_THAT(table.out, HasSubstr("qwen2.5-coder-7b-q5"));
  EXPECT_THAT(table.out, Not(HasSubstr("\033[")));  // not a terminal: no colour
  nlohmann::json all = Json(Run({"list", "--all", "--json"}));
  ASSERT_TRUE(all.is_array());
  EXPECT_GE(all.size(), 40u);
  nlohmann::json coding = Json(Run({"list", "--all", "--tag", "coding", "--json"}));
  EXPECT_LT(coding.size(), all.size());
  for (const auto& m : coding) {
    EXPECT_THAT(m["tags"].dump(), HasSubstr("coding"));
  }
  nlohmann::json small = Json(Run({"list", "--all", "--max-ram", "6GB", "--json"}));
  for (const auto& m : small) EXPECT_LE(m["min_ram_bytes"].get<uint64_t>(), 6'000'000'000u);
  nlohmann::json speed = Json(Run({"list", "--all", "--purpose", "speed", "--json"}));
  for (const auto& m : speed) EXPECT_EQ(m["purpose"], "speed");
}

TEST_F(CliTest, InstalledPresetIsListedAndValidated) {
  EXPECT_THAT(Run({"list"}).out, HasSubstr("No models installed"));
  fs::path w = WriteGguf("demo.gguf", 2'000'000);
  WriteConfig("[model_presets.demo]\nweights = \"" + w.string() +
              "\"\nsize_gb = 0.002\ncontext_length = 2048\n");
  nlohmann::json installed = Json(Run({"list", "--installed", "--json"}));
  ASSERT_EQ(installed.size(), 1u);
  EXPECT_EQ(installed[0]["id"], "demo");
  ProcessResult v = Run({"validate", "demo"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_THAT(v.out, HasSubstr("demo is valid"));
  // Truncated to 1.5 MB: more than 10% short of the declared 2 MB.
  fs::resize_file(w, 1'500'000);
  ProcessResult bad = Run({"validate", "demo", "--json"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_FALSE(nlohmann::json::parse(bad.out)["ok"].get<bool>());
}

TEST_F(CliTest, InspectReadsTheHeader) {
  fs::path w = WriteGguf("inspect-me.gguf", 4096);
  nlohmann::json j = Json(Run({"inspect", w.string(), "--json", "--tensors"}));
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["version"], 3);
  EXPECT_TRUE(j["tensors"].is_array());
  ProcessResult text = Run({"inspect", "file://" + w.string(), "--metadata"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("general.architecture"));
  EXPECT_EQ(Run({"inspect", (home_ / "missing.gguf").string()}).exit_code, 1);
  // A catalog model not on this machine is read remotely: offline, that is
  // Unavailable and says so (tests/pull_test.cc reads one from a test hub).
  ProcessResult remote = Run({"inspect", "qwen3-8b-q4", "--json"}, {{"HF_HUB_OFFLINE", "1"}});
  EXPECT_EQ(remote.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(remote.out)["error"]["code"], "Unavailable");
  EXPECT_THAT(remote.err, HasSubstr("offline"));
  fs::path junk = home_ / "junk.gguf";
  std::ofstream(junk) << "not a gguf file at all";
  ProcessResult bad = Run({"inspect", junk.string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("junk.gguf"));
}

TEST_F(CliTest, FitACatalogModelFromItsFacts) {
  nlohmann::json j = Json(Run({"fit", "qwen3-8b-q4", "--ctx", "8192", "--json"}));
  EXPECT_EQ(j["model"], "qwen3-8b-q4");
  EXPECT_TRUE(j["file"].is_null());
  EXPECT_EQ(j["requested"]["memory"]["method"], "estimate");
  EXPECT_EQ(j["requested"]["n_ctx"], 8192);
  // A quantized KV cache needs less memory than f16 at the same context.
  nlohmann::json q8 = Json(
      Run({"fit", "qwen3-8b-q4", "--ctx", "8192", "--kv-type", "q8_0", "--fa", "on", "--json"}));
  auto kv = [](const nlohmann::json& doc) {
    return doc["requested"]["memory"]["devices"][0]["kv_cache"].get<uint64_t>();
  };
  EXPECT_LT(kv(q8), kv(j));
  EXPECT_EQ(Run({"fit", "qwen3-8b-q4", "--fa", "sometimes"}).exit_code, 2);
  EXPECT_EQ(Run({"fit", "qwen3-8b-q4", "--ngl", "many"}).exit_code, 2);
}

TEST_F(CliTest, FitALocalFileWithTheProbe) {
  fs::path model = home_ / "tiny.gguf";
  ProcessResult made = testing::RunProcess(
      {HANGAR_MKMODEL_BIN, "--arch", "llama", "--type", "q8_0", "--out", model.string()},
      {{"HOME", home_.string()}});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  nlohmann::json j = Json(Run({"fit", model.string(), "--ctx", "2048", "--json"}));
  EXPECT_EQ(j["requested"]["memory"]["method"], "probe");
  EXPECT_TRUE(j["requested"]["fits"].get<bool>());
  EXPECT_GE(j["largest_context"]["n_ctx"].get<int>(), 2048);
  // A machine-sized context is refused with exit code 1 and the numbers.
  WriteConfig("[limits]\nmax_ram_usage = \"1MB\"\nos_reserve = \"0B\"\n");
  ProcessResult tight = Run({"fit", model.string(), "--ctx", "2048"});
  EXPECT_EQ(tight.exit_code, 1);
  EXPECT_THAT(tight.out, HasSubstr("Does not fit"));
}

TEST_F(CliTest, RecommendForThisAndOtherMachines) {
  nlohmann::json here = Json(Run({"recommend", "--json", "--limit", "3"}));
  EXPECT_LE(here["candidates"].size(), 3u);
  nlohmann::json gpu = Json(Run({"recommend", "--ram", "32GB", "--vram", "24GB", "--gpus", "1",
                                 "--cores", "8", "--purpose", "quality", "--json"}));
  ASSERT_FALSE(gpu["candidates"].empty());
  EXPECT_TRUE(gpu["candidates"][0]["fit"]["full_offload"].get<bool>());
  nlohmann::json coder =
      Json(Run({"recommend", "--coding", "--ram", "12GiB", "--gpus", "0", "--json"}));
  EXPECT_EQ(coder["candidates"][0]["id"], "qwen2.5-coder-7b-q5");
  ProcessResult small = Run({"recommend", "--coding", "--ram", "4GB", "--gpus", "0"});
  EXPECT_EQ(small.exit_code, 1);
  EXPECT_THAT(small.err, HasSubstr("insufficient RAM"));
  EXPECT_EQ(Run({"recommend", "--ram", "lots"}).exit_code, 2);
}

TEST_F(CliTest, InfoShowsCatalogFacts) {
  nlohmann::json info = Json(Run({"info", "qwen3-30b-a3b-q4", "--json"}));
  EXPECT_GT(info["architecture"]["expert_count"].get<int>(), 0);
  ProcessResult text = Run({"info", "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q5_K_M"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("qwen2.5-coder-7b-instruct-q5_k_m.gguf"));
}

TEST_F(CliTest, DefaultModelRoundTrip) {
  EXPECT_THAT(Run({"default"}).out, HasSubstr("No default model"));
  EXPECT_EQ(Run({"default", "qwen3-8b-q4"}).exit_code, 0);
  EXPECT_EQ(Json(Run({"default", "--json"}))["default"], "qwen3-8b-q4");
  EXPECT_EQ(Run({"default", "nope"}).exit_code, 1);
  EXPECT_EQ(Json(Run({"default", "--json"}))["default"], "qwen3-8b-q4");
}

TEST_F(CliTest, BrokenConfigNamesFileLineAndKey) {
  WriteConfig("[performance_profiles.fast]\nmax_tokens = 100\ntemperature = 3.5\n");
  ProcessResult r = Run({"profile", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("config.toml:3"));
  EXPECT_THAT(r.err, HasSubstr("performance_profiles.fast.temperature"));
}

TEST_F(CliTest, ProfileLifecycle) {
  nlohmann::json list = Json(Run({"profile", "list", "--json"}));
  std::vector<std::string> names;
  for (const auto& p : list) names.push_back(p["name"]);
  EXPECT_THAT(names,
              ::testing::IsSupersetOf({"fast", "balanced", "quality", "creative", "precise"}));
  EXPECT_EQ(
      Run({"profile", "create", "code", "--temperature", "0.2", "--inherits", "precise"}).exit_code,
      0);
  EXPECT_EQ(Json(Run({"profile", "info", "code", "--json"}))["temperature"], 0.2);
  EXPECT_EQ(Run({"profile", "create", "code"}).exit_code, 1);  // exists
  EXPECT_EQ(Run({"profile", "update", "code", "--temperature", "5"}).exit_code, 1);
  EXPECT_EQ(Run({"profile", "update", "code"}).exit_code, 2);  // nothing to change
  EXPECT_EQ(Run({"profile", "update", "code", "--max-tokens", "77"}).exit_code, 0);
  EXPECT_EQ(Json(Run({"profile", "info", "code", "--json"}))["max_tokens"], 77);
  EXPECT_EQ(Run({"profile", "delete", "code"}).exit_code, 0);
  EXPECT_EQ(Run({"profile", "info", "code"}).exit_code, 1);
  EXPECT_EQ(Run({"profile", "delete", "balanced"}).exit_code, 1);  // built-in
  nlohmann::json rec = Json(Run({"profile", "recommend", "--json"}));
  EXPECT_THAT(std::string(rec["profile"]), ::testing::AnyOf("fast", "balanced", "quality"));
}

TEST_F(CliTest, ConfigShowsSetsAndUnsetsSettings) {
  auto value = [](const nlohmann::json& shown, std::string_view key) {
    for (const auto& s : shown["settings"]) {
      if (s["key"] == key) return s["value"];
    }
    return nlohmann::json();
  };
  nlohmann::json shown = Json(Run({"config", "--json"}));
  EXPECT_EQ(value(shown, "runtime.gpu"), "auto");
  EXPECT_EQ(value(shown, "downloads.connections"), 8);
  ProcessResult set = Run({"config", "set", "runtime.gpu=off", "downloads.connections=3",
                           "limits.max_ram_usage=70%"});
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_THAT(set.out, HasSubstr("runtime.gpu"));
  shown = Json(Run({"config", "show", "--json"}));
  EXPECT_EQ(value(shown, "runtime.gpu"), "off");
  EXPECT_EQ(value(shown, "downloads.connections"), 3);
  EXPECT_EQ(value(shown, "limits.max_ram_usage"), "70%");
  // A bad value names the key and changes nothing; so does an unknown key.
  ProcessResult bad = Run({"config", "set", "runtime.gpu=auto", "downloads.connections=99"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("downloads.connections: must be between 1 and 64"));
  EXPECT_EQ(value(Json(Run({"config", "--json"})), "runtime.gpu"), "off");
  EXPECT_THAT(Run({"config", "set", "gpu=off"}).err, HasSubstr("not a setting"));
  EXPECT_EQ(Run({"config", "set", "runtime.gpu"}).exit_code, 2);
  EXPECT_EQ(Run({"config", "unset", "runtime.gpu", "downloads.connections"}).exit_code, 0);
  shown = Json(Run({"config", "--json"}));
  EXPECT_EQ(value(shown, "runtime.gpu"), "auto");
  EXPECT_EQ(value(shown, "downloads.connections"), 8);
  EXPECT_EQ(value(shown, "limits.max_ram_usage"), "70%");
}

// A Llama-shaped checkpoint of `layers` x `hidden` in BF16, sharded in two
// with its index; the files are sparse (only the headers hold bytes).
void MakeSparseCheckpoint(const fs::path& dir, int layers, uint64_t hidden, uint64_t ffn, uint64_t vocab) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json")
      << nlohmann::json{{"architectures", {"LlamaForCausalLM"}},
                        {"hidden_size", hidden},
                        {"intermediate_size", ffn},
                        {"num_hidden_layers", layers},
                        {"num_attention_heads", 32},
                        {"num_key_value_heads", 8},
                        {"vocab_size", vocab},
                        {"max_position_embeddings", 8192},
                        {"torch_dtype", "bfloat16"}}
             .dump();
  std::ofstream(dir / "tokenizer.json") << "{}";
  const uint64_t kv = hidden / 4;
  std::vector<std::pair<std::string, std::vector<uint64_t>>> tensors = {
      {"model.embed_tokens.weight", {vocab, hidden}}, {"model.norm.weight", {hidden}},
      {"lm_head.weight", {vocab, hidden}}};
  for (int l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (auto [name, shape] : std::vector<std::pair<std::string, std::vector<uint64_t>>>{
             {"self_attn.q_proj.weight", {hidden, hidden}}, {"self_attn.k_proj.weight", {kv, hidden}},
             {"self_attn.v_proj.weight", {kv, hidden}},     {"self_attn.o_proj.weight", {hidden, hidden}},
             {"mlp.gate_proj.weight", {ffn, hidden}},       {"mlp.up_proj.weight", {ffn, hidden}},
             {"mlp.down_proj.weight", {hidden, ffn}},       {"input_layernorm.weight", {hidden}},
             {"post_attention_layernorm.weight", {hidden}}}) {
      tensors.emplace_back(p + name, shape);
    }
  }
  nlohmann::json index = {{"weight_map", nlohmann::json::object()}};
  for (int part = 0; part < 2; ++part) {
    const std::string file = fmt::format("model-0000{}-of-00002.safetensors", part + 1);
    nlohmann::json header = nlohmann::json::object();
    uint64_t offset = 0;
    for (size_t i = part; i < tensors.size(); i += 2) {
      uint64_t n = 2;
      for (uint64_t d : tensors[i].second) n *= d;
      header[tensors[i].first] = {{"dtype", "BF16"}, {"shape", tensors[i].second}, {"data_offsets", {offset, offset + n}}};
      index["weight_map"][tensors[i].first] = file;
      offset += n;
    }
    const std::string text = header.dump();
    std::string head(8, '\0');
    for (int b = 0; b < 8; ++b) head[b] = static_cast<char>((text.size() >> (8 * b)) & 0xff);
    {
      std::ofstream out(dir / file, std::ios::binary);
      out << head << text;
    }
    fs::resize_file(dir / file, 8 + text.size() + offset);
  }
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
}

TEST_F(CliTest, InspectAndFitACheckpointBeforeConvertingIt) {
  const fs::path dir = home_ / "Llama-8B-like";
  MakeSparseCheckpoint(dir, 32, 4096, 14336, 128256);
  nlohmann::json j = Json(Run({"inspect", dir.string(), "--json"}));
  EXPECT_EQ(j["architecture_class"], "LlamaForCausalLM");
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["parameters"], 8030261248ull);  // Llama 3.1 8B's count
  EXPECT_TRUE(j["sharded"].get<bool>());
  EXPECT_EQ(j["dtypes"]["BF16"]["tensors"], 291);
  ProcessResult text = Run({"inspect", dir.string()});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("8.03B"));
  EXPECT_THAT(text.out, HasSubstr("convert it to GGUF"));
  // Fit: each quantization's size and memory on a described machine is not
  // what fit does; here it is this machine, so only the shape is checked.
  nlohmann::json fit = Json(Run({"fit", dir.string(), "--json", "--ctx", "4096"}));
  ASSERT_EQ(fit["quants"].size(), 5u) << fit.dump();
  EXPECT_EQ(fit["quants"][0]["quant"], "F16");
  EXPECT_EQ(fit["quants"][4]["quant"], "Q4_K_M");
  const double f16 = fit["quants"][0]["file_bytes"].get<double>();
  const double q4 = fit["quants"][4]["file_bytes"].get<double>();
  EXPECT_NEAR(f16 / 1e9, 16.06, 0.05);  // 8.03 B parameters at 2 bytes
  EXPECT_NEAR(q4 / 1e9, 4.87, 0.1);     // published Q4_K_M files: 4.92 GB
  EXPECT_EQ(fit["quants"][4]["requested"]["n_ctx"], 4096);
  EXPECT_GT(fit["quants"][0]["requested"]["memory"]["host_total"].get<double>(), f16 * 0.9);
  // Hostile and unsupported input: clear errors.
  std::ofstream(dir / "config.json") << R"({"architectures": ["MambaForCausalLM"], "hidden_size": 8})";
  ProcessResult mamba = Run({"fit", dir.string()});
  EXPECT_EQ(mamba.exit_code, 1);
  EXPECT_THAT(mamba.err, HasSubstr("MambaForCausalLM"));
  fs::resize_file(dir / "model-00002-of-00002.safetensors", 1000);
  ProcessResult cut = Run({"inspect", dir.string()});
  EXPECT_EQ(cut.exit_code, 1);
  EXPECT_THAT(cut.err, HasSubstr("model-00002-of-00002.safetensors"));
  const fs::path pickle = home_ / "pickled";
  fs::create_directories(pickle);
  std::ofstream(pickle / "pytorch_model.bin") << "PK not unpickled";
  ProcessResult refused = Run({"inspect", pickle.string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("pickle"));
}

// A PyTorch checkpoint written by CPython's own pickle and zipfile in
// torch.save's layout: inspect lists its tensors from the index and never
// unpickles it; fit and convert-like uses are refused with the reason.
TEST_F(CliTest, InspectReadsAPytorchCheckpointWithoutUnpickling) {
  const fs::path file = home_ / "pytorch_model.bin";
  ProcessResult made = testing::RunProcess(
      {"/usr/bin/python3", std::string(HANGAR_SOURCE_DIR) + "/tests/fixtures/pytorch/make_torch_zip.py", file.string()},
      {{"HOME", home_.string()}});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  nlohmann::json j = Json(Run({"inspect", file.string(), "--json", "--tensors"}));
  EXPECT_EQ(j["format"], "pytorch");
  EXPECT_EQ(j["parameters"], 32 * 16 + 16 * 16 + 16);
  ASSERT_EQ(j["tensor_list"].size(), 3u);
  EXPECT_EQ(j["tensor_list"][0]["name"], "model.embed_tokens.weight");
  EXPECT_EQ(j["tensor_list"][0]["dtype"], "BF16");
  EXPECT_EQ(j["tensor_list"][0]["shape"], nlohmann::json({32, 16}));
  EXPECT_EQ(j["tensor_list"][2]["dtype"], "F32");
  EXPECT_FALSE(j["runs_here"].get<bool>());
  // As a checkpoint folder's weights it is refused, not loaded.
  std::ofstream(home_ / "config.json") << R"({"architectures": ["LlamaForCausalLM"]})";
  ProcessResult fit = Run({"fit", home_.string()});
  EXPECT_EQ(fit.exit_code, 1);
  EXPECT_THAT(fit.err, HasSubstr("pickle"));
  // A pickle that would run code is refused at its first such opcode.
  std::ofstream(home_ / "evil.pt", std::ios::binary) << "not a zip at all";
  EXPECT_THAT(Run({"inspect", (home_ / "evil.pt").string()}).err, HasSubstr("evil.pt"));
}

TEST_F(CliTest, InspectReadsAnOnnxModelsMetadata) {
  const fs::path file = home_ / "model.onnx";
  ProcessResult made = testing::RunProcess(
      {"/usr/bin/python3", std::string(HANGAR_SOURCE_DIR) + "/tests/fixtures/onnx/make_onnx.py", file.string()},
      {{"HOME", home_.string()}});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  nlohmann::json j = Json(Run({"inspect", file.string(), "--json"}));
  EXPECT_EQ(j["format"], "onnx");
  EXPECT_EQ(j["ir_version"], 8);
  EXPECT_EQ(j["producer"], "pytorch");
  EXPECT_EQ(j["opsets"][""], 17);
  EXPECT_EQ(j["parameters"], 22);
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json({"batch", "4"}));
  EXPECT_EQ(j["external_data"], nlohmann::json({"weights.bin"}));
  EXPECT_FALSE(j["runs_here"].get<bool>());
  ProcessResult text = Run({"inspect", file.string()});
  EXPECT_THAT(text.out, HasSubstr("x float[batch, 4]"));
  fs::resize_file(file, fs::file_size(file) - 7);
  ProcessResult cut = Run({"inspect", file.string()});
  EXPECT_EQ(cut.exit_code, 1);
  EXPECT_THAT(cut.err, HasSubstr("ONNX at byte"));
}

TEST_F(CliTest, HardwareReportOnThisMachine) {
  nlohmann::json hw = Json(Run({"hw", "--json"}));
  EXPECT_GE(hw["cpu"]["logical_cores"].get<int>(), 1);
  EXPECT_GT(hw["memory"]["total"].get<uint64_t>(), 0u);
  EXPECT_TRUE(hw["gpus"].is_array());
  ProcessResult text = Run({"hw"});
  EXPECT_THAT(text.out, HasSubstr("Memory"));
}

TEST_F(CliTest, ColourOnlyOnATerminal) {
  // Output to a pipe is never coloured, NO_COLOR or not.
  EXPECT_THAT(Run({"profile", "list"}, {{"NO_COLOR", "1"}}).out, Not(HasSubstr("\033[")));
  EXPECT_THAT(Run({"profile", "list"}, {{"TERM", "xterm-256color"}}).out, Not(HasSubstr("\033[")));
}

}  // namespace
}  // namespace hangar
