#include "cli/command.h"

#include <ostream>

#include "cli/exit_code.h"
#include "core/log.h"

namespace hangar::cli {

int ExitCodeFor(const Status& status) { return status.ok() ? kExitOk : kExitFailure; }

void Context::PrintJson(const nlohmann::json& doc) const {
  *out << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

void Context::Print(const std::string& text) const { *out << text; }

void Context::Fail(const Status& status) {
  exit_code = ExitCodeFor(status);
  if (json) {
    PrintJson(
        {{"error",
          {{"code", std::string(StatusCodeName(status.code()))}, {"message", status.message()}}}});
  }
  *err << "hangar: error: " << status.message() << '\n';
}

void Context::UsageError(const std::string& message) {
  exit_code = kExitUsage;
  *err << "hangar: " << message << '\n';
}

void AddJsonFlag(CLI::App& sub, Context& ctx) {
  sub.add_flag("--json", ctx.json, "Print one JSON document instead of a table");
}

namespace {

const CommandSpec kCommands[] = {
    {"list", "List models: the catalog, presets and installed models", AddList},
    {"info", "Show everything known about one model", AddInfo},
    {"validate", "Check a model's files: presence, size, GGUF header, SHA-256", AddValidate},
    {"default", "Show or set the default model", AddDefault},
    {"inspect", "Read a GGUF file's header: architecture, sizes, quant mix, tensors", AddInspect},
    {"fit", "Memory a model needs here (RAM, each GPU) and the largest context that fits", AddFit},
    {"recommend", "The models that suit this machine, ranked, with settings", AddRecommend},
    {"run", "Run a model: one prompt streamed, or an interactive chat", AddRun},
    {"embed", "Embedding vectors of texts (pooled, normalised)", AddEmbed},
    {"bench", "Measure a model: prompt and generation tokens/s, load time", AddBench},
    {"use", "Show or switch the current model (kept with the time it was chosen)", AddUse},
    {"serve", "Serve the Ollama and OpenAI APIs over llama.cpp (loads models on demand)", AddServe},
    {"worker", "Lend this machine's CPU/GPUs to another machine's `hangar serve` (llama.cpp RPC)",
     AddWorker},
    {"cluster", "The workers of [cluster]: devices, memory offered, latency, state", AddCluster},
    {"ps", "Models loaded by running hangar processes: memory, backend, idle-until", AddPs},
    {"stats", "Usage statistics per model and backend: uses, failures, times, tokens/s", AddStats},
    {"doctor", "Health: memory, disk, GPU memory and temperature, speed degradation", AddDoctor},
    {"hw", "Report this machine: CPU, memory, GPUs, disk, OS", AddHw},
    {"profile", "Manage performance profiles (sampling settings)", AddProfile},
    {"config", "Show or change settings: memory limits, GPU use, downloads, update checks",
     AddConfig},
    {"pull", "Download models: verified, resumable, segmented; refused if they cannot fit",
     AddPull},
    {"outdated", "Which installed models have a newer revision at their source", AddOutdated},
    {"update", "Pull the newer revision of installed models", AddUpdate},
    {"discover", "Find models other tools downloaded and register them in place", AddDiscover},
    {"import", "Register a GGUF file (in place, or copied/moved into the store)", AddImport},
    {"quantize",
     "Make an F16/BF16/F32 model smaller with llama.cpp's quantizer (Q4_K_M, Q8_0, ...)",
     AddQuantize},
    {"convert",
     "Turn a Hugging Face checkpoint (safetensors) into a GGUF llama.cpp runs, optionally "
     "quantized",
     AddConvert},
    {"share", "Make an installed model visible to Ollama or LM Studio, without a copy", AddShare},
    {"rm", "Remove installed models (bytes other models use are kept)", AddRm},
    {"cache", "Disk use per source and model, reclaimable bytes; `cache prune`", AddCache},
    {"export", "Write the installed models as a JSON manifest", AddExport},
};

}  // namespace

std::span<const CommandSpec> Commands() { return kCommands; }

int RunCli(int argc, const char* const* argv, Context& ctx) {
  CLI::App cli{"Hangar: find the model that fits this machine, fetch it, keep it once, run it.",
               "hangar"};
  cli.require_subcommand(1);
  cli.fallthrough(false);
  int verbosity = 0;
  cli.add_flag("-v,--verbose", verbosity, "More log output on stderr (-vv for debug)");
  for (const CommandSpec& spec : Commands()) {
    CLI::App* sub = cli.add_subcommand(spec.name, spec.help);
    spec.add(*sub, ctx);
  }
  cli.parse_complete_callback([&] {
    if (verbosity >= 2) {
      SetLogLevel(LogLevel::kDebug);
    } else if (verbosity == 1) {
      SetLogLevel(LogLevel::kInfo);
    }
  });
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    *ctx.out << cli.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp& e) {
    *ctx.out << cli.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // Help of a subcommand is a ParseError too: print the right help text.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      cli.exit(e, *ctx.out, *ctx.err);
      return kExitOk;
    }
    *ctx.err << "hangar: " << e.what() << "\n";
    *ctx.err << "Run 'hangar --help' (or 'hangar COMMAND --help') for usage.\n";
    return kExitUsage;
  }
  return ctx.exit_code;
}

}  // namespace hangar::cli
