// ChatTemplate: a model's chat template applied by llama.cpp's common chat
// code (its Jinja engine and per-family handling), with the settings
// llama-server uses by default, so that `hangar run` and `hangar serve` give
// a model the same prompt for the same chat.
//
// Thread-safety: Apply is const and may be called from several threads on
// one object; objects share nothing.
#ifndef HANGAR_RUNTIME_CHAT_TEMPLATE_H_
#define HANGAR_RUNTIME_CHAT_TEMPLATE_H_

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

struct llama_model;
struct common_chat_templates;

namespace hangar::runtime {

struct ChatMessage;

class ChatTemplate {
 public:
  // The template of `model` (tokenizer.chat_template, or ChatML when it has
  // none), or the Jinja text `override_text` when not empty; `model` may be
  // null when `override_text` is given. InvalidArgument when the template
  // does not parse, with llama.cpp's message.
  static Result<ChatTemplate> Create(const llama_model* model, std::string_view override_text = {});

  // `messages` as the prompt text, ending with the opening of the
  // assistant's turn when `add_assistant`. Thinking follows `enable_thinking`
  // when set, else llama-server's default (on where the template supports
  // it). InvalidArgument when a message has no role or the template fails on
  // these messages (its message).
  Result<std::string> Apply(std::span<const ChatMessage> messages, bool add_assistant,
                            std::optional<bool> enable_thinking = std::nullopt) const;

  // Whether the template has a switch for thinking (enable_thinking).
  bool supports_thinking() const { return supports_thinking_; }

 private:
  ChatTemplate() = default;

  std::shared_ptr<common_chat_templates> templates_;
  bool supports_thinking_ = false;
  bool parallel_tool_calls_ = false;  // the template's capability, as llama-server passes it
};

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_CHAT_TEMPLATE_H_
