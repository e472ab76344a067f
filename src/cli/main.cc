// The `hangar` program: wires the real environment, clock and hardware probe
// into the app facade and hands argv to the command table.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

#include "app/app.h"
#include "cli/command.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  hangar::cli::Context ctx;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  ctx.style = hangar::cli::TermStyle::Detect();
  std::optional<hangar::app::App> app;
  ctx.app = [&app]() -> hangar::app::App& {
    if (!app) app.emplace(hangar::app::App::Defaults());
    return *app;
  };
  int code = hangar::cli::RunCli(argc, argv, ctx);
  std::cout.flush();
  return code;
}
