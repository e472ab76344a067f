// fit's probe and the runtime's llama backend on several threads at once,
// some of them failing on purpose: each failure carries its own reason and
// no other thread's, because llama.cpp's log reaches only the capture of the
// thread that logged it (log_capture.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/units.h"
#include "fit/probe.h"
#include "fit/test_models.h"
#include "runtime/llama_backend.h"

namespace hangar::llamacpp {
namespace {

// What llama.cpp says about each forced failure.
constexpr const char* kTruncatedReason = "not within the file bounds";
constexpr const char* kMissingTensorReason = "tensor 'blk.1.attn_q.weight' not found";
constexpr const char* kGarbageReason = "invalid magic characters: 'JUNK'";
constexpr const char* kRefusedReason = "quantized V cache requires flash_attn";
constexpr const char* kOutOfMemoryReason = "failed to allocate";
constexpr const char* kReasons[] = {kTruncatedReason, kMissingTensorReason, kGarbageReason,
                                    kRefusedReason, kOutOfMemoryReason};

// One thread's work: returns what went wrong in one round ("" when nothing).
struct Job {
  std::string name;
  std::function<std::string()> round;
};

fit::MemoryRequest ProbeRequest() {
  fit::MemoryRequest r;
  r.n_ctx = 2048;
  return r;
}

runtime::LoadOptions SmallLoad() {
  runtime::LoadOptions o;
  o.n_ctx = 512;
  o.n_batch = 512;
  o.threads = 1;
  o.warmup = false;
  return o;
}

// "" when `s` has `code` and a message with `own` reason and no other.
std::string ExpectFailure(const Status& s, StatusCode code, const char* own) {
  if (s.code() != code) return "wrong code: " + s.ToString();
  const std::string& m = s.message();
  if (m.find(own) == std::string::npos) return "its own reason is missing: " + s.ToString();
  for (const char* other : kReasons) {
    if (other != own && m.find(other) != std::string::npos) {
      return "another thread's reason: " + s.ToString();
    }
  }
  return "";
}

std::string Probes(const std::filesystem::path& model) {
  Result<fit::MemoryBreakdown> b = fit::Probe(model, ProbeRequest());
  return b.ok() ? "" : "probe failed: " + b.status().ToString();
}

std::string Loads(const std::filesystem::path& model, const runtime::LoadOptions& options) {
  Result<std::unique_ptr<runtime::Backend>> backend = runtime::MakeLlamaBackend({});
  if (!backend.ok()) return backend.status().ToString();
  Status s = (*backend)->Load({.id = model.filename().string(), .file = model}, options);
  if (!s.ok()) return "load failed: " + s.ToString();
  return (*backend)->loaded()->n_ctx == options.n_ctx ? "" : "another context size";
}

std::string LoadStatus(const std::filesystem::path& model, const runtime::LoadOptions& options,
                       StatusCode code, const char* own) {
  Result<std::unique_ptr<runtime::Backend>> backend = runtime::MakeLlamaBackend({});
  if (!backend.ok()) return backend.status().ToString();
  return ExpectFailure((*backend)->Load({.id = "x", .file = model}, options), code, own);
}

// Runs every job on its own thread, `rounds` times, all starting together.
// Returns "job: what went wrong" lines.
std::vector<std::string> RunTogether(const std::vector<Job>& jobs, int rounds) {
  std::vector<std::vector<std::string>> wrong(jobs.size());
  std::latch start(static_cast<std::ptrdiff_t>(jobs.size()));
  std::vector<std::thread> threads;
  for (size_t j = 0; j < jobs.size(); ++j) {
    threads.emplace_back([&, j] {
      start.arrive_and_wait();
      for (int r = 0; r < rounds; ++r) {
        std::string w = jobs[j].round();
        if (!w.empty()) wrong[j].push_back(jobs[j].name + ": " + w);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> all;
  for (const auto& w : wrong) all.insert(all.end(), w.begin(), w.end());
  return all;
}

// The first half of `model` (its header and some of its tensors).
std::filesystem::path Truncated(const std::filesystem::path& model,
                                const std::filesystem::path& dir) {
  const std::filesystem::path out = dir / "truncated.gguf";
  std::filesystem::copy_file(model, out, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(out, std::filesystem::file_size(model) / 2);
  return out;
}

// `model` with its tensor blk.1.attn_q.weight renamed: a sound GGUF file
// (Hangar's own header checks pass) that llama.cpp cannot load.
std::filesystem::path MissingTensor(const std::filesystem::path& model,
                                    const std::filesystem::path& dir) {
  std::ifstream in(model, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = bytes.find("blk.1.attn_q.weight");
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) bytes[at + 11] = 'x';  // blk.1.attn_x.weight
  const std::filesystem::path out = dir / "missing-tensor.gguf";
  std::ofstream(out, std::ios::binary) << bytes;
  return out;
}

std::filesystem::path Garbage(const std::filesystem::path& dir) {
  const std::filesystem::path out = dir / "garbage.gguf";
  std::ofstream(out) << "JUNK" << std::string(4096, 'x');
  return out;
}

TEST(ConcurrentLoadTest, ProbesAndLoadsOnManyThreadsReportOnlyTheirOwnFailures) {
  const std::filesystem::path llama = fit::testing::TinyModel("llama");
  const std::filesystem::path qwen2 = fit::testing::TinyModel("qwen2");
  const std::filesystem::path dir = fit::testing::FreshDir("concurrent-load");
  const std::filesystem::path truncated = Truncated(llama, dir);
  const std::filesystem::path garbage = Garbage(dir);
  const std::filesystem::path missing_tensor = MissingTensor(llama, dir);
  runtime::LoadOptions refused = SmallLoad();
  refused.type_k = fit::CacheType{"q8_0"};
  refused.type_v = fit::CacheType{"q8_0"};
  refused.flash_attn = fit::FlashAttention::kOff;

  const std::vector<Job> jobs = {
      {"probe llama", [&] { return Probes(llama); }},
      {"probe qwen2", [&] { return Probes(qwen2); }},
      {"probe garbage",
       [&] {
         return ExpectFailure(fit::Probe(garbage, ProbeRequest()).status(),
                              StatusCode::kInvalidArgument, kGarbageReason);
       }},
      {"load llama", [&] { return Loads(llama, SmallLoad()); }},
      {"load qwen2", [&] { return Loads(qwen2, SmallLoad()); }},
      {"probe truncated",
       [&] {
         return ExpectFailure(fit::Probe(truncated, ProbeRequest()).status(),
                              StatusCode::kInvalidArgument, kTruncatedReason);
       }},
      {"load missing tensor",
       [&] {
         return LoadStatus(missing_tensor, SmallLoad(), StatusCode::kInvalidArgument,
                           kMissingTensorReason);
       }},
      {"load refused settings",
       [&] { return LoadStatus(llama, refused, StatusCode::kInvalidArgument, kRefusedReason); }},
  };
  EXPECT_THAT(RunTogether(jobs, 8), ::testing::IsEmpty());
}

// A real allocation failure beside other loads: in a child process whose
// address space is capped, one thread asks for a context far beyond the cap
// while others load, probe and fail for other reasons. Only that thread
// reports running out of memory.
TEST(ConcurrentLoadTest, OnlyTheLoadThatRanOutOfMemoryReportsIt) {
  const std::filesystem::path llama = fit::testing::TinyModel("llama");
  const std::filesystem::path dir = fit::testing::FreshDir("concurrent-oom");
  const std::filesystem::path garbage = Garbage(dir);
  const std::filesystem::path missing_tensor = MissingTensor(llama, dir);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(300);  // a hang ends the child, and the test fails
    // Room for what the process holds now plus 1 GiB (threads' stacks and
    // malloc arenas, the tiny model, small contexts); the 8M-token context
    // (4 GiB of KV cache) is far beyond it.
    std::ifstream status("/proc/self/status");
    std::string line;
    uint64_t vm = 0;
    while (std::getline(status, line)) {
      if (line.rfind("VmSize:", 0) == 0) vm = std::stoull(line.substr(7)) * 1024;
    }
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = vm + kGiB;
    ::setrlimit(RLIMIT_AS, &limit);
    runtime::LoadOptions huge = SmallLoad();
    huge.n_ctx = 1u << 23;
    huge.recover = false;
    const std::vector<Job> jobs = {
        {"load beyond memory",
         [&] {
           return LoadStatus(llama, huge, StatusCode::kResourceExhausted, kOutOfMemoryReason);
         }},
        {"load llama", [&] { return Loads(llama, SmallLoad()); }},
        {"probe llama", [&] { return Probes(llama); }},
        {"load missing tensor",
         [&] {
           return LoadStatus(missing_tensor, SmallLoad(), StatusCode::kInvalidArgument,
                             kMissingTensorReason);
         }},
        {"probe garbage",
         [&] {
           return ExpectFailure(fit::Probe(garbage, ProbeRequest()).status(),
                                StatusCode::kInvalidArgument, kGarbageReason);
         }},
    };
    std::string report;
    for (const std::string& w : RunTogether(jobs, 4)) report += w + "\n";
    if (report.empty()) report = "ok\n";
    ssize_t ignored = ::write(fds[1], report.data(), report.size());
    (void)ignored;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "the child ended by signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << "\n"
                                 << out;
  EXPECT_EQ(out, "ok\n");
}

}  // namespace
}  // namespace hangar::llamacpp
