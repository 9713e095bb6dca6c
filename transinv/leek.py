"""Leek et al. novel objects: the user's original images, or a seeded procedural stand-in.

The paper used 3D renderings of novel objects from Leek et al. ("leek10": 10 objects,
"leek2": 2 others). Those images are not redistributable, so by default we render a
stand-in: each object is 2-4 geon-like parts (box, capped cylinder, capped cone,
ellipsoid) with random sizes and orientations, each part attached to the body built so
far. The scene is a union of signed-distance functions, sphere-traced with an
orthographic camera and Lambertian + specular shading, all vectorised in numpy. Object i
depends only on (seed, i), so objects are deterministic and prefixes are stable.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

STANDIN_SEED = 0
LEEK_SETS = {"leek10": range(0, 10), "leek2": range(10, 12)}
STANDIN_SIZE = 128
FILL = 0.85  # fraction of the frame's side taken by the silhouette's larger side
KEY_LIGHT = np.array([-0.5, 0.6, 0.65]) / np.linalg.norm([-0.5, 0.6, 0.65])
FILL_LIGHT = np.array([0.6, -0.3, 0.4]) / np.linalg.norm([0.6, -0.3, 0.4])
VIEW = np.array([0.0, 0.0, 1.0])  # towards the camera; rays travel along -z, y is up


def _len(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(v * v, axis=-1))


def sdf_box(p: np.ndarray, half: np.ndarray) -> np.ndarray:
    q = np.abs(p) - half
    return _len(np.maximum(q, 0.0)) + np.minimum(q.max(axis=-1), 0.0)


def sdf_cylinder(p: np.ndarray, r: float, h: float) -> np.ndarray:
    """Capped cylinder along local y, radius r, half-height h."""
    d = np.abs(np.stack([np.hypot(p[:, 0], p[:, 2]), p[:, 1]], axis=-1)) - [r, h]
    return np.minimum(d.max(axis=-1), 0.0) + _len(np.maximum(d, 0.0))


def sdf_cone(p: np.ndarray, h: float, r1: float, r2: float) -> np.ndarray:
    """Capped (truncated) cone along local y: radius r1 at y=-h, r2 at y=+h (exact SDF)."""
    qx, qy = np.hypot(p[:, 0], p[:, 2]), p[:, 1]
    ca = np.stack([qx - np.minimum(qx, np.where(qy < 0, r1, r2)), np.abs(qy) - h], axis=-1)
    k1, k2 = np.array([r2, h]), np.array([r2 - r1, 2 * h])
    q = np.stack([qx, qy], axis=-1)
    cb = q - k1 + k2 * np.clip(((k1 - q) @ k2) / (k2 @ k2), 0.0, 1.0)[:, None]
    sign = np.where((cb[:, 0] < 0) & (ca[:, 1] < 0), -1.0, 1.0)
    return sign * np.sqrt(np.minimum(np.sum(ca * ca, -1), np.sum(cb * cb, -1)))


def sdf_sphere(p: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Ellipsoid (sphere when radii are equal); a close approximation of the true SDF."""
    k0 = _len(p / radii)
    k1 = _len(p / (radii * radii))
    return np.where(k1 > 1e-9, k0 * (k0 - 1.0) / np.maximum(k1, 1e-9), -radii.min())


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniform random 3x3 rotation matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def random_part(rng: np.random.Generator, scale: float = 1.0) -> dict:
    """A random geon in its local frame: kind, shape parameters, inner and bounding radii."""
    kind = rng.choice(["box", "cylinder", "cone", "sphere"])
    if kind == "box":
        half = rng.uniform(0.2, 0.6, size=3) * scale
        sdf, inner, bound = (lambda p: sdf_box(p, half)), half.min(), _len(half)
    elif kind == "cylinder":
        r, h = rng.uniform(0.15, 0.4) * scale, rng.uniform(0.3, 0.8) * scale
        sdf, inner, bound = (lambda p: sdf_cylinder(p, r, h)), min(r, h), np.hypot(r, h)
    elif kind == "cone":
        r1, h = rng.uniform(0.25, 0.5) * scale, rng.uniform(0.3, 0.8) * scale
        r2 = rng.uniform(0.0, 0.4) * r1
        sdf = lambda p: sdf_cone(p, h, r1, r2)  # noqa: E731
        inner, bound = -float(sdf(np.zeros((1, 3)))[0]), np.hypot(r1, h)
    else:
        radii = rng.uniform(0.2, 0.5, size=3) * scale
        radii = np.full(3, radii[0]) if rng.random() < 0.4 else radii  # sometimes a sphere
        sdf, inner, bound = (lambda p: sdf_sphere(p, radii)), radii.min(), radii.max()
    return {"kind": kind, "sdf": sdf, "inner": float(inner), "bound": float(bound)}


def _part_sdfs(parts: list[dict], p: np.ndarray) -> np.ndarray:
    return np.stack([part["sdf"]((p - part["c"]) @ part["R"]) for part in parts])


def _union(parts: list[dict]):
    return lambda p: _part_sdfs(parts, p).min(axis=0)


def random_object(rng: np.random.Generator) -> list[dict]:
    """2-4 parts (with centre c and rotation R), each centred on the surface of the body so far."""
    parts = [dict(random_part(rng, 1.15), c=np.zeros(3), R=random_rotation(rng))]
    for _ in range(rng.integers(1, 4)):
        body, anchor = _union(parts), parts[rng.integers(len(parts))]
        d = rng.normal(size=3) * [1.0, 1.0, 0.4]  # favour sideways, so parts stay visible
        d /= np.linalg.norm(d)
        ts = np.linspace(0.0, 2 * sum(p["bound"] for p in parts), 512)
        surface = anchor["c"] + ts[np.argmax(body(anchor["c"] + ts[:, None] * d) >= 0)] * d
        part = random_part(rng)
        # The centre lies less than the part's inner radius beyond the surface, so the part
        # contains that surface point and overlaps the body.
        part.update(c=surface + d * rng.uniform(0.2, 0.8) * part["inner"], R=random_rotation(rng))
        parts.append(part)
    return parts


def _trace(sdf, cx: float, cy: float, half: float, size: int, zc: float, radius: float):
    """Sphere-trace orthographic rays over a size x size frame of half-width `half`.

    Returns (hit mask, closest-approach distance, closest-approach point), flattened."""
    pix = 2 * half / size
    coords = (np.arange(size) + 0.5) * pix - half
    xs, ys = np.meshgrid(cx + coords, cy - coords)  # row 0 is the top of the image
    origin = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, zc + radius)], axis=-1)
    t, dmin = np.zeros(xs.size), np.full(xs.size, np.inf)
    tbest, hit = np.zeros(xs.size), np.zeros(xs.size, bool)
    active = np.arange(xs.size)
    for _ in range(160):
        if active.size == 0:
            break
        p = origin[active].copy()
        p[:, 2] -= t[active]
        d = sdf(p)
        closer = d < dmin[active]
        dmin[active[closer]], tbest[active[closer]] = d[closer], t[active][closer]
        hit[active[d < 0.02 * pix]] = True
        t[active] += np.maximum(d, 0.01 * pix)
        active = active[(d >= 0.02 * pix) & (t[active] < 2 * radius)]
    hit |= dmin < 0.1 * pix  # rays that ran out of steps grazing the surface
    point = origin.copy()
    point[:, 2] -= tbest
    return hit, dmin, point


def _connected(mask: np.ndarray) -> bool:
    """Whether a 2D boolean mask is one 4-connected component (flood fill by dilation)."""
    region = np.zeros_like(mask)
    region.flat[np.argmax(mask)] = True
    while True:
        p = np.pad(region, 1)
        grown = mask & (region | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:])
        if (grown == region).all():
            return bool((region == mask).all())
        region = grown


def _frame(parts: list[dict], lo: int = 64) -> tuple[tuple, bool]:
    """Coarse pass: (silhouette centre x, y, half-width, z centre, radius) and whether the
    view is good (silhouette connected, every part at least 8% of the visible surface)."""
    centre = np.mean([p["c"] for p in parts], axis=0)
    radius = max(np.linalg.norm(p["c"] - centre) + p["bound"] for p in parts)
    hit, dmin, point = _trace(_union(parts), centre[0], centre[1], radius, lo, centre[2], radius)
    pix = 2 * radius / lo
    mask = (hit | (dmin < 0.5 * pix)).reshape(lo, lo)
    shares = np.bincount(_part_sdfs(parts, point[hit]).argmin(0), minlength=len(parts)) / hit.sum()
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    x0, x1 = centre[0] - radius + cols[0] * pix, centre[0] - radius + (cols[-1] + 1) * pix
    y1, y0 = centre[1] + radius - rows[0] * pix, centre[1] + radius - (rows[-1] + 1) * pix
    view = ((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2 / FILL, centre[2], radius)
    return view, shares.min() >= 0.08 and _connected(mask)


def _shade(sdf, p: np.ndarray, eps: float) -> np.ndarray:
    """Luminance in [0, 1] from SDF normals (tetrahedral finite differences)."""
    k = np.array([[1, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]], float)
    n = sum(kk * sdf(p + eps * kk)[:, None] for kk in k)
    n /= np.maximum(_len(n), 1e-12)[:, None]
    half_vec = (KEY_LIGHT + VIEW) / np.linalg.norm(KEY_LIGHT + VIEW)
    key, fill, spec = (np.clip(n @ v, 0, None) for v in (KEY_LIGHT, FILL_LIGHT, half_vec))
    return np.clip(0.16 + 0.6 * key + 0.12 * fill + 0.2 * spec**24, 0.0, 1.0)


def render_object(rng: np.random.Generator, size: int) -> np.ndarray:
    """One random object as a uint8 (size, size, 2) array: luminance, alpha."""
    for _ in range(50):  # redraw objects whose view hides a part or looks disconnected
        parts = random_object(rng)
        (cx, cy, half, zc, radius), good = _frame(parts)
        if good:
            break
    sdf, pix = _union(parts), 2 * half / size
    hit, dmin, point = _trace(sdf, cx, cy, half, size, zc, radius)
    # Misses that pass within half a pixel of the surface get partial alpha (antialiasing).
    alpha = np.where(hit, 1.0, np.clip(0.5 - dmin / pix, 0.0, 1.0))
    lum = np.zeros(size * size)
    lum[alpha > 0] = _shade(sdf, point[alpha > 0], 0.75 * pix)
    return np.round(np.stack([lum, alpha], -1).reshape(size, size, 2) * 255).astype(np.uint8)


def render_objects(count: int, *, seed: int = 0, size: int = 128) -> np.ndarray:
    """Render objects 0..count-1 of the seed stream: uint8 (count, size, size, 2), [lum, alpha]."""
    out = np.zeros((count, size, size, 2), np.uint8)
    for i in range(count):
        out[i] = render_object(np.random.default_rng([seed, i]), size)
    return out


def _check_name(name: str) -> range:
    if name not in LEEK_SETS:
        raise ValueError(f"unknown Leek set {name!r}; allowed: {sorted(LEEK_SETS)}")
    return LEEK_SETS[name]


def _composite(lum: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite onto black: lum * alpha / 255, rounded, as uint8."""
    return ((lum.astype(np.uint32) * alpha + 127) // 255).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _standin(name: str) -> np.ndarray:
    idx = _check_name(name)
    out = np.stack([render_object(np.random.default_rng([STANDIN_SEED, i]), STANDIN_SIZE)
                    for i in idx])
    out.setflags(write=False)
    return out


def _load_png(path: Path) -> np.ndarray:
    """Grayscale uint8 (H, W) image composited onto black using alpha if present."""
    with Image.open(path) as img:
        if "transparency" in img.info or img.mode == "PA":  # palette / colour-key alpha
            img = img.convert("RGBA")
        if img.mode in ("LA", "RGBA"):
            la = np.asarray(img.convert("LA"))
            return _composite(la[..., 0], la[..., 1])
        return np.asarray(img.convert("L"))


def load_leek(name: str, root: Path | None) -> tuple[np.ndarray, str]:
    """Images uint8 (n_classes, H, W) on black, one per class, and a description of their source.

    Uses the PNGs in root/name (sorted by file name) if that folder has any; otherwise
    the procedural stand-in. PNGs must all share one size (no resizing: ValueError)."""
    idx = _check_name(name)
    folder = None if root is None else Path(root) / name
    files = sorted(folder.glob("*.png")) if folder is not None and folder.is_dir() else []
    if files:
        if len(files) != len(idx):
            raise ValueError(f"{folder} holds {len(files)} PNG files; {name} needs {len(idx)}")
        images = [_load_png(f) for f in files]
        for f, im in zip(files, images):
            if im.shape != images[0].shape:
                raise ValueError(f"{f} is {im.shape[1]}x{im.shape[0]} (WxH) but {files[0]} "
                                 f"is {images[0].shape[1]}x{images[0].shape[0]}")
        return np.stack(images), f"original Leek et al. images from {folder} ({len(files)} PNGs)"
    objs = _standin(name)
    source = (f"procedural stand-in (seed {STANDIN_SEED}, objects {idx.start}-{idx.stop - 1}), "
              "not the paper's Leek et al. images")
    return _composite(objs[..., 0], objs[..., 1]), source


def save_pngs(name: str, folder: Path) -> list[Path]:
    """Write the stand-in objects of set `name` as LA PNGs (transparent background) 00.png, ..."""
    objs, folder = _standin(name), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:02d}.png" for i in range(len(objs))]
    for path, obj in zip(paths, objs):
        Image.fromarray(np.ascontiguousarray(obj)).save(path)  # (H, W, 2) uint8 -> mode LA
    return paths
