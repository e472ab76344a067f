// The `hangar` command line: the table of subcommands and what every handler
// shares (output streams, style, JSON mode, exit status).
//
// cli/ is thin: a handler parses its flags (CLI11), calls the app/ facade and
// renders the answer as an aligned table, key/value lines or one JSON
// document (--json). Exit codes: 0 success, 1 failure, 2 usage error
// (ExitCodeFor in exit_code.h is the one mapping from Status).
#ifndef HANGAR_CLI_COMMAND_H_
#define HANGAR_CLI_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "app/app.h"
#include "cli/table.h"
#include "core/status.h"

namespace hangar::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Shared state of one invocation. Single-threaded.
struct Context {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  TermStyle style;
  bool json = false;  // set by a subcommand's --json flag
  int exit_code = kExitOk;
  // The facade, built on first use (so `hangar --help` touches nothing).
  std::function<app::App&()> app;

  // Prints `doc` as one JSON document (pretty, newline-terminated).
  void PrintJson(const nlohmann::json& doc) const;
  // Prints `text` as is.
  void Print(const std::string& text) const;
  // Reports a failed Status (as {"error":{...}} in JSON mode, else
  // "hangar: error: ..." on stderr) and records its exit code.
  void Fail(const Status& status);
  // Reports a usage error (exit code 2).
  void UsageError(const std::string& message);
};

// One subcommand: its name, one line of help, and the function that adds it
// (flags, nested subcommands and callback) to the parent parser.
struct CommandSpec {
  const char* name;
  const char* help;
  void (*add)(CLI::App& sub, Context& ctx);
};

// Every subcommand, in the order `hangar --help` lists them.
std::span<const CommandSpec> Commands();

// Adds the usual --json flag writing to ctx.json.
void AddJsonFlag(CLI::App& sub, Context& ctx);

// Parses argv, runs the chosen subcommand and returns the process exit code.
int RunCli(int argc, const char* const* argv, Context& ctx);

// The registration functions of each command group (one .cc file each).
void AddList(CLI::App& sub, Context& ctx);
void AddInfo(CLI::App& sub, Context& ctx);
void AddValidate(CLI::App& sub, Context& ctx);
void AddDefault(CLI::App& sub, Context& ctx);
void AddHw(CLI::App& sub, Context& ctx);
void AddInspect(CLI::App& sub, Context& ctx);
void AddFit(CLI::App& sub, Context& ctx);
void AddRecommend(CLI::App& sub, Context& ctx);
void AddProfile(CLI::App& sub, Context& ctx);
void AddConfig(CLI::App& sub, Context& ctx);
void AddQuantize(CLI::App& sub, Context& ctx);
void AddConvert(CLI::App& sub, Context& ctx);
void AddPull(CLI::App& sub, Context& ctx);
void AddOutdated(CLI::App& sub, Context& ctx);
void AddUpdate(CLI::App& sub, Context& ctx);
void AddDiscover(CLI::App& sub, Context& ctx);
void AddImport(CLI::App& sub, Context& ctx);
void AddShare(CLI::App& sub, Context& ctx);
void AddRm(CLI::App& sub, Context& ctx);
void AddCache(CLI::App& sub, Context& ctx);
void AddExport(CLI::App& sub, Context& ctx);
void AddRun(CLI::App& sub, Context& ctx);
void AddEmbed(CLI::App& sub, Context& ctx);
void AddBench(CLI::App& sub, Context& ctx);
void AddUse(CLI::App& sub, Context& ctx);
void AddStats(CLI::App& sub, Context& ctx);
void AddPs(CLI::App& sub, Context& ctx);
void AddDoctor(CLI::App& sub, Context& ctx);
void AddServe(CLI::App& sub, Context& ctx);
void AddWorker(CLI::App& sub, Context& ctx);
void AddCluster(CLI::App& sub, Context& ctx);

}  // namespace hangar::cli

#endif  // HANGAR_CLI_COMMAND_H_
