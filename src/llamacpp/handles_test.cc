#include "llamacpp/handles.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fit/test_models.h"
#include "llamacpp/log_capture.h"

namespace hangar::llamacpp {
namespace {

using ::testing::HasSubstr;

TEST(HandlesTest, InitBackendFromManyThreadsInstallsTheLogOnce) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([] { InitBackend(); });
  for (std::thread& t : threads) t.join();
  ggml_log_callback cb = nullptr;
  void* data = nullptr;
  llama_log_get(&cb, &data);
  EXPECT_EQ(cb, &ForwardLog);
  EXPECT_EQ(data, nullptr);
}

TEST(HandlesTest, ModelContextSamplerAndBatchOfATinyModel) {
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  ModelPtr model = LoadModel(fit::testing::TinyModel("llama"), mp);
  ASSERT_NE(model, nullptr);
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 256;
  cp.n_batch = 256;
  cp.n_threads = 1;
  cp.n_threads_batch = 1;
  ContextPtr ctx = NewContext(model.get(), cp);
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(llama_n_ctx(ctx.get()), 256u);

  Batch batch(8, 1);
  EXPECT_EQ(batch->n_tokens, 0);
  for (int32_t i = 0; i < 4; ++i) {
    batch->token[i] = i + 1;
    batch->pos[i] = i;
    batch->n_seq_id[i] = 1;
    batch->seq_id[i][0] = 0;
    batch->logits[i] = i == 3;
  }
  batch->n_tokens = 4;
  ASSERT_EQ(llama_decode(ctx.get(), batch.get()), 0);

  SamplerPtr sampler(llama_sampler_init_greedy());
  const llama_token token = llama_sampler_sample(sampler.get(), ctx.get(), -1);
  EXPECT_GE(token, 0);
  EXPECT_LT(token, llama_vocab_n_tokens(llama_model_get_vocab(model.get())));
  ctx.reset();  // the context goes before its model
}

TEST(HandlesTest, AMissingModelIsNullWithLlamaCppsReasonInTheCapture) {
  LogCapture capture;
  ModelPtr model = LoadModel("/nonexistent/hangar-handles-test.gguf", llama_model_default_params());
  EXPECT_EQ(model, nullptr);
  EXPECT_THAT(capture.errors(), HasSubstr("hangar-handles-test.gguf"));
}

}  // namespace
}  // namespace hangar::llamacpp
