// Built with llama.cpp's common/ on the include path (this file only):
// <chat.h> and <log.h> below are llama.cpp's.
#include "runtime/chat_template.h"

#include <fmt/format.h>

#include <exception>
#include <mutex>
#include <vector>

#include <chat.h>
#include <log.h>
#include "runtime/backend.h"

namespace hangar::runtime {
namespace {

// llama.cpp's common code logs warnings (a vocabulary without a BOS token,
// say) to the terminal from a thread of its own; Hangar reports what matters
// through its own errors instead.
void QuietCommonLog() {
  static std::once_flag once;
  std::call_once(once, [] { common_log_set_verbosity_thold(-1); });
}

}  // namespace

Result<ChatTemplate> ChatTemplate::Create(const llama_model* model, std::string_view override_text) {
  if (model == nullptr && override_text.empty()) {
    return InvalidArgumentError("a chat template needs a model or a template text");
  }
  QuietCommonLog();
  ChatTemplate t;
  try {
    common_chat_templates_ptr templates =
        common_chat_templates_init(model, std::string(override_text));
    t.supports_thinking_ = common_chat_templates_support_enable_thinking(templates.get());
    std::map<std::string, bool> caps = common_chat_templates_get_caps(templates.get());
    auto parallel = caps.find("supports_parallel_tool_calls");
    t.parallel_tool_calls_ = parallel != caps.end() && parallel->second;
    t.templates_.reset(templates.release(), common_chat_templates_deleter());
  } catch (const std::exception& e) {
    return InvalidArgumentError(fmt::format("the chat template does not parse: {}", e.what()));
  }
  return t;
}

Result<std::string> ChatTemplate::Apply(std::span<const ChatMessage> messages, bool add_assistant,
                                        std::optional<bool> enable_thinking) const {
  common_chat_templates_inputs inputs;
  for (const ChatMessage& m : messages) {
    if (m.role.empty()) return InvalidArgumentError("a chat message has no role");
    common_chat_msg msg;
    msg.role = m.role;
    msg.content = m.content;
    inputs.messages.push_back(std::move(msg));
  }
  // What llama-server sets for a chat request without tools or options
  // (tools/server/server-common.cpp, oaicompat_chat_params_parse).
  inputs.use_jinja = true;
  inputs.add_generation_prompt = add_assistant;
  inputs.parallel_tool_calls = parallel_tool_calls_;
  inputs.reasoning_format = COMMON_REASONING_FORMAT_DEEPSEEK;
  inputs.enable_thinking = enable_thinking.value_or(supports_thinking_);
  try {
    return common_chat_templates_apply(templates_.get(), inputs).prompt;
  } catch (const std::exception& e) {
    return InvalidArgumentError(fmt::format("the model's chat template failed: {}", e.what()));
  }
}

}  // namespace hangar::runtime
