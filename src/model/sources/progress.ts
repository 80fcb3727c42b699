// Progress of a byte transfer (download, cache read, local file): bytes so far, total, speed and time left.

export interface TransferProgress {
  loaded: number;
  /** Expected bytes in all; 0 while unknown. */
  total: number;
  /** Over the last few seconds. */
  bytesPerSecond: number;
  /** Infinity while the total or the speed is unknown. */
  etaSeconds: number;
}

export type ProgressCallback = (progress: TransferProgress) => void;

const SPEED_WINDOW_MS = 3000;

/** Turns byte counts into throttled progress reports. */
export class ProgressMeter {
  private readonly samples: { time: number; loaded: number }[] = [];
  private lastReport = -Infinity;

  constructor(
    private total: number,
    private readonly onProgress?: ProgressCallback,
    private readonly intervalMs = 100,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.samples.push({ time: this.now(), loaded: 0 });
  }

  setTotal(total: number): void {
    this.total = total;
  }

  /** Reports `loaded` unless the last report was under intervalMs ago; `force` reports anyway. */
  update(loaded: number, force = false): void {
    if (!this.onProgress) return;
    const time = this.now();
    this.samples.push({ time, loaded });
    while (this.samples.length > 2 && time - this.samples[1].time >= SPEED_WINDOW_MS) this.samples.shift();
    if (!force && time - this.lastReport < this.intervalMs) return;
    this.lastReport = time;
    const first = this.samples[0];
    const seconds = (time - first.time) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.max(0, loaded - first.loaded) / seconds : 0;
    const remaining = Math.max(0, this.total - loaded);
    const etaSeconds =
      this.total > 0 && remaining === 0 ? 0 : this.total > 0 && bytesPerSecond > 0 ? remaining / bytesPerSecond : Infinity;
    this.onProgress({ loaded, total: this.total, bytesPerSecond, etaSeconds });
  }
}
