#include "fit/probe.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "core/status_matchers.h"
#include "core/units.h"
#include "fit/estimator.h"
#include "fit/test_models.h"
#include "gguf/parser.h"
#include "llama.h"
#include "llamacpp/log_capture.h"

namespace hangar::fit {
namespace {

using ::testing::HasSubstr;

MemoryRequest Request(uint32_t n_ctx, std::string kv, FlashAttention fa, uint32_t n_ubatch = 512,
                      uint32_t n_seq = 1) {
  MemoryRequest r;
  r.n_ctx = n_ctx;
  r.type_k = CacheType{kv};
  r.type_v = CacheType{kv};
  r.flash_attn = fa;
  r.n_ubatch = n_ubatch;
  r.n_seq = n_seq;
  return r;
}

// What the benchmark holds the estimator to: 5% or 32 MiB, whichever is larger.
bool WithinTolerance(uint64_t a, uint64_t b) {
  const double diff = std::fabs(static_cast<double>(a) - static_cast<double>(b));
  return diff <= std::max(0.05 * static_cast<double>(b), 32.0 * kMiB);
}

class ProbeVsEstimateTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ProbeVsEstimateTest, AgreeOnEveryPart) {
  const std::string arch = GetParam();
  const std::filesystem::path model = testing::TinyModel(arch);
  const gguf::ModelSummary summary = testing::TinySummary(arch);
  for (const MemoryRequest& r :
       {Request(512, "f16", FlashAttention::kOff), Request(4096, "f16", FlashAttention::kOn),
        Request(2048, "q8_0", FlashAttention::kOn), Request(8192, "f16", FlashAttention::kOff, 128),
        Request(4096, "f16", FlashAttention::kOff, 512, 2),
        Request(1000, "q4_0", FlashAttention::kAuto)}) {
    const std::string what =
        fmt::format("{} ctx {} {} fa {} ubatch {} seqs {}", arch, r.n_ctx, r.type_k.name,
                    FlashAttentionName(r.flash_attn), r.n_ubatch, r.n_seq);
    Result<MemoryBreakdown> probe = Probe(model, r);
    ASSERT_OK(probe) << what;
    Result<MemoryBreakdown> estimate = Estimate(summary, r);
    ASSERT_OK(estimate) << what;
    ASSERT_EQ(probe->devices.size(), 1u) << "this llama.cpp has no GPU backend";
    EXPECT_EQ(probe->method, "probe");
    EXPECT_EQ(estimate->method, "estimate");
    const DeviceMemory& p = probe->host();
    const DeviceMemory& e = estimate->host();
    EXPECT_EQ(e.weights, p.weights) << what;
    EXPECT_EQ(e.kv_cache, p.kv_cache) << what;
    EXPECT_EQ(e.output, p.output) << what;
    EXPECT_EQ(e.other, p.other) << what;
    EXPECT_TRUE(WithinTolerance(e.compute, p.compute))
        << what << ": compute " << e.compute << " vs " << p.compute;
    EXPECT_TRUE(WithinTolerance(estimate->HostTotal(), probe->HostTotal())) << what;
    EXPECT_EQ(estimate->n_ctx, probe->n_ctx) << what;
    EXPECT_EQ(estimate->flash_attn, probe->flash_attn) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, ProbeVsEstimateTest, ::testing::ValuesIn(testing::TinyArchs()));

TEST(ProbeTest, SparseHeaderFileProbesLikeTheRealFile) {
  for (const std::string arch : {"qwen3", "gemma3"}) {
    const std::filesystem::path model = testing::TinyModel(arch);
    Result<gguf::GgufFile> header = gguf::ReadHeader(model);
    ASSERT_OK(header);
    Result<std::string> bytes = ReadFile(model);
    ASSERT_OK(bytes);
    const std::string prefix = bytes->substr(0, header->data_offset);
    const std::filesystem::path sparse = testing::FreshDir("sparse-" + arch) / "remote.gguf";
    ASSERT_OK(WriteSparseModelFile(
        sparse, std::span(reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size()),
        bytes->size()));
    EXPECT_EQ(std::filesystem::file_size(sparse), bytes->size());
    for (const MemoryRequest& r : {Request(4096, "f16", FlashAttention::kOff),
                                   Request(16384, "q8_0", FlashAttention::kOn)}) {
      Result<MemoryBreakdown> real = Probe(model, r);
      Result<MemoryBreakdown> remote = Probe(sparse, r);
      ASSERT_OK(real);
      ASSERT_OK(remote);
      EXPECT_EQ(remote->devices, real->devices) << arch;
      EXPECT_EQ(remote->n_ctx, real->n_ctx);
    }
  }
}

TEST(ProbeTest, SparseFileNeedsTheWholeHeader) {
  const std::filesystem::path model = testing::TinyModel("llama");
  Result<gguf::GgufFile> header = gguf::ReadHeader(model);
  ASSERT_OK(header);
  Result<std::string> bytes = ReadFile(model);
  ASSERT_OK(bytes);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes->data());
  const std::filesystem::path out = testing::FreshDir("sparse-bad") / "m.gguf";
  struct Case {
    std::string name;
    std::span<const uint8_t> prefix;
    uint64_t size;
  };
  const std::string not_gguf = "this is not a model at all";
  for (const Case& c :
       {Case{"cut inside the header", std::span(data, header->header_size / 2), bytes->size()},
        Case{"not GGUF",
             std::span(reinterpret_cast<const uint8_t*>(not_gguf.data()), not_gguf.size()),
             bytes->size()},
        Case{"file smaller than the prefix", std::span(data, header->data_offset),
             header->data_offset - 1},
        Case{"tensors past the end", std::span(data, header->data_offset),
             header->data_offset + 64}}) {
    EXPECT_THAT(WriteSparseModelFile(out, c.prefix, c.size), StatusIs(StatusCode::kInvalidArgument))
        << c.name;
  }
  EXPECT_THAT(WriteSparseModelFile(out, std::span(data, header->header_size / 2), bytes->size()),
              StatusHasMessage(HasSubstr("fetch at least")));
  EXPECT_THAT(WriteSparseModelFile("/proc/no-such-dir/m.gguf", std::span(data, header->data_offset),
                                   bytes->size()),
              StatusIs(StatusCode::kUnavailable));
}

TEST(ProbeTest, ErrorsSayWhatWentWrong) {
  const std::filesystem::path model = testing::TinyModel("llama");
  EXPECT_THAT(
      Probe(model.parent_path() / "missing.gguf", Request(2048, "f16", FlashAttention::kOn)),
      StatusIs(StatusCode::kNotFound));
  const std::filesystem::path junk = testing::FreshDir("junk") / "junk.gguf";
  std::ofstream(junk) << std::string(4096, 'x');
  EXPECT_THAT(Probe(junk, Request(2048, "f16", FlashAttention::kOn)),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Probe(model, Request(2048, "q8_0", FlashAttention::kOff)),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Probe(model, Request(2048, "q8_0", FlashAttention::kOff)),
              StatusHasMessage(HasSubstr("flash attention")));
  EXPECT_THAT(Probe(model, Request(2048, "fp8", FlashAttention::kOn)),
              StatusIs(StatusCode::kInvalidArgument));
}

// The probe reaches llama.cpp through the adapter: the one log callback stays
// installed (nothing swaps it), and a failure says what llama.cpp logged.
TEST(ProbeTest, KeepsTheAdaptersLogCallbackAndReportsLlamaCppsReason) {
  ASSERT_OK(Probe(testing::TinyModel("qwen2"), Request(2048, "f16", FlashAttention::kAuto)));
  ggml_log_callback cb = nullptr;
  void* data = nullptr;
  llama_log_get(&cb, &data);
  EXPECT_EQ(cb, &llamacpp::ForwardLog);

  const std::filesystem::path junk = testing::FreshDir("junk-reason") / "junk.gguf";
  std::ofstream(junk) << "JUNK" << std::string(4096, 'x');
  Result<MemoryBreakdown> r = Probe(junk, Request(2048, "f16", FlashAttention::kOn));
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(r.status().message(), HasSubstr("invalid magic characters: 'JUNK'"));
  llama_log_get(&cb, &data);
  EXPECT_EQ(cb, &llamacpp::ForwardLog);
}

}  // namespace
}  // namespace hangar::fit
