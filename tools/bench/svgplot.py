"""A small SVG line chart writer for the benchmark report (standard library only: no
matplotlib on the machines this runs on)."""

import math
from xml.sax.saxutils import escape

COLOURS = ["#d62728", "#2ca02c", "#1f77b4", "#9467bd", "#ff7f0e", "#8c564b"]
DASHES = ["", "", "6,3", "2,3", "", ""]


def _nice_max(v):
    """The smallest 1, 2 or 5 times a power of ten at or above v."""
    if v <= 0:
        return 1
    p = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if v <= m * p:
            return m * p
    return 10 * p


def _label(v):
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _panel(x0, y0, w, h, title, xs, lines, log_y):
    """One chart at (x0, y0), size w×h; lines: [(colour, dash, [(x, y)...])]. x is log scale."""
    out = []
    ys = [y for _, _, pts in lines for _, y in pts if y > 0]
    xmin, xmax = min(xs), max(xs)
    lx0, lx1 = math.log10(xmin), math.log10(xmax) if xmax > xmin else math.log10(xmin) + 1
    if log_y:
        lo = 10 ** math.floor(math.log10(min(ys))) if ys else 1
        hi = 10 ** math.ceil(math.log10(max(ys))) if ys else 10
        if hi <= lo:
            hi = lo * 10
        ticks = []
        t = lo
        while t <= hi * 1.0001:
            ticks.append(t)
            t *= 10

        def fy(v):
            return y0 + h - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * h
    else:
        hi = _nice_max(max(ys) * 1.05 if ys else 1)
        ticks = [hi * i / 5 for i in range(6)]

        def fy(v):
            return y0 + h - v / hi * h

    def fx(v):
        return x0 + (math.log10(v) - lx0) / (lx1 - lx0) * w

    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 - 10}" text-anchor="middle" font-size="14">{escape(title)}</text>')
    for t in ticks:
        y = fy(t)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_label(t)}</text>')
    for v in xs:
        x = fx(v)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{y0 + h + 16}" text-anchor="middle" font-size="11">{_label(v)}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 34}" text-anchor="middle" font-size="12">concurrent connections (log scale)</text>')
    for colour, dash, pts in lines:
        pts = [(x, y) for x, y in pts if y > 0]
        if not pts:
            continue
        coords = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y in pts)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for x, y in pts:
            out.append(f'<circle cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="3.5" fill="{colour}"/>')
    return out


def two_panels(title, panel_titles, series, note=""):
    """series: [(label, [(x, y_left)...], [(x, y_right)...])]. Left panel linear, right log."""
    width, height = 1000, 470
    xs = sorted({x for _, a, b in series for x, _ in a + b}) or [1, 10]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{escape(title)}</text>']
    left = [(COLOURS[i % 6], DASHES[i % 6], s[1]) for i, s in enumerate(series)]
    right = [(COLOURS[i % 6], DASHES[i % 6], s[2]) for i, s in enumerate(series)]
    out += _panel(80, 60, 370, 280, panel_titles[0], xs, left, log_y=False)
    out += _panel(580, 60, 370, 280, panel_titles[1], xs, right, log_y=True)
    for i, (label, _, _) in enumerate(series):
        x = 80 + (i % 2) * 440
        y = 405 + (i // 2) * 20
        dash = f' stroke-dasharray="{DASHES[i % 6]}"' if DASHES[i % 6] else ""
        out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 30}" y2="{y - 4}" stroke="{COLOURS[i % 6]}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 38}" y="{y}" font-size="12">{escape(label)}</text>')
    if note:
        out.append(f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle" font-size="11" fill="#555">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
