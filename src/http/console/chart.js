// A small SVG line chart of a few series over time, redrawn in place as points are added.

const SVG = "http://www.w3.org/2000/svg";
const COLORS = [
  "#2458d6",
  "#d6662a",
  "#177245",
  "#9b2fae",
  "#b42318",
  "#0a8a9c",
  "#7a6a00",
  "#555",
];
const WIDTH = 480;
const HEIGHT = 150;
const PAD_LEFT = 56;
const PAD_BOTTOM = 18;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export function seriesColor(i) {
  return COLORS[i % COLORS.length];
}

/**
 * A chart with a title; `update(series)` redraws it from `[{name, points: [[timeMs, value]]}]`
 * over the last `windowMs`. `format` labels the y axis.
 */
export function lineChart(title, { windowMs = 120_000, format = String } = {}) {
  const root = document.createElement("div");
  root.className = "chart";
  const heading = document.createElement("h3");
  heading.textContent = title;
  const plot = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": title });
  const legend = document.createElement("div");
  legend.className = "legend";
  root.append(heading, plot, legend);

  const update = (series) => {
    plot.replaceChildren();
    legend.replaceChildren();
    const now = Date.now();
    const t0 = now - windowMs;
    let max = 0;
    for (const s of series) for (const [, v] of s.points) max = Math.max(max, v);
    max = niceCeil(max);
    const x = (t) => PAD_LEFT + ((t - t0) / windowMs) * (WIDTH - PAD_LEFT - 4);
    const y = (v) => 4 + (1 - v / max) * (HEIGHT - PAD_BOTTOM - 8);
    for (const frac of [0, 0.5, 1]) {
      const yy = y(max * frac);
      plot.append(svg("line", { x1: PAD_LEFT, x2: WIDTH - 4, y1: yy, y2: yy, stroke: "#e3e6ec" }));
      const label = svg("text", { x: PAD_LEFT - 4, y: yy + 3, "text-anchor": "end" });
      label.textContent = format(max * frac);
      plot.append(label);
    }
    const axis = svg("text", { x: WIDTH - 4, y: HEIGHT - 4, "text-anchor": "end" });
    axis.textContent = "now";
    const start = svg("text", { x: PAD_LEFT, y: HEIGHT - 4 });
    start.textContent = `-${Math.round(windowMs / 1000)} s`;
    plot.append(axis, start);
    series.forEach((s, i) => {
      const pts = s.points.filter(([t]) => t >= t0);
      if (pts.length > 0) {
        const d = pts.map(([t, v], j) =>
          `${j === 0 ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`
        );
        plot.append(
          svg("path", {
            d: d.join(" "),
            fill: "none",
            stroke: seriesColor(i),
            "stroke-width": 1.5,
          }),
        );
      }
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = seriesColor(i);
      item.append(swatch, s.name);
      legend.append(item);
    });
    if (series.length === 0) {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "no data yet";
      legend.append(none);
    }
  };
  update([]);
  return { element: root, update };
}

/** Keeps each series' points within `keepMs`; `push(name, time, value)`, `series()`. */
export function seriesStore(keepMs = 120_000) {
  const byName = new Map();
  return {
    push(name, t, v) {
      let pts = byName.get(name);
      if (pts === undefined) byName.set(name, pts = []);
      pts.push([t, v]);
      while (pts.length > 0 && pts[0][0] < t - keepMs) pts.shift();
    },
    series(limit = 8) {
      const all = [...byName].map(([name, points]) => ({ name, points }));
      const last = (s) => s.points.at(-1)?.[1] ?? 0;
      return all.sort((a, b) => last(b) - last(a) || a.name.localeCompare(b.name)).slice(0, limit);
    },
  };
}

/** The axis top: the least of 1, 2 or 5 times a power of ten at or above `v` (1 for nothing). */
export function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
