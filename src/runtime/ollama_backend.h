// OllamaBackend: models run by an Ollama server, over its HTTP API
// (REFERENCE.md): the server at [runtime] ollama_host, else $OLLAMA_HOST,
// else http://127.0.0.1:11434.
//
//   Load      POST /api/show (the model must be on the server: NotFound naming
//             `ollama pull NAME` otherwise), then, unless warm-up is off, an
//             empty POST /api/generate so the server loads it now.
//   Unload    POST /api/generate with keep_alive 0: the server frees it.
//   Stream    POST /api/generate with "raw": true (the prompt as it is),
//             NDJSON {"response": ...} lines; the final line's counts and
//             durations become the Timings.
//   ChatStream POST /api/chat: the server applies the model's own template;
//             NDJSON {"message": {"content": ...}} lines.
//   Embed     POST /api/embed {"input": [...]}; the server pools as the model
//             says (only Pooling::kModel) and returns unit vectors.
//   Tokenize  not offered by Ollama: FailedPrecondition.
// Loading options go with every request as Ollama "options": num_ctx,
// num_thread, num_batch, num_gpu (GPU layers), use_mmap, use_mlock; sampling
// as temperature, top_p, top_k, min_p, repeat_penalty, repeat_last_n, seed,
// num_predict, stop.
//
// Not thread-safe (see backend.h); the HttpClient may be shared.
#ifndef HANGAR_RUNTIME_OLLAMA_BACKEND_H_
#define HANGAR_RUNTIME_OLLAMA_BACKEND_H_

#include <memory>

#include "core/status.h"
#include "runtime/backend.h"

namespace hangar::runtime {

inline constexpr std::string_view kDefaultOllamaHost = "http://127.0.0.1:11434";

// FailedPrecondition when context.http is null.
Result<std::unique_ptr<Backend>> MakeOllamaBackend(const BackendContext& context);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_OLLAMA_BACKEND_H_
