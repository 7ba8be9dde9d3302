"""3x3 'same' convolution + ReLU by Winograd's minimal filtering F(2x2, 3x3), in plain torch ops.

Each 4x4 input tile (stride 2) is transformed with B^T d B, multiplied channel-wise with the transformed
kernel G g G^T, and the 4x4 products are transformed back with A^T m A into a 2x2 output tile: 16
multiplications per output pair of channels and 2x2 pixels instead of 36 (2.25x fewer). The 16
products are one grouped 1x1 convolution (16 groups of [tiles, in] @ [in, out]), run by oneDNN in bf16. The
transforms only add and subtract, so they cost no precision beyond bf16 rounding of their sums.
Activations are NHWC throughout.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# G for F(2x2, 3x3): the kernel transform. B^T and A^T are written out as adds and subtracts below.
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def winograd_kernel(kernel: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """(out, in, 3, 3) kernel -> Winograd-domain kernel as a 16-group 1x1 convolution (16 * out, in, 1, 1).

    Transformed in fp64 and rounded once to `dtype`.
    """
    transformed = np.einsum("ai,kcij,bj->abkc", _G, kernel.astype(np.float64), _G)
    out_channels, in_channels = kernel.shape[:2]
    grouped = torch.from_numpy(transformed.reshape(16 * out_channels, in_channels, 1, 1))
    return grouped.to(dtype).contiguous(memory_format=torch.channels_last)


def _input_transform(x: torch.Tensor, th: int, tw: int) -> torch.Tensor:
    """NHWC x -> (n, th, tw, 4, 4, C): B^T d B of every 4x4 tile at stride 2 (zero 'same' padding)."""
    n, h, w, c = x.shape
    padded = F.pad(x, (0, 0, 1, 2 * tw + 1 - w, 1, 2 * th + 1 - h))
    even, odd = padded[:, 0::2], padded[:, 1::2]
    rows = torch.empty((n, th, 2 * tw + 2, 4, c), dtype=x.dtype)
    # B^T rows: (d0 - d2), (d1 + d2), (d2 - d1), (d1 - d3); tile t starts at padded row 2t.
    torch.sub(even[:, :-1], even[:, 1:], out=rows[:, :, :, 0])
    torch.add(odd[:, :-1], even[:, 1:], out=rows[:, :, :, 1])
    torch.sub(even[:, 1:], odd[:, :-1], out=rows[:, :, :, 2])
    torch.sub(odd[:, :-1], odd[:, 1:], out=rows[:, :, :, 3])
    v = torch.empty((n, th, tw, 4, 4, c), dtype=x.dtype)
    ev, od = rows[:, :, 0::2], rows[:, :, 1::2]
    torch.sub(ev[:, :, :-1], ev[:, :, 1:], out=v[..., 0, :])
    torch.add(od[:, :, :-1], ev[:, :, 1:], out=v[..., 1, :])
    torch.sub(ev[:, :, 1:], od[:, :, :-1], out=v[..., 2, :])
    torch.sub(od[:, :, :-1], od[:, :, 1:], out=v[..., 3, :])
    return v


def _output_transform(m: torch.Tensor) -> torch.Tensor:
    """(n, th, tw, 4, 4, K) products -> NHWC (n, 2th, 2tw, K) by A^T m A: rows (m0+m1+m2), (m1-m2-m3)."""
    n, th, tw, _, _, k = m.shape
    z = torch.empty((2, n, th, tw, 4, k), dtype=m.dtype)
    torch.add(m[:, :, :, 0], m[:, :, :, 1], out=z[0]).add_(m[:, :, :, 2])
    torch.sub(m[:, :, :, 1], m[:, :, :, 2], out=z[1]).sub_(m[:, :, :, 3])
    y = torch.empty((n, th, 2, tw, 2, k), dtype=m.dtype)
    for i in range(2):
        torch.add(z[i, ..., 0, :], z[i, ..., 1, :], out=y[:, :, i, :, 0]).add_(z[i, ..., 2, :])
        torch.sub(z[i, ..., 1, :], z[i, ..., 2, :], out=y[:, :, i, :, 1]).sub_(z[i, ..., 3, :])
    return y.view(n, 2 * th, 2 * tw, k)


def winograd_conv_relu(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """relu(conv3x3_same(x) + bias) for NHWC x, with a kernel from `winograd_kernel`."""
    n, h, w, c = x.shape
    th, tw = (h + 1) // 2, (w + 1) // 2
    k = kernel.shape[0] // 16
    v = _input_transform(x, th, tw)
    # The 16 per-position products as one grouped 1x1 convolution: each tile is a "pixel" whose 16 * C
    # channels are its 16 transformed positions. oneDNN runs this as one bf16 brgemm kernel, much faster
    # than torch.bmm's 16 separate matrix products here.
    pixels = v.view(1, n * th * tw, 1, 16 * c).permute(0, 3, 1, 2)
    products = F.conv2d(pixels, kernel, groups=16)
    y = _output_transform(products.permute(0, 2, 3, 1).reshape(n, th, tw, 4, 4, k))
    if y.shape[1] != h or y.shape[2] != w:
        y = y[:, :h, :w].contiguous()
    return y.add_(bias).relu_()
