// The use cases in process, without a subprocess: a private HOME, the
// hardware fixture folder, a FakeHttpClient for the network and a fake
// backend registry for running models.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "app/app.h"
#include "app/test_util.h"
#include "core/file_util.h"
#include "core/sha256.h"
#include "core/status_matchers.h"
#include "fetch/curl_http_client.h"
#include "fetch/testing/fake_http_client.h"
#include "fetch/testing/test_http_server.h"
#include "fit/test_models.h"
#include "runtime/testing/fake_backend.h"

namespace hangar::app {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class AppOpsTest : public ::testing::Test {
 protected:
  AppOpsTest() {
    registry_.Register("llama", "fake", [this](const runtime::BackendContext&) {
      return Result<std::unique_ptr<runtime::Backend>>(
          std::make_unique<runtime::testing::FakeBackend>(&backend_));
    });
  }
  App MakeApp() {
    Deps deps;
    auto env = std::make_shared<MapEnvironment>();
    env->Set("HOME", home_.path().string());
    deps.env = env;
    deps.clock = &clock_;
    deps.hardware_root = hardware_root_;
    deps.http = http_;
    deps.backends = &registry_;
    return App(std::move(deps));
  }
  // A real (tiny) GGUF model copied into the home.
  fs::path Model(const std::string& name) {
    const fs::path p = home_.path() / "models" / name;
    fs::create_directories(p.parent_path());
    fs::copy_file(fit::testing::TinyModel("llama"), p, fs::copy_options::overwrite_existing);
    return p;
  }

  app_test::TempHome home_;
  fs::path hardware_root_ = fs::path(HANGAR_SOURCE_DIR) / "tests/fixtures/hw/workstation";
  FakeClock clock_;
  std::shared_ptr<testing::FakeHttpClient> fake_ = std::make_shared<testing::FakeHttpClient>();
  std::shared_ptr<HttpClient> http_ = fake_;  // the fake unless a test needs real sockets
  runtime::BackendRegistry registry_;
  runtime::testing::FakeStats backend_;
};

TEST_F(AppOpsTest, ImportResolveAndRemove) {
  App app = MakeApp();
  const fs::path file = Model("Tiny-Llama-Q8_0.gguf");
  Result<store::InstalledModel> m = app.store().Import(file, ImportMode::kLink);
  ASSERT_OK(m.status());
  const std::string id = EntryIdOf(*m);
  EXPECT_EQ(id, "tiny-llama-q8_0");
  // Every reference to it resolves to the installed model.
  for (std::string ref : {id, file.string(), "file://" + file.string(), m->id}) {
    Result<Resolution> r = app.core().Resolve(ref);
    ASSERT_OK(r.status()) << ref;
    EXPECT_EQ(r->kind, TargetKind::kInstalled) << ref;
  }
  EXPECT_THAT(app.store().Import(file, ImportMode::kLink), StatusIs(StatusCode::kAlreadyExists));
  // The default model needs --force.
  ASSERT_OK(app.models().SetDefaultModel(id).status());
  EXPECT_THAT(app.store().Remove(id, false), StatusIs(StatusCode::kFailedPrecondition));
  ASSERT_OK(app.store().Remove(id, true).status());
  EXPECT_TRUE(fs::exists(file)) << "a model found in place is never deleted";
  EXPECT_THAT(app.store().FindInstalled(id), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(app.core().Resolve(file.string())->kind, TargetKind::kLocalFile);
}

TEST_F(AppOpsTest, ImportAsAJobCopiesIntoTheStore) {
  App app = MakeApp();
  const fs::path file = Model("copy-me.gguf");
  const std::string job = app.store().StartImport(file, ImportMode::kCopy);
  Result<JobInfo> done = app.jobs().Wait(job);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kSucceeded) << done->status.message();
  EXPECT_EQ(done->kind, "import");
  EXPECT_THAT(done->result, HasSubstr("copy-me"));
  std::vector<store::InstalledModel> installed = *app.store().Installed();
  ASSERT_EQ(installed.size(), 1u);
  EXPECT_TRUE(installed[0].managed);
  EXPECT_EQ(installed[0].digest, *Sha256File(file));
}

TEST_F(AppOpsTest, PullFromAUrlOnTheFakeClientAndAsAJob) {
  const std::string body = *ReadFile(fit::testing::TinyModel("llama"));
  const std::string sha = *Sha256File(fit::testing::TinyModel("llama"));
  fake_->SetBody("https://models.example/tiny.gguf", body, "application/octet-stream");
  App app = MakeApp();
  PullQuery q;
  q.ref = "https://models.example/tiny.gguf";
  q.options.sha256 = sha;
  std::vector<std::string> lines;
  PullCallbacks cb;
  cb.status = [&](const std::string& line) { lines.push_back(line); };
  Result<PullReport> r = app.pulls().Pull(q, cb);
  ASSERT_OK(r.status());
  EXPECT_EQ(r->model.digest, sha);
  EXPECT_EQ(*ReadFile(r->model.primary_path), body);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.front(), HasSubstr("resolving"));
  // The fit was checked from the remote header before downloading.
  EXPECT_TRUE(r->fit.has_value()) << r->fit_note;
  // Installed now: the same reference resolves locally, a second pull is a no-op job.
  EXPECT_EQ(app.core().Resolve(q.ref)->kind, TargetKind::kInstalled);
  const std::string job = app.pulls().StartPull(q);
  Result<JobInfo> done = app.jobs().Wait(job);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kSucceeded) << done->status.message();
  ASSERT_TRUE(done->last.has_value());
  EXPECT_GE(done->last->seq, 1u);
}

TEST_F(AppOpsTest, PullErrorsComeFromTheFakeNetwork) {
  App app = MakeApp();
  PullQuery q;
  q.ref = "https://models.example/missing.gguf";
  EXPECT_THAT(app.pulls().Pull(q, {}), StatusIs(StatusCode::kNotFound));
  // Refused credentials are not retried: the job fails at once with them.
  fake_->FailNext(FailedPreconditionError("401 Unauthorized"), 100);
  q.ref = "https://models.example/other.gguf";
  const std::string job = app.pulls().StartPull(q);
  Result<JobInfo> done = app.jobs().Wait(job);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kFailed);
  EXPECT_EQ(done->status.code(), StatusCode::kFailedPrecondition);
  // Local files are imported, not pulled.
  q.ref = Model("local.gguf").string();
  EXPECT_THAT(app.pulls().Pull(q, {}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(AppOpsTest, APullJobCanBeCancelledAndKeepsItsPartial) {
  // A slow server on 127.0.0.1 (the fake client answers at once).
  testing::TestHttpServer server;
  std::string body(8 << 20, 'x');
  testing::FileOptions slow;
  slow.bytes_per_second = 512 << 10;
  server.AddFile("/slow.gguf", body, slow);
  http_ = std::make_shared<CurlHttpClient>();
  App app = MakeApp();
  PullQuery q;
  q.ref = server.Url("/slow.gguf");
  q.skip_fit_check = true;
  q.connections = 1;
  q.options.download.connections = 1;
  std::mutex mu;
  std::condition_variable cv;
  uint64_t received = 0;
  const uint64_t token = app.jobs().Subscribe([&](const JobInfo&, const JobEvent* e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e != nullptr && e->completed > received) received = e->completed;
    cv.notify_all();
  });
  const std::string id = app.pulls().StartPull(q);
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return received > 0; }));
  }
  EXPECT_EQ(app.jobs().Get(id)->state, JobState::kRunning);
  ASSERT_EQ(app.jobs().List().size(), 1u);
  ASSERT_OK(app.jobs().Cancel(id));
  Result<JobInfo> done = app.jobs().Wait(id);
  app.jobs().Unsubscribe(token);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kCancelled) << done->status.message();
  EXPECT_TRUE(app.store().Installed()->empty());
  // The partial stays for a resume.
  bool partial = false;
  for (const auto& e : fs::recursive_directory_iterator(home_.path() / ".local/share/hangar")) {
    partial = partial || e.path().filename().string().find("partial") != std::string::npos;
  }
  EXPECT_TRUE(partial);
}

// Downloads: pause keeps the partial, a process that stops leaves the
// download to be resumed by the next, cancel removes the partial.
TEST_F(AppOpsTest, DownloadsPauseResumeSurviveARestartAndCancel) {
  testing::TestHttpServer server;
  std::string body = *ReadFile(fit::testing::TinyModel("llama"));
  body.resize(body.size() + (2 << 20), '\0');  // trailing bytes the GGUF reader never reads
  testing::FileOptions slow;
  slow.bytes_per_second = 2 << 20;
  server.AddFile("/slow.gguf", body, slow);
  server.AddFile("/other.gguf", body, slow);
  http_ = std::make_shared<CurlHttpClient>();
  const std::string url = server.Url("/slow.gguf");
  auto progressed = [](App& app, const std::string& job) {
    for (int i = 0; i < 600; ++i) {
      Result<JobInfo> j = app.jobs().Get(job);
      if (j.ok() && j->last && j->last->completed > 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  auto partials = [this] {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(home_.path())) {
      n += e.path().filename().string().find("partial") != std::string::npos ||
           e.path().extension() == ".incomplete";
    }
    return n;
  };
  {
    App app = MakeApp();
    Result<Download> d = app.downloads().Start(url);
    ASSERT_OK(d.status());
    EXPECT_EQ(d->state, "running");
    ASSERT_TRUE(progressed(app, d->job));
    Result<Download> paused = app.downloads().Pause(d->id);
    ASSERT_OK(paused.status());
    EXPECT_EQ(paused->state, "paused");
    EXPECT_EQ(app.jobs().Get(d->job)->state, JobState::kCancelled);
    EXPECT_GT(partials(), 0u);
    EXPECT_THAT(app.downloads().Pause(d->id), StatusIs(StatusCode::kFailedPrecondition));
    // Starting the same model again resumes it rather than adding a second one.
    Result<Download> again = app.downloads().Start(url);
    ASSERT_OK(again.status());
    EXPECT_EQ(again->id, d->id);
    EXPECT_EQ(again->state, "running");
    ASSERT_TRUE(progressed(app, again->job));
    EXPECT_EQ(app.downloads().List()->size(), 1u);
  }  // the process ends with the download unfinished
  {
    App app = MakeApp();
    Result<std::vector<Download>> list = app.downloads().List();
    ASSERT_OK(list.status());
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].state, "running");
    EXPECT_EQ(*app.downloads().ResumeInterrupted(), 1u);
    const std::string job = app.downloads().List()->at(0).job;
    ASSERT_FALSE(job.empty());
    Result<JobInfo> done = app.jobs().Wait(job);
    ASSERT_OK(done.status());
    EXPECT_EQ(done->state, JobState::kSucceeded) << done->status.message();
    EXPECT_TRUE(app.downloads().List()->empty());
    EXPECT_EQ(app.store().Installed()->size(), 1u);
    EXPECT_EQ(partials(), 0u);

    // Cancel: the job stops and its partial files go.
    Result<Download> other = app.downloads().Start(server.Url("/other.gguf"));
    ASSERT_OK(other.status());
    ASSERT_TRUE(progressed(app, other->job));
    EXPECT_GT(partials(), 0u);
    ASSERT_OK(app.downloads().Cancel(other->id));
    EXPECT_EQ(partials(), 0u);
    EXPECT_TRUE(app.downloads().List()->empty());
    EXPECT_THAT(app.downloads().Cancel(other->id), StatusIs(StatusCode::kNotFound));
  }
}

TEST_F(AppOpsTest, FitOfALocalFileAndOfACatalogModel) {
  App app = MakeApp();
  FitQuery local;
  local.ref = Model("fit-me.gguf").string();
  local.probe = false;
  Result<FitReport> r = app.fit().Fit(local);
  ASSERT_OK(r.status());
  EXPECT_EQ(r->model, "fit-me.gguf");
  EXPECT_TRUE(r->requested.fits);
  EXPECT_GT(r->requested.memory.HostTotal() + r->requested.memory.GpuTotal(), 0u);
  FitQuery catalog;
  catalog.ref = "qwen2.5-coder-7b-q5";
  r = app.fit().Fit(catalog);
  ASSERT_OK(r.status());
  EXPECT_TRUE(r->file.empty());
  EXPECT_GT(r->requested.memory.HostTotal() + r->requested.memory.GpuTotal(), 5'000'000'000u);
  catalog.ref = "no-such-model";
  EXPECT_THAT(app.fit().Fit(catalog), StatusIs(StatusCode::kNotFound));
}

TEST_F(AppOpsTest, PlanRunAndASessionOnTheFakeBackend) {
  App app = MakeApp();
  const fs::path file = Model("runner.gguf");
  ASSERT_OK(app.store().Import(file, ImportMode::kLink).status());
  RunQuery q;
  q.model = "runner";
  q.sampling.temperature = 0.0;
  Result<RunPlan> plan = app.runs().PlanRun(q);
  ASSERT_OK(plan.status());
  EXPECT_EQ(plan->spec.target.file, file);
  EXPECT_FALSE(plan->installed_id.empty());
  EXPECT_DOUBLE_EQ(plan->request.sampling.temperature, 0.0);
  {
    Result<std::unique_ptr<runtime::SessionManager>> session = app.runs().OpenSession(*plan);
    ASSERT_OK(session.status());
    runtime::GenerateRequest g = plan->request;
    g.prompt = "hello";
    Result<runtime::Completion> c = (*session)->Generate(g);
    ASSERT_OK(c.status());
    EXPECT_EQ(c->text, "echo: hello");
  }
  EXPECT_EQ(backend_.loads.load(), 1);
  EXPECT_EQ(backend_.overlaps.load(), 0);
  // The use was recorded.
  Result<std::vector<runtime::ModelStats>> stats = app.usage().Stats("runner");
  ASSERT_OK(stats.status());
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].uses, 1);
  // Not installed, unknown: NotFound naming the pull.
  q.model = "qwen2.5-coder-7b-q5";
  EXPECT_THAT(app.runs().PlanRun(q), StatusHasMessage(HasSubstr("hangar pull")));
  q.model = "/nowhere/x.gguf";
  EXPECT_THAT(app.runs().PlanRun(q), StatusIs(StatusCode::kNotFound));
}

TEST_F(AppOpsTest, TheGpuPreferenceOffPlansRunsWithoutTheGpu) {
  hardware_root_ = fs::path(HANGAR_SOURCE_DIR) / "tests/fixtures/hw/amd";  // a 24 GB Radeon
  App app = MakeApp();
  ASSERT_OK(app.store().Import(Model("gpu.gguf"), ImportMode::kLink).status());
  RunQuery q;
  q.model = "gpu";
  Result<RunPlan> plan = app.runs().PlanRun(q);
  ASSERT_OK(plan.status());
  EXPECT_NE(plan->settings.n_gpu_layers, 0);  // the tiny model goes to the GPU
  auto gpu = [&app] {
    const nlohmann::json shown = app.settings().Settings().value();
    for (const nlohmann::json& s : shown["settings"]) {
      if (s["key"] == "runtime.gpu") return s["value"].get<std::string>();
    }
    return std::string("missing");
  };
  EXPECT_EQ(gpu(), "auto");
  ASSERT_OK(app.settings().Change({{"runtime.gpu", "off"}}).status());
  plan = app.runs().PlanRun(q);
  ASSERT_OK(plan.status());
  EXPECT_EQ(plan->settings.n_gpu_layers, 0);
  // A bad value is refused and changes nothing.
  EXPECT_THAT(app.settings().Change({{"runtime.gpu", "sometimes"}}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(gpu(), "off");
}

TEST_F(AppOpsTest, LoadIsAJobThatCanBeCancelled) {
  App app = MakeApp();
  RunQuery q;
  q.model = Model("load-me.gguf").string();
  RunPlan plan = *app.runs().PlanRun(q);
  Result<RunOps::LoadJob> job = app.runs().StartLoad(plan);
  ASSERT_OK(job.status());
  Result<JobInfo> done = app.jobs().Wait(job->id);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kSucceeded) << done->status.message();
  EXPECT_TRUE(job->session->loaded().has_value());
  EXPECT_EQ(app.jobs().Cancel(job->id).code(), StatusCode::kFailedPrecondition);
}

TEST_F(AppOpsTest, BenchIsAJobThatRecordsTheBaseline) {
  App app = MakeApp();
  BenchQuery q;
  q.run.model = Model("bench-me.gguf").string();
  q.request.n_prompt = 8;
  q.request.n_gen = 4;
  q.request.repetitions = 1;
  const std::string id = app.runs().StartBench(q);
  Result<JobInfo> done = app.jobs().Wait(id);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kSucceeded) << done->status.message();
  EXPECT_EQ(done->kind, "bench");
  EXPECT_THAT(done->result, HasSubstr("tokens/s"));
  Result<std::vector<runtime::ModelStats>> stats = app.usage().Stats("bench-me.gguf");
  ASSERT_OK(stats.status());
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_TRUE((*stats)[0].baseline_gen_tokens_per_second.has_value());
}

TEST_F(AppOpsTest, UseAndCurrentRoundTrip) {
  App app = MakeApp();
  EXPECT_EQ(*app.runs().Current(), std::nullopt);
  const fs::path file = Model("current.gguf");
  Result<runtime::CurrentModel> c = app.runs().Use(file.string(), "");
  ASSERT_OK(c.status());
  EXPECT_EQ(c->model, file.string());
  EXPECT_EQ((*app.runs().Current())->model, file.string());
  RunQuery none;  // no model: the current one
  EXPECT_EQ(app.runs().PlanRun(none)->spec.target.file, file);
}

}  // namespace
}  // namespace hangar::app
