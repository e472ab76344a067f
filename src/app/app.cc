#include "app/app.h"

namespace hangar::app {

App::Parts::Parts(Deps deps)
    : core(std::move(deps)),
      cluster(&core),
      models(&core),
      usage(&core),
      fit(&core, &models, &usage, &cluster),
      store(&core, &usage),
      pulls(&core, &store),
      runs(&core),
      profiles(&core),
      serve(&core, &runs, &cluster),
      settings(&core),
      downloads(&core, &pulls),
      quantize(&core, &store),
      convert(&core, &store, &quantize),
      mirror(&core, &pulls) {}

App::App(Deps deps) : parts_(std::make_unique<Parts>(std::move(deps))) {}

App::~App() = default;
App::App(App&&) noexcept = default;
App& App::operator=(App&&) noexcept = default;

App App::Defaults() {
  Deps deps;
  deps.env = std::make_shared<RealEnvironment>();
  deps.clock = &SystemClock::Default();
  deps.nvml = std::make_shared<RealNvml>();
  return App(std::move(deps));
}

}  // namespace hangar::app
