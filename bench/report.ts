import type { ChartSeries, Row, ScenarioReport } from './scenarios.ts';

/**
 * The bench's outputs: one table (printed, and the README's), and a chart of
 * throughput over time as a self-contained SVG (no charting dependency).
 */

function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  const digits = unit === 'calls/s' ? 0 : 1;
  return `${value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })} ${unit}`;
}

function ratioOf(row: Row): string {
  if (row.reference === undefined || row.reference === 0) return '–';
  return `${(row.service / row.reference).toFixed(2)}x`;
}

function targetOf(row: Row): [string, string] {
  if (row.target === undefined) return ['', ''];
  return [row.target.text, row.target.met ? 'met' : 'NOT met'];
}

/** A Markdown table of every scenario's rows. */
export function formatTable(reports: ScenarioReport[]): string {
  const header = ['scenario', 'figure', 'service', 'reference', 'ratio', 'target', 'met'];
  const lines = reports.flatMap((report) =>
    report.rows.map((row, index) => [
      index === 0 ? (report.title.split(':')[0] ?? report.title) : '',
      row.figure,
      formatValue(row.service, row.unit),
      formatValue(row.reference, row.unit),
      ratioOf(row),
      ...targetOf(row),
    ]),
  );
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)),
  );
  const format = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const rule = `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`;
  return [format(header), rule, ...lines.map(format)].join('\n');
}

// Chart ----------------------------------------------------------------------

const WIDTH = 860;
const PANEL_HEIGHT = 230;
const MARGIN = { left: 70, right: 20, top: 34, bottom: 40 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** A round step for about five ticks up to `max`. */
function tickStep(max: number): number {
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough || 1));
  const multiple = [1, 2, 5, 10].find((step) => step * power >= rough) ?? 10;
  return multiple * power;
}

function panel(title: string, series: ChartSeries[], top: number): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const points = series.flatMap((line) => line.points);
  const maxX = Math.max(1, ...points.map(([x]) => x));
  const maxY = Math.max(1, ...points.map(([, y]) => y)) * 1.05;
  const x = (value: number) => MARGIN.left + (value / maxX) * plotWidth;
  const y = (value: number) =>
    top + MARGIN.top + plotHeight - (value / maxY) * plotHeight;

  const parts: string[] = [
    `<text x="${MARGIN.left}" y="${top + 20}" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  const yStep = tickStep(maxY);
  for (let value = 0; value <= maxY; value += yStep) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(value)}" y2="${y(value)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(value) + 4}" text-anchor="end">${value.toLocaleString('en-US')}</text>`,
    );
  }
  const xStep = tickStep(maxX);
  for (let value = 0; value <= maxX; value += xStep) {
    parts.push(
      `<text x="${x(value)}" y="${top + PANEL_HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${value}</text>`,
    );
  }
  parts.push(
    `<text x="${WIDTH - MARGIN.right}" y="${top + PANEL_HEIGHT - 6}" text-anchor="end">seconds</text>`,
    `<text x="14" y="${top + MARGIN.top + plotHeight / 2}" transform="rotate(-90 14 ${top + MARGIN.top + plotHeight / 2})" text-anchor="middle">calls per second</text>`,
  );
  series.forEach((line, index) => {
    const colour = COLOURS[index % COLOURS.length];
    const path = line.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    parts.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${path.join(' ')}"/>`,
      `<rect x="${WIDTH - 300}" y="${top + 8 + index * 14}" width="10" height="3" fill="${colour}"/>`,
      `<text x="${WIDTH - 285}" y="${top + 13 + index * 14}">${escapeXml(line.name)}</text>`,
    );
  });
  return parts.join('\n');
}

/** Throughput over time, one panel per scenario. */
export function chartSvg(reports: ScenarioReport[], caption: string): string {
  const height = reports.length * PANEL_HEIGHT + 30;
  const panels = reports.map((report, index) =>
    panel(report.chart.title, report.chart.series, index * PANEL_HEIGHT),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels,
    `<text x="${MARGIN.left}" y="${height - 10}" fill="#555">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

interface MeasuredRun {
  facts?: { loadAverage: number; cpuMsPerCall: Record<string, number> };
}

/**
 * CPU time per call of every measured run, by process: where the machine's two
 * cores went. Postgres counts the backends serving the run's database.
 */
export function formatCpu(reports: ScenarioReport[]): string {
  const lines: string[] = [];
  for (const report of reports) {
    for (const [run, value] of Object.entries(report.details)) {
      const facts = (value as MeasuredRun | undefined)?.facts;
      if (facts === undefined) continue;
      const parts = Object.entries(facts.cpuMsPerCall);
      const total = parts.reduce((sum, [, ms]) => sum + ms, 0);
      const each = parts.map(([part, ms]) => `${part} ${ms.toFixed(2)}`).join(', ');
      lines.push(
        `${report.name} ${run}: ${total.toFixed(2)} ms (${each}); load average ${facts.loadAverage}`,
      );
    }
  }
  return lines.join('\n');
}
