// WebAssets: the web console's files (webui/), built into the binary gzipped
// by cmake/embed_web_assets.cmake, each with a content ETag. Served by
// `hangar serve` at / and /ui/...; no CDN, nothing read from disk.
#ifndef HANGAR_SERVER_WEB_ASSETS_H_
#define HANGAR_SERVER_WEB_ASSETS_H_

#include <cstddef>
#include <span>
#include <string_view>

namespace hangar::server {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js"
  std::string_view mime;
  std::string_view etag;  // quoted, as sent
  std::string_view gzip;  // the file, gzipped
  size_t size = 0;        // the file's own size
};

// Every asset, sorted by path.
std::span<const WebAsset> WebAssets();

}  // namespace hangar::server

#endif  // HANGAR_SERVER_WEB_ASSETS_H_
