"""A stand-in for the `transformers` package, which Debian 12 does not ship:
llama.cpp's converter imports AutoConfig and falls back to reading
config.json itself when AutoConfig fails, which this one always does."""


class AutoConfig:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise OSError("transformers is not installed: config.json is read directly")


class AutoTokenizer:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise ImportError("transformers is not installed")
