// The embedded catalog: curated models compiled into the binary, so listing,
// recommending and memory estimates work offline and in well under a
// millisecond.
//
// The table is C++ data (builtin_catalog.cc): constructing it is a few
// thousand small string copies, no parsing. Most code wants the shared,
// indexed copy — DefaultCatalog() or BuiltinCatalog() in catalog.h — which is
// built once per process; MakeBuiltinEntries() builds a fresh one.
//
// What the table records, per entry: the published hyper-parameters of the
// model (its Hugging Face config.json, as a GGUF header names them), real
// repository and file names, the part count of split files, the Ollama
// name:tag, and a SHA-256 only where the published digest is known. File sizes
// are exact byte counts where known (size_approximate = false) and rounded
// published sizes otherwise.
#ifndef HANGAR_CATALOG_BUILTIN_CATALOG_H_
#define HANGAR_CATALOG_BUILTIN_CATALOG_H_

#include <vector>

#include "catalog/catalog_entry.h"

namespace hangar {

// Every built-in entry, in a stable order (by family, then size, then
// quantization), with derived fields filled in and `builtin` set. Never empty;
// ids are unique. Pure: safe to call from any thread.
std::vector<CatalogEntry> MakeBuiltinEntries();

}  // namespace hangar

#endif  // HANGAR_CATALOG_BUILTIN_CATALOG_H_
