"""The PyTorch peer of the benchmark (bench-only; the product and its tests never need it).

Builds torchvision's VisionTransformer (``vit_b_16`` for the base config; the same class
with the config's sizes for another), loads our ``visual_encoder.*`` weights into it under
torchvision's names, checks that its final LayerNormed tokens equal our ``vision_none``
``vision_embeds`` on the same pixels, and exports it with ``torch.onnx.export`` (opset
17, dynamic batch), returning all tokens [B, N+1, D] as ``vision_none`` does (the
classification head is not used: torchvision's forward would keep only the [CLS] row and
apply ``heads``; ViT-B/16's pre-logits layer exists only for ImageNet-21k heads).

    python3 bench/torch-peer.py --weights W.safetensors --check CHECK.safetensors --out PEER.onnx

W holds the ``visual_encoder.*`` parameters and a ``__metadata__`` entry ``config`` (the
vision section as JSON); CHECK holds ``pixels`` [B, 3, S, S] and our ``vision_embeds``.
Prints one JSON line: the largest absolute difference, torch's version, the file.
Needs Debian's python3-torch and python3-torchvision (``apt-get install python3-torch
python3-torchvision``); exits 3 with a message when they are missing.
"""
import argparse
import json
import struct
import sys

try:
    import numpy as np
    import torch
    from torchvision.models.vision_transformer import VisionTransformer, vit_b_16
except ImportError as e:  # the benchmark skips the peer and says why
    print(f"torch-peer: {e} (apt-get install python3-torch python3-torchvision)", file=sys.stderr)
    sys.exit(3)

DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    """The tensors (as numpy arrays) and metadata of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + a : base + b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return out, meta


def build(vision):
    """vit_b_16 for the base sizes, else the same class with the config's."""
    sizes = dict(image_size=vision["imageSize"], patch_size=vision["patchSize"], num_layers=vision["depth"],
                 num_heads=vision["heads"], hidden_dim=vision["width"], mlp_dim=vision["mlpDim"])
    base = dict(image_size=224, patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072)
    return vit_b_16(weights=None) if sizes == base else VisionTransformer(**sizes)


def state_dict(w, depth):
    """Our ALBEF (timm) names -> torchvision's."""
    v = "visual_encoder."
    sd = {
        "class_token": w[v + "cls_token"],
        "conv_proj.weight": w[v + "patch_embed.proj.weight"],
        "conv_proj.bias": w[v + "patch_embed.proj.bias"],
        "encoder.pos_embedding": w[v + "pos_embed"],
        "encoder.ln.weight": w[v + "norm.weight"],
        "encoder.ln.bias": w[v + "norm.bias"],
    }
    ours = {"ln_1": "norm1", "self_attention.in_proj_": "attn.qkv.", "self_attention.out_proj.": "attn.proj.",
            "ln_2": "norm2", "mlp.0.": "mlp.fc1.", "mlp.3.": "mlp.fc2."}
    for l in range(depth):
        for theirs, mine in ours.items():
            sep = "" if theirs.endswith(("_", ".")) else "."
            for p in ("weight", "bias"):
                sd[f"encoder.layers.encoder_layer_{l}.{theirs}{sep}{p}"] = w[f"{v}blocks.{l}.{mine}{sep}{p}"]
    return {k: torch.from_numpy(a) for k, a in sd.items()}


class Tokens(torch.nn.Module):
    """torchvision's ViT up to the final LayerNorm, every token (what our vision_none gives)."""

    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, pixels):
        x = self.vit._process_input(pixels)
        cls = self.vit.class_token.expand(x.shape[0], -1, -1)
        return self.vit.encoder(torch.cat([cls, x], dim=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()
    w, meta = read_safetensors(a.weights)
    vision = json.loads(meta["config"])
    vit = build(vision)
    missing, unexpected = vit.load_state_dict(state_dict(w, vision["depth"]), strict=False)
    left = [k for k in missing if not k.startswith("heads.")]
    if left or unexpected:
        sys.exit(f"torch-peer: weights not mapped: missing {left}, unexpected {unexpected}")
    model = Tokens(vit).eval()
    check, _ = read_safetensors(a.check)
    with torch.no_grad():
        got = model(torch.from_numpy(check["pixels"])).numpy()  # the fast path, checked too
    want = check["vision_embeds"]
    diff = float(np.abs(got - want).max())
    if got.shape != want.shape or not diff <= a.tolerance:
        sys.exit(f"torch-peer: outputs differ from ours: shape {got.shape} vs {want.shape}, max |diff| {diff:.3g} > {a.tolerance}")
    # exported with gradients on: under no_grad, torch 1.13's attention takes its fused
    # fast path (aten::_native_multi_head_attention), which has no ONNX export
    torch.onnx.export(model, torch.from_numpy(check["pixels"]), a.out, opset_version=17, input_names=["pixels"],
                      output_names=["vision_embeds"], dynamic_axes={"pixels": {0: "B"}, "vision_embeds": {0: "B"}})
    print(json.dumps({"maxAbsDiff": diff, "torch": torch.__version__, "out": a.out}))


if __name__ == "__main__":
    main()
