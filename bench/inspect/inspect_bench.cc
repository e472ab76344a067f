// inspect_bench: how long reading a GGUF file's metadata takes with Hangar's
// reader (gguf::ReadHeader + gguf::Summarize, what `hangar inspect` does)
// against llama.cpp's reader (gguf_init_from_file with no_alloc, then
// gguf_free), measured in the same run on the same files.
//
//   inspect_bench [--runs N] [--warmup N] [--cold-runs N] [--in-process] FILE...
//
// For each file, both readers run `runs` times, interleaved and alternating
// which goes first, with the page cache warm. By default each call runs in a
// freshly forked child (timed inside the child), so that every call starts
// from the same small heap, as a `hangar inspect` process does; otherwise one
// reader's freed heap would serve the other's allocations. --in-process times
// the calls in this process instead (a long-running process that reads many
// files, with a warm heap).
//
// The table gives, per reader, the median and 90th percentile of wall time,
// the median thread CPU time, the median count of minor page faults per
// call, and the ratio of the wall-time medians (llama.cpp / Hangar: above 1
// means Hangar is faster). With --cold-runs N, each reader also runs N times
// after the file's pages are dropped from the page cache (posix_fadvise
// DONTNEED; needs no root, but a virtual disk may still be cached by the host).
//
// Before timing, both readers must parse the file and agree on its key/value
// and tensor counts; otherwise the file is reported and the exit code is 1.
#include <fcntl.h>
#include <fmt/format.h>
#include <gguf.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/parser.h"
#include "gguf/summary.h"

namespace hangar {
namespace {

struct Options {
  int runs = 200;
  int warmup = 5;
  int cold_runs = 0;
  bool in_process = false;
  std::vector<std::string> files;
};

// What one reader saw, to check that both read the same file.
struct Counts {
  uint64_t kvs = 0;
  uint64_t tensors = 0;
  uint64_t header_bytes = 0;  // Hangar only
};

// One call: wall and thread CPU time in nanoseconds, minor page faults, and
// what the reader saw. wall_ns < 0 when the reader failed.
struct Sample {
  int64_t wall_ns = 0;
  int64_t cpu_ns = 0;
  int64_t faults = 0;
  Counts counts;
};

// Keeps the readers' results alive so that the work is not optimised away.
volatile uint64_t g_sink = 0;

Result<Counts> InspectWithHangar(const std::string& path) {
  ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::ReadHeader(path));
  const gguf::ModelSummary summary = gguf::Summarize(file);
  g_sink = g_sink + summary.parameter_count + summary.vocab_size.value_or(0);
  return Counts{file.kvs.size(), file.tensors.size(), file.header_size};
}

Result<Counts> InspectWithLlama(const std::string& path) {
  gguf_init_params params{.no_alloc = true, .ctx = nullptr};
  gguf_context* ctx = gguf_init_from_file(path.c_str(), params);
  if (ctx == nullptr) {
    return DataLossError(fmt::format("{}: llama.cpp's gguf_init_from_file failed", path));
  }
  Counts counts{static_cast<uint64_t>(gguf_get_n_kv(ctx)),
                static_cast<uint64_t>(gguf_get_n_tensors(ctx)), 0};
  g_sink = g_sink + counts.kvs + counts.tensors;
  gguf_free(ctx);
  return counts;
}

using Reader = Result<Counts> (*)(const std::string&);

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

Sample TimeHere(Reader reader, const std::string& path) {
  const int64_t faults0 = MinorFaults();
  const auto wall0 = std::chrono::steady_clock::now();
  const int64_t cpu0 = ThreadCpuNs();
  const Result<Counts> counts = reader(path);
  const int64_t cpu1 = ThreadCpuNs();
  const auto wall1 = std::chrono::steady_clock::now();
  const int64_t faults1 = MinorFaults();
  if (!counts.ok()) return Sample{-1, 0, 0, {}};
  return Sample{std::chrono::duration_cast<std::chrono::nanoseconds>(wall1 - wall0).count(),
                cpu1 - cpu0, faults1 - faults0, *counts};
}

// Times one call in a forked child, which sends its Sample back on a pipe.
Result<Sample> TimeInChild(Reader reader, const std::string& path) {
  int fds[2];
  if (pipe(fds) != 0) return UnavailableError("pipe failed; is the process out of descriptors?");
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return UnavailableError("fork failed; is the machine out of memory?");
  }
  if (pid == 0) {
    close(fds[0]);
    const Sample sample = TimeHere(reader, path);
    const bool sent = write(fds[1], &sample, sizeof sample) == sizeof sample;
    _exit(sent ? 0 : 1);  // no atexit handlers, no stdio flush
  }
  close(fds[1]);
  Sample sample;
  const ssize_t got = read(fds[0], &sample, sizeof sample);
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  if (got != sizeof sample || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return InternalError(fmt::format("{}: the timing child died (wait status {})", path, wstatus));
  }
  return sample;
}

Result<Sample> TimeOnce(Reader reader, const std::string& path, bool in_process) {
  if (in_process) return TimeHere(reader, path);
  return TimeInChild(reader, path);
}

// Drops the file's pages from the page cache.
Status DropFromCache(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return UnavailableError(fmt::format("{}: cannot open to drop its cache", path));
  const int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  if (err != 0) return UnavailableError(fmt::format("{}: posix_fadvise failed", path));
  return Status::Ok();
}

// Nearest-rank percentile of `v` (0 < p <= 100).
int64_t Percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

struct Series {
  std::vector<int64_t> wall, cpu, faults;
  void Add(const Sample& s) {
    wall.push_back(s.wall_ns);
    cpu.push_back(s.cpu_ns);
    faults.push_back(s.faults);
  }
};

struct FileResult {
  std::string name;
  uint64_t file_size = 0;
  Counts counts;
  Series hangar, llama, hangar_cold, llama_cold;
};

// Runs both readers `runs` times, alternating which goes first.
Status Measure(const std::string& path, int runs, bool cold, bool in_process, Series& hangar,
               Series& llama) {
  for (int i = 0; i < runs; ++i) {
    for (int k = 0; k < 2; ++k) {
      const bool hangar_turn = (k == 0) == (i % 2 == 0);
      const Reader reader = hangar_turn ? InspectWithHangar : InspectWithLlama;
      if (cold) RETURN_IF_ERROR(DropFromCache(path));
      ASSIGN_OR_RETURN(Sample s, TimeOnce(reader, path, in_process));
      if (s.wall_ns < 0) {
        return DataLossError(fmt::format("{}: a reader failed on a file it read before", path));
      }
      (hangar_turn ? hangar : llama).Add(s);
    }
  }
  return Status::Ok();
}

Result<FileResult> Bench(const std::string& path, const Options& options) {
  FileResult r;
  r.name = std::filesystem::path(path).filename().string();
  std::error_code ec;
  r.file_size = std::filesystem::file_size(path, ec);
  if (ec) return NotFoundError(fmt::format("{}: {}", path, ec.message()));
  // Read in a child unless --in-process: the parent's heap stays small, so
  // that every forked call starts from the same state.
  ASSIGN_OR_RETURN(Sample probe, TimeOnce(InspectWithHangar, path, options.in_process));
  if (probe.wall_ns < 0) {
    const Result<Counts> failed = InspectWithHangar(path);  // again, for the message
    return failed.ok() ? InternalError(path + ": Hangar's reader failed once") : failed.status();
  }
  const Counts ours = probe.counts;
  ASSIGN_OR_RETURN(probe, TimeOnce(InspectWithLlama, path, options.in_process));
  if (probe.wall_ns < 0) return DataLossError(path + ": llama.cpp's gguf_init_from_file failed");
  const Counts theirs = probe.counts;
  if (ours.kvs != theirs.kvs || ours.tensors != theirs.tensors) {
    return DataLossError(fmt::format(
        "{}: the readers disagree: Hangar sees {} key/values and {} tensors, llama.cpp {} and {}",
        path, ours.kvs, ours.tensors, theirs.kvs, theirs.tensors));
  }
  r.counts = ours;
  Series ignored_hangar, ignored_llama;
  RETURN_IF_ERROR(
      Measure(path, options.warmup, false, options.in_process, ignored_hangar, ignored_llama));
  RETURN_IF_ERROR(Measure(path, options.runs, false, options.in_process, r.hangar, r.llama));
  if (options.cold_runs > 0) {
    RETURN_IF_ERROR(
        Measure(path, options.cold_runs, true, options.in_process, r.hangar_cold, r.llama_cold));
  }
  return r;
}

std::string Bytes(uint64_t n) {
  const double x = static_cast<double>(n);
  if (n >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", x / (1 << 30));
  if (n >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", x / (1 << 20));
  return fmt::format("{:.1f} KiB", x / 1024);
}

void PrintRow(const FileResult& r, const Series& ours, const Series& theirs) {
  const int64_t ours_median = Percentile(ours.wall, 50);
  const int64_t theirs_median = Percentile(theirs.wall, 50);
  fmt::print(
      "| {} | {} | {} | {} / {} | {:.3f} / {:.3f} | {:.3f} / {:.3f} | {:.3f} / {:.3f} | "
      "{} / {} | {:.1f}x |\n",
      r.name, Bytes(r.file_size), Bytes(r.counts.header_bytes), r.counts.kvs, r.counts.tensors,
      Ms(ours_median), Ms(Percentile(ours.wall, 90)), Ms(theirs_median),
      Ms(Percentile(theirs.wall, 90)), Ms(Percentile(ours.cpu, 50)), Ms(Percentile(theirs.cpu, 50)),
      Percentile(ours.faults, 50), Percentile(theirs.faults, 50),
      static_cast<double>(theirs_median) / static_cast<double>(std::max<int64_t>(ours_median, 1)));
}

void PrintHeading() {
  fmt::print(
      "| file | size | header | KVs / tensors | Hangar wall ms (median / p90) | llama.cpp wall ms "
      "(median / p90) | CPU ms Hangar / llama.cpp | page faults Hangar / llama.cpp | "
      "llama.cpp / Hangar |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
}

void PrintTables(const std::vector<FileResult>& results, const Options& options) {
  const char* where =
      options.in_process ? "all calls in one process" : "each call in a freshly forked process";
  fmt::print("Warm page cache, {}, {} runs per reader, interleaved.\n\n", where, options.runs);
  PrintHeading();
  for (const FileResult& r : results) PrintRow(r, r.hangar, r.llama);
  if (options.cold_runs <= 0) return;
  fmt::print(
      "\nCold page cache (the file's pages dropped before each call), {}, {} runs per "
      "reader.\n\n",
      where, options.cold_runs);
  PrintHeading();
  for (const FileResult& r : results) PrintRow(r, r.hangar_cold, r.llama_cold);
}

Result<Options> ParseArgs(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    int* target = arg == "--runs"        ? &options.runs
                  : arg == "--warmup"    ? &options.warmup
                  : arg == "--cold-runs" ? &options.cold_runs
                                         : nullptr;
    if (target != nullptr) {
      if (i + 1 == argc) return InvalidArgumentError(fmt::format("{} needs a number", arg));
      char* end = nullptr;
      const long n = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || n < 0 || n > 1'000'000) {
        return InvalidArgumentError(fmt::format("{} {}: not a count", arg, argv[i]));
      }
      *target = static_cast<int>(n);
    } else if (arg == "--in-process") {
      options.in_process = true;
    } else if (arg.starts_with("-")) {
      return InvalidArgumentError(fmt::format("unknown option {}", arg));
    } else {
      options.files.emplace_back(arg);
    }
  }
  if (options.files.empty() || options.runs == 0) {
    return InvalidArgumentError(
        "usage: inspect_bench [--runs N] [--warmup N] [--cold-runs N] [--in-process] "
        "FILE.gguf...");
  }
  return options;
}

// Silences llama.cpp's log (it reports every file it fails to read).
void QuietLog(ggml_log_level, const char*, void*) {}

int Main(int argc, char** argv) {
  Result<Options> options = ParseArgs(argc, argv);
  if (!options.ok()) {
    fmt::print(stderr, "{}\n", options.status().message());
    return 2;
  }
  ggml_log_set(QuietLog, nullptr);
  std::vector<FileResult> results;
  for (const std::string& path : options->files) {
    Result<FileResult> r = Bench(path, *options);
    if (!r.ok()) {
      fmt::print(stderr, "inspect_bench: {}\n", r.status().ToString());
      return 1;
    }
    results.push_back(std::move(*r));
  }
  PrintTables(results, *options);
  return 0;
}

}  // namespace
}  // namespace hangar

int main(int argc, char** argv) { return hangar::Main(argc, argv); }
