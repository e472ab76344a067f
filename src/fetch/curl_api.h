// CurlApi: the libcurl functions Hangar uses, loaded with dlopen on first
// use instead of linked into every binary.
//
// Why: libcurl brings some thirty shared libraries with it (TLS, Kerberos,
// LDAP, IDN, ...). Linked normally, every `hangar` call would map and
// relocate them before main(), several milliseconds that `hangar list` and
// `hangar hw` never need. Loaded lazily, only commands that speak HTTP pay.
//
// Curl() returns the table; when libcurl cannot be loaded every function in
// it fails (CURLE_FAILED_INIT, CURLUE_OUT_OF_MEMORY, nullptr) and
// CurlStatus() says why (Unavailable, naming the library and what to
// install). Thread-safe: loading happens once (std::call_once).
#ifndef HANGAR_FETCH_CURL_API_H_
#define HANGAR_FETCH_CURL_API_H_

#include <curl/curl.h>

#include "core/status.h"

namespace hangar {

struct CurlApi {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL* handle);
  void (*easy_reset)(CURL* handle);
  CURLcode (*easy_setopt)(CURL* handle, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL* handle);
  CURLcode (*easy_getinfo)(CURL* handle, CURLINFO info, ...);
  const char* (*easy_strerror)(CURLcode code);
  void (*free)(void* p);
  curl_slist* (*slist_append)(curl_slist* list, const char* line);
  void (*slist_free_all)(curl_slist* list);
  CURLU* (*url)();
  void (*url_cleanup)(CURLU* handle);
  CURLUcode (*url_get)(const CURLU* handle, CURLUPart what, char** part, unsigned int flags);
  CURLUcode (*url_set)(CURLU* handle, CURLUPart what, const char* part, unsigned int flags);
  const char* (*url_strerror)(CURLUcode code);
};

// The loaded functions (curl_global_init has run), or the failing ones.
const CurlApi& Curl();
// OK once libcurl is loaded; Unavailable otherwise.
Status CurlStatus();

}  // namespace hangar

#endif  // HANGAR_FETCH_CURL_API_H_
