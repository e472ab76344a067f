#include "checkpoint/vocab.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <vector>

#include "checkpoint/sentencepiece.h"

namespace hangar::checkpoint {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The file's JSON, null when it does not exist.
Result<json> ReadJson(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return json();
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) return InvalidArgumentError(fmt::format("{} is not valid JSON", path.filename().string()));
  return j;
}

Result<std::optional<std::string>> ReadText(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return std::optional<std::string>(text.str());
}

// llama.cpp's converter marks these added tokens CONTROL even when the
// tokenizer does not call them special (does_token_look_special).
bool LooksSpecial(std::string_view t) {
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (t.starts_with("<|") && t.ends_with("|>")) return true;
  if (t.starts_with("<\xef\xbd\x9c") && t.ends_with("\xef\xbd\x9c>")) return true;  // <｜ ... ｜>
  return t.starts_with("<unused") && t.ends_with(">");
}

std::string SpacesFromMetaspace(std::string s) {
  static const std::string kMeta = "\xe2\x96\x81";  // ▁
  for (size_t at = s.find(kMeta); at != std::string::npos; at = s.find(kMeta, at + 1)) s.replace(at, kMeta.size(), " ");
  return s;
}

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;  // empty for BPE
  std::vector<int32_t> types;
};

std::optional<int64_t> ConfigVocabSize(const HfCheckpoint& c) {
  auto it = c.config.find("vocab_size");
  if (it != c.config.end() && it->is_number_integer() && it->get<int64_t>() > 0) return it->get<int64_t>();
  return std::nullopt;
}

// _create_vocab_sentencepiece (and Phi-3's variant when `phi3`).
Result<Vocab> SentencePieceVocab(const HfCheckpoint& c, const json& tokenizer_config, const json& tj, bool phi3) {
  ASSIGN_OR_RETURN(SentencePieceModel sp, ReadSentencePiece(c.root / "tokenizer.model"));
  const int64_t n = ConfigVocabSize(c).value_or(static_cast<int64_t>(sp.pieces.size()));
  Vocab v;
  v.tokens.resize(n);
  for (int64_t i = 0; i < n; ++i) v.tokens[i] = fmt::format("[PAD{}]", i);
  v.scores.assign(n, -10000.0f);
  v.types.assign(n, static_cast<int32_t>(PieceType::kUnused));
  for (size_t i = 0; i < sp.pieces.size() && static_cast<int64_t>(i) < n; ++i) {
    const auto& p = sp.pieces[i];
    v.tokens[i] = p.text;
    v.scores[i] = p.score;
    // SentencePiece's IsUnknown / IsControl / IsUnused / IsByte; a
    // user-defined piece reads as NORMAL there.
    switch (p.type) {
      case PieceType::kUnknown: case PieceType::kControl: case PieceType::kUnused: case PieceType::kByte:
        v.types[i] = static_cast<int32_t>(p.type);
        break;
      default:
        v.types[i] = static_cast<int32_t>(PieceType::kNormal);
    }
  }
  ASSIGN_OR_RETURN(json added, ReadJson(c.root / "added_tokens.json"));
  if (added.is_object()) {
    for (const auto& [text, id] : added.items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= n) continue;
      v.tokens[id.get<int64_t>()] = text;
      v.scores[id.get<int64_t>()] = -1000.0f;
      v.types[id.get<int64_t>()] = static_cast<int32_t>(PieceType::kUserDefined);
    }
  }
  auto apply = [&](int64_t id, const json& data, bool looks_special_counts) {
    if (id < 0 || id >= n || !data.is_object() || !data.contains("content") || !data["content"].is_string()) return;
    std::string token = data["content"].get<std::string>();
    const bool special = data.value("special", false);
    if (special || (looks_special_counts && LooksSpecial(token))) {
      v.types[id] = static_cast<int32_t>(PieceType::kControl);
    } else {
      if (!phi3) token = SpacesFromMetaspace(token);
      v.types[id] = static_cast<int32_t>(PieceType::kUserDefined);
    }
    v.scores[id] = -1000.0f;
    v.tokens[id] = token;
  };
  if (tokenizer_config.is_object() && tokenizer_config.contains("added_tokens_decoder") &&
      tokenizer_config["added_tokens_decoder"].is_object()) {
    for (const auto& [key, data] : tokenizer_config["added_tokens_decoder"].items()) {
      int64_t id = -1;
      try { id = std::stoll(key); } catch (...) { continue; }
      apply(id, data, !phi3);
    }
  }
  if (phi3) {
    if (tj.is_object() && tj.contains("added_tokens") && tj["added_tokens"].is_array()) {
      for (const json& t : tj["added_tokens"]) {
        if (t.is_object() && t.contains("id") && t["id"].is_number_integer()) apply(t["id"].get<int64_t>(), t, false);
      }
    }
  }
  return v;
}

}  // namespace

Result<std::string> DetectPreTokenizer(const json& pre) {
  // The expressions llama.cpp's llama-vocab.cpp uses for each name, as the
  // tokenizers of those families spell them.
  static const std::map<std::string, std::string> kByRegex = {
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "llama-bpe"},
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "qwen2"},
  };
  if (pre.is_object() && pre.value("type", "") == "ByteLevel" && pre.value("use_regex", true)) return std::string("gpt-2");
  std::string regex;
  std::vector<json> parts;
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array()) {
    parts.assign(pre["pretokenizers"].begin(), pre["pretokenizers"].end());
  } else if (pre.is_object()) {
    parts.push_back(pre);
  }
  for (const json& p : parts) {
    if (!p.is_object() || p.value("type", "") != "Split") continue;
    if (p.contains("pattern") && p["pattern"].is_object() && p["pattern"].contains("Regex") &&
        p["pattern"]["Regex"].is_string()) {
      regex += p["pattern"]["Regex"].get<std::string>();
    }
  }
  auto it = kByRegex.find(regex);
  if (it != kByRegex.end()) return it->second;
  return InvalidArgumentError(fmt::format(
      "tokenizer.json: llama.cpp has no pre-tokenizer matching {} (known: the Llama 3 and Qwen 2/3 "
      "expressions, GPT-2's byte-level one); converting it with a default one would tokenize wrongly",
      regex.empty() ? pre.dump().substr(0, 200) : "the expression " + json(regex).dump()));
}

namespace {

// gguf.SpecialVocab: ids of bos/eos/unk/sep/pad/mask, add_bos/add_eos/add_sep,
// merges, the chat template.
struct Special {
  std::vector<std::pair<std::string, int64_t>> ids;  // in the order they were found
  std::vector<std::pair<std::string, bool>> add;
  std::vector<std::string> merges;
  std::optional<json> chat_template;
  void SetId(const std::string& type, const json& id, int64_t n_vocab) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= n_vocab) return;
    for (const auto& [t, v] : ids) if (t == type) return;
    ids.emplace_back(type, id.get<int64_t>());
  }
  void SetAdd(const std::string& type, bool value) {
    for (auto& [t, v] : add) if (t == type) { v = value; return; }
    add.emplace_back(type, value);
  }
};

std::string SpecialId(const json& processor_entry) {
  if (processor_entry.is_object() && processor_entry.contains("SpecialToken") &&
      processor_entry["SpecialToken"].is_object()) {
    return processor_entry["SpecialToken"].value("id", "");
  }
  return "";
}

std::string TokenContent(const json& entry) {
  if (entry.is_string()) return entry.get<std::string>();
  if (entry.is_object() && entry.contains("content") && entry["content"].is_string()) return entry["content"].get<std::string>();
  return "";
}

// `tokenizer` and `tokenizer_config`: the parsed files (null when absent);
// the config is changed as gguf-py's SpecialVocab changes it, so it is a copy.
Result<Special> ReadSpecial(const HfCheckpoint& c, int64_t n_vocab, bool load_merges, const json& tokenizer,
                            json config) {
  Special s;
  std::vector<std::string> types = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  json added_tokens = json::array();
  if (tokenizer.is_object()) {
    if (load_merges && tokenizer.contains("model") && tokenizer["model"].contains("merges")) {
      const json& merges = tokenizer["model"]["merges"];
      for (const json& m : merges) {
        if (m.is_string()) {
          s.merges.push_back(m.get<std::string>());
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
          std::string joined;
          for (int i = 0; i < 2; ++i) {
            if (i) joined += ' ';
            for (char ch : m[i].get<std::string>()) {
              if (ch == ' ') joined += "\xc4\xa0";  // U+0120, as gguf-py encodes a space inside a merge
              else joined += ch;
            }
          }
          s.merges.push_back(std::move(joined));
        } else {
          return InvalidArgumentError("tokenizer.json: merges in an unknown format");
        }
      }
    }
    if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) added_tokens = tokenizer["added_tokens"];
  }
  if (tokenizer.is_object()) {
    auto cfg = [&](const char* key) { return config.is_object() && config.contains(key) ? TokenContent(config[key]) : ""; };
    std::string bos = cfg("bos_token"), cls = cfg("cls_token"), eos = cfg("eos_token"), sep = cfg("sep_token");
    if (bos.empty() && !cls.empty() && config.is_object()) config["bos_token"] = bos = cls;
    if (eos.empty() && !sep.empty() && config.is_object()) config["eos_token"] = eos = sep;
    const json& post = tokenizer.contains("post_processor") ? tokenizer["post_processor"] : json();
    std::vector<json> processors;
    if (post.is_object()) {
      if (post.contains("processors") && post["processors"].is_array()) processors.assign(post["processors"].begin(), post["processors"].end());
      else processors.push_back(post);
    }
    for (const json& p : processors) {
      if (!p.is_object()) continue;
      const std::string type = p.value("type", "");
      if (type == "RobertaProcessing") {
        s.SetAdd("bos", true);
        s.SetAdd("eos", true);
        s.SetAdd("sep", true);
        continue;
      }
      if (type != "TemplateProcessing") continue;
      const json single = p.value("single", json::array());
      json pair = p.value("pair", json::array());
      std::string first, last;
      if (single.size() > 1) {
        first = SpecialId(single.front());
        if (!first.empty()) {
          if (!config.is_object()) {
            bos = first;
          } else if (first != bos && first != cls) {
            if (bos.empty()) config["bos_token"] = bos = first;
            if (cls.empty()) config["cls_token"] = cls = first;
          }
          s.SetAdd("bos", first == bos || first == cls);
        }
        last = SpecialId(single.back());
        if (!last.empty()) {
          if (!config.is_object()) {
            eos = last;
          } else if (last != eos) {
            types.push_back("eot");
            config["eot_token"] = eos;
            config["eos_token"] = eos = last;
          }
          s.SetAdd("eos", last == eos);
        }
      }
      if (!pair.empty()) {
        size_t start = (!first.empty() && SpecialId(pair.front()) == first) ? 1 : 0;
        size_t stop = pair.size();
        if (!last.empty() && SpecialId(pair.back()) == last) --stop;
        if (start < stop) {
          std::vector<json> mid(pair.begin() + start, pair.begin() + stop);
          auto seq = [](const json& e) {
            return e.is_object() && e.contains("Sequence") ? e["Sequence"].value("id", "") : std::string();
          };
          if (seq(mid.front()) == "A" && seq(mid.back()) == "B" && mid.size() > 2) {
            std::vector<json> inner(mid.begin() + 1, mid.end() - 1);
            bool add_sep = false;
            const std::string e0 = SpecialId(inner[0]);
            if (!e0.empty() && (e0 == sep || e0 == eos) && last.empty()) add_sep = true;
            if (inner.size() == 2) {
              const std::string e1 = SpecialId(inner[1]);
              if (!e1.empty() && (e1 == sep || e1 == eos)) add_sep = true;
            }
            s.SetAdd("sep", add_sep);
            if (add_sep && sep.empty() && config.is_object()) config["sep_token"] = eos;
          }
        }
      }
    }
  }
  if (config.is_object()) {
    ASSIGN_OR_RETURN(std::optional<std::string> jinja, ReadText(c.root / "chat_template.jinja"));
    json alternative;
    if (jinja) {
      alternative = *jinja;
    } else {
      ASSIGN_OR_RETURN(json ct, ReadJson(c.root / "chat_template.json"));
      if (ct.is_object() && ct.contains("chat_template")) alternative = ct["chat_template"];
    }
    json chat = config.contains("chat_template") ? config["chat_template"] : alternative;
    if (chat.is_string() || chat.is_array()) s.chat_template = chat;
    for (const std::string& type : types) {
      const std::string add_key = "add_" + type + "_token";
      if (config.contains(add_key) && config[add_key].is_boolean()) s.SetAdd(type, config[add_key].get<bool>());
      if (!config.contains(type + "_token")) continue;
      const std::string content = TokenContent(config[type + "_token"]);
      if (content.empty() && !config[type + "_token"].is_string()) continue;
      for (const json& t : added_tokens) {
        if (t.is_object() && t.value("content", "") == content && t.contains("id")) {
          s.SetId(type, t["id"], n_vocab);
          break;
        }
      }
    }
  }
  ASSIGN_OR_RETURN(json raw_config, ReadJson(c.root / "config.json"));
  if (raw_config.is_object()) {
    for (const std::string& type : types) {
      const std::string key = type + "_token_id";
      json id = raw_config.contains(key) ? raw_config[key] : json();
      if (id.is_null() && raw_config.contains("text_config") && raw_config["text_config"].is_object() &&
          raw_config["text_config"].contains(key)) {
        id = raw_config["text_config"][key];
      }
      s.SetId(type, id, n_vocab);
    }
  }
  return s;
}

void WriteSpecial(const Special& s, gguf::GgufWriter& w) {
  static const std::map<std::string, std::string> kIdKeys = {
      {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
      {"pad", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"},
      {"eot", "tokenizer.ggml.eot_token_id"},
  };
  if (!s.merges.empty()) w.SetStrings("tokenizer.ggml.merges", s.merges);
  for (const auto& [type, id] : s.ids) {
    auto it = kIdKeys.find(type);
    if (it != kIdKeys.end()) w.SetU32(it->second, static_cast<uint32_t>(id));  // cls has no GGUF key
  }
  for (const auto& [type, value] : s.add) {
    if (type == "bos" || type == "eos" || type == "sep") w.SetBool("tokenizer.ggml.add_" + type + "_token", value);
  }
  if (s.chat_template) {
    if (s.chat_template->is_string()) {
      w.SetString("tokenizer.chat_template", s.chat_template->get<std::string>());
    } else {
      std::vector<std::string> names;
      for (const json& t : *s.chat_template) {
        if (!t.is_object() || !t.contains("name") || !t.contains("template")) continue;
        const std::string name = t["name"].get<std::string>();
        if (name == "default") w.SetString("tokenizer.chat_template", t["template"].get<std::string>());
        else {
          w.SetString("tokenizer.chat_template." + name, t["template"].get<std::string>());
          names.push_back(name);
        }
      }
      if (!names.empty()) w.SetStrings("tokenizer.chat_templates", names);
    }
  }
}

// A SentencePiece-style BPE vocabulary saved as tokenizer.json (byte
// fallback, merges over "▁"-joined text: Gemma 3, Mistral, Llama 2 fast
// tokenizers) as the SentencePiece vocabulary llama.cpp runs: a token's score
// is minus the rank of the first merge that makes it, so llama.cpp's
// highest-score-first merging follows the merge order; byte tokens are BYTE,
// added tokens CONTROL (special) or USER_DEFINED. `add_space_prefix` tells
// whether the normalizer prepends "▁" to the text.
Result<Vocab> SentencePieceFromTokenizerJson(const HfCheckpoint& c, const json& tokenizer, bool* add_space_prefix) {
  const json& model = tokenizer["model"];
  if (!model.contains("vocab") || !model["vocab"].is_object() || !model.contains("merges") || !model["merges"].is_array()) {
    return InvalidArgumentError("tokenizer.json: a BPE model without its vocabulary or merges");
  }
  std::map<std::string, int64_t> rank;
  int64_t r = 0;
  for (const json& m : model["merges"]) {
    std::string joined;
    if (m.is_string()) {
      const std::string text = m.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos) return InvalidArgumentError("tokenizer.json: a merge without two parts");
      joined = text.substr(0, space) + text.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      joined = m[0].get<std::string>() + m[1].get<std::string>();
    } else {
      return InvalidArgumentError("tokenizer.json: merges in an unknown format");
    }
    rank.emplace(std::move(joined), r++);  // the first merge that makes it
  }
  std::map<int64_t, std::string> by_id;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (id.is_number_integer()) by_id[id.get<int64_t>()] = text;
  }
  std::map<int64_t, bool> added;  // id -> special
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
    for (const json& t : tokenizer["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content")) continue;
      by_id[t["id"].get<int64_t>()] = t["content"].get<std::string>();
      added[t["id"].get<int64_t>()] = t.value("special", false);
    }
  }
  const std::string unk = model.contains("unk_token") && model["unk_token"].is_string() ? model["unk_token"].get<std::string>() : "";
  const int64_t n = ConfigVocabSize(c).value_or(by_id.empty() ? 0 : by_id.rbegin()->first + 1);
  static const std::regex kByte("<0x[0-9A-Fa-f]{2}>");
  Vocab v;
  for (int64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    if (it == by_id.end()) {
      v.tokens.push_back(fmt::format("[PAD{}]", i));
      v.scores.push_back(-1000.0f);
      v.types.push_back(static_cast<int32_t>(PieceType::kUnused));
      continue;
    }
    const std::string& text = it->second;
    PieceType type = PieceType::kNormal;
    float score = 0;
    if (auto a = added.find(i); a != added.end()) {
      type = a->second || LooksSpecial(text) ? PieceType::kControl : PieceType::kUserDefined;
    } else if (text == unk) {
      type = PieceType::kUnknown;
    } else if (std::regex_match(text, kByte)) {
      type = PieceType::kByte;
    } else if (auto m = rank.find(text); m != rank.end()) {
      score = -static_cast<float>(m->second + 1);
    }
    v.tokens.push_back(text);
    v.scores.push_back(score);
    v.types.push_back(static_cast<int32_t>(type));
  }
  *add_space_prefix = false;
  std::vector<json> normalizers;
  if (tokenizer.contains("normalizer") && tokenizer["normalizer"].is_object()) {
    const json& norm = tokenizer["normalizer"];
    if (norm.value("type", "") == "Sequence" && norm.contains("normalizers")) normalizers.assign(norm["normalizers"].begin(), norm["normalizers"].end());
    else normalizers.push_back(norm);
  }
  for (const json& x : normalizers) {
    if (x.is_object() && x.value("type", "") == "Prepend" && x.value("prepend", "") == "\xe2\x96\x81") *add_space_prefix = true;
  }
  if (tokenizer.contains("pre_tokenizer") && tokenizer["pre_tokenizer"].is_object()) {
    const json& pre = tokenizer["pre_tokenizer"];
    if (pre.value("type", "") == "Metaspace" && (pre.value("add_prefix_space", false) || pre.value("prepend_scheme", "never") != "never")) {
      *add_space_prefix = true;
    }
  }
  return v;
}

// get_vocab_base: byte-level BPE tokens and types from tokenizer.json.
Result<Vocab> BpeVocab(const HfCheckpoint& c, const json& tokenizer, std::string* pre) {
  if (!tokenizer.is_object() || !tokenizer.contains("model") || !tokenizer["model"].is_object()) {
    return InvalidArgumentError("tokenizer.json has no model");
  }
  const json& model = tokenizer["model"];
  if (model.value("type", "") != "BPE" || !model.contains("vocab") || !model["vocab"].is_object()) {
    return InvalidArgumentError(fmt::format("tokenizer.json: a {} model; Hangar converts byte-level BPE tokenizers "
                                            "and SentencePiece ones (tokenizer.model)",
                                            model.value("type", "null")));
  }
  ASSIGN_OR_RETURN(*pre, DetectPreTokenizer(tokenizer.contains("pre_tokenizer") ? tokenizer["pre_tokenizer"] : json()));
  std::map<int64_t, std::string> by_id;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (id.is_number_integer()) by_id[id.get<int64_t>()] = text;
  }
  std::map<int64_t, const json*> added;
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
    for (const json& t : tokenizer["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content")) continue;
      by_id[t["id"].get<int64_t>()] = t["content"].get<std::string>();
      added[t["id"].get<int64_t>()] = &t;
    }
  }
  const int64_t n = ConfigVocabSize(c).value_or(static_cast<int64_t>(by_id.size()));
  if (!by_id.empty() && by_id.rbegin()->first >= n) {
    return InvalidArgumentError(fmt::format("tokenizer.json has token id {} but config.json's vocab_size is {}",
                                            by_id.rbegin()->first, n));
  }
  Vocab v;
  v.tokens.reserve(n);
  v.types.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    if (it == by_id.end()) {
      v.tokens.push_back(fmt::format("[PAD{}]", i));
      v.types.push_back(static_cast<int32_t>(PieceType::kUnused));
      continue;
    }
    std::string token = it->second;
    auto a = added.find(i);
    if (a != added.end()) {
      if (a->second->value("special", false) || LooksSpecial(token)) {
        v.types.push_back(static_cast<int32_t>(PieceType::kControl));
      } else {
        token = SpacesFromMetaspace(token);
        v.types.push_back(static_cast<int32_t>(PieceType::kUserDefined));
      }
    } else {
      v.types.push_back(static_cast<int32_t>(PieceType::kNormal));
    }
    v.tokens.push_back(std::move(token));
  }
  return v;
}

}  // namespace

Result<VocabFacts> ConvertVocab(const HfCheckpoint& c, std::string_view arch, gguf::GgufWriter* w) {
  ASSIGN_OR_RETURN(json tokenizer_config, ReadJson(c.root / "tokenizer_config.json"));
  std::string tokenizer_class;
  if (tokenizer_config.is_object() && tokenizer_config.contains("tokenizer_class") &&
      tokenizer_config["tokenizer_class"].is_string()) {
    tokenizer_class = tokenizer_config["tokenizer_class"].get<std::string>();
  }
  bool spm = c.has_tokenizer_model;
  if (arch == "phi3" && tokenizer_class == "GPT2Tokenizer") spm = false;
  if (arch == "gemma2" && !spm) {
    return InvalidArgumentError("gemma2 needs tokenizer.model (SentencePiece), which this checkpoint lacks");
  }
  ASSIGN_OR_RETURN(json tokenizer, ReadJson(c.root / "tokenizer.json"));
  VocabFacts facts;
  Vocab vocab;
  bool spm_from_json = false, space_prefix_from_json = false;
  if (spm) {
    ASSIGN_OR_RETURN(vocab, SentencePieceVocab(c, tokenizer_config, tokenizer, arch == "phi3"));
    facts.model = "llama";
    facts.pre = "default";
  } else {
    if (!c.has_tokenizer_json) {
      return InvalidArgumentError("the checkpoint has neither tokenizer.model nor tokenizer.json: nothing to build a vocabulary from");
    }
    if (tokenizer.is_object() && tokenizer.contains("model") && tokenizer["model"].is_object() &&
        tokenizer["model"].value("type", "") == "BPE" && tokenizer["model"].value("byte_fallback", false)) {
      ASSIGN_OR_RETURN(vocab, SentencePieceFromTokenizerJson(c, tokenizer, &space_prefix_from_json));
      spm_from_json = true;
      facts.model = "llama";
      facts.pre = "default";
    } else {
      ASSIGN_OR_RETURN(vocab, BpeVocab(c, tokenizer, &facts.pre));
      facts.model = "gpt2";
    }
    if (tokenizer.contains("model") && tokenizer["model"].contains("vocab")) {
      facts.source_tokens = tokenizer["model"]["vocab"].size() +
                            (tokenizer.contains("added_tokens") ? tokenizer["added_tokens"].size() : 0);
    }
  }
  facts.tokens = vocab.tokens.size();
  if (facts.source_tokens == 0) facts.source_tokens = facts.tokens;
  if (w == nullptr) return facts;
  if (arch == "llama" && tokenizer_config.is_object() && tokenizer_config.contains("add_prefix_space") &&
      tokenizer_config["add_prefix_space"].is_boolean()) {
    w->SetBool("tokenizer.ggml.add_space_prefix", tokenizer_config["add_prefix_space"].get<bool>());
  }
  w->SetString("tokenizer.ggml.model", facts.model);
  w->SetString("tokenizer.ggml.pre", facts.pre);
  w->SetStrings("tokenizer.ggml.tokens", vocab.tokens);
  if (!vocab.scores.empty()) w->SetF32s("tokenizer.ggml.scores", vocab.scores);
  w->SetI32s("tokenizer.ggml.token_type", vocab.types);
  ASSIGN_OR_RETURN(Special special, ReadSpecial(c, static_cast<int64_t>(vocab.tokens.size()), !spm && !spm_from_json,
                                                       tokenizer, tokenizer_config));
  WriteSpecial(special, *w);
  if (spm && (arch == "gemma2" || arch == "gemma3")) w->SetBool("tokenizer.ggml.add_space_prefix", false);
  if (spm_from_json) w->SetBool("tokenizer.ggml.add_space_prefix", space_prefix_from_json);
  if (arch == "llama" && ConfigVocabSize(c) == 49152) w->SetBool("tokenizer.ggml.add_bos_token", false);
  return facts;
}

}  // namespace hangar::checkpoint
