import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { SeriesData } from '../store/charts';
import './UPlotChart.css';

export interface ChartSeries {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
  /** Draw point markers (for short curves such as per-shot losses). */
  points?: boolean;
}

export interface UPlotChartProps {
  data: SeriesData;
  series: ChartSeries[];
  xLabel: string;
  yLabel: string;
  /** Accessible description of what the chart shows. */
  title: string;
  testId: string;
  height?: number;
  /** x values are whole numbers (steps, shot indices): no fractional ticks. */
  integerX?: boolean;
  /** Log-scaled y axis. */
  logY?: boolean;
  /** A fixed y range (scores in [0, 1]), instead of one fitted to the data. */
  yRange?: [number, number];
}

function cssColor(name: string, fallback: string): string {
  if (typeof document === 'undefined') return fallback;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function buildOptions(props: UPlotChartProps, width: number): uPlot.Options {
  const text = cssColor('--muted', '#5d6676');
  const grid = cssColor('--border', '#dfe3ea');
  const axis = (label: string): uPlot.Axis => ({
    label,
    stroke: text,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 },
    font: '11px system-ui, sans-serif',
    labelFont: '12px system-ui, sans-serif',
  });
  return {
    width,
    height: props.height ?? 220,
    scales: {
      x: { time: false },
      y: props.logY ? { distr: 3 } : props.yRange ? { range: props.yRange } : {},
    },
    axes: [
      { ...axis(props.xLabel), ...(props.integerX ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] } : {}) },
      { ...axis(props.yLabel), size: 52 },
    ],
    series: [
      { label: props.xLabel },
      ...props.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: s.width ?? 2,
        dash: s.dash,
        spanGaps: true,
        points: { show: s.points ?? false, size: 5, fill: s.color },
        value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : v.toPrecision(4)),
      })),
    ],
    legend: { show: true },
    cursor: { drag: { x: true, y: false } },
  };
}

/** A uPlot chart: created once (again only when its series change), then fed with setData. */
export function UPlotChart(props: UPlotChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const seriesKey = JSON.stringify([props.series, props.xLabel, props.yLabel, props.logY, props.yRange, props.height]);

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const width = Math.max(200, element.clientWidth);
    const chart = new uPlot(buildOptions(latest.current, width), latest.current.data, element);
    plot.current = chart;
    const observer = new ResizeObserver(() => {
      const next = Math.max(200, element.clientWidth);
      if (next !== chart.width) chart.setSize({ width: next, height: chart.height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [seriesKey]);

  useEffect(() => {
    plot.current?.setData(props.data);
  }, [props.data]);

  const empty = props.data[0].length === 0;
  return (
    <figure className="chart" data-testid={props.testId}>
      <figcaption className="chart-title">{props.title}</figcaption>
      <div ref={container} className="chart-canvas" role="img" aria-label={`${props.title}: ${props.yLabel} by ${props.xLabel}`} />
      {empty && <p className="chart-empty muted">No data yet.</p>}
    </figure>
  );
}
