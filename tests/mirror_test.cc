// End-to-end tests of `hangar serve --mirror`: a model pulled into home A
// (from the fake hub and registry of fake_hub.h) is served by A's mirror to
// `hangar pull` in home B, byte for byte; the hub's headers, ranges and
// error codes; requests that try to leave the store; and --mirror-upstream
// fetching a missing file once for eight clients at the same time.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "fake_hub.h"
#include "http_client.h"
#include "process.h"
#include "runtime/http_wire.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
namespace wire = runtime::wire;
using Json = nlohmann::json;
using testing::FakeHub;
using ::testing::HasSubstr;
using testing::ProcessResult;
using testing::TestBlob;

const std::string kRepo = "tester/Tiny-GGUF";
const std::string kCommit = std::string(40, 'c');

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Sha(std::string_view bytes) { return FakeHub::Sha256Of(bytes); }

using Reply = testing::HttpReply;

// One request to 127.0.0.1:port, `target` sent exactly as given.
Reply Http(uint16_t port, std::string method, std::string target, wire::HeaderList headers = {}) {
  return testing::HttpCall(port, std::move(method), std::move(target), "", std::move(headers));
}

// Generated models, made once per test process.
fs::path ModelFile(int seed) {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("hangar-mirror-models-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  const fs::path p = dir / ("llama-" + std::to_string(seed) + ".gguf");
  if (!fs::exists(p)) {
    ProcessResult made =
        testing::RunProcess({HANGAR_MKMODEL_BIN, "--arch", "llama", "--type", "q8_0", "--seed",
                             std::to_string(seed), "--out", p.string()},
                            {{"HOME", dir.string()}});
    EXPECT_EQ(made.exit_code, 0) << made.err;
  }
  return p;
}

// A private HOME.
struct Home {
  fs::path dir;
  std::map<std::string, std::string> Env(std::map<std::string, std::string> extra = {}) const {
    std::map<std::string, std::string> env = {{"HOME", dir.string()},
                                              {"XDG_DATA_HOME", (dir / "data").string()},
                                              {"XDG_CONFIG_HOME", (dir / "config").string()},
                                              {"XDG_CACHE_HOME", (dir / "cache").string()},
                                              {"HF_HOME", (dir / "hf").string()},
                                              {"PATH", "/usr/bin:/bin"},
                                              {"NO_COLOR", "1"}};
    for (auto& [k, v] : extra) env[k] = v;
    return env;
  }
  fs::path RepoDir() const { return dir / "hf/hub/models--tester--Tiny-GGUF"; }
  fs::path Blobs() const { return dir / "data/hangar/blobs"; }
};

// The last NDJSON line of `hangar pull --json`.
Json Last(const ProcessResult& r) {
  std::istringstream in(r.out);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return Json::parse(last.empty() ? "null" : last, nullptr, false);
}

class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-mirror-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    a_.dir = root_ / "a";
    b_.dir = root_ / "b";
    fs::create_directories(a_.dir);
    fs::create_directories(b_.dir);
    q8_ = ReadAll(ModelFile(1));
    q4_ = ReadAll(ModelFile(2));
    hub_.AddRepo(kRepo, kCommit,
                 {{"README.md", TestBlob::FromString(readme_), false},
                  {"tiny-Q4_K_M.gguf", TestBlob::FromString(q4_)},
                  {"tiny-Q8_0.gguf", TestBlob::FromString(q8_)}});
  }
  void TearDown() override {
    for (int pid : servers_) {
      ::kill(pid, SIGTERM);
      testing::WaitProcess(pid);
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  ProcessResult Hangar(const Home& home, std::vector<std::string> args,
                       std::map<std::string, std::string> extra = {}) {
    args.insert(args.begin(), HANGAR_BIN);
    return testing::RunProcess(args, home.Env(std::move(extra)));
  }
  // Pulls `ref` into `home` from the fake hub.
  void PullFromHub(const Home& home, const std::string& ref) {
    ProcessResult r =
        Hangar(home, {"pull", ref, "--json"},
               {{"HF_ENDPOINT", hub_.Endpoint()}, {"OLLAMA_REGISTRY", hub_.Endpoint()}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Starts `hangar serve --mirror --port 0 ARGS` on `home`; its port (0 on failure).
  uint16_t Serve(const Home& home, std::vector<std::string> args = {},
                 std::map<std::string, std::string> extra = {}) {
    std::vector<std::string> argv = {HANGAR_BIN, "serve", "--mirror", "--port", "0", "--quiet"};
    argv.insert(argv.end(), args.begin(), args.end());
    const fs::path out = home.dir / "serve.out";
    const int pid = testing::SpawnProcess(argv, home.Env(std::move(extra)), out.string(),
                                          (home.dir / "serve.err").string());
    servers_.push_back(pid);
    for (int i = 0; i < 500; ++i) {
      const std::string text = ReadAll(out);
      if (size_t at = text.find("listening on http://127.0.0.1:"); at != std::string::npos) {
        mirror_line_ = text.substr(text.find('\n') + 1);
        return static_cast<uint16_t>(std::stoi(text.substr(at + 30)));
      }
      if (::kill(pid, 0) != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "the mirror did not start: " << ReadAll(home.dir / "serve.err");
    return 0;
  }
  static std::string Url(uint16_t port) { return fmt::format("http://127.0.0.1:{}", port); }

  fs::path root_;
  Home a_, b_;
  FakeHub hub_;
  std::string q8_, q4_;
  const std::string readme_ = "# Tiny\nA model for tests.\n";
  std::vector<int> servers_;
  std::string mirror_line_;
};

TEST_F(MirrorTest, AHangarPullOnAnotherHomeGetsTheSameVerifiedFiles) {
  PullFromHub(a_, kRepo + ":Q8_0");
  PullFromHub(a_, "hf://" + kRepo + "/README.md");
  const uint16_t port = Serve(a_);
  ASSERT_NE(port, 0);
  EXPECT_THAT(mirror_line_, HasSubstr("mirror on"));
  EXPECT_THAT(mirror_line_, HasSubstr("HF_ENDPOINT=" + Url(port)));
  EXPECT_THAT(mirror_line_, HasSubstr("OLLAMA_REGISTRY=" + Url(port)));

  const uint64_t cdn_before = hub_.cdn().BodyBytesSent();
  ProcessResult pulled =
      Hangar(b_, {"pull", kRepo + ":Q8_0", "--json"}, {{"HF_ENDPOINT", Url(port)}});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  Json last = Last(pulled);
  EXPECT_EQ(last["status"], "success");
  EXPECT_EQ(last["checksum"], "sha256:" + Sha(q8_));
  EXPECT_EQ(hub_.cdn().BodyBytesSent(), cdn_before);  // nothing came from the hub
  // Byte-identical, in the same layout: blob, snapshot link, ref.
  const fs::path blob = b_.RepoDir() / "blobs" / Sha(q8_);
  EXPECT_EQ(Sha(ReadAll(blob)), Sha(q8_));
  EXPECT_EQ(ReadAll(blob), ReadAll(a_.RepoDir() / "blobs" / Sha(q8_)));
  EXPECT_EQ(ReadAll(b_.RepoDir() / "snapshots" / kCommit / "tiny-Q8_0.gguf"), q8_);
  EXPECT_EQ(ReadAll(b_.RepoDir() / "refs/main"), kCommit);
  // A small (git, not LFS) file too.
  pulled =
      Hangar(b_, {"pull", "hf://" + kRepo + "/README.md", "--json"}, {{"HF_ENDPOINT", Url(port)}});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_EQ(ReadAll(b_.RepoDir() / "snapshots" / kCommit / "README.md"), readme_);

  // The hub's JSON: the revision and the listing.
  Reply info = Http(port, "GET", "/api/models/" + kRepo + "/revision/main");
  ASSERT_EQ(info.status, 200) << info.body;
  const Json revision = info.json();
  EXPECT_EQ(revision["id"], kRepo);
  EXPECT_EQ(revision["sha"], kCommit);
  std::vector<std::string> names;
  for (const Json& s : revision["siblings"]) names.push_back(s["rfilename"]);
  EXPECT_THAT(names, ::testing::ElementsAre("README.md", "tiny-Q8_0.gguf"));  // what A holds
  Reply tree = Http(port, "GET", "/api/models/" + kRepo + "/tree/" + kCommit + "?recursive=true");
  ASSERT_EQ(tree.status, 200) << tree.body;
  const Json listing = tree.json();
  ASSERT_EQ(listing.size(), 2u);
  const Json& gguf = listing[1];
  EXPECT_EQ(gguf["type"], "file");
  EXPECT_EQ(gguf["path"], "tiny-Q8_0.gguf");
  EXPECT_EQ(gguf["size"], q8_.size());
  EXPECT_EQ(gguf["lfs"]["oid"], Sha(q8_));
  EXPECT_EQ(gguf["lfs"]["size"], q8_.size());
  // The oid of an LFS file is its pointer's git id.
  const std::string pointer = fmt::format(
      "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n", Sha(q8_), q8_.size());
  EXPECT_EQ(gguf["oid"], GitBlobSha1(pointer));
  EXPECT_EQ(gguf["lfs"]["pointerSize"], pointer.size());
  EXPECT_FALSE(listing[0].contains("lfs"));

  // The hub's headers on HEAD.
  Reply head = Http(port, "HEAD", "/" + kRepo + "/resolve/main/tiny-Q8_0.gguf");
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("ETag"), "\"" + Sha(q8_) + "\"");
  EXPECT_EQ(head.Header("X-Linked-Etag"), "\"" + Sha(q8_) + "\"");
  EXPECT_EQ(head.Header("X-Linked-Size"), std::to_string(q8_.size()));
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(q8_.size()));
  EXPECT_EQ(head.Header("X-Repo-Commit"), kCommit);
  EXPECT_EQ(head.Header("Accept-Ranges"), "bytes");
  Reply small = Http(port, "HEAD", "/" + kRepo + "/resolve/" + kCommit + "/README.md");
  ASSERT_EQ(small.status, 200);
  EXPECT_EQ(small.Header("ETag"),
            "\"" + Sha(readme_).substr(0, 40) + "\"");  // the fake hub's git id
  EXPECT_EQ(small.Header("X-Linked-Etag"), "");
}

TEST_F(MirrorTest, RangesAndTheHubsErrorCodes) {
  PullFromHub(a_, kRepo + ":Q8_0");
  PullFromHub(a_, "hf://" + kRepo + "/README.md");
  const uint16_t port = Serve(a_);
  ASSERT_NE(port, 0);
  const std::string file = "/" + kRepo + "/resolve/main/tiny-Q8_0.gguf";
  const uint64_t size = q8_.size();
  Reply first = Http(port, "GET", file, {{"Range", "bytes=0-0"}});
  EXPECT_EQ(first.status, 206);
  EXPECT_EQ(first.body, q8_.substr(0, 1));
  EXPECT_EQ(first.Header("Content-Range"), fmt::format("bytes 0-0/{}", size));
  Reply middle = Http(port, "GET", file, {{"Range", "bytes=1000-1999"}});
  EXPECT_EQ(middle.status, 206);
  EXPECT_EQ(middle.body, q8_.substr(1000, 1000));
  Reply tail = Http(port, "GET", file, {{"Range", "bytes=-5"}});
  EXPECT_EQ(tail.body, q8_.substr(size - 5));
  Reply from = Http(port, "GET", file, {{"Range", fmt::format("bytes={}-", size - 10)}});
  EXPECT_EQ(from.body, q8_.substr(size - 10));
  Reply past = Http(port, "GET", file, {{"Range", fmt::format("bytes={}-", size)}});
  EXPECT_EQ(past.status, 416);
  EXPECT_EQ(past.Header("Content-Range"), fmt::format("bytes */{}", size));
  Reply whole = Http(port, "GET", file);
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(Sha(whole.body), Sha(q8_));

  Reply no_repo = Http(port, "GET", "/tester/Nothing/resolve/main/x.gguf");
  EXPECT_EQ(no_repo.status, 404);
  EXPECT_EQ(no_repo.Header("X-Error-Code"), "RepoNotFound");
  Reply no_rev = Http(port, "GET", "/" + kRepo + "/resolve/v2/tiny-Q8_0.gguf");
  EXPECT_EQ(no_rev.status, 404);
  EXPECT_EQ(no_rev.Header("X-Error-Code"), "RevisionNotFound");
  // On the hub but never pulled into A: not here.
  Reply no_entry = Http(port, "HEAD", "/" + kRepo + "/resolve/main/tiny-Q4_K_M.gguf");
  EXPECT_EQ(no_entry.status, 404);
  EXPECT_EQ(no_entry.Header("X-Error-Code"), "EntryNotFound");
  EXPECT_EQ(Http(port, "GET", "/api/models/tester/Nothing/tree/main").Header("X-Error-Code"),
            "RepoNotFound");
  EXPECT_EQ(Http(port, "GET", "/api/models/" + kRepo + "/revision/v9").Header("X-Error-Code"),
            "RevisionNotFound");
  // paths-info, as huggingface_hub asks it (a form) and as the npm client
  // does (JSON): the files asked for that the revision has, in that order.
  const std::string info = "/api/models/" + kRepo + "/paths-info/main";
  Reply form = testing::HttpCall(
      port, "POST", info, "paths=tiny-Q8_0.gguf&paths=tiny-Q4_K_M.gguf&paths=README.md&expand=True",
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(form.status, 200) << form.body;
  const Json entries = Json::parse(form.body);
  ASSERT_EQ(entries.size(), 2u) << form.body;
  EXPECT_EQ(entries[0]["path"], "tiny-Q8_0.gguf");
  EXPECT_EQ(entries[0]["size"], size);
  EXPECT_EQ(entries[0]["lfs"]["oid"], Sha(q8_));
  EXPECT_EQ(entries[1]["path"], "README.md");
  Reply json = testing::HttpCall(port, "POST", info, R"({"paths": ["/tiny-Q8_0.gguf"]})");
  EXPECT_EQ(Json::parse(json.body), Json::array({entries[0]}));
  EXPECT_EQ(testing::HttpCall(port, "POST", info, "{not json").status, 400);
  EXPECT_EQ(testing::HttpCall(port, "POST", "/api/models/tester/Nothing/paths-info/main",
                              R"({"paths": ["a"]})")
                .Header("X-Error-Code"),
            "RepoNotFound");
  Reply get_info = Http(port, "GET", info);
  EXPECT_EQ(get_info.status, 405);
  EXPECT_EQ(get_info.Header("Allow"), "POST");
  EXPECT_EQ(testing::HttpCall(port, "POST", "/api/models/" + kRepo + "/tree/main", "{}").status,
            405);
  // Without --mirror none of these routes exist.
  ::kill(servers_.back(), SIGTERM);
  testing::WaitProcess(servers_.back());
  servers_.pop_back();
  std::vector<std::string> argv = {HANGAR_BIN, "serve", "--port", "0", "--quiet"};
  const fs::path out = a_.dir / "plain.out";
  servers_.push_back(testing::SpawnProcess(argv, a_.Env(), out.string(), ""));
  uint16_t plain = 0;
  for (int i = 0; i < 500 && plain == 0; ++i) {
    const std::string text = ReadAll(out);
    if (size_t at = text.find("127.0.0.1:"); at != std::string::npos) {
      plain = static_cast<uint16_t>(std::stoi(text.substr(at + 10)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_NE(plain, 0);
  EXPECT_EQ(Http(plain, "GET", file).status, 404);
}

TEST_F(MirrorTest, NothingOutsideTheRecordedFilesIsServed) {
  PullFromHub(a_, kRepo + ":Q8_0");
  PullFromHub(a_, "hf://" + kRepo + "/README.md");
  const std::string secret = "secret bytes outside the store\n";
  const fs::path secret_file = root_ / "secret.txt";
  std::ofstream(secret_file) << secret;
  // A link planted in the snapshot, to a file outside the store.
  fs::create_symlink(secret_file, a_.RepoDir() / "snapshots" / kCommit / "evil.txt");
  // A recorded blob replaced by a link to it.
  const std::string readme_id = Sha(readme_).substr(0, 40);
  fs::remove(a_.RepoDir() / "blobs" / readme_id);
  fs::create_symlink(secret_file, a_.RepoDir() / "blobs" / readme_id);
  // A repository another tool put in the cache (not recorded by Hangar).
  const fs::path other = a_.dir / "hf/hub/models--other--Repo";
  fs::create_directories(other / "snapshots" / kCommit);
  fs::create_directories(other / "blobs");
  fs::create_directories(other / "refs");
  std::ofstream(other / "refs/main") << kCommit;
  std::ofstream(other / "blobs" / std::string(40, 'b')) << secret;
  fs::create_symlink("../../blobs/" + std::string(40, 'b'),
                     other / "snapshots" / kCommit / "notes.txt");
  const uint16_t port = Serve(a_);
  ASSERT_NE(port, 0);

  for (const std::string& target : std::vector<std::string>{
           "/" + kRepo + "/resolve/main/evil.txt", "/" + kRepo + "/resolve/main/README.md",
           "/other/Repo/resolve/main/notes.txt",
           "/" + kRepo + "/resolve/main/../../../../etc/passwd",
           "/" + kRepo + "/resolve/main/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
           "/" + kRepo + "/resolve/..%2F..%2F..%2F/tiny-Q8_0.gguf",
           "/" + kRepo + "/resolve/main/..%2Fsnapshots%2F" + kCommit + "%2FREADME.md",
           std::string("/tester/..%2F..%2F..%2Ftmp/resolve/main/secret.txt"),
           std::string("/api/models/tester/..%2F..%2F/tree/main"),
           std::string("/v2/library/..%2F..%2F..%2Fetc/manifests/latest"),
           std::string("/v2/library/tiny/blobs/sha256:..%2F..%2Fsecret"),
           std::string("/v2/library/tiny/blobs/sha256:") + std::string(64, 'a')}) {
    Reply r = Http(port, "GET", target);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << target << " answered " << r.status;
    EXPECT_EQ(r.body.find("secret bytes"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
  EXPECT_EQ(Http(port, "GET", "/other/Repo/resolve/main/notes.txt").Header("X-Error-Code"),
            "RepoNotFound");
  EXPECT_EQ(Http(port, "GET", "/" + kRepo + "/resolve/main/evil.txt").Header("X-Error-Code"),
            "EntryNotFound");
  // What A recorded is still served.
  EXPECT_EQ(Sha(Http(port, "GET", "/" + kRepo + "/resolve/main/tiny-Q8_0.gguf").body), Sha(q8_));
}

TEST_F(MirrorTest, AnOllamaModelPulledThroughTheMirror) {
  const std::string tmpl = "{{ .System }} {{ .Prompt }}";
  const std::string params = R"({"temperature":0.6})";
  const std::string digest = hub_.AddOllamaModel("library", "tiny", "q8",
                                                 {{"application/vnd.ollama.image.model", q8_},
                                                  {"application/vnd.ollama.image.template", tmpl},
                                                  {"application/vnd.ollama.image.params", params}});
  PullFromHub(a_, "ollama://tiny:q8");
  const uint16_t port = Serve(a_);
  ASSERT_NE(port, 0);
  Reply manifest = Http(port, "GET", "/v2/library/tiny/manifests/q8");
  ASSERT_EQ(manifest.status, 200) << manifest.body;
  EXPECT_EQ(manifest.Header("Docker-Content-Digest"), "sha256:" + digest);
  EXPECT_EQ(manifest.Header("Content-Type"),
            "application/vnd.docker.distribution.manifest.v2+json");
  EXPECT_EQ(Sha(manifest.body), digest);
  const std::string blob = "/v2/library/tiny/blobs/sha256:" + Sha(q8_);
  Reply head = Http(port, "HEAD", blob);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(q8_.size()));
  EXPECT_EQ(head.Header("Docker-Content-Digest"), "sha256:" + Sha(q8_));
  Reply part = Http(port, "GET", blob, {{"Range", "bytes=4-7"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, q8_.substr(4, 4));
  EXPECT_EQ(Http(port, "GET", "/v2/library/tiny/manifests/q2").status, 404);

  const uint64_t cdn_before = hub_.cdn().BodyBytesSent();
  ProcessResult pulled =
      Hangar(b_, {"pull", "ollama://tiny:q8", "--registry", Url(port), "--json"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_EQ(Last(pulled)["revision"], digest);
  EXPECT_EQ(hub_.cdn().BodyBytesSent(), cdn_before);
  for (const std::string& bytes : {q8_, tmpl, params}) {
    const std::string name = "sha256-" + Sha(bytes);
    EXPECT_EQ(ReadAll(b_.Blobs() / name), bytes);
    EXPECT_EQ(ReadAll(b_.Blobs() / name), ReadAll(a_.Blobs() / name));
  }
}

// A mirror with an API key (as one listening beyond 127.0.0.1 must have):
// `hangar pull --registry` sends the key in HF_TOKEN on both kinds of routes;
// OLLAMA_REGISTRY with OLLAMA_REGISTRY_TOKEN does the same for Ollama models.
TEST_F(MirrorTest, AMirrorWithAnApiKeyServesThoseWhoSendIt) {
  const std::string key = "mirror-key-0123456789";
  const std::string digest = hub_.AddOllamaModel(
      "library", "tiny", "q8", {{"application/vnd.ollama.image.model", q8_}});
  PullFromHub(a_, "ollama://tiny:q8");
  PullFromHub(a_, kRepo + ":Q8_0");
  const uint16_t port = Serve(a_, {}, {{"HANGAR_API_KEY", key}});
  ASSERT_NE(port, 0);
  EXPECT_THAT(mirror_line_, HasSubstr("HF_TOKEN and OLLAMA_REGISTRY_TOKEN to the API key"));
  EXPECT_EQ(Http(port, "GET", "/v2/library/tiny/manifests/q8").status, 401);

  ProcessResult refused =
      Hangar(b_, {"pull", "ollama://tiny:q8", "--registry", Url(port), "--json"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.out + refused.err, HasSubstr("401"));
  EXPECT_FALSE(fs::exists(b_.Blobs() / ("sha256-" + Sha(q8_))));

  const uint64_t cdn_before = hub_.cdn().BodyBytesSent();
  for (const std::string& ref : {std::string("ollama://tiny:q8"), kRepo + ":Q8_0"}) {
    ProcessResult pulled =
        Hangar(b_, {"pull", ref, "--registry", Url(port), "--json"}, {{"HF_TOKEN", key}});
    ASSERT_EQ(pulled.exit_code, 0) << ref << ": " << pulled.err;
  }
  EXPECT_EQ(ReadAll(b_.Blobs() / ("sha256-" + Sha(q8_))), q8_);
  EXPECT_EQ(ReadAll(b_.RepoDir() / "blobs" / Sha(q8_)), q8_);

  Home c{root_ / "c"};
  fs::create_directories(c.dir);
  ProcessResult own = Hangar(c, {"pull", "ollama://tiny:q8", "--json"},
                             {{"OLLAMA_REGISTRY", Url(port)}, {"OLLAMA_REGISTRY_TOKEN", key}});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  EXPECT_EQ(Last(own)["revision"], digest);
  EXPECT_EQ(ReadAll(c.Blobs() / ("sha256-" + Sha(q8_))), q8_);
  EXPECT_EQ(hub_.cdn().BodyBytesSent(), cdn_before);  // all from the mirror
}

// --mirror-upstream: A holds nothing; eight clients ask for the same file at
// once; the hub's CDN sends it once, and every client gets the same bytes.
TEST_F(MirrorTest, UpstreamFetchesAMissingFileOnceForConcurrentClients) {
  // Slowed, so the eight requests find the download under way.
  testing::FileOptions slow;
  slow.bytes_per_second = 2 << 20;
  hub_.cdn().SetFileOptions(FakeHub::BlobPath(Sha(q8_)), slow);
  const uint16_t port =
      Serve(a_, {"--mirror-upstream", hub_.Endpoint()}, {{"OLLAMA_REGISTRY", hub_.Endpoint()}});
  ASSERT_NE(port, 0);
  EXPECT_THAT(mirror_line_, HasSubstr("fetched once from " + hub_.Endpoint()));
  const uint64_t cdn_before = hub_.cdn().BodyBytesSent();
  // paths-info of a file the mirror lacks: the hub's answer, passed on.
  Reply info = testing::HttpCall(port, "POST", "/api/models/" + kRepo + "/paths-info/main",
                                 R"({"paths": ["tiny-Q8_0.gguf"]})");
  ASSERT_EQ(info.status, 200) << info.body;
  const Json entries = Json::parse(info.body);
  ASSERT_EQ(entries.size(), 1u) << info.body;
  EXPECT_EQ(entries[0]["lfs"]["oid"], Sha(q8_));
  EXPECT_EQ(hub_.cdn().BodyBytesSent(), cdn_before);
  // HEAD answers from the hub's word, without the bytes.
  Reply head = Http(port, "HEAD", "/" + kRepo + "/resolve/main/tiny-Q8_0.gguf");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("X-Repo-Commit"), kCommit);
  EXPECT_EQ(head.Header("X-Linked-Etag"), "\"" + Sha(q8_) + "\"");
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(q8_.size()));
  EXPECT_EQ(hub_.cdn().BodyBytesSent(), cdn_before);

  std::vector<Reply> replies(8);
  std::vector<std::thread> clients;
  for (Reply& r : replies) {
    clients.emplace_back(
        [&r, port] { r = Http(port, "GET", "/" + kRepo + "/resolve/main/tiny-Q8_0.gguf"); });
  }
  for (std::thread& t : clients) t.join();
  for (const Reply& r : replies) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Sha(r.body), Sha(q8_));
    EXPECT_EQ(r.Header("ETag"), "\"" + Sha(q8_) + "\"");
  }
  // Exactly one download from upstream: one pull listed the repository
  // once, and less than twice the file's bytes left the CDN (the downloader
  // may ask again for a slow chunk's tail, never for the whole file).
  EXPECT_EQ(hub_.hub().RequestCount("/api/models/" + kRepo + "/tree/main"), 1);
  const uint64_t upstream_bytes = hub_.cdn().BodyBytesSent() - cdn_before;
  EXPECT_GE(upstream_bytes, q8_.size());
  EXPECT_LT(upstream_bytes, 2 * q8_.size());
  // Kept, verified, in A's store.
  EXPECT_EQ(Sha(ReadAll(a_.RepoDir() / "blobs" / Sha(q8_))), Sha(q8_));
  // Then served from the store: no more upstream bytes.
  EXPECT_EQ(Sha(Http(port, "GET", "/" + kRepo + "/resolve/main/tiny-Q8_0.gguf").body), Sha(q8_));
  EXPECT_EQ(hub_.cdn().BodyBytesSent() - cdn_before, upstream_bytes);
  EXPECT_EQ(hub_.hub().RequestCount("/api/models/" + kRepo + "/tree/main"), 1);

  // A whole `hangar pull` on B through the mirror, of what A lacks: the
  // listing comes from upstream, the file through A.
  ProcessResult pulled = Hangar(b_, {"pull", kRepo + ":Q4_K_M", "--registry", Url(port), "--json"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_EQ(Last(pulled)["checksum"], "sha256:" + Sha(q4_));
  EXPECT_EQ(ReadAll(b_.RepoDir() / "blobs" / Sha(q4_)), q4_);
  EXPECT_EQ(ReadAll(a_.RepoDir() / "blobs" / Sha(q4_)), q4_);
  // Upstream's errors pass through.
  EXPECT_EQ(Http(port, "GET", "/" + kRepo + "/resolve/main/nothing.gguf").Header("X-Error-Code"),
            "EntryNotFound");
  EXPECT_EQ(Http(port, "GET", "/tester/Nothing/resolve/main/x.gguf").Header("X-Error-Code"),
            "RepoNotFound");

  // An Ollama model A lacks: fetched once, then served.
  const std::string digest =
      hub_.AddOllamaModel("library", "tiny", "q4", {{"application/vnd.ollama.image.model", q4_}});
  pulled = Hangar(b_, {"pull", "ollama://tiny:q4", "--json"}, {{"OLLAMA_REGISTRY", Url(port)}});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_EQ(Last(pulled)["revision"], digest);
  EXPECT_EQ(ReadAll(b_.Blobs() / ("sha256-" + Sha(q4_))), q4_);
}

}  // namespace
}  // namespace hangar
