import { useEffect, useRef, useState, type MouseEvent } from 'react';
import { type HeatmapCell, type HeatmapMatrix, heatmapCellAt, viridis } from '../store/charts';
import { formatLoss } from '../util/format';
import './Heatmap.css';

const MARGIN = { left: 48, right: 76, top: 10, bottom: 36 };
const HEIGHT = 240;

/** Answer loss by training step (x) and shot index (y), drawn on a canvas, with a colour bar. */
export function Heatmap({ matrix }: { matrix: HeatmapMatrix }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(640);
  const [hover, setHover] = useState<HeatmapCell | null>(null);

  useEffect(() => {
    const element = canvas.current?.parentElement;
    if (!element) return;
    const measure = () => setWidth(Math.max(260, element.clientWidth));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    drawHeatmap(element, matrix, width);
  }, [matrix, width]);

  const onMove = (event: MouseEvent<HTMLCanvasElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const area = plotArea(width);
    setHover(heatmapCellAt(matrix, (event.clientX - rect.left - area.x) / area.w, (event.clientY - rect.top - area.y) / area.h));
  };

  const empty = matrix.values.length === 0;
  return (
    <figure className="chart" data-testid="heatmap">
      <figcaption className="chart-title">Answer loss by step and shot</figcaption>
      <div className="heatmap-canvas">
        <canvas
          ref={canvas}
          role="img"
          aria-label={
            empty
              ? 'Heatmap of answer loss: no data yet'
              : `Heatmap of answer loss over ${matrix.steps.length} step columns and ${matrix.shots} shots, from ${formatLoss(matrix.min)} to ${formatLoss(matrix.max)}`
          }
          onMouseMove={onMove}
          onMouseLeave={() => setHover(null)}
        />
      </div>
      <p className="chart-readout muted" aria-live="off">
        {hover
          ? `step ${hover.step} · shot ${hover.shot} · loss ${formatLoss(hover.loss)}`
          : empty
            ? 'No data yet.'
            : 'Each column is a training step (or a bucket of steps); each row the k-th answer of a context. Point at a cell to read it.'}
      </p>
    </figure>
  );
}

function plotArea(width: number) {
  return { x: MARGIN.left, y: MARGIN.top, w: Math.max(1, width - MARGIN.left - MARGIN.right), h: HEIGHT - MARGIN.top - MARGIN.bottom };
}

/** Up to `count` evenly spaced indices in [0, n), always including the last. */
function tickIndices(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const out = new Set<number>();
  for (let i = 0; i < count; i++) out.add(Math.round((i * (n - 1)) / (count - 1)));
  return [...out];
}

function drawHeatmap(canvas: HTMLCanvasElement, matrix: HeatmapMatrix, width: number): void {
  const ratio = globalThis.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(HEIGHT * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${HEIGHT}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, HEIGHT);
  const styles = getComputedStyle(document.documentElement);
  const textColor = styles.getPropertyValue('--muted').trim() || '#5d6676';
  const borderColor = styles.getPropertyValue('--border').trim() || '#dfe3ea';
  const area = plotArea(width);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = textColor;
  ctx.strokeStyle = borderColor;
  ctx.strokeRect(area.x - 0.5, area.y - 0.5, area.w + 1, area.h + 1);

  const columns = matrix.values.length;
  if (columns === 0 || matrix.shots === 0) return;
  // Cells without data (a step whose contexts had fewer shots) stay neutral.
  ctx.fillStyle = styles.getPropertyValue('--code-bg').trim() || '#eef1f5';
  ctx.fillRect(area.x, area.y, area.w, area.h);
  const range = matrix.max - matrix.min || 1;
  const cellW = area.w / columns;
  const cellH = area.h / matrix.shots;
  for (let c = 0; c < columns; c++) {
    for (let k = 0; k < matrix.shots; k++) {
      const v = matrix.values[c][k];
      if (v === null) continue;
      const [r, g, b] = viridis((v - matrix.min) / range);
      ctx.fillStyle = `rgb(${r} ${g} ${b})`;
      const top = area.y + (matrix.shots - 1 - k) * cellH;
      // Overlap by a pixel fraction so no hairline gaps show between cells.
      ctx.fillRect(area.x + c * cellW, top, cellW + 0.5, cellH + 0.5);
    }
  }

  // Axes: steps below, shot index on the left.
  ctx.fillStyle = textColor;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const c of tickIndices(columns, Math.max(2, Math.floor(area.w / 70)))) {
    ctx.fillText(String(matrix.steps[c]), area.x + (c + 0.5) * cellW, area.y + area.h + 4);
  }
  ctx.fillText('step', area.x + area.w / 2, area.y + area.h + 20);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const k of tickIndices(matrix.shots, Math.max(2, Math.floor(area.h / 22)))) {
    ctx.fillText(String(k + 1), area.x - 6, area.y + (matrix.shots - 1 - k + 0.5) * cellH);
  }
  ctx.save();
  ctx.translate(12, area.y + area.h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('shot k', 0, 0);
  ctx.restore();

  // Colour bar: loss from min (bottom) to max (top).
  const barX = area.x + area.w + 14;
  const barW = 12;
  for (let y = 0; y < area.h; y++) {
    const [r, g, b] = viridis(1 - y / (area.h - 1));
    ctx.fillStyle = `rgb(${r} ${g} ${b})`;
    ctx.fillRect(barX, area.y + y, barW, 1.5);
  }
  ctx.strokeRect(barX - 0.5, area.y - 0.5, barW + 1, area.h + 1);
  ctx.fillStyle = textColor;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(formatLoss(matrix.max), barX + barW + 4, area.y);
  ctx.textBaseline = 'bottom';
  ctx.fillText(formatLoss(matrix.min), barX + barW + 4, area.y + area.h);
  ctx.textBaseline = 'middle';
  ctx.fillText('loss', barX + barW + 4, area.y + area.h / 2);
}
