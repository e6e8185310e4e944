// A live line chart in SVG: a fixed window of samples per series, redrawn on each push. A few
// polylines cost nothing next to a charting library and scale with the container's width.
const NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 160;
const PAD = 4;

export interface Series {
  name: string;
  /** CSS class of the stroke (colours live in style.css). */
  cls: string;
}

export class LiveChart {
  readonly el: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly lines: SVGPolylineElement[];
  private readonly data: number[][];
  private readonly maxLabel: HTMLElement;
  private readonly legend: HTMLElement[];

  constructor(
    title: string,
    private readonly series: Series[],
    private readonly capacity = 60,
    private readonly unit = '',
  ) {
    this.el = document.createElement('figure');
    this.el.className = 'chart';
    const cap = document.createElement('figcaption');
    cap.textContent = title;
    this.maxLabel = document.createElement('span');
    this.maxLabel.className = 'muted';
    cap.append(' ', this.maxLabel);
    this.svg = document.createElementNS(NS, 'svg');
    this.svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    this.svg.setAttribute('preserveAspectRatio', 'none');
    this.svg.setAttribute('role', 'img');
    this.svg.setAttribute('aria-label', title);
    for (let i = 1; i < 4; i++) {
      const g = document.createElementNS(NS, 'line');
      g.setAttribute('x1', '0');
      g.setAttribute('x2', String(W));
      g.setAttribute('y1', String((H * i) / 4));
      g.setAttribute('y2', String((H * i) / 4));
      g.setAttribute('class', 'grid');
      this.svg.appendChild(g);
    }
    this.lines = series.map((s) => {
      const l = document.createElementNS(NS, 'polyline');
      l.setAttribute('class', `line ${s.cls}`);
      l.setAttribute('fill', 'none');
      l.setAttribute('vector-effect', 'non-scaling-stroke');
      this.svg.appendChild(l);
      return l;
    });
    this.data = series.map(() => []);
    const legend = document.createElement('div');
    legend.className = 'legend';
    this.legend = series.map((s) => {
      const item = document.createElement('span');
      item.className = `key ${s.cls}`;
      legend.appendChild(item);
      item.textContent = s.name;
      return item;
    });
    this.el.append(cap, this.svg, legend);
  }

  push(values: number[]): void {
    values.forEach((v, i) => {
      const d = this.data[i]!;
      d.push(Number.isFinite(v) ? v : 0);
      if (d.length > this.capacity) d.shift();
    });
    this.draw();
  }

  private draw(): void {
    const max = Math.max(1, ...this.data.flat());
    this.maxLabel.textContent = `(max ${fmt(max)}${this.unit})`;
    const step = (W - 2 * PAD) / Math.max(1, this.capacity - 1);
    this.data.forEach((d, i) => {
      const x0 = W - PAD - (d.length - 1) * step;
      const pts = d.map((v, j) => `${(x0 + j * step).toFixed(1)},${(H - PAD - (v / max) * (H - 2 * PAD)).toFixed(1)}`);
      this.lines[i]!.setAttribute('points', pts.join(' '));
      const last = d[d.length - 1];
      this.legend[i]!.textContent = `${this.series[i]!.name}: ${last === undefined ? '—' : fmt(last) + this.unit}`;
    });
  }
}

function fmt(n: number): string {
  return n >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
}
