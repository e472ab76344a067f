// Tokenizes texts with Hugging Face's tokenizers.js (the JavaScript port of
// the `tokenizers` library) and a checkpoint's tokenizer.json, as Hugging Face
// does without special tokens added:
//   node tokenize.mjs TOKENIZER_DIR TEXTS.json  ->  [[ids...], ...] on stdout
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, textsFile] = process.argv.slice(2);
const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")),
                                JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")));
const texts = JSON.parse(readFileSync(textsFile, "utf8"));
const out = texts.map((t) => tokenizer.encode(t, { add_special_tokens: false }).ids);
process.stdout.write(JSON.stringify(out) + "\n");
