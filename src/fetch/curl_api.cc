#include "fetch/curl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace hangar {
namespace {

// What the table holds when libcurl is missing: every call fails.
CURLcode FailGlobalInit(long) { return CURLE_FAILED_INIT; }
CURL* FailEasyInit() { return nullptr; }
void NoEasyCleanup(CURL*) {}
void NoEasyReset(CURL*) {}
CURLcode FailEasySetopt(CURL*, CURLoption, ...) { return CURLE_FAILED_INIT; }
CURLcode FailEasyPerform(CURL*) { return CURLE_FAILED_INIT; }
CURLcode FailEasyGetinfo(CURL*, CURLINFO, ...) { return CURLE_FAILED_INIT; }
const char* FailEasyStrerror(CURLcode) { return "libcurl is not loaded"; }
void NoFree(void*) {}
curl_slist* FailSlistAppend(curl_slist*, const char*) { return nullptr; }
void NoSlistFreeAll(curl_slist*) {}
CURLU* FailUrl() { return nullptr; }
void NoUrlCleanup(CURLU*) {}
CURLUcode FailUrlGet(const CURLU*, CURLUPart, char**, unsigned int) { return CURLUE_OUT_OF_MEMORY; }
CURLUcode FailUrlSet(CURLU*, CURLUPart, const char*, unsigned int) { return CURLUE_OUT_OF_MEMORY; }
const char* FailUrlStrerror(CURLUcode) { return "libcurl is not loaded"; }

constexpr CurlApi kMissing = {
    FailGlobalInit, FailEasyInit,    NoEasyCleanup,   NoEasyReset,
    FailEasySetopt, FailEasyPerform, FailEasyGetinfo, FailEasyStrerror,
    NoFree,         FailSlistAppend, NoSlistFreeAll,  FailUrl,
    NoUrlCleanup,   FailUrlGet,      FailUrlSet,      FailUrlStrerror,
};

struct Loaded {
  CurlApi api = kMissing;
  Status status;
};

template <typename F>
bool Bind(void* lib, const char* name, F& slot, std::string& missing) {
  void* sym = ::dlsym(lib, name);
  if (sym == nullptr) {
    missing = name;
    return false;
  }
  slot = reinterpret_cast<F>(sym);
  return true;
}

Loaded Load() {
  Loaded out;
  void* lib = nullptr;
  std::string tried;
  for (const char* name : {"libcurl.so.4", "libcurl.so", "libcurl-gnutls.so.4"}) {
    lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) break;
    if (!tried.empty()) tried += "; ";
    tried += ::dlerror();
  }
  if (lib == nullptr) {
    out.status = UnavailableError("cannot load libcurl (" + tried +
                                  "): install it (Debian: apt-get install libcurl4)");
    return out;
  }
  CurlApi api{};
  std::string missing;
  const bool ok = Bind(lib, "curl_global_init", api.global_init, missing) &&
                  Bind(lib, "curl_easy_init", api.easy_init, missing) &&
                  Bind(lib, "curl_easy_cleanup", api.easy_cleanup, missing) &&
                  Bind(lib, "curl_easy_reset", api.easy_reset, missing) &&
                  Bind(lib, "curl_easy_setopt", api.easy_setopt, missing) &&
                  Bind(lib, "curl_easy_perform", api.easy_perform, missing) &&
                  Bind(lib, "curl_easy_getinfo", api.easy_getinfo, missing) &&
                  Bind(lib, "curl_easy_strerror", api.easy_strerror, missing) &&
                  Bind(lib, "curl_free", api.free, missing) &&
                  Bind(lib, "curl_slist_append", api.slist_append, missing) &&
                  Bind(lib, "curl_slist_free_all", api.slist_free_all, missing) &&
                  Bind(lib, "curl_url", api.url, missing) &&
                  Bind(lib, "curl_url_cleanup", api.url_cleanup, missing) &&
                  Bind(lib, "curl_url_get", api.url_get, missing) &&
                  Bind(lib, "curl_url_set", api.url_set, missing) &&
                  Bind(lib, "curl_url_strerror", api.url_strerror, missing);
  if (!ok) {
    out.status = UnavailableError("the libcurl found lacks " + missing +
                                  "; Hangar needs libcurl 7.80 or newer");
    return out;
  }
  if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    out.status = UnavailableError("libcurl failed to initialise (curl_global_init)");
    return out;
  }
  out.api = api;
  return out;  // the library stays loaded for the life of the process
}

const Loaded& Get() {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = Load(); });
  return loaded;
}

}  // namespace

const CurlApi& Curl() { return Get().api; }

Status CurlStatus() { return Get().status; }

}  // namespace hangar
