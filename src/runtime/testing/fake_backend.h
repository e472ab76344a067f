// FakeBackend: a Backend without llama.cpp for tests of what sits above the
// backends (sessions, the app's use cases). Test code only.
//
// It "loads" any target but one whose id is "broken" (InvalidArgument),
// calls the load's progress callback once (false cancels), answers a prompt
// with "echo: " + prompt, fails the prompt "fail" (Internal) and cancels the
// prompt "cancel"; embeddings are one-wide. FakeStats counts loads and
// unloads and notices calls that overlap. Thread-safe as backends are: one
// call at a time (overlaps are counted, not prevented).
#ifndef HANGAR_RUNTIME_TESTING_FAKE_BACKEND_H_
#define HANGAR_RUNTIME_TESTING_FAKE_BACKEND_H_

#include <atomic>
#include <string>
#include <vector>

#include "runtime/backend.h"

namespace hangar::runtime::testing {

// Counts what is done to it and checks that calls never overlap.
struct FakeStats {
  std::atomic<int> loads{0};
  std::atomic<int> unloads{0};
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::vector<std::string> loaded_ids;
};

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(FakeStats* stats) : stats_(stats) {}
  std::string_view name() const override { return "fake"; }
  Status Load(const ModelTarget& target, const LoadOptions& options) override {
    Enter e(stats_);
    if (options.progress && !options.progress(1.0f)) return CancelledError("load cancelled");
    if (target.id == "broken") return InvalidArgumentError("cannot load broken");
    ++stats_->loads;
    stats_->loaded_ids.push_back(target.id);
    loaded_ = LoadedModel{};
    loaded_.backend = "fake";
    loaded_.target = target;
    is_loaded_ = true;
    return Status::Ok();
  }
  void Unload() override {
    if (is_loaded_) ++stats_->unloads;
    is_loaded_ = false;
  }
  const LoadedModel* loaded() const override { return is_loaded_ ? &loaded_ : nullptr; }
  Result<Completion> Stream(const GenerateRequest& r, const TokenCallback& cb) override {
    Enter e(stats_);
    if (r.prompt == "fail") return InternalError("boom");
    if (r.prompt == "cancel") return CancelledError("stopped");
    Completion c;
    c.text = "echo: " + r.prompt;
    c.timings.prompt_tokens = 3;
    c.timings.gen_tokens = 2;
    c.timings.gen_us = 1000;
    if (cb) cb(c.text);
    return c;
  }
  Result<Completion> ChatStream(std::span<const ChatMessage> m, const GenerateRequest& r,
                                const TokenCallback& cb) override {
    GenerateRequest g = r;
    g.prompt = m.back().content;
    return Stream(g, cb);
  }
  Result<Embeddings> Embed(std::span<const std::string> texts, const EmbedOptions&) override {
    Embeddings e;
    e.vectors.assign(texts.size(), std::vector<float>{1.0f});
    return e;
  }
  Result<std::vector<int32_t>> Tokenize(std::string_view text, bool) override {
    return std::vector<int32_t>(text.size(), 7);
  }

 private:
  struct Enter {
    explicit Enter(FakeStats* s) : s(s) {
      if (++s->inside > 1) ++s->overlaps;
    }
    ~Enter() { --s->inside; }
    FakeStats* s;
  };
  FakeStats* stats_;
  LoadedModel loaded_;
  bool is_loaded_ = false;
};

}  // namespace hangar::runtime::testing

#endif  // HANGAR_RUNTIME_TESTING_FAKE_BACKEND_H_
