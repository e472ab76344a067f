// Running a program to completion with a given environment and capturing its
// output (test code only).
#ifndef HANGAR_TESTS_PROCESS_H_
#define HANGAR_TESTS_PROCESS_H_

#include <map>
#include <string>
#include <vector>

namespace hangar::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with `env` as its whole environment and `input` on
// its stdin; waits for it to end.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         const std::string& input = "");

// A program started in the background, its stdout and stderr going to files
// (empty path: /dev/null). `before_exec` runs in the child just before execve
// (e.g. setrlimit). Returns the pid, or -1.
int SpawnProcess(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env, const std::string& out_path = "",
                 const std::string& err_path = "", void (*before_exec)() = nullptr);

// Waits for a spawned process; exit code as ProcessResult::exit_code.
int WaitProcess(int pid);

}  // namespace hangar::testing

#endif  // HANGAR_TESTS_PROCESS_H_
