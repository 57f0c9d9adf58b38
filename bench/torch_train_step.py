#!/usr/bin/env python3
"""COMPARISON TOOL, not part of the project: the CMGA pre-training step of
../shared/spec/cmga.md (sections 3-9) written directly in PyTorch, timed with autograd
and torch.optim.AdamW, to put the compiled train step's steps/s (bench/train.ts) next
to PyTorch's on the same machine.

    /usr/bin/python3 bench/torch_train_step.py --check test/fixtures/cmga-tiny
        checks this script against the fixture's losses and gradients (float64)
    /usr/bin/python3 bench/torch_train_step.py --config CONFIG.json --batch 8 --len 16 --steps 20
        times steps (float32, 2 threads), prints one JSON line

Needs only torch and numpy (Debian: apt-get install python3-torch).
"""
import argparse
import json
import math
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    kinds = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        s, e = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(data[8 + n + s:8 + n + e], dtype=kinds[v['dtype']]).reshape(v['shape']).copy())
    return out


class CMGA:
    """The model as functions of a parameter dict with ALBEF names."""

    def __init__(self, c, P):
        self.c, self.P = c, P

    def lin(self, x, name):
        return F.linear(x, self.P[name + '.weight'], self.P[name + '.bias'])

    def ln(self, x, name, eps):
        return F.layer_norm(x, x.shape[-1:], self.P[name + '.weight'], self.P[name + '.bias'], eps)

    @staticmethod
    def mha(q, k, v, heads, bias=None):
        B, Tq, D = q.shape
        dh = D // heads
        split = lambda t: t.reshape(B, t.shape[1], heads, dh).transpose(1, 2)
        qh, kh, vh = split(q), split(k), split(v)
        s = qh @ kh.transpose(-1, -2) / math.sqrt(dh)
        A = (s if bias is None else s + bias).softmax(-1)
        return (A @ vh).transpose(1, 2).reshape(B, Tq, D), A, kh

    # -- text (section 4) and relation module (section 6) --
    def mask_bias(self, mask):
        return ((1 - mask.to(self.dtype)) * -10000.0)[:, None, None, :]

    def self_attn(self, x, n, bias):
        t, p = self.c['text'], f'text_encoder.encoder.layer.{n}.attention'
        a, _, _ = self.mha(self.lin(x, p + '.self.query'), self.lin(x, p + '.self.key'), self.lin(x, p + '.self.value'), t['heads'], bias)
        return self.ln(x + self.lin(a, p + '.output.dense'), p + '.output.LayerNorm', t['eps'])

    def ffn(self, x, n):
        t, p = self.c['text'], f'text_encoder.encoder.layer.{n}'
        return self.ln(x + self.lin(F.gelu(self.lin(x, p + '.intermediate.dense')), p + '.output.dense'), p + '.output.LayerNorm', t['eps'])

    def text(self, ids, mask):
        t, P = self.c['text'], self.P
        L = ids.shape[1]
        x = P['text_encoder.embeddings.word_embeddings.weight'][ids] + P['text_encoder.embeddings.position_embeddings.weight'][:L] + P['text_encoder.embeddings.token_type_embeddings.weight'][0]
        x = self.ln(x, 'text_encoder.embeddings.LayerNorm', t['eps'])
        bias = self.mask_bias(mask)
        for n in range(t['textLayers']):
            x = self.ffn(self.self_attn(x, n, bias), n)
        return x

    def relation(self, T, mask, V):
        t = self.c['text']
        bias, x = self.mask_bias(mask), T
        for n in range(t['textLayers'], t['textLayers'] + t['fusionLayers']):
            x = self.self_attn(x, n, bias)
            p = f'text_encoder.encoder.layer.{n}.crossattention'
            a, _, _ = self.mha(self.lin(x, p + '.self.query'), self.lin(V, p + '.self.key'), self.lin(V, p + '.self.value'), t['heads'])
            x = self.ln(x + self.lin(a, p + '.output.dense'), p + '.output.LayerNorm', t['eps'])
            x = self.ffn(x, n)
        return x

    # -- vision with guided compression (section 5) --
    def compress(self, x, A, kh, beta, l, tcls):
        B, T, D = x.shape
        M = T - 1
        kept = math.ceil(round(self.c['compression']['keepRate'] * M, 6))
        s = 0
        if beta > 0:
            a_img = A[:, :, 0, 1:].mean(1)
            s = beta * a_img / a_img.sum(-1, keepdim=True)
        if beta < 1:
            H, dh = kh.shape[1], kh.shape[3]
            w, b = self.P[f'visual_encoder.blocks.{l}.attn.qkv.weight'][:D], self.P[f'visual_encoder.blocks.{l}.attn.qkv.bias'][:D]
            q = F.linear(tcls, w, b).reshape(B, H, 1, dh)
            s = s + (1 - beta) * (q @ kh[:, :, 1:].transpose(-1, -2) / math.sqrt(dh)).softmax(-1).mean(1).squeeze(1)
        keep = s.detach().topk(kept, -1).indices.sort(-1).values
        cand = x[:, 1:]
        w0 = s * (1 - torch.zeros_like(s).scatter(1, keep, 1.0))
        w = w0 / w0.sum(-1, keepdim=True).clamp_min(1e-12)
        kept_tokens = torch.gather(cand, 1, keep.unsqueeze(-1).expand(-1, -1, D))
        return torch.cat([x[:, :1], kept_tokens, w.unsqueeze(1) @ cand], 1)

    def vision(self, pixels, guidance, tcls=None):
        v, P = self.c['vision'], self.P
        B, D = pixels.shape[0], v['width']
        x = F.conv2d(pixels, P['visual_encoder.patch_embed.proj.weight'], P['visual_encoder.patch_embed.proj.bias'], stride=v['patchSize'])
        x = torch.cat([P['visual_encoder.cls_token'].expand(B, -1, -1), x.flatten(2).transpose(1, 2)], 1) + P['visual_encoder.pos_embed']
        beta = {'image': 1.0, 'joint': self.c['compression']['imageWeight'], 'text': 0.0}[guidance]
        for l in range(v['depth']):
            p = f'visual_encoder.blocks.{l}'
            q, k, vv = self.lin(self.ln(x, p + '.norm1', v['eps']), p + '.attn.qkv').split(D, -1)
            out, A, kh = self.mha(q, k, vv, v['heads'])
            x = x + self.lin(out, p + '.attn.proj')
            if l in self.c['compression']['layers']:
                x = self.compress(x, A, kh, beta, l, tcls)
            x = x + self.lin(F.gelu(self.lin(self.ln(x, p + '.norm2', v['eps']), p + '.mlp.fc1')), p + '.mlp.fc2')
        return self.ln(x, 'visual_encoder.norm', v['eps'])

    # -- section 7 and section 9 --
    def losses(self, pixels, ids, mask, mlm_ids, mlm_labels):
        P, t = self.P, self.c['text']
        self.dtype = pixels.dtype
        B = pixels.shape[0]
        norm = lambda x: F.normalize(x, dim=-1, eps=1e-12)
        temp = P['temp'].clamp(0.001, 0.5)
        T = self.text(ids, mask)
        Vi = self.vision(pixels, 'image')
        sg = norm(self.lin(Vi[:, 0], 'vision_proj')) @ norm(self.lin(T[:, 0], 'text_proj')).T
        v, tt = norm(self.lin(Vi[:, 1:], 'vision_proj')), norm(self.lin(T[:, 1:], 'text_proj'))
        valid = mask[:, 1:].to(self.dtype)
        S = torch.einsum('jre,ike->ijrk', tt, v)
        t2i = (S.amax(3) * valid[None]).sum(2) / valid.sum(1)[None]
        i2t = (S + (valid[None, :, :, None] - 1) * 1e4).amax(2).sum(2) / v.shape[1]
        sl = (t2i + i2t) / 2
        ar = torch.arange(B)
        sym = lambda sim: (F.cross_entropy(sim, ar) + F.cross_entropy(sim.T, ar)) / 2
        itc, ftc = sym(sg / temp), sym(sl / temp)
        with torch.no_grad():
            masked = sg - torch.eye(B, dtype=sg.dtype) * 1e9
            neg_image, neg_text = masked.argmax(0), masked.argmax(1)
        image_of, text_of = torch.cat([ar, neg_image, ar]), torch.cat([ar, ar, neg_text])
        Tp = T[text_of]
        Vj = self.vision(pixels[image_of], 'joint', Tp[:, 0])
        logits = self.lin(self.relation(Tp, mask[text_of], Vj)[:, 0], 'itm_head')
        itm = F.cross_entropy(logits, torch.cat([torch.ones(B), torch.zeros(2 * B)]).long())
        Tm = self.text(mlm_ids, mask)
        Fm = self.relation(Tm, mask, self.vision(pixels, 'joint', Tm[:, 0]))
        h = self.ln(F.gelu(self.lin(Fm, 'text_encoder.cls.predictions.transform.dense')), 'text_encoder.cls.predictions.transform.LayerNorm', t['eps'])
        vocab = h @ P['text_encoder.embeddings.word_embeddings.weight'].T + P['text_encoder.cls.predictions.bias']
        mlm = F.cross_entropy(vocab.reshape(-1, t['vocabSize']), mlm_labels.reshape(-1), ignore_index=-100)
        return {'loss': itc + ftc + itm + mlm, 'loss_itc': itc, 'loss_ftc': ftc, 'loss_itm': itm, 'loss_mlm': mlm, 'itm_neg_image': neg_image, 'itm_neg_text': neg_text}


def check(fixture):
    c = json.load(open(f'{fixture}/config.json'))
    P = {k: v.double().requires_grad_() for k, v in read_safetensors(f'{fixture}/weights.safetensors').items()}
    x = read_safetensors(f'{fixture}/inputs.safetensors')
    ref = read_safetensors(f'{fixture}/grads.safetensors')
    out = CMGA(c, P).losses(x['pixels'].double(), x['input_ids'], x['attention_mask'], x['mlm_input_ids'], x['mlm_labels'])
    out['loss'].backward()
    worst = max(abs(float(out[k]) - float(ref[k])) for k in ['loss', 'loss_itc', 'loss_ftc', 'loss_itm', 'loss_mlm'])
    negatives = all(torch.equal(out[k], ref[k]) for k in ['itm_neg_image', 'itm_neg_text'])
    units = max(float(((P[k[5:]].grad.reshape(g.shape) - g.double()).abs() / (1e-3 * g.double().abs()).clamp_min(1e-4)).max()) for k, g in ref.items() if k.startswith('grad.') and P[k[5:]].grad is not None)
    print(json.dumps({'worst_loss_diff': worst, 'negatives_equal': negatives, 'worst_grad_in_tolerance_units': units}))


def random_params(c):
    v, t, E = c['vision'], c['text'], c['align']['embedDim']
    D, Dt = v['width'], t['width']
    N = (v['imageSize'] // v['patchSize']) ** 2
    shapes = {'visual_encoder.cls_token': [1, 1, D], 'visual_encoder.pos_embed': [1, N + 1, D],
              'visual_encoder.patch_embed.proj.weight': [D, 3, v['patchSize'], v['patchSize']], 'visual_encoder.patch_embed.proj.bias': [D],
              'visual_encoder.norm.weight': [D], 'visual_encoder.norm.bias': [D]}
    lin = lambda name, o, i: shapes.update({name + '.weight': [o, i], name + '.bias': [o]})
    for l in range(v['depth']):
        p = f'visual_encoder.blocks.{l}'
        for n in ['norm1', 'norm2']:
            shapes.update({f'{p}.{n}.weight': [D], f'{p}.{n}.bias': [D]})
        lin(p + '.attn.qkv', 3 * D, D), lin(p + '.attn.proj', D, D), lin(p + '.mlp.fc1', v['mlpDim'], D), lin(p + '.mlp.fc2', D, v['mlpDim'])
    te = 'text_encoder.embeddings'
    shapes.update({te + '.word_embeddings.weight': [t['vocabSize'], Dt], te + '.position_embeddings.weight': [t['maxPositions'], Dt],
                   te + '.token_type_embeddings.weight': [t['typeVocabSize'], Dt], te + '.LayerNorm.weight': [Dt], te + '.LayerNorm.bias': [Dt]})
    for n in range(t['textLayers'] + t['fusionLayers']):
        p = f'text_encoder.encoder.layer.{n}'
        for a in ['attention'] + (['crossattention'] if n >= t['textLayers'] else []):
            kv = D if a == 'crossattention' else Dt
            lin(f'{p}.{a}.self.query', Dt, Dt), lin(f'{p}.{a}.self.key', Dt, kv), lin(f'{p}.{a}.self.value', Dt, kv), lin(f'{p}.{a}.output.dense', Dt, Dt)
            shapes.update({f'{p}.{a}.output.LayerNorm.weight': [Dt], f'{p}.{a}.output.LayerNorm.bias': [Dt]})
        lin(p + '.intermediate.dense', t['intermediate'], Dt), lin(p + '.output.dense', Dt, t['intermediate'])
        shapes.update({p + '.output.LayerNorm.weight': [Dt], p + '.output.LayerNorm.bias': [Dt]})
    lin('text_encoder.cls.predictions.transform.dense', Dt, Dt)
    shapes.update({'text_encoder.cls.predictions.transform.LayerNorm.weight': [Dt], 'text_encoder.cls.predictions.transform.LayerNorm.bias': [Dt],
                   'text_encoder.cls.predictions.bias': [t['vocabSize']], 'temp': []})
    lin('vision_proj', E, D), lin('text_proj', E, Dt), lin('itm_head', 2, Dt)
    g = torch.Generator().manual_seed(0)
    P = {}
    for k, s in shapes.items():
        if k == 'temp':
            P[k] = torch.tensor(0.07)
        elif k.endswith('.bias'):
            P[k] = torch.zeros(s)
        elif 'norm' in k.lower():
            P[k] = torch.ones(s)
        else:
            P[k] = (torch.randn(s, generator=g) * 0.02).clamp(-0.04, 0.04)
    return {k: p.requires_grad_() for k, p in P.items()}


def timing(a):
    torch.set_num_threads(a.threads)
    c = json.load(open(a.config))
    P = random_params(c)
    model = CMGA(c, P)
    decay = [p for p in P.values() if p.dim() >= 2]
    rest = [p for p in P.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.02}, {'params': rest, 'weight_decay': 0.0}], lr=1e-4)
    B, L, S, V = a.batch, a.len, c['vision']['imageSize'], c['text']['vocabSize']
    g = torch.Generator().manual_seed(1)
    pixels = torch.randn(B, 3, S, S, generator=g)
    ids = torch.randint(5, V, (B, L), generator=g)
    ids[:, 0] = 2
    mask = torch.ones(B, L, dtype=torch.long)
    labels = torch.where(torch.rand(B, L, generator=g) < 0.15, ids, torch.full_like(ids, -100))
    mlm_ids = torch.where(labels >= 0, torch.full_like(ids, 4), ids)
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model.losses(pixels, ids, mask, mlm_ids, labels)['loss'].backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    ms = sorted(times)[len(times) // 2] * 1000
    print(json.dumps({'config': a.config, 'batch': B, 'len': L, 'threads': a.threads, 'torch': torch.__version__, 'ms_per_step': ms, 'steps_per_second': 1000 / ms}))


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--check')
    ap.add_argument('--config')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--len', type=int, default=16)
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    check(a.check) if a.check else timing(a)
