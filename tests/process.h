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

}  // namespace hangar::testing

#endif  // HANGAR_TESTS_PROCESS_H_
