// Environment: the process environment seen through a small interface, so
// tests can describe one without touching the real process environment.
// RealEnv reads getenv(); MapEnv holds its own variables. Both are safe for
// concurrent reads.
#ifndef HANGAR_CORE_ENV_H_
#define HANGAR_CORE_ENV_H_

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace hangar {

class Environment {
 public:
  virtual ~Environment() = default;
  // The variable's value; nullopt when unset or empty.
  virtual std::optional<std::string> Get(std::string_view name) const = 0;
};

class RealEnvironment final : public Environment {
 public:
  std::optional<std::string> Get(std::string_view name) const override;
};

class MapEnvironment final : public Environment {
 public:
  MapEnvironment() = default;
  MapEnvironment(std::initializer_list<std::pair<std::string, std::string>> vars) {
    for (const auto& [k, v] : vars) vars_[k] = v;
  }
  void Set(std::string name, std::string value) { vars_[std::move(name)] = std::move(value); }
  std::optional<std::string> Get(std::string_view name) const override;

 private:
  std::map<std::string, std::string, std::less<>> vars_;
};

}  // namespace hangar

#endif  // HANGAR_CORE_ENV_H_
