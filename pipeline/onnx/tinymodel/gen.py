#!/usr/bin/env python3
"""Writes the tiny ONNX models nexus tests its neural plumbing with.

Not trained and not meant to mean anything: two BERT-shaped graphs small
enough to commit (a few KB each) that exercise what the Go side must get
right — int64 input_ids/attention_mask/token_type_ids of any batch and
length, attention that must not see padding, mean pooling (embedder) and a
[CLS] logit (cross-encoder). Token ids are taken modulo a small vocabulary,
so the models accept the ids of any tokenizer (the real MiniLM one in tests,
the small tokenizer.json written here for `nexus gpu check`).

Needs Debian's python3-onnx (apt-get install -y python3-onnx); CI does not
run this, the outputs are committed. Run from anywhere:

    /usr/bin/python3 pipeline/onnx/tinymodel/gen.py
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = 101  # ids are folded into this many embedding rows
HIDDEN = 8
OPSET = 14


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def trunk(rng):
    """Embedding + one masked self-attention layer; returns nodes, inits."""
    f32 = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float32)
    inits = [
        const("vocab", np.array(VOCAB, dtype=np.int64)),
        const("word_emb", f32(VOCAB, HIDDEN)),
        const("type_emb", f32(2, HIDDEN)),
        const("wq", f32(HIDDEN, HIDDEN)),
        const("wk", f32(HIDDEN, HIDDEN)),
        const("wv", f32(HIDDEN, HIDDEN)),
        const("wo", f32(HIDDEN, HIDDEN)),
        const("bo", f32(HIDDEN)),
        const("scale", np.array(1 / np.sqrt(HIDDEN), dtype=np.float32)),
        const("one", np.array(1, dtype=np.float32)),
        const("neg", np.array(-10000, dtype=np.float32)),
        const("axis1", np.array([1], dtype=np.int64)),
    ]
    n = helper.make_node
    nodes = [
        n("Mod", ["input_ids", "vocab"], ["ids"]),
        n("Gather", ["word_emb", "ids"], ["we"]),
        n("Gather", ["type_emb", "token_type_ids"], ["te"]),
        n("Add", ["we", "te"], ["x"]),
        n("MatMul", ["x", "wq"], ["q"]),
        n("MatMul", ["x", "wk"], ["k"]),
        n("MatMul", ["x", "wv"], ["v"]),
        n("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        n("MatMul", ["q", "kt"], ["qk"]),
        n("Mul", ["qk", "scale"], ["scores"]),
        # (1 - mask) * -10000 on [B, 1, T]: padded keys get no weight.
        n("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["maskf", "axis1"], ["mask3"]),
        n("Sub", ["one", "mask3"], ["inv"]),
        n("Mul", ["inv", "neg"], ["bias"]),
        n("Add", ["scores", "bias"], ["masked"]),
        n("Softmax", ["masked"], ["probs"], axis=-1),
        n("MatMul", ["probs", "v"], ["ctx"]),
        n("Add", ["x", "ctx"], ["h"]),
        n("MatMul", ["h", "wo"], ["ho"]),
        n("Add", ["ho", "bo"], ["hb"]),
        n("Tanh", ["hb"], ["last_hidden_state"]),
    ]
    return nodes, inits


def inputs():
    return [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="nexus-tinymodel")
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    print(path, os.path.getsize(path), "bytes")


def embedder():
    nodes, inits = trunk(np.random.default_rng(1))
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                        ["batch", "sequence", HIDDEN])
    save(helper.make_graph(nodes, "tiny-bi-encoder", inputs(), [out], inits),
         os.path.join(HERE, "embedder", "model.onnx"))


def cross_encoder():
    rng = np.random.default_rng(2)
    nodes, inits = trunk(rng)
    inits += [
        const("cls_index", np.array(0, dtype=np.int64)),
        const("wc", (rng.standard_normal((HIDDEN, 1)) * 0.5).astype(np.float32)),
        const("bc", np.array([0.1], dtype=np.float32)),
    ]
    n = helper.make_node
    nodes += [
        n("Gather", ["last_hidden_state", "cls_index"], ["cls"], axis=1),
        n("MatMul", ["cls", "wc"], ["cw"]),
        n("Add", ["cw", "bc"], ["logits"]),
    ]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])
    save(helper.make_graph(nodes, "tiny-cross-encoder", inputs(), [out], inits),
         os.path.join(HERE, "crossencoder", "model.onnx"))


def tokenizer():
    """A BERT WordPiece tokenizer.json with a small vocabulary: the special
    tokens, letters, digits and punctuation (alone and as ## pieces, so every
    ASCII word tokenizes), and a few compliance words."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    vocab += chars + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    vocab += ["##" + c for c in chars]
    words = ("the and of to a in is for access control controls account accounts audit "
             "log logs logging encrypt encryption enabled key keys policy security data "
             "system systems user users cache api gateway network monitor").split()
    vocab += words + ["##s", "##ed", "##ing", "##tion"]
    seen = {}
    for t in vocab:
        seen.setdefault(t, len(seen))
    special = lambda i, t: {"id": i, "content": t, "single_word": False, "lstrip": False,
                            "rstrip": False, "normalized": False, "special": True}
    doc = {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [special(seen[t], t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [seen[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": seen},
    }
    path = os.path.join(HERE, "tokenizer.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    embedder()
    cross_encoder()
    tokenizer()
