// The one mapping from a library Status to the process exit code.
#ifndef HANGAR_CLI_EXIT_CODE_H_
#define HANGAR_CLI_EXIT_CODE_H_

#include "core/status.h"

namespace hangar::cli {

// 0 for OK, 1 for every failure. Usage errors (exit 2) are found by the
// parser before any library call and never reach here.
int ExitCodeFor(const Status& status);

}  // namespace hangar::cli

#endif  // HANGAR_CLI_EXIT_CODE_H_
