#include "llamacpp/log_capture.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "llama.h"
#include "llamacpp/handles.h"

namespace hangar::llamacpp {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// The callback llama.cpp calls now: the real path of every llama.cpp line.
ggml_log_callback Installed() {
  InstallLog();
  ggml_log_callback cb = nullptr;
  void* data = nullptr;
  llama_log_get(&cb, &data);
  return cb;
}

// Logs `line` through `cb` the way llama.cpp does: a first piece at `level`,
// the rest as CONT pieces, the last ending in a newline.
void LogInPieces(ggml_log_callback cb, ggml_log_level level, const std::string& line) {
  const size_t half = line.size() / 2;
  cb(level, line.substr(0, half).c_str(), nullptr);
  cb(GGML_LOG_LEVEL_CONT, line.substr(half).c_str(), nullptr);
  cb(GGML_LOG_LEVEL_CONT, "\n", nullptr);
}

TEST(LogCaptureTest, InstallsForwardLogAsLlamaCppsCallback) {
  EXPECT_EQ(Installed(), &ForwardLog);
  InstallLog();  // again: nothing changes
  EXPECT_EQ(Installed(), &ForwardLog);
}

TEST(LogCaptureTest, CollectsErrorLinesAndOutOfMemoryWarnings) {
  ggml_log_callback cb = Installed();
  LogCapture capture;
  EXPECT_EQ(capture.Reason(), "no reason given");
  LogInPieces(cb, GGML_LOG_LEVEL_INFO, "llama_model_loader: loaded meta data");
  EXPECT_EQ(capture.errors(), "");
  LogInPieces(cb, GGML_LOG_LEVEL_WARN,
              "ggml_backend_cpu_buffer_type_alloc_buffer: failed to "
              "allocate buffer of size 1073741824");
  EXPECT_TRUE(capture.out_of_memory());
  EXPECT_EQ(capture.errors(), "") << "a warning is no error line";
  LogInPieces(cb, GGML_LOG_LEVEL_ERROR, "llama_init_from_model: first reason  ");
  LogInPieces(cb, GGML_LOG_LEVEL_ERROR, "second reason");
  EXPECT_EQ(capture.errors(), "llama_init_from_model: first reason; second reason");
  EXPECT_EQ(capture.Reason(), capture.errors());
}

TEST(LogCaptureTest, ErrorLinesStopGrowingAfterAFewKilobytes) {
  ggml_log_callback cb = Installed();
  LogCapture capture;
  for (int i = 0; i < 1000; ++i) LogInPieces(cb, GGML_LOG_LEVEL_ERROR, "an error line");
  EXPECT_GT(capture.errors().size(), 4096u);
  EXPECT_LT(capture.errors().size(), 4096u + 64);
}

TEST(LogCaptureTest, AnUnfinishedLineEndsWithItsCapture) {
  ggml_log_callback cb = Installed();
  LogCapture capture;
  {
    LogCapture inner;
    cb(GGML_LOG_LEVEL_ERROR, "no newline yet", nullptr);
  }
  EXPECT_EQ(capture.errors(), "") << "the line went to the inner capture";
  cb(GGML_LOG_LEVEL_ERROR, "begun in the outer capture", nullptr);
  {
    LogCapture inner;
    EXPECT_EQ(inner.errors(), "");
  }
  EXPECT_EQ(capture.errors(), "begun in the outer capture");
}

TEST(LogCaptureTest, TheInnermostCaptureOfTheThreadGetsTheLine) {
  ggml_log_callback cb = Installed();
  LogCapture outer;
  {
    LogCapture inner;
    LogInPieces(cb, GGML_LOG_LEVEL_ERROR, "inner error");
    EXPECT_EQ(inner.errors(), "inner error");
  }
  EXPECT_EQ(outer.errors(), "");
  LogInPieces(cb, GGML_LOG_LEVEL_ERROR, "outer error");
  EXPECT_EQ(outer.errors(), "outer error");
}

TEST(LogCaptureTest, TheObserverSeesEveryLevelTrimmed) {
  ggml_log_callback cb = Installed();
  std::vector<std::pair<ggml_log_level, std::string>> seen;
  LogCapture capture(
      [&](ggml_log_level level, std::string_view line) { seen.emplace_back(level, line); });
  LogInPieces(cb, GGML_LOG_LEVEL_DEBUG, "debug line");
  LogInPieces(cb, GGML_LOG_LEVEL_INFO, "Flash Attention enabled ");
  LogInPieces(cb, GGML_LOG_LEVEL_ERROR, "error line");
  cb(GGML_LOG_LEVEL_INFO, "\n", nullptr);  // an empty line is dropped
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(GGML_LOG_LEVEL_DEBUG, std::string("debug line")));
  EXPECT_EQ(seen[1], std::make_pair(GGML_LOG_LEVEL_INFO, std::string("Flash Attention enabled")));
  EXPECT_EQ(seen[2], std::make_pair(GGML_LOG_LEVEL_ERROR, std::string("error line")));
  EXPECT_EQ(capture.errors(), "error line");
}

TEST(LogCaptureTest, LinesOfAThreadWithoutACaptureReachNoCapture) {
  ggml_log_callback cb = Installed();
  LogCapture capture;
  std::thread other([cb] {
    LogInPieces(cb, GGML_LOG_LEVEL_ERROR, "a worker's error: out of memory");
    cb(GGML_LOG_LEVEL_ERROR, "and a worker's unfinished line", nullptr);
  });
  other.join();
  EXPECT_EQ(capture.errors(), "");
  EXPECT_FALSE(capture.out_of_memory());
}

// Two threads log through the installed callback at once, in pieces, each
// holding its own capture: every line reaches its own thread's capture and
// no other, and only the thread that reported running out of memory says so.
TEST(LogCaptureTest, TwoThreadsEachSeeOnlyTheirOwnLines) {
  ggml_log_callback cb = Installed();
  constexpr int kLines = 5000;
  struct Seen {
    int own = 0;
    int foreign = 0;
    bool out_of_memory = false;
    std::string first_errors;
  };
  Seen seen[2];
  std::latch start(2);
  auto run = [&](int me) {
    const std::string tag = me == 0 ? "[thread A]" : "[thread B]";
    const std::string other = me == 0 ? "[thread B]" : "[thread A]";
    LogCapture capture([&](ggml_log_level, std::string_view line) {
      const bool own =
          line.find(tag) != std::string_view::npos && line.find(other) == std::string_view::npos;
      ++(own ? seen[me].own : seen[me].foreign);
    });
    start.arrive_and_wait();
    for (int i = 0; i < kLines; ++i) {
      if (me == 1 && i % 10 == 0) {
        LogInPieces(cb, GGML_LOG_LEVEL_ERROR,
                    tag + " ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer");
      } else {
        LogInPieces(cb, i % 2 ? GGML_LOG_LEVEL_ERROR : GGML_LOG_LEVEL_INFO,
                    tag + " line " + std::to_string(i));
      }
    }
    seen[me].out_of_memory = capture.out_of_memory();
    seen[me].first_errors = capture.errors();
  };
  std::thread a(run, 0);
  std::thread b(run, 1);
  a.join();
  b.join();
  for (int me = 0; me < 2; ++me) {
    EXPECT_EQ(seen[me].own, kLines) << "thread " << me;
    EXPECT_EQ(seen[me].foreign, 0) << "thread " << me;
  }
  EXPECT_FALSE(seen[0].out_of_memory);
  EXPECT_TRUE(seen[1].out_of_memory);
  EXPECT_THAT(seen[0].first_errors, AllOf(HasSubstr("[thread A]"), Not(HasSubstr("[thread B]"))));
  EXPECT_THAT(seen[1].first_errors, AllOf(HasSubstr("[thread B]"), Not(HasSubstr("[thread A]"))));
}

// Real llama.cpp errors: threads load files that are not models, at once and
// many times; each capture holds the errors of its own thread's file only.
TEST(LogCaptureTest, ConcurrentFailedLoadsReportOnlyTheirOwnFile) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 500;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("hangar-llamacpp-log-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> files;
  for (int t = 0; t < kThreads; ++t) {
    // Even threads: garbage with a magic of their own; odd: a missing file.
    files.push_back(dir / ("not-a-model-" + std::to_string(t) + ".gguf"));
    if (t % 2 == 0) std::ofstream(files.back()) << "JK0" << t << std::string(1000, 'x');
  }
  std::vector<std::vector<std::string>> wrong(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int r = 0; r < kRounds; ++r) {
        LogCapture capture;
        llama_model_params params = llama_model_default_params();
        ModelPtr model = LoadModel(files[t], params);
        std::string errors = capture.errors();
        bool ok =
            model == nullptr && errors.find(files[t].filename().string()) != std::string::npos;
        if (t % 2 == 0) {
          ok = ok && errors.find("'JK0" + std::to_string(t) + "'") != std::string::npos;
        }
        for (int u = 0; u < kThreads; ++u) {
          if (u != t && errors.find(files[u].filename().string()) != std::string::npos) ok = false;
        }
        if (errors.find("'JK0") != errors.rfind("'JK0")) ok = false;
        if (!ok) wrong[t].push_back(errors);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_THAT(wrong[t], ::testing::IsEmpty()) << "thread " << t << " (" << files[t] << ")";
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST(IsOutOfMemoryLineTest, RecognisesAllocationFailures) {
  struct Case {
    const char* line;
    bool oom;
  };
  const Case cases[] = {
      {"ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 1073741824",
       true},
      {"ggml_cuda_host_malloc: failed to allocate 512.00 MiB of pinned memory: out of memory",
       true},
      {"CUDA error: out of memory", true},
      {"llama_init_from_model: failed to initialize the context: failed to allocate compute "
       "buffers",
       true},
      {"llama_kv_cache: Failed To Reserve the cache", true},
      {"llama_model_load: error loading model: tensor 'blk.0.attn_q.weight' data is not within "
       "the file bounds",
       false},
      {"unknown model architecture: 'mamba9'", false},
  };
  for (const Case& c : cases) EXPECT_EQ(IsOutOfMemoryLine(c.line), c.oom) << c.line;
}

}  // namespace
}  // namespace hangar::llamacpp
