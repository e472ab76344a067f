// The rules of every sampling and loading value a person or a client can
// set, defined once: their ranges, whether they are whole numbers, and one
// line of help. Config profiles, the command-line flags, the chat's /set,
// the run planner, every backend and the server check values here, so a
// value one of them accepts is never refused by another.
//
//   key             range                 notes
//   temperature     0 .. 2                0 is greedy
//   top_p           (0 .. 1]              1 disables nucleus sampling
//   top_k           0 .. 2^31-1, whole    0 disables top-k
//   min_p           0 .. 1                0 disables min-p
//   repeat_penalty  (0 .. 100]            1 disables it
//   seed            0 .. 2^32-1, whole
//   max_tokens      1 .. 2^31-1, whole
//   ctx             0 .. 2^24, whole      0: the model's trained context
//   threads         1 .. 1024, whole
//   batch, ubatch   1 .. 2^20, whole
//   gpu_layers      -1 .. 100000, whole   -1: all layers
//
// Stateless and thread-safe.
#ifndef HANGAR_CONFIG_VALUE_RULES_H_
#define HANGAR_CONFIG_VALUE_RULES_H_

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hangar {

struct ValueRule {
  std::string_view key;
  double min = 0;
  double max = 0;
  bool min_exclusive = false;  // the range is (min .. max]
  bool whole = false;          // an integer
  std::string_view help;       // one line, for --help and /help
};

// The sampling values, then the loading values, in the order above.
std::span<const ValueRule> SamplingRules();
std::span<const ValueRule> LoadRules();
// The rule of `key` ("top-p" and "top_p" alike), or nullptr.
const ValueRule* FindValueRule(std::string_view key);

// Empty when `value` obeys `rule`, else what is wrong:
// "must be between 0 and 2, got 3.5", "must be above 0 and at most 1, got
// 0". NaN and infinities never obey.
std::string CheckValue(const ValueRule& rule, double value);
// As CheckValue, as a Status: InvalidArgument "top_p must be ..., got 0".
// InvalidArgument for an unknown key.
Status CheckValue(std::string_view key, double value);
// Parses `text` as a value of `key` and checks it (the chat's /set).
Result<double> ParseValue(std::string_view key, std::string_view text);

}  // namespace hangar

#endif  // HANGAR_CONFIG_VALUE_RULES_H_
