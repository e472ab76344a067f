// The OpenAPI document served at /api/openapi.json describes exactly the
// routes the server answers: every route in the document, every operation in
// the document a route.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "server/server.h"

namespace hangar::server {
namespace {

using Json = nlohmann::json;

// The document's path for a route: itself, or for a prefix route
// ("/api/jobs/") the one path that is the prefix and one {parameter}.
std::string DocPath(const Json& paths, const std::string& route) {
  if (route.size() < 2 || route.back() != '/') return route;
  std::string found;
  for (const auto& [path, item] : paths.items()) {
    if (path.rfind(route, 0) == 0 && path.size() > route.size() + 2 &&
        path[route.size()] == '{' && path.back() == '}' &&
        path.find('/', route.size()) == std::string::npos) {
      EXPECT_TRUE(found.empty()) << route << " matches " << found << " and " << path;
      found = path;
    }
  }
  return found;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(OpenApiTest, TheDocumentDescribesEveryRouteAndNoOther) {
  const Json doc = Json::parse(Server::OpenApiDocument(), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "openapi.json does not parse";
  EXPECT_EQ(doc["openapi"], "3.1.0");
  const Json& paths = doc["paths"];
  std::set<std::pair<std::string, std::string>> routed;  // (doc path, method)
  for (const auto& [method, route] : Server::RouteList()) {
    const std::string path = DocPath(paths, route);
    ASSERT_FALSE(path.empty()) << "no path in openapi.json for the prefix route " << route;
    ASSERT_TRUE(paths.contains(path)) << "openapi.json lacks " << path;
    EXPECT_TRUE(paths[path].contains(Lower(method))) << "openapi.json lacks " << method << " " << path;
    routed.emplace(path, Lower(method));
  }
  int operations = 0;
  for (const auto& [path, item] : paths.items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      ++operations;
      EXPECT_TRUE(routed.contains({path, method}))
          << "openapi.json describes " << method << " " << path << ", which no route answers";
      EXPECT_TRUE(op.contains("summary")) << method << " " << path;
      EXPECT_FALSE(op.value("responses", Json::object()).empty()) << method << " " << path;
    }
  }
  EXPECT_EQ(operations, static_cast<int>(Server::RouteList().size()));
}

TEST(OpenApiTest, EveryReferenceResolves) {
  const Json doc = Json::parse(Server::OpenApiDocument());
  std::function<void(const Json&)> walk = [&](const Json& j) {
    if (j.is_object()) {
      if (auto ref = j.find("$ref"); ref != j.end()) {
        std::string pointer = ref->get<std::string>();
        ASSERT_EQ(pointer.rfind("#/", 0), 0u) << pointer;
        EXPECT_TRUE(doc.contains(Json::json_pointer(pointer.substr(1)))) << pointer;
      }
      for (const auto& [k, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (const Json& v : j) walk(v);
    }
  };
  walk(doc);
}

}  // namespace
}  // namespace hangar::server
