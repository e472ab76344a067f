// App: the facade of Hangar's use cases. The command line (cli/) and the HTTP
// server (server/) call only this. It owns the Core every use case shares
// (core.h: paths, the state snapshot, database connections, hardware, HTTP,
// backends, jobs) and one object per group of use cases:
//
//   models()    list, info, validate, default, inspect     (model_ops.h)
//   fit()       fit, recommend, hardware                    (fit_ops.h)
//   store()     installed, discover, import, share, rm,     (store_ops.h)
//               cache, prune, export
//   pulls()     pull (also as a job), outdated              (pull_ops.h)
//   runs()      plan, sessions, embed, bench, load, use     (run_ops.h)
//   usage()     stats, ps, doctor                           (usage_ops.h)
//   profiles()  performance profiles                        (profile_ops.h)
//   serve()     what `hangar serve` runs, and its records    (serve_ops.h)
//   quantize()  llama.cpp's quantizer                       (quantize_ops.h)
//   convert()   Hugging Face checkpoints to GGUF             (convert_ops.h)
//   cluster()   workers and models split over machines      (cluster_ops.h)
//   mirror()    this store served to other machines         (mirror_ops.h)
//   jobs()      the long operations running or finished     (jobs.h)
//
// Side effects come in through Deps (environment, clock, NVML, the root of
// /proc and /sys, the HTTP client, the backend registry), so tests build an
// App over fixture folders and fakes; Defaults() wires the real ones.
//
// Thread-safe: one App serves every thread of a process. Model references
// are resolved by one function (resolver.h) for every use case.
#ifndef HANGAR_APP_APP_H_
#define HANGAR_APP_APP_H_

#include <memory>

#include "app/cluster_ops.h"
#include "app/convert_ops.h"
#include "app/core.h"
#include "app/downloads.h"
#include "app/fit_ops.h"
#include "app/jobs.h"
#include "app/mirror_ops.h"
#include "app/model_ops.h"
#include "app/profile_ops.h"
#include "app/pull_ops.h"
#include "app/quantize_ops.h"
#include "app/run_ops.h"
#include "app/serve_ops.h"
#include "app/settings_ops.h"
#include "app/store_ops.h"
#include "app/usage_ops.h"

namespace hangar::app {

class App {
 public:
  explicit App(Deps deps);
  // The real environment, clock and NVML.
  static App Defaults();
  ~App();
  App(App&&) noexcept;
  App& operator=(App&&) noexcept;

  Core& core() { return parts_->core; }
  ModelOps& models() { return parts_->models; }
  FitOps& fit() { return parts_->fit; }
  StoreOps& store() { return parts_->store; }
  PullOps& pulls() { return parts_->pulls; }
  RunOps& runs() { return parts_->runs; }
  UsageOps& usage() { return parts_->usage; }
  ProfileOps& profiles() { return parts_->profiles; }
  ServeOps& serve() { return parts_->serve; }
  SettingsOps& settings() { return parts_->settings; }
  Downloads& downloads() { return parts_->downloads; }
  QuantizeOps& quantize() { return parts_->quantize; }
  ConvertOps& convert() { return parts_->convert; }
  ClusterOps& cluster() { return parts_->cluster; }
  MirrorOps& mirror() { return parts_->mirror; }
  JobRegistry& jobs() { return parts_->core.jobs(); }

 private:
  // Held behind a pointer: the use cases point at the core and at each
  // other, and an App moves.
  struct Parts {
    explicit Parts(Deps deps);
    // Jobs end first: their bodies use the use cases below.
    ~Parts() { core.jobs().Shutdown(); }
    Core core;
    ClusterOps cluster;
    ModelOps models;
    UsageOps usage;
    FitOps fit;
    StoreOps store;
    PullOps pulls;
    RunOps runs;
    ProfileOps profiles;
    ServeOps serve;
    SettingsOps settings;
    Downloads downloads;
    QuantizeOps quantize;
    ConvertOps convert;
    MirrorOps mirror;
  };
  std::unique_ptr<Parts> parts_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_APP_H_
