/**
 * The dashboard's plots, drawn with uPlot (small, canvas, no framework):
 * earnings per day, jobs and warm minutes per hour, speed and reliability per
 * day, for every runner together or one picked in the menu. Fed by
 * /v1/owner/history, fetched again when the live overview changes.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

interface Series {
  earned_microcredits: number[];
  jobs: number[];
  warm_minutes: number[];
  tokens_per_second: (number | null)[];
  reliability: (number | null)[];
}

export interface History {
  days: string[];
  hours: string[];
  fleet: Series;
  runners: Array<{ id: string } & Series>;
}

const BLUE = '#0969da';
const GREEN = '#2da44e';
const ORANGE = '#bc4c00';
const seconds = (iso: string[]) => iso.map((t) => Date.parse(t) / 1000);
const bars = uPlot.paths.bars!({ size: [0.7, 24] });
/** uPlot's default ticks round a job's fraction of a credit to 0: keep up to six decimals. */
const creditTicks = (_u: uPlot, splits: number[]) => splits.map((v) => String(Number(v.toFixed(6))));
/** Half a bucket of room each side, so the first and last bars are drawn whole. */
const padded = (bucketSeconds: number): uPlot.Scale => ({ time: true, range: (_u, min, max) => [min - bucketSeconds / 2, max + bucketSeconds / 2] });
const latest = (xs: (number | null)[]) => [...xs].reverse().find((x) => x !== null) ?? null;

interface Plot {
  id: string;
  series: uPlot.Series[];
  axes: uPlot.Axis[];
  scales?: uPlot.Scales;
  data: (h: History, s: Series) => uPlot.AlignedData;
  caption: (s: Series) => string;
}

const PLOTS: Plot[] = [
  {
    id: 'chart-earnings',
    series: [{}, { label: 'Earned (cr)', stroke: GREEN, fill: 'rgba(45,164,78,0.35)', paths: bars, points: { show: false } }],
    scales: { x: padded(86_400) },
    axes: [{}, { size: 80, values: creditTicks }],
    data: (h, s) => [seconds(h.days), s.earned_microcredits.map((m) => m / 1e6)],
    caption: (s) => `30 days: ${(s.earned_microcredits.reduce((a, b) => a + b, 0) / 1e6).toFixed(6)} cr`,
  },
  {
    id: 'chart-hourly',
    series: [
      {},
      { label: 'Jobs', stroke: BLUE, fill: 'rgba(9,105,218,0.3)', paths: bars, points: { show: false }, scale: 'jobs' },
      { label: 'Warm minutes', stroke: ORANGE, width: 1.5, points: { show: false }, scale: 'min' },
    ],
    scales: { x: padded(3600), min: { range: [0, 60] } },
    axes: [{}, { scale: 'jobs', size: 50 }, { scale: 'min', side: 1, grid: { show: false }, size: 40 }],
    data: (h, s) => [seconds(h.hours), s.jobs, s.warm_minutes],
    caption: (s) => `7 days: ${s.jobs.reduce((a, b) => a + b, 0)} jobs · ${s.warm_minutes.reduce((a, b) => a + b, 0)} warm minutes`,
  },
  {
    id: 'chart-speed',
    series: [{}, { label: 'Speed (tok/s)', stroke: BLUE, width: 2, spanGaps: false }],
    axes: [{}, { size: 60 }],
    data: (h, s) => [seconds(h.days), s.tokens_per_second],
    caption: (s) => {
      const v = latest(s.tokens_per_second);
      return v === null ? 'no jobs in 30 days' : `latest day: ${v} tok/s`;
    },
  },
  {
    id: 'chart-reliability',
    series: [{}, { label: 'Reliability (%)', stroke: GREEN, width: 2, spanGaps: false }],
    scales: { y: { range: [0, 100] } },
    axes: [{}, { size: 50 }],
    data: (h, s) => [seconds(h.days), s.reliability.map((r) => (r === null ? null : Math.round(r * 1000) / 10))],
    caption: (s) => {
      const v = latest(s.reliability);
      return v === null ? 'no jobs in 30 days' : `latest day: ${(v * 100).toFixed(1)}%`;
    },
  },
];

const charts = new Map<string, uPlot>();
let shown: History | null = null;

function widthOf(el: HTMLElement): number {
  return Math.max(240, el.clientWidth - 8);
}

/** Draws `h` for the runner picked in #history-runner (all of them when none is). */
export function drawHistory(h: History): void {
  shown = h;
  const menu = document.querySelector<HTMLSelectElement>('#history-runner')!;
  const picked = menu.value;
  const options = [['', 'All runners'], ...h.runners.map((r) => [r.id, r.id])];
  if (menu.options.length !== options.length || options.some(([v], i) => menu.options[i]!.value !== v)) {
    menu.replaceChildren(...options.map(([value, label]) => Object.assign(document.createElement('option'), { value, textContent: label })));
    menu.value = options.some(([v]) => v === picked) ? picked : '';
  }
  const s = h.runners.find((r) => r.id === menu.value) ?? h.fleet;
  for (const p of PLOTS) {
    const box = document.getElementById(p.id)!;
    const plotEl = box.querySelector<HTMLElement>('.plot')!;
    const data = p.data(h, s);
    const chart = charts.get(p.id);
    if (chart) chart.setData(data);
    else charts.set(p.id, new uPlot({ width: widthOf(plotEl), height: 180, series: p.series, axes: p.axes, scales: p.scales, legend: { show: true } }, data, plotEl));
    const caption = box.querySelector<HTMLElement>('.caption')!;
    caption.textContent = p.caption(s);
  }
  document.body.dataset.historyAt = String(Date.now());
}

export function watchHistoryMenu(): void {
  document.querySelector('#history-runner')!.addEventListener('change', () => shown && drawHistory(shown));
  window.addEventListener('resize', () => {
    for (const p of PLOTS) {
      const el = document.getElementById(p.id)?.querySelector<HTMLElement>('.plot');
      if (el) charts.get(p.id)?.setSize({ width: widthOf(el), height: 180 });
    }
  });
}
