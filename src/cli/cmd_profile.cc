// hangar profile list | info | create | update | delete | recommend
// hangar config [show] | set KEY=VALUE... | unset KEY...
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/command.h"
#include "config/settings.h"

namespace hangar::cli {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Flags shared by create and update; each unset flag leaves the key alone.
void AddPatchFlags(CLI::App& sub, ProfilePatch& f, bool with_unset) {
  sub.add_option("--max-tokens", f.max_tokens, "Most tokens to generate (> 0)");
  sub.add_option("--temperature", f.temperature, "Sampling temperature, 0 to 2");
  sub.add_option("--top-p", f.top_p, "Nucleus sampling, 0 to 1");
  sub.add_option("--top-k", f.top_k, "Top-k sampling, 0 disables");
  sub.add_option("--min-p", f.min_p, "Min-p sampling, 0 to 1");
  sub.add_option("--repeat-penalty", f.repeat_penalty, "Repetition penalty (> 0, 1 disables)");
  sub.add_option("--description", f.description, "What the profile is for");
  sub.add_option("--use-case", f.use_case, "Where it fits (coding, chat, ...)");
  sub.add_option("--inherits", f.inherits, "Profile whose values fill the unset keys");
  if (with_unset) {
    sub.add_option("--unset", f.unset, "Keys to remove so they are inherited again");
  }
}

void PrintProfile(Context& ctx, const Profile& p) {
  if (ctx.json) return ctx.PrintJson(ToJson(p));
  ctx.Print(RenderKeyValues({{"Name", p.name},
                             {"Origin", std::string(ProfileOriginName(p.origin))},
                             {"Inherits", p.inherits.empty() ? "-" : p.inherits},
                             {"Max tokens", std::to_string(p.max_tokens)},
                             {"Temperature", Num(p.temperature)},
                             {"Top-p", Num(p.top_p)},
                             {"Top-k", std::to_string(p.top_k)},
                             {"Min-p", Num(p.min_p)},
                             {"Repeat penalty", Num(p.repeat_penalty)},
                             {"Use case", p.use_case.empty() ? "-" : p.use_case},
                             {"Description", p.description.empty() ? "-" : p.description}},
                            ctx.style));
}

void RunList(Context& ctx) {
  auto profiles = ctx.app().profiles().Profiles();
  if (!profiles.ok()) return ctx.Fail(profiles.status());
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& p : *profiles) arr.push_back(ToJson(p));
    return ctx.PrintJson(arr);
  }
  Table t({"NAME", "MAX TOKENS", "TEMP", "TOP-P", "TOP-K", "ORIGIN", "DESCRIPTION"},
          {Table::Align::kLeft, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight,
           Table::Align::kRight});
  for (const auto& p : *profiles) {
    t.AddRow({p.name, std::to_string(p.max_tokens), Num(p.temperature), Num(p.top_p),
              std::to_string(p.top_k), std::string(ProfileOriginName(p.origin)), p.description});
  }
  ctx.Print(t.Render(ctx.style));
}

}  // namespace

void AddProfile(CLI::App& sub, Context& ctx) {
  sub.require_subcommand(1);

  CLI::App* list = sub.add_subcommand("list", "List the profiles, built-in and your own");
  AddJsonFlag(*list, ctx);
  list->callback([&ctx] { RunList(ctx); });

  auto name = std::make_shared<std::string>();
  CLI::App* info = sub.add_subcommand("info", "Show one profile, inheritance resolved");
  info->add_option("NAME", *name, "Profile name")->required();
  AddJsonFlag(*info, ctx);
  info->callback([&ctx, name] {
    auto p = ctx.app().profiles().GetProfile(*name);
    if (!p.ok()) return ctx.Fail(p.status());
    PrintProfile(ctx, *p);
  });

  auto create_flags = std::make_shared<ProfilePatch>();
  CLI::App* create = sub.add_subcommand("create", "Create a profile in config.toml");
  create->add_option("NAME", *name, "Profile name")->required();
  AddPatchFlags(*create, *create_flags, false);
  AddJsonFlag(*create, ctx);
  create->callback([&ctx, name, create_flags] {
    auto p = ctx.app().profiles().CreateProfile(*name, *create_flags);
    if (!p.ok()) return ctx.Fail(p.status());
    if (!ctx.json) ctx.Print("Created profile " + p->name + "\n");
    PrintProfile(ctx, *p);
  });

  auto update_flags = std::make_shared<ProfilePatch>();
  CLI::App* update = sub.add_subcommand("update", "Change keys of a profile in config.toml");
  update->add_option("NAME", *name, "Profile name")->required();
  AddPatchFlags(*update, *update_flags, true);
  AddJsonFlag(*update, ctx);
  update->callback([&ctx, name, update_flags] {
    const ProfilePatch& patch = *update_flags;
    if (patch.empty()) return ctx.UsageError("profile update: give at least one key to change");
    auto p = ctx.app().profiles().UpdateProfile(*name, patch);
    if (!p.ok()) return ctx.Fail(p.status());
    if (!ctx.json) ctx.Print("Updated profile " + p->name + "\n");
    PrintProfile(ctx, *p);
  });

  CLI::App* del = sub.add_subcommand("delete", "Delete your profile (or your override)");
  del->add_option("NAME", *name, "Profile name")->required();
  AddJsonFlag(*del, ctx);
  del->callback([&ctx, name] {
    Status s = ctx.app().profiles().DeleteProfile(*name);
    if (!s.ok()) return ctx.Fail(s);
    if (ctx.json) return ctx.PrintJson({{"deleted", *name}});
    ctx.Print("Deleted profile " + *name + "\n");
  });

  CLI::App* rec = sub.add_subcommand("recommend", "The profile that suits this machine");
  AddJsonFlag(*rec, ctx);
  rec->callback([&ctx] {
    auto r = ctx.app().profiles().RecommendProfile();
    if (!r.ok()) return ctx.Fail(r.status());
    if (ctx.json) return ctx.PrintJson({{"profile", r->profile}, {"reason", r->reason}});
    ctx.Print(r->profile + ": " + r->reason + "\n");
  });
}

namespace {

void PrintSettings(Context& ctx, const nlohmann::json& shown) {
  if (ctx.json) return ctx.PrintJson(shown);
  Table t({"SETTING", "VALUE", "DEFAULT", "WHAT"});
  for (const nlohmann::json& s : shown["settings"]) {
    auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    t.AddRow({s["key"].get<std::string>(), text(s["value"]), text(s["default"]), s["description"].get<std::string>()});
  }
  ctx.Print(t.Render(ctx.style));
  ctx.Print("In " + shown["file"].get<std::string>() + "\n");
  for (const auto& w : shown["warnings"]) ctx.Print(ctx.style.Yellow("warning: ") + w.get<std::string>() + "\n");
}

}  // namespace

void AddConfig(CLI::App& sub, Context& ctx) {
  AddJsonFlag(sub, ctx);
  auto show = [&ctx] {
    auto shown = ctx.app().settings().Settings();
    if (!shown.ok()) return ctx.Fail(shown.status());
    PrintSettings(ctx, *shown);
  };
  sub.callback([&sub, show] {
    if (sub.get_subcommands().empty()) show();
  });
  CLI::App* sh = sub.add_subcommand("show", "The settings, their values and defaults");
  AddJsonFlag(*sh, ctx);
  sh->callback(show);

  auto pairs = std::make_shared<std::vector<std::string>>();
  CLI::App* set = sub.add_subcommand("set", "Change settings: KEY=VALUE ... (all or nothing)");
  set->add_option("KEY=VALUE", *pairs, "limits.max_ram_usage=70% runtime.gpu=off ...")->required();
  AddJsonFlag(*set, ctx);
  set->callback([&ctx, pairs] {
    nlohmann::json changes = nlohmann::json::object();
    for (const std::string& p : *pairs) {
      const size_t eq = p.find('=');
      if (eq == std::string::npos || eq == 0) return ctx.UsageError("config set: expected KEY=VALUE, got " + p);
      const std::string key = p.substr(0, eq), value = p.substr(eq + 1);
      const SettingKey* k = FindSettingKey(key);
      int n = 0;
      if (k != nullptr && k->kind == "integer" &&
          std::from_chars(value.data(), value.data() + value.size(), n).ptr == value.data() + value.size()) {
        changes[key] = n;
      } else {
        changes[key] = value;
      }
    }
    auto shown = ctx.app().settings().Change(changes);
    if (!shown.ok()) return ctx.Fail(shown.status());
    PrintSettings(ctx, *shown);
  });

  auto keys = std::make_shared<std::vector<std::string>>();
  CLI::App* unset = sub.add_subcommand("unset", "Remove settings so their defaults apply again");
  unset->add_option("KEY", *keys, "Settings to remove")->required();
  AddJsonFlag(*unset, ctx);
  unset->callback([&ctx, keys] {
    nlohmann::json changes = nlohmann::json::object();
    for (const std::string& k : *keys) changes[k] = nullptr;
    auto shown = ctx.app().settings().Change(changes);
    if (!shown.ok()) return ctx.Fail(shown.status());
    PrintSettings(ctx, *shown);
  });
}

}  // namespace hangar::cli
