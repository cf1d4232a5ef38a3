#!/usr/bin/env python3
"""Renders the extension's icons (a speech bubble with a check mark) as PNGs, with no
dependencies beyond the standard library. Run from anywhere: `python3 extension/icons/render.py`."""
import math
import struct
import zlib
from pathlib import Path

TEAL = (15, 118, 110)
WHITE = (255, 255, 255)
SAMPLES = 4  # supersampling per axis, for anti-aliased edges


def inside_bubble(x, y):
    """The bubble: a rounded square over (0.08..0.92, 0.08..0.76) and a tail at the bottom left."""
    left, top, right, bottom, radius = 0.08, 0.08, 0.92, 0.76, 0.18
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    if (x - cx) ** 2 + (y - cy) ** 2 <= radius**2:
        return True
    # Tail: triangle (0.24, 0.7) (0.46, 0.7) (0.22, 0.94).
    ax, ay, bx, by, qx, qy = 0.24, 0.7, 0.46, 0.7, 0.22, 0.94
    d1 = (x - bx) * (ay - by) - (ax - bx) * (y - by)
    d2 = (x - qx) * (by - qy) - (bx - qx) * (y - qy)
    d3 = (x - ax) * (qy - ay) - (qx - ax) * (y - ay)
    return (d1 < 0) == (d2 < 0) == (d3 < 0)


def on_check(x, y):
    """The check mark: two thick segments."""
    def near(ax, ay, bx, by, width):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        return math.hypot(x - (ax + t * dx), y - (ay + t * dy)) <= width

    return near(0.28, 0.42, 0.44, 0.57, 0.065) or near(0.44, 0.57, 0.72, 0.27, 0.065)


def render(size):
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            bubble = check = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) / size
                    y = (py + (sy + 0.5) / SAMPLES) / size
                    if inside_bubble(x, y):
                        bubble += 1
                        check += on_check(x, y)
            n = SAMPLES * SAMPLES
            alpha = bubble / n
            mix = check / bubble if bubble else 0
            color = [round(t * (1 - mix) + w * mix) for t, w in zip(TEAL, WHITE)]
            row += bytes(color + [round(alpha * 255)])
        rows.append(bytes(row))
    return png(size, size, b"".join(rows))


def png(width, height, raw):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for size in (16, 32, 48, 128):
        (here / f"icon{size}.png").write_bytes(render(size))
